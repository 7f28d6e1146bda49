/**
 * Checking external JSON (manifests, run configs, results, checkpoint metadata) against a zod schema, with errors
 * that name the file and the field: `runs/x/config.json: optim.epochs: expected a positive number, got "8"`. Unknown
 * keys are errors naming the key and, when one is close, the known key it was probably meant to be.
 */
import { z } from "zod";
import { didYouMean } from "./suggest";

/** A JSON value that does not match its schema; the message lists every problem. */
export class SchemaError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: ${problems.join("; ")}`);
    this.name = "SchemaError";
  }
}

/** `value` checked against `schema`; throws SchemaError labelled with `file` (a path, or e.g. "run 'cover'"). */
export function checkSchema<S extends z.ZodTypeAny>(schema: S, value: unknown, file: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new SchemaError(file, result.error.issues.map((issue) => describeIssue(issue, schema, value)));
}

function describeIssue(issue: z.ZodIssue, schema: z.ZodTypeAny, root: unknown): string {
  const at = (path: (string | number)[]) => path.length ? path.map((p) => typeof p === "number" ? `[${p}]` : p).join(".").replace(/\.\[/g, "[") : "(top level)";
  if (issue.code === "unrecognized_keys") {
    const known = objectKeys(schemaAt(schema, issue.path));
    return issue.keys.map((key) => `${at([...issue.path, key])}: unknown key '${key}'${didYouMean(key, known)}`).join("; ");
  }
  if (issue.code === "invalid_union") {
    const branch = matchingBranch(issue);
    if (branch) return branch.issues.map((i) => describeIssue(i, schema, root)).join("; ");
  }
  const value = valueAt(root, issue.path);
  if (value === undefined) return `${at(issue.path)}: missing (${issue.message})`;
  return `${at(issue.path)}: ${issue.message}, got ${JSON.stringify(value)}`;
}

/**
 * The one alternative of a union whose JSON type the value has (e.g. the list, where a field takes a list or an
 * object), so that its own problems are reported rather than the union's summary; undefined when none or several.
 */
function matchingBranch(issue: z.ZodInvalidUnionIssue): z.ZodError | undefined {
  const sameType = issue.unionErrors.filter((e) => !e.issues.some((i) => i.code === "invalid_type" && i.path.length === issue.path.length));
  return sameType.length === 1 ? sameType[0] : undefined;
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let v = root;
  for (const p of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

/** The schema of the value at `path` (through optional, default, refinement and object wrappers), where known. */
function schemaAt(schema: z.ZodTypeAny, path: (string | number)[]): z.ZodTypeAny | undefined {
  let s: z.ZodTypeAny | undefined = schema;
  for (const p of path) {
    s = unwrap(s);
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodTypeAny>)[p];
    else if (s instanceof z.ZodRecord) s = s.valueSchema as z.ZodTypeAny;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodTypeAny;
    else return undefined;
  }
  return s;
}

function unwrap(s: z.ZodTypeAny | undefined): z.ZodTypeAny | undefined {
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodEffects || s instanceof z.ZodNullable) {
    s = s instanceof z.ZodEffects ? s.innerType() : (s as z.ZodOptional<z.ZodTypeAny>)._def.innerType;
  }
  return s;
}

function objectKeys(s: z.ZodTypeAny | undefined): string[] {
  const inner = unwrap(s);
  if (inner instanceof z.ZodObject) return Object.keys(inner.shape as object);
  if (inner instanceof z.ZodUnion) return [...new Set((inner.options as z.ZodTypeAny[]).flatMap(objectKeys))];
  if (inner instanceof z.ZodDiscriminatedUnion) return [...new Set((inner.options as z.ZodObject<z.ZodRawShape>[]).flatMap((o) => Object.keys(o.shape)))];
  return [];
}

/** Schema builders whose messages read "expected ...". */
export const expect = {
  positiveInt: () => z.number({ invalid_type_error: "expected a positive integer", required_error: "expected a positive integer" })
    .int("expected a positive integer").positive("expected a positive integer"),
  nonNegativeInt: () => z.number({ invalid_type_error: "expected a non-negative integer", required_error: "expected a non-negative integer" })
    .int("expected a non-negative integer").nonnegative("expected a non-negative integer"),
  positive: () => z.number({ invalid_type_error: "expected a positive number", required_error: "expected a positive number" })
    .positive("expected a positive number").finite("expected a positive number"),
  nonNegative: () => z.number({ invalid_type_error: "expected a non-negative number", required_error: "expected a non-negative number" })
    .nonnegative("expected a non-negative number").finite("expected a non-negative number"),
  number: () => z.number({ invalid_type_error: "expected a number", required_error: "expected a number" }).finite("expected a finite number"),
  integer: () => z.number({ invalid_type_error: "expected an integer", required_error: "expected an integer" }).int("expected an integer"),
  string: () => z.string({ invalid_type_error: "expected a string", required_error: "expected a string" }).min(1, "expected a non-empty string"),
  boolean: () => z.boolean({ invalid_type_error: "expected true or false", required_error: "expected true or false" }),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values as unknown as [T[number], ...T[number][]], {
    errorMap: () => ({ message: `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}` }),
  }),
};
