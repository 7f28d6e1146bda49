/** `cover data prepare <manifest> [--split S] [--frames T] [--crop C | --cache-size N] [--jobs N]`: fill the frame cache. */
import { Flags, OptionSpecs, UsageError } from "../args";
import { printJson } from "../output";
import { openSplit } from "../../data/builtin";
import { cacheSizeForCrop, FrameCache, prepareCache } from "../../data/frame-cache";
import type { PrepareReport } from "../../data/frame-cache";
import { loadManifest, resolveManifestPath } from "../../data/manifest";

export const usage = `usage: cover data prepare <manifest name or path> [--split S] [--frames T] [--crop C | --cache-size N]
                           [--jobs N] [--cache-dir D] [--strict] [--quiet] [--json]

Decodes every clip of the split (default: all splits) once into the frame cache: T frames (default 8) sampled
uniformly over the whole video, short side resized to N = ceil(1.15 * C) (default crop 224 -> 258), stored as
uint8 .npy under --cache-dir (default env COVER_CACHE_DIR or <repo>/.cache/frames). Runs N parallel ffmpeg
processes (default: the cores, twice the cores for small files); PNG images of one size go 64 to a process. Bad files are skipped, counted and listed at the end; clips cached
already are not decoded again (a bad file is remembered until it changes). Built-in datasets are generated first
when needed. --strict: exit status 1 when a file was bad.`;

export const options: OptionSpecs = {
  split: "string", frames: "string", crop: "string", "cache-size": "string", jobs: "string", "cache-dir": "string",
  strict: "boolean", quiet: "boolean", json: "boolean",
};

export async function run(flags: Flags): Promise<number> {
  const positionals = flags.positionals[0] === "prepare" ? flags.positionals.slice(1) : flags.positionals;
  if (flags.bool("help")) { console.log(usage); return 0; }
  const split = flags.string("split");
  const frames = flags.int("frames", 8);
  const crop = flags.int("crop");
  const explicitSize = flags.int("cache-size");
  const jobs = flags.int("jobs");
  const dir = flags.string("cache-dir");
  const strict = flags.bool("strict");
  const quiet = flags.bool("quiet");
  const json = flags.bool("json");
  flags.rejectUnknown();
  if (positionals.length !== 1) throw new UsageError("prepare takes exactly one manifest");
  if (crop !== undefined && explicitSize !== undefined) throw new UsageError("give --crop or --cache-size, not both");
  if (frames < 1 || (jobs ?? 1) < 1 || (crop ?? 1) < 1 || (explicitSize ?? 1) < 1) throw new UsageError("--frames, --jobs, --crop and --cache-size must be >= 1");
  const cacheSize = explicitSize ?? cacheSizeForCrop(crop ?? 224);

  const manifestPath = resolveManifestPath(positionals[0]);
  const manifest = loadManifest(manifestPath);
  const splits = split ? [split] : Object.keys(manifest.splits);
  const cache = new FrameCache({ frames, cacheSize, dir });
  const reports: Record<string, PrepareReport & { annotationProblems: number }> = {};
  let bad = 0;
  for (const name of splits) {
    const data = await openSplit(manifestPath, name, { manifest, silent: quiet || json });
    const report = await prepareCache(cache, data.samples, { jobs, label: `${manifest.name}/${name}`, silent: quiet || json });
    reports[name] = { ...report, annotationProblems: data.problems.length };
    bad += report.bad.length;
    if (!json) {
      console.log(`${manifest.name}/${name}: ${report.total} clips, ${report.built} decoded, ${report.cached} cached already, ` +
        `${report.bad.length} bad, ${report.seconds.toFixed(1)} s with ${report.jobs} jobs` +
        (data.problems.length ? ` (${data.problems.length} annotation problems: cover data inspect ${positionals[0]})` : ""));
      for (const b of report.bad) console.log(`  bad: ${b.path}: ${b.reason}`);
    }
  }
  if (json) printJson({ manifest: manifestPath, dataset: manifest.name, cacheDir: cache.dir, frames, cacheSize, splits: reports });
  else console.log(`cache: ${cache.dir} (frames ${frames}, short side ${cacheSize})`);
  if (bad > 0 && !json) console.log(`${bad} bad file${bad > 1 ? "s" : ""} skipped (listed above)`);
  return bad > 0 && strict ? 1 : 0;
}
