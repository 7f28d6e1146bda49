/** What every annotation parser produces, and the helpers they share (line reading, CSV fields, malformed-line policy). */
import { readFileSync } from "node:fs";
import type { Problem, SourceRef } from "../types";

/** A label as written in the annotation: a class name, a 0-based class index, or none (test splits). */
export type RawLabel = string | number | null;

export interface AnnotationEntry {
  /** Stable identifier within the dataset (video id, relative path). */
  id: string;
  /** Media path relative to the split's media root (or absolute). */
  path: string;
  label: RawLabel;
  source: SourceRef;
}

export interface ParseOptions {
  /** Throw on the first malformed line instead of skipping and counting it. */
  strict: boolean;
  /** Absolute media folder of the split (folder-scanning formats read it). */
  mediaRoot: string;
  /** Filename pattern for Kinetics-style clips (see kinetics.ts for the tokens). */
  pathTemplate?: string;
  /** ImageNet devkit: class names in ILSVRC2012_ID order (line k holds ID k), when the ground truth uses IDs. */
  devkitOrder?: string[];
}

export interface ParseResult { entries: AnnotationEntry[]; problems: Problem[] }

/** A malformed annotation in strict mode: the message names the file and line. */
export class AnnotationError extends Error {
  constructor(readonly source: SourceRef, reason: string) {
    super(`${source.file}:${source.line}: ${reason}`);
  }
}

/** Collects malformed lines: throws in strict mode, otherwise records a problem and lets the parser skip the line. */
export class MalformedPolicy {
  readonly problems: Problem[] = [];
  constructor(private readonly strict: boolean) {}

  report(file: string, line: number, reason: string): void {
    const source = { file, line };
    if (this.strict) throw new AnnotationError(source, reason);
    this.problems.push({ kind: "malformed-line", message: `${file}:${line}: ${reason}`, source });
  }
}

/** Lines of a text file without line terminators (\n or \r\n) and without a UTF-8 byte order mark. */
export function readLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read annotation file ${file}: ${(err as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

/** Fields of one CSV line (RFC 4180 quoting, "" inside quotes); null when a quote is left open. */
export function parseCsvLine(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        value += line.slice(i, q);
        if (line[q + 1] === '"') { value += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      if (i < line.length && line[i] !== ",") return null; // text after a closing quote
      fields.push(value);
    } else {
      const comma = line.indexOf(",", i);
      const end = comma < 0 ? line.length : comma;
      fields.push(line.slice(i, end));
      i = end;
    }
    if (i >= line.length) return fields;
    i++; // skip the comma
    if (i === line.length) { fields.push(""); return fields; }
  }
}

/** A non-negative integer written in decimal, or null. */
export function parseIndex(text: string): number | null {
  return /^\d+$/.test(text) ? Number(text) : null;
}
