/**
 * Building the native `tensorflow` backend from a TensorFlow pip wheel (used by scripts/native-build.ts).
 *
 * tfjs-node's install script downloads libtensorflow 2.9.1 (CUDA 11.2 for the GPU package). Current TensorFlow
 * wheels ship `libtensorflow_cc.so.2`, which exports the C API (TF_*, TFE_*) the binding calls, and an include/
 * tree with the C headers (plus the tsl/ and xla/ headers they include). So: take the library and headers from a
 * wheel, install tfjs-node into native/ without its install script, and compile its binding against them.
 *
 * Layout of native/ (gitignored; delete it to go back to wasm):
 *   wheels/                      pip downloads (cached)
 *   libtensorflow/lib, include/  what the binding links and compiles against
 *   node_modules/@tensorflow/tfjs-node   the package, deps/ -> ../../../libtensorflow
 *   build.json                   what was built (the backend chooser reads it)
 */
import { spawnSync, SpawnSyncOptions } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { NativeBuildInfo, nativePackageDir } from "../../src/backend/native";
import { PROJECT_ROOT } from "../../src/util/paths";

export interface NativeBuildOptions {
  /** Output folder (native/). */
  dir: string;
  /** A TensorFlow wheel already on disk. */
  wheel?: string;
  /** A folder holding libtensorflow (lib/ or the files themselves, and include/), instead of a wheel. */
  libtensorflow?: string;
  /** TensorFlow version to download when no wheel or folder is given. */
  tfVersion: string;
  /** Build against the CUDA wheel (`tensorflow` + its and-cuda NVIDIA libraries) instead of `tensorflow-cpu`. */
  gpu: boolean;
  log: (line: string) => void;
}

/** A failed step, with what to do about it. */
export class NativeBuildError extends Error {
  constructor(readonly step: string, message: string, readonly hint: string) {
    super(`${step}: ${message}`);
  }
}

const PYTHON = process.env.PYTHON ?? "python3";

/** Runs a command; throws NativeBuildError with the tail of its output when it fails. */
function run(step: string, command: string, args: string[], hint: string, options: SpawnSyncOptions = {}): string {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, ...options });
  if (result.error) throw new NativeBuildError(step, `cannot run ${command}: ${result.error.message}`, hint);
  if (result.status !== 0) {
    const lines = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n");
    const errors = lines.filter((l) => l.startsWith("ERROR:")); // pip's verdict, without its retry chatter
    const output = (errors.length ? errors : lines.slice(-25)).join("\n");
    throw new NativeBuildError(step, `${command} ${args.join(" ")} exited with ${result.status}\n${output}`, hint);
  }
  return String(result.stdout ?? "");
}

