/** A small, strict argv parser: positionals plus `--flag value` / `--flag` / `--flag=value`. */
export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) { positionals.push(arg); continue; }
    const eq = arg.indexOf("=");
    if (eq > 0) { flags.set(arg.slice(2, eq), arg.slice(eq + 1)); continue; }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith("--")) { flags.set(arg.slice(2), next); i++; }
    else flags.set(arg.slice(2), true);
  }
  return { positionals, flags };
}

export class UsageError extends Error {}

/** Reads flags by name, remembering which were used so that unknown flags can be reported. */
export class Flags {
  private readonly used = new Set<string>();
  constructor(private readonly args: ParsedArgs) {}

  get positionals(): string[] { return this.args.positionals; }

  string(name: string): string | undefined {
    this.used.add(name);
    const v = this.args.flags.get(name);
    if (v === true) throw new UsageError(`--${name} needs a value`);
    return v;
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
    if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got '${v}'`);
    return n;
  }

  number(name: string, fallback: number): number;
  number(name: string): number | undefined;
  number(name: string, fallback?: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
    return n;
  }

  bool(name: string): boolean {
    this.used.add(name);
    const v = this.args.flags.get(name);
    if (v === undefined) return false;
    if (v === true || v === "true") return true;
    if (v === "false") return false;
    throw new UsageError(`--${name} takes no value, got '${v}'`);
  }

  /** Throws on any flag that no command read. Call after reading all flags. */
  rejectUnknown(): void {
    const unknown = [...this.args.flags.keys()].filter((k) => !this.used.has(k));
    if (unknown.length) throw new UsageError(`unknown option${unknown.length > 1 ? "s" : ""}: ${unknown.map((k) => `--${k}`).join(", ")}`);
  }
}
