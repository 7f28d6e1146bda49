/** The backends' names and the parsing of a request, apart from the chooser so that the CLI's help loads no tfjs. */
export type BackendName = "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu";

/** Best first: the order "auto" tries them in. */
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"];

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

/** Parses a request ("auto" or a backend name); `source` names where it came from for the error. */
export function parseBackendRequest(value: string, source: string): BackendName | "auto" {
  if (value === "auto" || isBackendName(value)) return value;
  throw new Error(`${source}: unknown backend '${value}'; expected auto, ${BACKEND_NAMES.join(", ")}`);
}
