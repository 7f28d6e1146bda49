/**
 * The data model shared by annotation parsers, decoders, the frame cache and the sampler. The manifest's own types
 * (DatasetManifest, FlipPolicy, ...) are inferred from its schema in manifest.ts.
 */
import type { DatasetKind, FlipPolicy, InputNormalization } from "./manifest";

/** Where a sample came from, so that errors can name the file and line. */
export interface SourceRef { file: string; line: number }

export interface Sample {
  /** Stable identifier within the dataset (video id, relative path). */
  id: string;
  /** Absolute path of the media file. */
  path: string;
  /** Class index, or -1 where the split carries no labels (test sets). */
  label: number;
  source: SourceRef;
}

export type ProblemKind = "missing-media" | "unknown-label" | "duplicate" | "malformed-line" | "bad-media" | "outside-media-root";

export interface Problem { kind: ProblemKind; message: string; source?: SourceRef; path?: string }

/** A parsed split: what a dataset pass iterates over. */
export interface DatasetSplit {
  dataset: string;
  kind: DatasetKind;
  split: string;
  classes: string[];
  samples: Sample[];
  flip: FlipPolicy;
  problems: Problem[];
  /** The dataset's own input normalisation, when its manifest gives one. */
  normalization?: InputNormalization;
}

/** Decoded frames of one clip: uint8 RGB, layout [T, H, W, 3]. */
export interface Frames { data: Uint8Array; frames: number; height: number; width: number }
