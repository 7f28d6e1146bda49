/**
 * Settings by dotted path (`optim.epochs`, `train.builtin-digits-images`), as ablations vary them and experiments
 * override them: a value from the command line, and setting it in a plain config object.
 */

export type SettingValue = string | number | boolean | null;

/** A command-line value: JSON where it parses to a number, boolean, null or string, else the text itself. */
export function parseSettingValue(text: string): SettingValue {
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || ["string", "number", "boolean"].includes(typeof v)) return v as SettingValue;
  } catch { /* plain text */ }
  return text;
}

export interface PathContext {
  /** Prefix of errors ("ablation", "experiment"). */
  who: string;
  /** What the target is, for errors ("the base run"), and what its top level is called ("the run config"). */
  target: string;
  root: string;
  /** Fields whose keys are names (e.g. datasets): a path may add a key there; everywhere else it must exist. */
  openRecords?: ReadonlySet<string>;
}

/**
 * Sets a dotted path. Names may hold dots (`train.data-manifests/k400.json`), so at each level the longest run of
 * remaining segments that is an existing key is taken first. A value must keep the type of the one it replaces.
 */
export function setPath(target: Record<string, unknown>, path: string, value: SettingValue, context: PathContext): void {
  const segments = path.split(".");
  let node: Record<string, unknown> = target;
  const walked: string[] = [];
  for (;;) {
    let take = segments.length;
    while (take > 0 && !Object.hasOwn(node, segments.slice(0, take).join("."))) take--;
    if (take === 0) {
      if (!context.openRecords?.has(walked.join(".")) || segments.join(".") === "__proto__") {
        const where = walked.length ? walked.join(".") : context.root;
        throw new Error(`${context.who}: '${path}' is not a field of ${context.target} (${where} has: ${Object.keys(node).join(", ")})`);
      }
      take = segments.length;
    }
    const key = segments.splice(0, take).join(".");
    if (segments.length === 0) {
      const old = node[key];
      if (old !== undefined && old !== null && value !== null && typeof old !== typeof value) {
        throw new Error(`${context.who}: '${path}' is a ${typeof old} in ${context.target} (${JSON.stringify(old)}), got ${JSON.stringify(value)}`);
      }
      node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) throw new Error(`${context.who}: '${path}': ${[...walked, key].join(".")} is not an object`);
    node = next as Record<string, unknown>;
    walked.push(key);
  }
}