/** The tfjs version of the project: the native package must match it (one tfjs-core instance). */
export function projectTfjsVersion(): string {
  const file = require.resolve("@tensorflow/tfjs-core/package.json", { paths: [PROJECT_ROOT] });
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

export function wheelPackageName(gpu: boolean): string {
  return gpu ? "tensorflow" : "tensorflow-cpu";
}

/** TensorFlow's version from a wheel's file name (`tensorflow_cpu-2.21.0-cp311-...whl`). */
export function wheelVersion(wheel: string): string {
  const m = /^tensorflow(?:[_-](?:cpu|gpu|intel))?-([0-9][^-]*)-/.exec(basename(wheel));
  if (!m) throw new Error(`${wheel}: not a TensorFlow wheel name (expected tensorflow[_cpu]-<version>-...whl)`);
  return m[1];
}

/** The `and-cuda` requirements of a wheel's METADATA (the NVIDIA CUDA 12 libraries the GPU build loads). */
export function cudaRequirements(metadata: string): string[] {
  const out: string[] = [];
  for (const line of metadata.split("\n")) {
    const m = /^Requires-Dist:\s*([^;]+);\s*extra\s*==\s*"and-cuda"\s*$/.exec(line.trim());
    if (m) out.push(m[1].replace(/\s+/g, ""));
  }
  return out;
}

function findCachedWheel(wheelsDir: string, gpu: boolean, version: string): string | undefined {
  if (!existsSync(wheelsDir)) return undefined;
  const prefix = `${wheelPackageName(gpu).replace("-", "_")}-${version}-`;
  const name = readdirSync(wheelsDir).find((f) => f.startsWith(prefix) && f.endsWith(".whl"));
  return name ? join(wheelsDir, name) : undefined;
}

function pipDownload(specs: string[], dest: string, log: (line: string) => void): void {
  mkdirSync(dest, { recursive: true });
  log(`pip download ${specs.join(" ")} (no dependencies) -> ${dest}`);
  run("download", PYTHON, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", dest, ...specs],
    "give a wheel you already have with --wheel FILE (any Python version's wheel works), or a libtensorflow folder with --libtensorflow DIR",
    { stdio: ["ignore", "pipe", "pipe"] });
}

/** Extracts the members of a zip whose names start with one of the prefixes (Python's zipfile: pip needs Python anyway). */
function unzipMembers(zip: string, prefixes: string[], dest: string, flatten: boolean): number {
  const script = `
import sys, zipfile, os, shutil
zip_path, dest, flatten, prefixes = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
n = 0
with zipfile.ZipFile(zip_path) as z:
    for info in z.infolist():
        if info.is_dir() or not any(info.filename.startswith(p) for p in prefixes):
            continue
        rel = os.path.basename(info.filename) if flatten else info.filename
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 22)
        n += 1
print(n)
`;
  const out = run("extract", PYTHON, ["-c", script, zip, dest, flatten ? "1" : "0", ...prefixes],
    `check that ${zip} is a complete wheel (re-download it) and that the disk has about 1.5 GB free`);
  return Number(out.trim());
}

function readZipText(zip: string, suffix: string): string {
  const script = `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if n.endswith(sys.argv[2])]
    sys.stdout.write(z.read(names[0]).decode() if names else "")
`;
  return run("extract", PYTHON, ["-c", script, zip, suffix], `check that ${zip} is a complete wheel`);
}

function linkForce(target: string, link: string): void {
  if (existsSync(link) || isSymlink(link)) rmSync(link, { recursive: true, force: true });
  symlinkSync(target, link);
}

function isSymlink(path: string): boolean {
  try { return lstatSync(path).isSymbolicLink(); } catch { return false; }
}

/** `-ltensorflow -ltensorflow_framework` (binding.gyp) need unversioned names next to the versioned libraries. */
function addLinkerNames(libDir: string): void {
  const main = ["libtensorflow_cc.so.2", "libtensorflow.so.2"].find((f) => existsSync(join(libDir, f)));
  if (!main) throw new NativeBuildError("libtensorflow", `${libDir} holds neither libtensorflow_cc.so.2 nor libtensorflow.so.2`,
    "point --libtensorflow at a folder from a TensorFlow wheel (its tensorflow/ folder) or a libtensorflow release");
  if (!existsSync(join(libDir, "libtensorflow_framework.so.2"))) {
    throw new NativeBuildError("libtensorflow", `${libDir} has no libtensorflow_framework.so.2`, "the wheel or folder is incomplete");
  }
  linkForce(main, join(libDir, "libtensorflow.so"));
  linkForce("libtensorflow_framework.so.2", join(libDir, "libtensorflow_framework.so"));
}

interface LibTensorFlow {
  root: string;
  version: string;
  source: string;
}

/** Extracts library + headers from a wheel into <dir>/libtensorflow (skipped when already done for this wheel). */
function libFromWheel(dir: string, wheel: string, gpu: boolean, log: (line: string) => void): LibTensorFlow {
  const root = join(dir, "libtensorflow");
  const stamp = join(root, "wheel.txt");
  const id = `${basename(wheel)} ${statSync(wheel).size}`;
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === id) {
    log(`libtensorflow already extracted from ${basename(wheel)}`);
  } else {
    rmSync(root, { recursive: true, force: true });
    log(`extracting libtensorflow_cc.so.2, libtensorflow_framework.so.2 and include/ from ${basename(wheel)}`);
    unzipMembers(wheel, ["tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2"], join(root, "lib"), true);
    const headers = unzipMembers(wheel, ["tensorflow/include/"], join(root, "tmp"), false);
    // tmp/tensorflow/include -> include
    renameSync(join(root, "tmp", "tensorflow", "include"), join(root, "include"));
    rmSync(join(root, "tmp"), { recursive: true, force: true });
    log(`${headers} header files`);
    if (gpu) addCudaLibraries(dir, wheel, join(root, "lib"), log);
    writeFileSync(stamp, id);
  }
  for (const h of ["tensorflow/c/c_api.h", "tensorflow/c/eager/c_api.h"]) {
    if (!existsSync(join(root, "include", h))) throw new NativeBuildError("extract", `${basename(wheel)} has no include/${h}`, "use a TensorFlow 2.x wheel (tensorflow or tensorflow-cpu)");
  }
  addLinkerNames(join(root, "lib"));
  return { root, version: wheelVersion(wheel), source: wheel };
}

