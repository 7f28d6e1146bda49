import { Flags, parseArgs, UsageError } from "./args";

/** A CLI command group: `cover <group> ...`. Each lives in src/cli/commands/<group>.ts. */
export interface Command {
  summary: string;
  usage: string;
  run(flags: Flags): Promise<number>;
}

// Loaded on demand (require, not import(): tsx runs this file as CommonJS) so that `cover model` does not load ffmpeg.
const COMMANDS: Record<string, () => Promise<Command>> = {
  model: async () => (require("./commands/model") as typeof import("./commands/model")).command,
  predict: async () => (require("./commands/predict") as typeof import("./commands/predict")).command,
  convert: async () => (require("./commands/convert") as typeof import("./commands/convert")).command,
  data: async () => (require("./commands/data") as typeof import("./commands/data")).command,
  train: async () => (require("./commands/train") as typeof import("./commands/train")).command,
  eval: async () => (require("./commands/eval") as typeof import("./commands/eval")).command,
  experiment: async () => (require("./commands/experiment") as typeof import("./commands/experiment")).command,
  backend: async () => (require("./commands/backend") as typeof import("./commands/backend")).command,
};

async function helpText(): Promise<string> {
  const lines = ["usage: cover <command> [options]", "", "commands:"];
  for (const [name, load] of Object.entries(COMMANDS)) {
    try { lines.push(`  ${name.padEnd(12)} ${(await load()).summary}`); } catch { /* not built yet */ }
  }
  lines.push("", "Run `cover <command> --help` for a command's options.");
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(await helpText());
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`cover: unknown command '${name}'\n\n${await helpText()}`);
    return 2;
  }
  const command = await load();
  const args = parseArgs(rest);
  if (args.flags.has("help")) { console.log(command.usage); return 0; }
  try {
    return await command.run(new Flags(args));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`cover ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    throw err;
  }
}
