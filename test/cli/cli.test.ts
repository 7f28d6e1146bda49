/**
 * The `cover` command line: strict parsing with declared boolean flags, usage errors (exit 2) that name the option
 * and suggest the closest one, --help / -h / --version without loading tfjs, and flag errors before heavy work.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError, parseFlags } from "../../src/cli/args";
import { main } from "../../src/cli/main";
import { closest } from "../../src/util/suggest";
import { EXPERIMENT_NAMES } from "../../src/cli/commands/experiment";

const ROOT = join(__dirname, "..", "..");

function cover(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "cover.js"), ...args], { encoding: "utf8", cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs main() in this process, collecting what it prints. */
async function mainCapturing(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const saved = { log: console.log, error: console.error };
  let out = "";
  let err = "";
  console.log = (...xs: unknown[]) => { out += xs.join(" ") + "\n"; };
  console.error = (...xs: unknown[]) => { err += xs.join(" ") + "\n"; };
  try {
    return { code: await main(argv), out, err };
  } finally {
    Object.assign(console, saved);
  }
}

test("a boolean flag before a valued one parses (--resume takes no value)", () => {
  const flags = parseFlags(["cover", "--resume", "--out", "x", "--seed=3"], { out: "string", resume: "boolean", seed: "string" });
  assert.deepEqual(flags.positionals, ["cover"]);
  assert.equal(flags.bool("resume"), true);
  assert.equal(flags.string("out"), "x");
  assert.equal(flags.int("seed"), 3);
  const first = parseFlags(["--resume", "cover", "--out", "x"], { out: "string", resume: "boolean" });
  assert.deepEqual(first.positionals, ["cover"], "the word after a boolean flag is a positional, not its value");
  assert.equal(first.bool("resume"), true);
});

test("parse errors name the option and what is wrong with it", () => {
  const options = { out: "string", resume: "boolean", seed: "string" } as const;
  const message = (argv: string[]) => { try { parseFlags(argv, options); return "parsed"; } catch (e) { assert.ok(e instanceof UsageError); return e.message; } };
  assert.equal(message(["--resum"]), "unknown option '--resum' (did you mean --resume?)");
  assert.equal(message(["--colour"]), "unknown option '--colour'");
  assert.equal(message(["--out"]), "--out needs a value");
  assert.match(message(["--out", "--resume"]), /^--out needs a value, got '--resume'/);
  assert.equal(message(["--resume=yes"]), "--resume takes no value, got 'yes'");
  assert.throws(() => parseFlags(["--seed", "x"], options).int("seed"), /--seed must be an integer, got 'x'/);
});

test("suggestions: close typos, unique prefixes, nothing for unrelated words", () => {
  assert.equal(closest("trian", ["train", "eval", "experiment"]), "train");
  assert.equal(closest("experimnt", ["train", "eval", "experiment"]), "experiment");
  assert.equal(closest("check", ["check-media", "strict"]), "check-media");
  assert.equal(closest("zebra", ["train", "eval"]), undefined);
});

const loadedTf = () => Object.keys(require.cache).filter((k) => k.includes("@tensorflow") || k.includes("danfojs"));
// The native stage of CI starts the test process with --import of the native backend, which loads tfjs first.
const preloaded = loadedTf().length > 0;

test("--help, -h and help answer without loading tfjs or danfojs", { skip: preloaded && "this test process preloads tfjs (an --import of the native backend), so it cannot tell what --help loads" }, async () => {
  for (const argv of [["--help"], ["-h"], ["help", "train"], ["train", "--help"], ["experiment", "-h"], ["eval", "--help"], ["predict", "--help"],
    ["model", "--help"], ["backend", "--help"], ["data", "--help"], ["runs", "--help"], ["train", "--bogus", "--help"]]) {
    const r = await mainCapturing(argv);
    assert.equal(r.code, 0, `${argv.join(" ")}: ${r.err}`);
    assert.match(r.out, /usage: cover/, argv.join(" "));
    assert.deepEqual(loadedTf(), [], `cover ${argv.join(" ")} loaded ${loadedTf().slice(0, 3).join(", ")}`);
  }
});