/**
 * The CUDA wheel's libraries find NVIDIA's libraries through RUNPATH entries that include $ORIGIN, so the
 * shared objects of the and-cuda wheels are flattened into the same lib/ folder.
 */
function addCudaLibraries(dir: string, wheel: string, libDir: string, log: (line: string) => void): void {
  const specs = cudaRequirements(readZipText(wheel, ".dist-info/METADATA"));
  if (specs.length === 0) throw new NativeBuildError("cuda", `${basename(wheel)} lists no and-cuda requirements`, "use the `tensorflow` wheel (not tensorflow-cpu) for --gpu");
  const cudaDir = join(dir, "wheels", "cuda");
  pipDownload(specs, cudaDir, log);
  for (const f of readdirSync(cudaDir).filter((f) => f.startsWith("nvidia_") && f.endsWith(".whl"))) {
    const n = unzipMembers(join(cudaDir, f), ["nvidia/"], libDir, true);
    log(`${f}: ${n} files`);
  }
}

/** A user-given libtensorflow folder: lib/ (or the files at its top), include/. Linked, not copied. */
function libFromFolder(dir: string, folder: string): LibTensorFlow {
  const src = resolve(folder);
  const libSrc = existsSync(join(src, "lib")) ? join(src, "lib") : src;
  const includeSrc = join(src, "include");
  if (!existsSync(join(includeSrc, "tensorflow/c/c_api.h"))) {
    throw new NativeBuildError("libtensorflow", `${includeSrc}/tensorflow/c/c_api.h is missing`, "the folder needs include/ with the TensorFlow C headers");
  }
  const root = join(dir, "libtensorflow");
  if (src === resolve(root)) throw new NativeBuildError("libtensorflow", `${src} is the build's own folder`, "give the folder the libraries came from, or use --wheel");
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "lib"), { recursive: true });
  for (const f of readdirSync(libSrc).filter((f) => /^libtensorflow.*\.so/.test(f))) linkForce(join(libSrc, f), join(root, "lib", f));
  linkForce(includeSrc, join(root, "include"));
  addLinkerNames(join(root, "lib"));
  const versionFile = join(includeSrc, "tensorflow/core/public/release_version.h");
  const text = existsSync(versionFile) ? readFileSync(versionFile, "utf8") : readFileSync(join(includeSrc, "tensorflow/core/public/version.h"), "utf8");
  // TensorFlow >= 2.16 sets the version by build flags: the verification step asks the library instead.
  const part = (name: string) => new RegExp(`#define TF_${name}_VERSION (\\d+)`).exec(text)?.[1];
  const version = part("MAJOR") && part("MINOR") ? `${part("MAJOR")}.${part("MINOR")}.${part("PATCH") ?? 0}` : "unknown";
  return { root, version, source: src };
}

