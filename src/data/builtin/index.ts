/**
 * Built-in datasets: generated on first use from a manifest's `builtin` field into a cache folder
 * (env COVER_DATA_DIR/<name>, default <repo>/.cache/builtin/<name>): media files (lossless mp4 or PNG) and one
 * JSONL annotation file per split. A stamp file records what was generated; a changed seed or option regenerates.
 *
 * `openSplit` is the async entry point for any manifest: it generates built-in data when needed and then parses the
 * split with loadSplit, with the built-in paths pointing into the cache folder.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join, resolve } from "node:path";
import type { DatasetSplit } from "../types";
import { loadManifest, loadSplit, resolveManifestPath } from "../manifest";
import type { DatasetManifest, LoadSplitOptions } from "../manifest";
import { writePng } from "../image";
import { Rng, deriveSeed } from "../../util/rng";
import { writeFileAtomic } from "../../util/atomic";
import { createProgress } from "../../util/progress";
import { builtinDataRoot } from "../../util/paths";
import { throwIfStopped } from "../../util/interrupt";
import { encodeLosslessMp4s } from "./encode";
import type { ClipToEncode } from "./encode";
import { GENERATORS } from "./generators";
import type { BuiltinGenerator, GeneratorOptions } from "./generators";
import { mnistDigits } from "./mnist";

export { GENERATORS } from "./generators";
export type { BuiltinGenerator, GeneratorOptions } from "./generators";

const FORMAT_VERSION = 3; // 2: one encoder per batch of clips (segment muxer); 3: centred digits, 1000+ val clips
const SPLITS = ["train", "val"] as const;
// Fixed (never derived from the core count): a clip's bytes depend on its place in its encoder batch.
const ENCODE_BATCH = 64;

export function builtinRoot(name: string): string {
  return join(builtinDataRoot(), name);
}

export interface EnsureOptions {
  /** Folder to generate into; default builtinRoot(manifest.name). */
  root?: string;
  /** Parallel encoder processes; default the cores available. */
  jobs?: number;
  silent?: boolean;
  /** Stops generating between batches (InterruptedError) when aborted; the next call generates from the start. */
  signal?: AbortSignal;
}

function generatorOf(manifest: DatasetManifest): { generator: BuiltinGenerator; name: string; seed: number; options: GeneratorOptions } {
  if (!manifest.builtin) throw new Error(`dataset '${manifest.name}' is not a built-in dataset (no 'builtin' field)`);
  const name = manifest.builtin.generator;
  const generator = GENERATORS[name];
  if (!generator) throw new Error(`dataset '${manifest.name}': unknown built-in generator '${name}' (known: ${Object.keys(GENERATORS).join(", ")})`);
  const options = { ...generator.defaults, ...manifest.builtin.options } as GeneratorOptions;
  for (const [k, v] of Object.entries(options)) {
    if (!Number.isInteger(v) || v < (k === "train" || k === "val" ? 0 : 1)) throw new Error(`dataset '${manifest.name}': builtin.options.${k} must be a positive integer, got ${v}`);
  }
  if (generator.kind === "image") options.frames = 1;
  return { generator, name, seed: manifest.builtin.seed, options };
}

function mediaName(kind: "video" | "image", split: string, index: number): string {
  return `${split}/${String(index).padStart(6, "0")}.${kind === "video" ? "mp4" : "png"}`;
}

/** Generates the dataset unless the folder already holds exactly this generation; returns the folder. */
export async function ensureBuiltin(manifest: DatasetManifest, options: EnsureOptions = {}): Promise<string> {
  const { generator, name, seed, options: gen } = generatorOf(manifest);
  const root = options.root ? resolve(options.root) : builtinRoot(manifest.name);
  const stampFile = join(root, "generated.json");
  const stamp = JSON.stringify({ version: FORMAT_VERSION, generator: name, seed, options: gen });
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return root;

  const total = gen.train + gen.val;
  const progress = createProgress({ label: `generating ${manifest.name}`, total, unit: generator.kind === "video" ? "clip" : "image", silent: options.silent });
  const jobs = Math.max(1, options.jobs ?? availableParallelism());
  for (const split of SPLITS) {
    const count = gen[split];
    const digits = mnistDigits(split === "train" ? "train" : "test");
    const lines: string[] = new Array(count);
    // Contiguous batches of fixed size: one ffmpeg process encodes a batch of clips.
    const batch = generator.kind === "video" ? ENCODE_BATCH : 64;
    let next = 0;
    const worker = async () => {
      while (next < count) {
        throwIfStopped(options.signal, `generating ${manifest.name} stopped; run again to generate it`);
        const first = next;
        const end = Math.min(count, first + batch);
        next = end;
        const videos: ClipToEncode[] = [];
        for (let i = first; i < end; i++) {
          const label = i % generator.classes.length;
          const rng = new Rng(deriveSeed(seed, name, split, i));
          const pixels = generator.render({ rng, label, digits, size: gen.size, frames: gen.frames });
          const file = mediaName(generator.kind, split, i);
          if (generator.kind === "image") writePng(join(root, file), pixels, gen.size, gen.size, { fsync: false });
          else videos.push({ path: join(root, file), clip: pixels });
          lines[i] = JSON.stringify({ path: file, label: generator.classes[label] });
        }
        await encodeLosslessMp4s(videos, gen.frames, gen.size, gen.size);
        progress.tick(end - first);
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, Math.ceil(count / batch) || 1) }, worker));
    writeFileAtomic(join(root, `${split}.jsonl`), lines.join("\n") + (count ? "\n" : ""));
  }
  progress.done();
  writeFileAtomic(stampFile, stamp);
  return root;
}

/** The manifest with its media root and annotation files pointing into the generation folder. */
export function withBuiltinPaths(manifest: DatasetManifest, root = builtinRoot(manifest.name)): DatasetManifest {
  const splits = Object.fromEntries(Object.entries(manifest.splits).map(([k, s]) =>
    [k, { ...s, files: s.files.map((f) => join(root, basename(f))), mediaRoot: undefined }]));
  return { ...manifest, mediaRoot: root, splits };
}

export interface OpenSplitOptions extends LoadSplitOptions, EnsureOptions {}

/** Parses a split of any manifest (a shipped name or a path), generating built-in data first when needed. */
export async function openSplit(nameOrPath: string, split: string, options: OpenSplitOptions = {}): Promise<DatasetSplit> {
  const path = resolveManifestPath(nameOrPath);
  let manifest = options.manifest ?? loadManifest(path);
  if (manifest.builtin) {
    const root = await ensureBuiltin(manifest, options);
    manifest = withBuiltinPaths(manifest, root);
  }
  return loadSplit(path, split, { ...options, manifest });
}
