// Types of edgeseq.js (an ES module without a build step).

/** An error a user can act on: its message says what is wrong and what to do. */
export class EdgeseqError extends Error {}

export const CHUNKS: number[];
export const SIDECAR_FORMAT: "edgeseq-js";
export const SIDECAR_VERSION: number;
export const SEED_MAX: number;

/** NAME.json, as export writes it beside NAME.onnx. */
export interface FileEntry { name: string; sha256: string; bytes: number }
export interface Description {
  format: "edgeseq-js";
  format_version: number;
  task: "char";
  vocabulary: string;
  window: number;
  context: "window" | "stateful";
  line_end: string | null;
  state: { rows: number; hidden: number };
  model: { cell: string; layers: number; hidden: number };
  precision: string;
  files: { step: FileEntry; generation?: FileEntry & { window: "slots" | "reread"; unroll: number } };
}

export class SplitMix64 {
  constructor(seed: number | bigint);
  state: bigint;
  nextU64(): bigint;
  /** in [0, 1), a multiple of 2**-24 */
  uniform(): number;
}

export function pick(logits: Float32Array, temperature: number, topK: number, u: number): number;
export function argmax(row: Float32Array): number;

export interface GenerateOptions {
  /** characters to generate at most (default 100) */
  length?: number;
  /** 0 greedy (default), > 0 sampled */
  temperature?: number;
  /** sample among the k most likely characters (0: all) */
  topK?: number;
  /** 0 to 2**32 - 1: the same text as `edgeseq run char --seed`; null: unpredictable */
  seed?: number | null;
  /** default: what the model was trained for */
  context?: "window" | "stateful" | null;
}

export class Generation implements AsyncIterable<string> {
  [Symbol.asyncIterator](): AsyncIterator<string>;
  text(): Promise<string>;
  readonly length: number;
  chars: number;
  firstCharSeconds: number | null;
  seconds: number | null;
  stopReason: "length" | "line_end" | null;
  readonly charsPerSecond: number | null;
}

export class CharModel {
  readonly description: Description;
  readonly vocabulary: string[];
  readonly window: number;
  readonly context: "window" | "stateful";
  readonly lineEnd: string | null;
  readonly engine: "generation graph" | "per-step";
  readonly loadSeconds: number;
  encode(text: string): number[];
  generate(prompt: string, options?: GenerateOptions): Generation;
  text(prompt: string, options?: GenerateOptions): Promise<string>;
}

/**
 * Load the char model NAME.json describes (or NAME.onnx: the JSON beside it), its files checked
 * against the sha256 the JSON names. `ort`: onnxruntime-web in a page, onnxruntime-node in Node.
 */
export function loadCharModel(ort: unknown, source: string | URL,
                              options?: { generation?: boolean; threads?: number }): Promise<CharModel>;
