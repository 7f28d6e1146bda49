import type { MatmulBench } from "../../backend/matmul-bench";
import { BACKEND_NAMES, parseBackendRequest } from "../../backend/names";
import { Flags, UsageError } from "../args";
import { printJson } from "../output";
import type { Command } from "../command";

export const command: Command = {
  usage: `usage: cover backend [--backend auto|${BACKEND_NAMES.join("|")}] [--all] [--check] [--bench [--size N]] [--json]

Shows the backend the kit would use (--backend, else COVER_BACKEND, else auto: ${BACKEND_NAMES.join(" -> ")})
and why each better one was not chosen. --all probes every backend; --check runs a matmul on the chosen one and compares it with
plain JavaScript (exit 1 when they disagree); --bench times an N^3 matmul (default 512) on every
available backend, side by side in one run. Build the native one with npm run native:build.`,
  options: { backend: "string", all: "boolean", check: "boolean", bench: "boolean", size: "string", json: "boolean" },
  async run(flags: Flags): Promise<number> {
    const requestText = flags.string("backend");
    const all = flags.bool("all");
    const check = flags.bool("check");
    const bench = flags.bool("bench");
    const size = flags.int("size", 512);
    const json = flags.bool("json");
    flags.rejectUnknown();
    let request: ReturnType<typeof parseBackendRequest> | undefined;
    try {
      request = requestText === undefined ? undefined : parseBackendRequest(requestText, "--backend");
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    // the chooser, the checks and the native loader all load tfjs: only now that the flags are good
    const { probeBackends, useBackend } = require("../../backend") as typeof import("../../backend");
    const { checkActiveBackend } = require("../../backend/check") as typeof import("../../backend/check");
    const { benchMatmul } = require("../../backend/matmul-bench") as typeof import("../../backend/matmul-bench");
    const { readBuildInfo } = require("../../backend/native") as typeof import("../../backend/native");
    const { nativeDir } = require("../../util/paths") as typeof import("../../util/paths");
    const source = requestText !== undefined ? "--backend" : process.env.COVER_BACKEND ? "COVER_BACKEND" : "auto";
    const choice = await useBackend(request);
    const probes = all || bench ? await probeBackends() : undefined;
    const checked = check ? await checkActiveBackend() : undefined;
    const benches: MatmulBench[] = [];
    for (const p of bench ? probes ?? [] : []) {
      if (!p.available) continue;
      if (!json) console.error(`timing a ${size}^3 matmul on ${p.name}...`);
      benches.push(await benchMatmul(p.name, size));
    }
    if (bench) await useBackend(request); // leave the chosen backend active
    const build = readBuildInfo();
    const code = checked && !checked.ok ? 1 : 0;
    if (json) {
      printJson({ chosen: choice.name, tfBackend: choice.tfBackend, detail: choice.detail, requestedBy: source,
        notChosen: choice.reasons, probes, check: checked, matmul: bench ? benches : undefined, nativeBuild: build ?? null, nativeDir: nativeDir() });
      return code;
    }
    console.log(`backend: ${choice.name} (tfjs '${choice.tfBackend}', from ${choice.detail}; chosen by ${source})`);
    for (const r of choice.reasons) console.log(`  not ${r.name}: ${r.why}`);
    for (const p of probes ?? []) console.log(`  ${p.available ? "available  " : "unavailable"} ${p.name.padEnd(15)} ${p.detail}`);
    if (checked) console.log(`check: ${checked.shape.join("x")} matmul on '${checked.tfBackend}' vs JavaScript, max |diff| ${checked.maxAbsDiff.toExponential(2)}: ${checked.ok ? "ok" : "WRONG"}`);
    for (const b of benches) console.log(`matmul ${b.n}^3 on ${b.backend.padEnd(15)} ${b.msPerMatmul.toFixed(2).padStart(9)} ms  ${b.gflopsPerSec.toFixed(1).padStart(7)} GFLOP/s  (median of ${b.runs})`);
    if (build) console.log(`native build: TensorFlow ${build.tensorflowVersion} (${build.gpu ? "GPU" : "CPU"}), tfjs-node ${build.tfjsNodeVersion}, built ${build.builtAt} in ${build.buildSeconds} s, in ${nativeDir()}`);
    if (!build) console.log(`native build: none in ${nativeDir()} (npm run native:build builds one from a TensorFlow wheel)`);
    return code;
  },
};
