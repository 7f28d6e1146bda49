/**
 * The data model shared by manifests, annotation parsers, decoders, the frame cache and the sampler.
 * A manifest is a small JSON file (data-manifests/*.json) that deserialises to `DatasetManifest`.
 */

export type DatasetKind = "video" | "image";

/** Official annotation layouts the kit can read (see src/data/annotations/). */
export type AnnotationFormat =
  | "kinetics-csv"   // label,youtube_id,time_start,time_end,split[,is_cc]; test files without label
  | "ssv2-json"      // list of {id, template|label, placeholders}; classes from the labels JSON
  | "mit-csv"        // Moments-in-Time: path,label[,...] without header
  | "imagenet-folder"// <root>/<synset>/<file>.JPEG; classes from a synset mapping
  | "imagenet-val"   // devkit validation ground truth: one 1-based class index per line, in file order
  | "list"           // mmaction2-style "relative/path label" per line
  | "jsonl";         // one {"path": ..., "label": ...} object per line

/**
 * Horizontal-flip policy: "allowed", "never" (motion-direction datasets such as SSv2), or a
 * label map for left/right classes (flipping a clip of class A turns it into class B).
 */
export type FlipPolicy = "allowed" | "never" | { swap: Record<string, string> };

export type ClassListFormat = "lines" | "name-index" | "ssv2-labels" | "synsets" | AnnotationFormat;

export interface SplitSpec {
  format: AnnotationFormat;
  /** Annotation file(s), relative to the manifest's folder unless absolute. */
  files: string[];
  /** Media folder for this split, relative to the manifest's folder; defaults to the manifest's mediaRoot. */
  mediaRoot?: string;
  /** imagenet-val only: synset ids in ILSVRC2012_ID order (one per line), as in the devkit's meta.mat. */
  devkitOrder?: string;
}

export interface DatasetManifest {
  name: string;
  kind: DatasetKind;
  /** Folder holding the media files, relative to the manifest's folder unless absolute. */
  mediaRoot: string;
  /**
   * Class names in index order, or a file that lists them: "lines" (one name per line, the default), "name-index"
   * (`name,index` per line, MiT's moments_categories.txt), "ssv2-labels" (labels JSON), "synsets" (first token per line),
   * or an annotation file of a split, in which case the classes are its distinct labels sorted (Kinetics has no class file).
   */
  classes: string[] | { file: string; format?: ClassListFormat };
  splits: Record<string, SplitSpec>;
  flip: FlipPolicy;
  /** Filename pattern for Kinetics-style clips; tokens {label} {youtube_id} {start} {end} {id}. */
  pathTemplate?: string;
  /**
   * Built-in datasets only: the media are generated on first use, deterministically, by the named generator
   * (src/data/builtin/) into mediaRoot, together with the split annotation files.
   */
  builtin?: { generator: string; seed: number; options?: Record<string, number> };
  /**
   * Input normalisation (pixel - mean) / std per channel; default TimeSformer's 0.45 / 0.225. Data far from natural
   * video statistics needs its own: the built-in digits on black have their background at 0 (a background at -2 kept
   * a ViT trained from scratch at chance for hundreds of steps, measured).
   */
  normalization?: InputNormalization;
  /** Annotations may name media by absolute paths (default false: every media path stays inside mediaRoot). */
  allowAbsolutePaths?: boolean;
  /** Free-form notes for humans (source, licence). */
  description?: string;
}

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

/** Per-channel (RGB) mean and standard deviation of pixel values in [0, 1]. */
export interface InputNormalization { mean: [number, number, number]; std: [number, number, number] }

/** Decoded frames of one clip: uint8 RGB, layout [T, H, W, 3]. */
export interface Frames { data: Uint8Array; frames: number; height: number; width: number }
