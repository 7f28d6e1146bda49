import { ATTENTION_TYPES, isAttentionType, modelConfig, presetNames, TimeSformerConfig } from "../../model/config";
import { modelInfo } from "../../model/info";
import { Flags, UsageError } from "../args";
import { printJson } from "../output";
import { didYouMean } from "../../util/suggest";
import type { Command } from "../command";

export const command: Command = {
  usage: `usage: cover model info [--preset ${presetNames().join("|")}] [--frames T] [--size S] [--patch P]
                       [--classes K] [--attention ${ATTENTION_TYPES.join("|")}] [--json]`,
  options: { preset: "string", attention: "string", frames: "string", size: "string", patch: "string", classes: "string", json: "boolean" },
  async run(flags: Flags): Promise<number> {
    const [sub] = flags.positionals;
    if (sub !== "info") throw new UsageError(sub ? `unknown subcommand '${sub}'${didYouMean(sub, ["info"])}` : "a subcommand is needed: info");
    const preset = flags.string("preset") ?? "base";
    const attention = flags.string("attention") ?? "divided_space_time";
    if (!isAttentionType(attention)) throw new UsageError(`--attention must be one of ${ATTENTION_TYPES.join(", ")}`);
    const overrides: Partial<TimeSformerConfig> = { attention };
    const frames = flags.int("frames"); if (frames !== undefined) overrides.frames = frames;
    const size = flags.int("size"); if (size !== undefined) overrides.imageSize = size;
    const patch = flags.int("patch"); if (patch !== undefined) overrides.patchSize = patch;
    overrides.classifiers = { default: flags.int("classes", 400) };
    const json = flags.bool("json");
    flags.rejectUnknown();
    const info = modelInfo(modelConfig(preset, overrides));
    if (json) { printJson(info); return 0; }
    const c = info.config;
    console.log(`TimeSformer '${preset}' (${c.attention}): ${c.frames}x${c.imageSize}, patch ${c.patchSize}, dim ${c.dim}, depth ${c.depth}, heads ${c.numHeads}`);
    console.log(`parameters: ${info.params.toLocaleString("en-US")}`);
    console.log(`GMACs per view: ${info.gmacsPerView.toFixed(1)}`);
    return 0;
  },
};
