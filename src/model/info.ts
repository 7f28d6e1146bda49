import type { TimeSformerConfig } from "./config";
import { macsPerView } from "./flops";

/** A model's size facts: its config, parameter count and multiply-accumulates per view (`cover model info`). */
export interface ModelInfo { config: TimeSformerConfig; params: number; gmacsPerView: number }

export function modelInfo(config: TimeSformerConfig): ModelInfo {
  const { allSpecs, countParams } = require("./params") as typeof import("./params"); // loads tfjs
  return {
    config,
    params: countParams(allSpecs(config)),
    gmacsPerView: macsPerView(config) / 1e9,
  };
}
