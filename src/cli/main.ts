import { parseFlags, UsageError } from "./args";
import type { Command } from "./command";
import { InterruptedError } from "../util/interrupt";
import { didYouMean } from "../util/suggest";


interface CommandEntry {
  summary: string;
  load(): Command;
}

/**
 * The command table, one entry per command. To add one: write src/cli/commands/<name>.ts exporting
 * `command: Command` (usage, options, run) and add its line here. Command modules are loaded only when run, with
 * `require` (tsx's CommonJS hook, which bin/cover.js uses, cannot resolve `import()` of .ts files), and load their
 * heavy dependencies (tfjs, ffmpeg, danfojs) inside run(), so that `--help` answers at once.
 */
const COMMANDS: Record<string, CommandEntry> = {
  model: { summary: "model architecture facts (parameters, GMACs per view)",
    load: () => (require("./commands/model") as typeof import("./commands/model")).command },
  predict: { summary: "top-k classes for videos, images or folders (or logits for clips in the official layout)",
    load: () => (require("./commands/predict") as typeof import("./commands/predict")).command },
  convert: { summary: "PyTorch (.pyth/.pt) or timm checkpoints to cover-kit safetensors, with class names",
    load: () => (require("./commands/convert") as typeof import("./commands/convert")).command },
  data: { summary: "datasets: inspect a manifest, sample frames from a video, prepare the frame cache",
    load: () => (require("./commands/data") as typeof import("./commands/data")).command },
  train: { summary: "train a run (COVER, standard, image pre-training, or a config file)",
    load: () => (require("./commands/train") as typeof import("./commands/train")).command },
  eval: { summary: "evaluate a finished run (top-1/top-5, views, reversed frames)",
    load: () => (require("./commands/eval") as typeof import("./commands/eval")).command },
  experiment: { summary: "reproduce one of the paper's experiments, with tables and figures",
    load: () => (require("./commands/experiment") as typeof import("./commands/experiment")).command },
  runs: { summary: "where the cached runs stand: done, running (job, step), pending, failed (why), missing",
    load: () => (require("./commands/runs") as typeof import("./commands/runs")).command },
  ablate: { summary: "your own ablation: vary fields of a run over seeds, with a result table and a figure",
    load: () => (require("./commands/ablate") as typeof import("./commands/ablate")).command },
  backend: { summary: "which compute backend would be chosen, and why the better ones were not",
    load: () => (require("./commands/backend") as typeof import("./commands/backend")).command },
};

function helpText(): string {
  const lines = ["usage: cover <command> [options]", "", "commands:"];
  for (const [name, entry] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${entry.summary}`);
  lines.push("", "Run `cover <command> --help` for a command's options; `cover --version` for the kit's version.");
  return lines.join("\n");
}

function version(): string {
  return (require("../../package.json") as { version: string }).version;
}

/** Runs `cover argv...`; resolves to the exit code (2: usage error; 130 / 143: stopped by SIGINT / SIGTERM). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) { console.error(helpText()); return 2; }
  if (name === "--help" || name === "-h") { console.log(helpText()); return 0; }
  if (name === "--version" || name === "-V") { console.log(version()); return 0; }
  if (name === "help") return help(rest[0]);
  const entry = COMMANDS[name];
  if (!entry) {
    const what = name.startsWith("-") ? `unknown option '${name}'${didYouMean(name, ["--help", "--version"])}` : `unknown command '${name}'${didYouMean(name, Object.keys(COMMANDS))}`;
    console.error(`cover: ${what}\n\n${helpText()}`);
    return 2;
  }
  const command = entry.load();
  const beforeDashDash = rest.indexOf("--") === -1 ? rest : rest.slice(0, rest.indexOf("--"));
  if (beforeDashDash.includes("--help") || beforeDashDash.includes("-h")) { console.log(command.usage); return 0; }
  try {
    return await command.run(parseFlags(rest, command.options));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`cover ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    if (err instanceof InterruptedError) {
      console.error(`cover ${name}: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
}

function help(name: string | undefined): number {
  if (name === undefined) { console.log(helpText()); return 0; }
  const entry = COMMANDS[name];
  if (!entry) { console.error(`cover help: unknown command '${name}'${didYouMean(name, Object.keys(COMMANDS))}`); return 2; }
  console.log(entry.load().usage);
  return 0;
}
