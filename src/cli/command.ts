import type { Flags, OptionSpecs } from "./args";

/** A CLI command group: `cover <name> ...`, in src/cli/commands/<name>.ts as `export const command: Command`. */
export interface Command {
  usage: string;
  /** Every option the command (and its subcommands) accepts; --help / -h is added to all. */
  options: OptionSpecs;
  run(flags: Flags): Promise<number>;
}
