/**
 * What cover-kit weights say about each classification head besides its tensors, in the safetensors metadata: its
 * class names and the input normalisation of its dataset, so that the weights file alone is enough to predict.
 */

/** Per head, its class names as {"0": name, ...} (the Hugging Face id2label convention). */
const LABELS_KEY = "cover.id2label";
/** Per head, the input normalisation of its dataset: prediction must normalise as training and evaluation did. */
const NORMALIZATION_KEY = "cover.normalization";

/** Per-channel (RGB) mean and standard deviation of pixel values in [0, 1]. */
export interface ChannelNormalization { mean: [number, number, number]; std: [number, number, number] }

/** What a weights file says about one head besides its tensors. */
export interface HeadInfo { labels?: string[]; normalization?: ChannelNormalization }

/** Metadata entries for the heads given; every head must exist and have as many names as classes. */
export function headMetadata(classifiers: Record<string, number>, heads: Record<string, HeadInfo>): Record<string, string> {
  const labels: Record<string, Record<string, string>> = {};
  const norms: Record<string, ChannelNormalization> = {};
  for (const [head, info] of Object.entries(heads)) {
    const classes = classifiers[head];
    if (classes === undefined) throw new Error(`saveWeights: the model has no head '${head}' (heads: ${Object.keys(classifiers).join(", ")})`);
    if (info.labels) {
      if (info.labels.length !== classes) throw new Error(`saveWeights: head '${head}' has ${classes} classes but ${info.labels.length} class names`);
      labels[head] = Object.fromEntries(info.labels.map((name, i) => [String(i), name]));
    }
    if (info.normalization) norms[head] = info.normalization;
  }
  return {
    ...(Object.keys(labels).length && { [LABELS_KEY]: JSON.stringify(labels) }),
    ...(Object.keys(norms).length && { [NORMALIZATION_KEY]: JSON.stringify(norms) }),
  };
}

/** The class names and normalisation each head carries in a file's metadata (empty for files without them). */
export function readHeadInfo(metadata: Record<string, string>, path: string): Record<string, HeadInfo> {
  const out: Record<string, HeadInfo> = {};
  const labels = parseMetadataJson(metadata, LABELS_KEY, path);
  for (const [head, id2label] of Object.entries(labels)) (out[head] ??= {}).labels = labelList(id2label, `${path}: ${LABELS_KEY} of head '${head}'`);
  const norms = parseMetadataJson(metadata, NORMALIZATION_KEY, path);
  for (const [head, norm] of Object.entries(norms)) (out[head] ??= {}).normalization = channelNormalization(norm, `${path}: ${NORMALIZATION_KEY} of head '${head}'`);
  return out;
}

function parseMetadataJson(metadata: Record<string, string>, key: string, path: string): Record<string, unknown> {
  const text = metadata[key];
  if (text === undefined) return {};
  let value: unknown;
  try { value = JSON.parse(text); } catch { throw new Error(`${path}: metadata '${key}' is not JSON`); }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${path}: metadata '${key}' must be an object by head name`);
  return value as Record<string, unknown>;
}

/** {"0": a, "1": b, ...} -> [a, b, ...]; the ids must be exactly 0..n-1. */
function labelList(id2label: unknown, where: string): string[] {
  if (typeof id2label !== "object" || id2label === null || Array.isArray(id2label)) throw new Error(`${where}: must be {"0": name, ...}`);
  const entries = Object.entries(id2label as Record<string, unknown>);
  const names = new Array<string>(entries.length);
  for (const [id, name] of entries) {
    const i = Number(id);
    if (!(Number.isInteger(i) && i >= 0 && i < entries.length) || typeof name !== "string") throw new Error(`${where}: bad entry ${JSON.stringify(id)}: ${JSON.stringify(name)} (ids must be 0..${entries.length - 1}, names strings)`);
    names[i] = name;
  }
  return names;
}

function channelNormalization(value: unknown, where: string): ChannelNormalization {
  const v = value as Partial<ChannelNormalization> | null;
  const triple = (xs: unknown, positive: boolean) => Array.isArray(xs) && xs.length === 3 && xs.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0));
  if (!v || !triple(v.mean, false) || !triple(v.std, true)) throw new Error(`${where}: must be {"mean": [r, g, b], "std": [r, g, b]} with positive std`);
  return { mean: v.mean!, std: v.std! };
}
