/**
 * `npm run deps`: the folders of src/ form layers, and a file may import only from its own folder or from a folder
 * below it. Fails (exit 1), listing every file and import that breaks a rule: an upward import (which is also the only
 * way two folders can import each other, so a cycle between folders is always reported as one), an import of a
 * folder not in the table, or src/ importing anything outside src/ but
 * package.json (scripts/, test/, bench/). Imports are read with the TypeScript parser
 * (`import`, `export ... from`, `import type`, `require()`, `import()` and `typeof import()`).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import * as ts from "typescript";

/** Lowest first. Each folder may import from the folders before it (and from itself). */
export const LAYERS = [
  "util",        // atomic files, RNG, progress, interrupts: no project imports
  "io",          // .npy, safetensors, zip, pickle, PyTorch checkpoints
  "backend",     // the compute backend chooser and the native binding loader
  "model",       // TimeSformer: config, parameters, layers, weights
  "data",        // manifests, annotations, decoding, frame cache, built-in datasets, batches
  "train",       // loss step, optimisers, schedule, evaluation, prediction
  "runs",        // a run: its config, data, folder (checkpoints, lock, results), training, cache, scales, named runs
  "report",      // tables, figures, exports, notebook display
  "experiments", // the paper's experiments, ablations, executors
  "cli",         // the `cover` command: the only place that knows about argv
] as const;

const ROOT = resolve(__dirname, "..");
const SRC = join(ROOT, "src");

export interface Violation { file: string; line: number; target: string; why: string }

function tsFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return tsFiles(full);
    return name.endsWith(".ts") ? [full] : [];
  });
}

/** Every module specifier a file names, with its line. */
export function importsOf(path: string, text = readFileSync(path, "utf8")): { spec: string; line: number }[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
  const found: { spec: string; line: number }[] = [];
  const add = (node: ts.Node | undefined) => {
    if (node && ts.isStringLiteralLike(node)) found.push({ spec: node.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword
      || (ts.isIdentifier(node.expression) && node.expression.text === "require"))) add(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The top folder of src/ a path lies in, or where else in the repository it lies. */
function place(path: string): string {
  const rel = relative(ROOT, path).split(sep);
  return rel[0] === "src" ? rel[1] : rel[0];
}

export function checkFile(file: string, text?: string): Violation[] {
  const from = place(file);
  const rank = (folder: string) => (LAYERS as readonly string[]).indexOf(folder);
  const problems: Violation[] = [];
  const rel = relative(ROOT, file);
  if (rank(from) < 0) return [{ file: rel, line: 1, target: "", why: `src/${from} is not in the layer table (scripts/check-deps.ts LAYERS)` }];
  for (const { spec, line } of importsOf(file, text)) {
    if (!spec.startsWith(".")) continue; // packages and node: built-ins
    const target = place(resolve(dirname(file), spec));
    if (target === from) continue;
    const resolved = resolve(dirname(file), spec);
    if (resolved === join(ROOT, "package.json")) continue; // the kit's version, for `cover --version`
    if (!resolved.startsWith(SRC + sep)) problems.push({ file: rel, line, target: spec, why: `src/ imports ${target}/, which is not part of the library` });
    else if (rank(target) < 0) problems.push({ file: rel, line, target: spec, why: `src/${target} is not in the layer table` });
    else if (rank(target) > rank(from)) problems.push({ file: rel, line, target: spec, why: `upward import: ${from} (layer ${rank(from)}) imports ${target} (layer ${rank(target)})` });
  }
  return problems;
}

export function checkSources(dir = SRC): Violation[] {
  return tsFiles(dir).flatMap((f) => checkFile(f));
}

if (require.main === module) {
  const problems = checkSources();
  for (const p of problems) console.error(`${p.file}:${p.line}: ${p.why} ("${p.target}")`);
  if (problems.length) {
    console.error(`deps: ${problems.length} import(s) break the layers ${LAYERS.join(" < ")}`);
    process.exit(1);
  }
  console.log(`deps: ${tsFiles(SRC).length} files, layers ${LAYERS.join(" < ")}: no upward import, no cycle between folders`);
}
