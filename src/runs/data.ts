/** What a run needs from the data side: deterministic mixed training batches and evaluation views. */
import type { InputNormalization } from "../data/manifest";
import type { EvalSource } from "../train/evaluate";
import type { Batch } from "../data/batches";

export interface RunData extends EvalSource {
  /** Micro-batches per epoch (sum of the training datasets' sizes / batch size). */
  microBatchesPerEpoch: number;
  /** Mixed micro-batches in order from `startMicroBatch`; the same sequence for the same seed, however often resumed. */
  trainBatches(startMicroBatch: number): AsyncIterator<Batch>;
  /** The input normalisation of a dataset's clips (its manifest's, else TimeSformer's); stored with the weights. */
  normalization(dataset: string): InputNormalization;
  /** Stops background loading. */
  close(): Promise<void>;
  /** Every bad or missing media file met so far, each once (where the data side keeps count). */
  badFiles?(): BadMediaFile[];
}

/** A media file a run could not use, with where it was listed and why. */
export interface BadMediaFile {
  dataset: string;
  split: string;
  path: string;
  /** The annotation line that listed it ("file:line"), where known. */
  source?: string;
  /** "missing": not there (or outside the media root); "undecodable": the decoder failed; "unusable": its frames were. */
  kind: "missing" | "undecodable" | "unusable";
  reason: string;
}
