/** The --backend flag shared by every command that computes. */
import type { BackendChoice } from "../backend";
import { BackendName, parseBackendRequest } from "../backend/names";
import { Flags, UsageError } from "./args";

export type BackendRequest = BackendName | "auto" | undefined;

/** Reads and checks --backend: a bad value is a usage error before any heavy work. */
export function backendRequest(flags: Flags): BackendRequest {
  const requested = flags.string("backend");
  try { return requested === undefined ? undefined : parseBackendRequest(requested, "--backend"); }
  catch (err) { throw new UsageError((err as Error).message); }
}

/** Selects the requested backend (else COVER_BACKEND, else auto); the chooser, and tfjs, are loaded only here. */
export async function selectBackend(request: BackendRequest): Promise<BackendChoice> {
  const { useBackend } = require("../backend") as typeof import("../backend");
  return useBackend(request);
}

/** backendRequest then selectBackend. */
export async function backendFromFlags(flags: Flags): Promise<BackendChoice> {
  return selectBackend(backendRequest(flags));
}

/** One line: which backend runs and why the better ones were not chosen. */
export function describeBackend(choice: BackendChoice): string {
  const skipped = choice.reasons.map((r) => `${r.name}: ${r.why}`).join("; ");
  return `${choice.name}${skipped ? ` (not chosen: ${skipped})` : ""}`;
}
