/** The --backend flag shared by every command that computes. */
import { BackendName, parseBackendRequest, useBackend } from "../backend";
import { Flags, UsageError } from "./args";

/** Reads --backend (else COVER_BACKEND, else auto), selects it and tells on stderr which one runs and why. */
export async function backendFromFlags(flags: Flags): Promise<BackendName> {
  const requested = flags.string("backend");
  let request: BackendName | "auto" | undefined;
  try { request = requested === undefined ? undefined : parseBackendRequest(requested, "--backend"); }
  catch (err) { throw new UsageError((err as Error).message); }
  const choice = await useBackend(request);
  const skipped = choice.reasons.map((r) => `${r.name}: ${r.why}`).join("; ");
  console.error(`backend: ${choice.name}${skipped ? ` (not chosen: ${skipped})` : ""}`);
  return choice.name;
}