/** Installs tfjs-node into <dir> without its install script (which would download libtensorflow 2.9.1). */
function installPackage(dir: string, version: string, log: (line: string) => void): void {
  mkdirSync(dir, { recursive: true });
  const pkg = join(dir, "package.json");
  if (!existsSync(pkg)) {
    writeFileSync(pkg, JSON.stringify({ name: "cover-kit-native", private: true,
      description: "Built by `npm run native:build`; delete this folder to go back to the wasm backend." }, null, 2) + "\n");
  }
  unlinkSharedTfjs(dir);
  log(`npm install @tensorflow/tfjs-node@${version} --ignore-scripts in ${dir}`);
  run("npm install", "npm", ["install", "--prefix", dir, "--ignore-scripts", "--no-audit", "--no-fund", "--save-exact", `@tensorflow/tfjs-node@${version}`],
    "check that the npm registry is reachable (npm ping)", { stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * Removes the links to the project's packages left by a previous build: npm would otherwise write through
 * them into the project's node_modules.
 */
function unlinkSharedTfjs(dir: string): void {
  const scope = join(dir, "node_modules", "@tensorflow");
  if (!existsSync(scope)) return;
  for (const name of readdirSync(scope)) {
    if (isSymlink(join(scope, name))) rmSync(join(scope, name));
  }
}

/**
 * tfjs-node registers `tensorflow` on the tfjs-core it resolves; replace the copies npm put in <dir> by links to
 * the project's packages so that it resolves the project's single instance (DESIGN.md).
 */
export function shareProjectTfjs(dir: string): string[] {
  const scope = join(dir, "node_modules", "@tensorflow");
  const linked: string[] = [];
  for (const name of readdirSync(scope)) {
    if (name === "tfjs-node") continue;
    let projectCopy: string;
    try {
      projectCopy = dirname(require.resolve(`@tensorflow/${name}/package.json`, { paths: [PROJECT_ROOT] }));
    } catch {
      continue; // the project does not have it: the native copy stays
    }
    linkForce(projectCopy, join(scope, name));
    linked.push(name);
  }
  const nested = join(nativePackageDir(dir), "node_modules", "@tensorflow");
  if (existsSync(nested)) rmSync(nested, { recursive: true, force: true });
  return linked;
}

/** The node-gyp that node-pre-gyp should use: npm's own, found beside node (offline: no download). */
function nodeGypPath(): string | undefined {
  const npmRoot = spawnSync("npm", ["root", "-g"], { encoding: "utf8" }).stdout?.trim();
  const candidates = [
    process.env.npm_config_node_gyp,
    npmRoot && join(npmRoot, "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

/** Node's headers (node_api.h) for node-gyp, so that it does not download them. */
function nodeHeadersDir(): string {
  const dir = resolve(dirname(process.execPath), "..");
  if (existsSync(join(dir, "include", "node", "node_api.h"))) return dir;
  throw new NativeBuildError("compile", `no Node headers at ${dir}/include/node`,
    "install Node's development headers (Debian: apt-get install libnode-dev or nodejs with headers) or set npm_config_nodedir");
}

/** The kit's graph recorder (native-graph.cc), compiled into tfjs-node's binding: see addGraphRecorder. */
const GRAPH_RECORDER = join(__dirname, "native-graph.cc");

/**
 * Exact text replacements in a file of tfjs-node's binding, each of text that occurs exactly once. They apply to the
 * file as npm installed it (kept beside it as FILE.orig), so a rebuild patches afresh. Fails naming the file.
 */
function patchFile(file: string, replacements: [before: string, after: string][]): void {
  const original = `${file}.orig`;
  if (!existsSync(original)) copyFileSync(file, original);
  let text = readFileSync(original, "utf8");
  for (const [before, after] of replacements) {
    const at = text.indexOf(before);
    if (at < 0 || text.indexOf(before, at + 1) >= 0) {
      throw new NativeBuildError("patch", `${file}: expected exactly one ${JSON.stringify(before.slice(0, 60))}`,
        "the binding's source is not tfjs-node 4.22.0's; build into a new --dir");
    }
    text = text.slice(0, at) + after + text.slice(at + before.length);
  }
  writeFileSync(file, text);
}

/**
 * Adds the graph recorder to tfjs-node's binding (4.22.0): the backend's handle map and context become reachable
 * from it, executeOp records while a recording is open, and graphBegin/graphInput/graphAbort/graphEnd/graphRun/graphDelete
 * are exported. The recorded training step and evaluation (src/backend/graph.ts) use them; without them the kit runs
 * eagerly.
 */
function addGraphRecorder(dir: string, log: (line: string) => void): void {
  const binding = join(nativePackageDir(dir), "binding");
  copyFileSync(GRAPH_RECORDER, join(binding, "cover_graph.cc"));
  patchFile(join(binding, "tfjs_backend.h"), [[" private:\n  TFJSBackend(napi_env env);",
    " public:  // cover-kit: its graph recorder reads the handle map and the context\n  TFJSBackend(napi_env env);"]]);
  const exported = ["graphBegin", "graphInput", "graphAbort", "graphEnd", "graphRun", "graphDelete"]
    .map((name) => `      {"${name}", nullptr, cover_graph::G${name.slice(1)}, nullptr, nullptr, nullptr, napi_default, nullptr},\n`).join("");
  patchFile(join(binding, "tfjs_binding.cc"), [
    ['#include "tfjs_backend.h"\n', '#include "tfjs_backend.h"\n#include "cover_graph.cc"\n'],
    ["  return backend->ExecuteOp(env, args[0], args[1], args[2], args[3]);",
      "  if (cover_graph::IsRecording()) return cover_graph::RecordOp(env, backend, args[0], args[1], args[2], args[3]);\n" +
      "  return backend->ExecuteOp(env, args[0], args[1], args[2], args[3]);"],
    ["  };\n  nstatus = napi_define_properties(env, exports, ARRAY_SIZE(", exported + "  };\n  nstatus = napi_define_properties(env, exports, ARRAY_SIZE("],
  ]);
  log("added the kit's graph recorder to the binding (graphBegin ... graphDelete)");
}

function compileBinding(dir: string, libRoot: string, log: (line: string) => void): void {
  const pkgDir = nativePackageDir(dir);
  linkForce(libRoot, join(pkgDir, "deps"));
  const preGyp = join(dir, "node_modules", "@mapbox", "node-pre-gyp", "bin", "node-pre-gyp");
  const nodeGyp = nodeGypPath();
  if (!nodeGyp) throw new NativeBuildError("compile", "node-gyp not found (looked in npm's own node_modules)", "npm install -g node-gyp, or set npm_config_node_gyp");
  log(`compiling the binding (node-pre-gyp install --build-from-source, headers from ${nodeHeadersDir()})`);
  run("compile", process.execPath, [preGyp, "install", "--build-from-source", `--nodedir=${nodeHeadersDir()}`], compileHint(), {
    cwd: pkgDir,
    env: { ...process.env, npm_config_node_gyp: nodeGyp, JOBS: "max" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function compileHint(): string {
  return "needs python3, make and g++ (Debian: apt-get install build-essential python3); TensorFlow >= 2.16 headers " +
    "also need the include/tsl and include/xla folders of the same wheel";
}

/** From here on the folder changes: the chooser must not load a half-built binding. */
function disablePreviousBuild(dir: string, log: (line: string) => void): void {
  const buildJson = join(dir, "build.json");
  if (!existsSync(buildJson)) return;
  rmSync(buildJson);
  log(`the previous build in ${dir} is disabled until this one succeeds`);
}

/** Builds everything; returns what native/build.json records. Does not check that it loads (see the script). */
export function buildNative(options: NativeBuildOptions): NativeBuildInfo {
  const t0 = performance.now();
  const { dir, log } = options;
  mkdirSync(dir, { recursive: true });
  let lib: LibTensorFlow;
  if (options.libtensorflow) {
    disablePreviousBuild(dir, log);
    lib = libFromFolder(dir, options.libtensorflow);
    log(`using libtensorflow ${lib.version} from ${lib.source}`);
  } else {
    const wheelsDir = join(dir, "wheels");
    let wheel = options.wheel ? resolve(options.wheel) : findCachedWheel(wheelsDir, options.gpu, options.tfVersion);
    if (wheel && !existsSync(wheel)) throw new NativeBuildError("wheel", `${wheel} does not exist`, "give the path of a .whl file");
    if (!wheel) {
      pipDownload([`${wheelPackageName(options.gpu)}==${options.tfVersion}`], wheelsDir, log);
      wheel = findCachedWheel(wheelsDir, options.gpu, options.tfVersion);
      if (!wheel) throw new NativeBuildError("download", `pip finished but no ${wheelPackageName(options.gpu)} ${options.tfVersion} wheel is in ${wheelsDir}`, "give one with --wheel FILE");
    }
    disablePreviousBuild(dir, log);
    lib = libFromWheel(dir, wheel, options.gpu, log);
  }
  const tfjsVersion = projectTfjsVersion();
  installPackage(dir, tfjsVersion, log);
  const linked = shareProjectTfjs(dir);
  log(`linked the project's ${linked.map((n) => `@tensorflow/${n}`).join(", ")} into ${dir}`);
  addGraphRecorder(dir, log);
  compileBinding(dir, lib.root, log);
  return {
    tensorflowVersion: lib.version,
    tfjsNodeVersion: tfjsVersion,
    gpu: options.gpu,
    wheel: lib.source,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((performance.now() - t0) / 100) / 10,
  };
}