test("--version prints the package's version", async () => {
  const r = await mainCapturing(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.out.trim(), (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
});

test("unknown commands, subcommands, options and names are usage errors (exit 2) with the closest suggestion", async () => {
  const cases: [string[], RegExp][] = [
    [["trian"], /unknown command 'trian' \(did you mean train\?\)/],
    [["--verison"], /unknown option '--verison' \(did you mean --version\?\)/],
    [["train", "cover", "--resum", "--out", "x"], /unknown option '--resum' \(did you mean --resume\?\)/],
    [["train", "covr", "--out", "x"], /'covr' is neither a named run nor a config file \(did you mean cover\?\)/],
    [["train", "cover", "--out", "x", "--scale", "smok"], /--scale must be one of smoke, cpu, paper, got 'smok' \(did you mean smoke\?\)/],
    [["train", "cover", "--out", "x", "--pretrain", "--init-run", "y"], /--pretrain, --init and --init-run exclude each other/],
    [["experiment", "frame-reversl", "--out", "x"], /unknown experiment 'frame-reversl' \(did you mean frame-reversal\?\)/],
    [["model", "inf"], /unknown subcommand 'inf' \(did you mean info\?\)/],
    [["data", "inspct", "x"], /unknown subcommand 'inspct' \(did you mean inspect\?\)/],
    [["data", "inspect", "x", "--no-crop"], /unknown option here: --no-crop/],
    [["eval", "--run"], /--run needs a value/],
    [["runs", "stats"], /unknown subcommand 'stats' \(did you mean status\?\)/],
    [["experiment", "frame-reversal", "--out", "x", "--partition", "gpu"], /--partition applies to --executor slurm/],
    [["ablate", "cover", "--vary", "a=1", "--out", "x", "--gpus-per-run", "1"], /--gpus-per-run applies to --executor slurm/],
    [["ablate", "cover", "--vary", "a=1", "--out", "x", "--no-wait"], /--no-wait applies to --executor slurm/],
    [["ablate", "cover", "--vary", "a=1", "--out", "x", "--executor", "slurn"], /did you mean slurm\?/],
    [[], /usage: cover <command>/],
  ];
  for (const [argv, expected] of cases) {
    const r = await mainCapturing(argv);
    assert.equal(r.code, 2, `cover ${argv.join(" ")}: ${r.err}`);
    assert.match(r.err, expected, `cover ${argv.join(" ")}`);
  }
});

test("cover train: --resume before --out parses, and an existing run without --resume is reported before data is opened", () => {
  // a temporary folder made here: test/helpers/tf.ts would load tfjs into this test file
  const out = mkdtempSync(join(tmpdir(), "cover-cli-existing-"));
  after(() => rmSync(out, { recursive: true, force: true }));
  writeFileSync(join(out, "checkpoint.safetensors"), "not really a checkpoint");
  const existing = cover("train", "cover", "--out", out, "--scale", "smoke");
  assert.equal(existing.code, 2, existing.stderr);
  assert.match(existing.stderr, /holds a run already; pass --resume/);
  assert.doesNotMatch(existing.stderr, /decode |generating |backend: /, "no data or backend work before the flag error");
  // --resume is a boolean: '--out' after it is read as the option, and the next error is the bad scale
  const resumed = cover("train", "cover", "--resume", "--out", out, "--scale", "nope");
  assert.equal(resumed.code, 2);
  assert.match(resumed.stderr, /--scale must be one of/);
});

test("the experiment names the CLI knows without loading the registry are the registry's", () => {
  const { EXPERIMENTS } = require("../../src/experiments/registry") as typeof import("../../src/experiments/registry");
  assert.deepEqual([...EXPERIMENT_NAMES].sort(), Object.keys(EXPERIMENTS).sort());
});

test("a repeatable option keeps every value in order; read as a single value it is a usage error", () => {
  const flags = parseFlags(["--vary", "a=1,2", "--vary=b=x"], { vary: "strings", out: "string" });
  assert.deepEqual(flags.strings("vary"), ["a=1,2", "b=x"]);
  assert.throws(() => parseFlags(["--out", "a", "--out", "b"], { out: "strings" }).string("out"), /--out is given more than once/);
  assert.deepEqual(parseFlags([], { vary: "strings" }).strings("vary"), []);
});

test("cover ablate: --vary values are JSON where they parse, else text; malformed ones are usage errors", async () => {
  const { parseVariations } = require("../../src/cli/commands/ablate") as typeof import("../../src/cli/commands/ablate");
  assert.deepEqual(parseVariations(["train.builtin-digits-images=0,0.5,1", "model.preset=tiny,small", "freezeBackbone=true,false"]),
    { "train.builtin-digits-images": [0, 0.5, 1], "model.preset": ["tiny", "small"], freezeBackbone: [true, false] });
  assert.throws(() => parseVariations(["model.preset"]), /--vary takes PATH=V1,V2,..., got 'model.preset'/);
  assert.throws(() => parseVariations(["a=1", "a=2"]), /--vary a is given twice/);
  const none = await mainCapturing(["ablate", "cover", "--out", "x"]);
  assert.equal(none.code, 2);
  assert.match(none.err, /give at least one --vary PATH=V1,V2/);
  const scale = await mainCapturing(["ablate", "cover", "--vary", "a=1", "--out", "x", "--scale", "smok"]);
  assert.equal(scale.code, 2);
  assert.match(scale.err, /--scale must be one of smoke, cpu, paper, got 'smok'/);
});
