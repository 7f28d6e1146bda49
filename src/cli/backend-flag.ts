/** The --backend flag shared by every command that computes. */
import { BackendName, useBackend } from "../backend";
import { Flags, UsageError } from "./args";

const BACKENDS: BackendName[] = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"];

/** Reads --backend (else COVER_BACKEND, else auto), selects it and tells on stderr which one runs and why. */
export async function backendFromFlags(flags: Flags): Promise<BackendName> {
  const requested = flags.string("backend");
  if (requested !== undefined && requested !== "auto" && !BACKENDS.includes(requested as BackendName)) {
    throw new UsageError(`--backend must be one of auto, ${BACKENDS.join(", ")}; got '${requested}'`);
  }
  const choice = await useBackend(requested as BackendName | "auto" | undefined);
  const skipped = choice.reasons.map((r) => `${r.name}: ${r.why}`).join("; ");
  console.error(`backend: ${choice.name}${skipped ? ` (not chosen: ${skipped})` : ""}`);
  return choice.name;
}
