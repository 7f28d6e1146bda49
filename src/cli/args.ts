/**
 * Command-line flags through Node's own `util.parseArgs`, strict: every command declares its options and which of
 * them are boolean, so `cover train cover --resume --out x` parses (`--resume` takes no value) and an unknown or
 * malformed option is a usage error (exit 2) that names the option and suggests the closest known one.
 */
import { parseArgs } from "node:util";
import { didYouMean } from "../util/suggest";

/** Option name (without dashes) -> whether it takes a value ("string"), may be repeated ("strings"), or takes none ("boolean"). */
export type OptionSpecs = Readonly<Record<string, "string" | "strings" | "boolean">>;

export class UsageError extends Error {}

/** Repeated `--<option> PATH=TEXT` flags as [path, text] pairs; `form` names the text in errors (e.g. "VALUE"). */
export function pathAssignments(flags: string[], option: string, form: string): [string, string][] {
  const seen = new Set<string>();
  return flags.map((flag): [string, string] => {
    const eq = flag.indexOf("=");
    if (eq <= 0 || eq === flag.length - 1) throw new UsageError(`--${option} takes PATH=${form}, got '${flag}'`);
    const path = flag.slice(0, eq);
    if (seen.has(path)) throw new UsageError(`--${option} ${path} is given twice`);
    seen.add(path);
    return [path, flag.slice(eq + 1)];
  });
}

type Values = Record<string, string | string[] | boolean | undefined>;

/** Parses argv against `options` (plus --help / -h); throws UsageError naming the offending option. */
export function parseFlags(argv: string[], options: OptionSpecs): Flags {
  const config = parseArgsConfig(options);
  try {
    const { values, positionals } = parseArgs({ args: argv, options: config, strict: true, allowPositionals: true });
    return new Flags(positionals, values as Values);
  } catch (err) {
    throw new UsageError(explainParseError(argv, { ...options, help: "boolean" }, err as Error));
  }
}

function parseArgsConfig(options: OptionSpecs): Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> {
  const config: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {};
  for (const [name, type] of Object.entries(options)) config[name] = type === "strings" ? { type: "string", multiple: true } : { type };
  config.help = { type: "boolean", short: "h" };
  return config;
}

/** Node's messages are generic; re-read the tokens leniently to say which option is wrong and how. */
function explainParseError(argv: string[], options: OptionSpecs, err: Error): string {
  const { tokens } = parseArgs({ args: argv, options: parseArgsConfig(options), strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens ?? []) {
    if (token.kind !== "option") continue;
    const type = options[token.name];
    if (type === undefined) return `unknown option '${token.rawName}'${didYouMean(token.name, Object.keys(options), "--")}`;
    if (type === "boolean" && token.inlineValue) return `${token.rawName} takes no value, got '${token.value}'`;
    if (type !== "boolean" && token.value === undefined) return `${token.rawName} needs a value`;
    if (type !== "boolean" && !token.inlineValue && token.value?.startsWith("-")) {
      return `${token.rawName} needs a value, got '${token.value}' (write ${token.rawName}=${token.value} if that is the value)`;
    }
  }
  return err.message;
}

/** The parsed flags, read by name; remembers which were read so that a flag no (sub)command reads is reported. */
export class Flags {
  private readonly used = new Set<string>(["help"]);
  constructor(readonly positionals: string[], private readonly values: Values) {}

  string(name: string): string | undefined {
    this.used.add(name);
    const v = this.values[name];
    if (typeof v === "boolean") throw new UsageError(`--${name} needs a value`);
    if (Array.isArray(v)) throw new UsageError(`--${name} is given more than once`);
    return v;
  }

  /** Every value of a repeatable ("strings") option, in order. */
  strings(name: string): string[] {
    this.used.add(name);
    const v = this.values[name];
    if (typeof v === "boolean") throw new UsageError(`--${name} needs a value`);
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  }

  requiredString(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`--${name} is required`);
    return v;
  }

  int(name: string, fallback: number): number;
  int(name: string): number | undefined;
  int(name: string, fallback?: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === "" || !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got '${v}'`);
    return n;
  }

  number(name: string, fallback: number): number;
  number(name: string): number | undefined;
  number(name: string, fallback?: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
    return n;
  }

  bool(name: string): boolean {
    this.used.add(name);
    const v = this.values[name];
    if (typeof v === "string") throw new UsageError(`--${name} takes no value, got '${v}'`);
    return v === true;
  }

  /** Throws on a flag that was given but not read (a command sharing one option table among subcommands). */
  rejectUnknown(): void {
    const unknown = Object.keys(this.values).filter((k) => this.values[k] !== undefined && !this.used.has(k));
    if (unknown.length === 0) return;
    const suggestion = unknown.length === 1 ? didYouMean(unknown[0], [...this.used].filter((k) => k !== "help"), "--") : "";
    throw new UsageError(`unknown option${unknown.length > 1 ? "s" : ""} here: ${unknown.map((k) => `--${k}`).join(", ")}${suggestion}`);
  }
}
