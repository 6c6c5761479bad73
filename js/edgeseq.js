// edgeseq.js: run a char model exported by `edgeseq export` with onnxruntime's JavaScript API.
//
// The same module runs in a page (onnxruntime-web, WebAssembly) and in Node (onnxruntime-node):
// the caller imports the onnxruntime it has and passes it in. It reads NAME.json (written by
// export beside NAME.onnx: vocabulary, window, context, line end, and the files' sha256),
// refuses model bytes the JSON does not name, and generates as `edgeseq run char` does: the
// generation graph in growing chunks (or the step graph, one call per character), one
// SplitMix64 uniform per character, so greedy text and seeded text match the Python runner.
//
//   import * as ort from "onnxruntime-node";            // a page: the onnxruntime-web module
//   import { loadCharModel } from "./edgeseq.js";
//   const model = await loadCharModel(ort, "exported/ship.json");
//   for await (const chunk of model.generate("if you", { length: 170 })) process.stdout.write(chunk);

/** An error a user can act on: its message says what is wrong and what to do. */
export class EdgeseqError extends Error {
  constructor(message) {
    super(message);
    this.name = "EdgeseqError";
  }
}

/** Characters per generation-graph call: a quick first character, then longer calls
 * (runtime/decoding.py's CHUNKS: the same calls give the same floats). */
export const CHUNKS = [1, 5, 17, 65, 129];
export const SIDECAR_FORMAT = "edgeseq-js";
export const SIDECAR_VERSION = 1;
export const SEED_MAX = 2 ** 32 - 1;

const MASK = (1n << 64n) - 1n;

/** SplitMix64 (Steele, Lea and Flood): runtime/sampling.py's stream, output for output. */
export class SplitMix64 {
  /** @param {number | bigint} seed */
  constructor(seed) {
    this.state = BigInt(seed) & MASK;
  }

  /** The next 64-bit output. */
  nextU64() {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
    return z ^ (z >> 31n);
  }

  /** The next uniform in [0, 1): the output's top 24 bits over 2**24 (exact in float32). */
  uniform() {
    return Number(this.nextU64() >> 40n) / 16777216;
  }
}

/** Inverse-CDF draw (runtime/sampling.py's pick, in float32): scale by 1/T, keep the k
 * largest, softmax, the first bin past u.
 * @param {Float32Array} logits @param {number} temperature @param {number} topK @param {number} u */
export function pick(logits, temperature, topK, u) {
  const size = logits.length;
  const z = new Float32Array(size);
  const t = Math.fround(temperature);
  for (let i = 0; i < size; i++) z[i] = logits[i] / t;
  if (topK > 0 && topK < size) {
    const kth = Float32Array.from(z).sort()[size - topK];
    for (let i = 0; i < size; i++) if (!(z[i] >= kth)) z[i] = -Infinity;
  }
  let top = -Infinity;
  for (let i = 0; i < size; i++) top = Math.max(top, z[i]);
  const cumulative = new Float32Array(size);
  let total = 0;
  for (let i = 0; i < size; i++) {
    total = Math.fround(total + Math.fround(Math.exp(Math.fround(z[i] - top))));
    cumulative[i] = total;
  }
  const target = Math.fround(Math.fround(u) * total);
  let index = 0;
  while (index < size && cumulative[index] <= target) index++;
  return Math.min(index, size - 1);
}

/** The index of the largest value, the first of equals (numpy's argmax). @param {Float32Array} row */
export function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * Load the char model that NAME.json describes.
 * @param {any} ort the onnxruntime module: onnxruntime-web in a page, onnxruntime-node in Node
 * @param {string | URL} source the URL or path of NAME.json (or of NAME.onnx: NAME.json beside it)
 * @param {{generation?: boolean, threads?: number}} [options] generation: false runs the step
 *   graph per character even when there is a generation graph (the same text)
 * @returns {Promise<CharModel>}
 */
export async function loadCharModel(ort, source, { generation = true, threads = 1 } = {}) {
  const started = now();
  const jsonLocation = String(source).replace(/\.onnx$/, ".json");
  const description = readDescription(await readBytes(jsonLocation), jsonLocation);
  const entry = generation && description.files.generation ? description.files.generation : description.files.step;
  const bytes = await readBytes(beside(jsonLocation, entry.name));
  await checkBytes(bytes, entry, jsonLocation);
  const isGeneration = entry === description.files.generation;
  const session = await ort.InferenceSession.create(bytes, {
    // as the Python runner opens them: an fp32 generation graph unoptimized, a step graph optimized
    graphOptimizationLevel: isGeneration && description.precision === "fp32" ? "disabled" : "all",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    logSeverityLevel: 3,
  });
  return new CharModel(ort, session, description, isGeneration ? entry : null, now() - started);
}

/** A loaded char model: `generate()` streams text, `text()` joins it. */
export class CharModel {
  constructor(ort, session, description, generation, loadSeconds) {
    this.ort = ort;
    this.session = session;
    this.description = description;
    this.generation = generation; // the JSON's generation entry, null: per step
    this.loadSeconds = loadSeconds;
    this.vocabulary = Array.from(description.vocabulary); // by code point, as Python indexes it
    this.index = new Map(this.vocabulary.map((c, i) => [c, i]));
  }

  get window() { return this.description.window; }
  get context() { return this.description.context; }
  get lineEnd() { return this.description.line_end; }
  /** "generation graph" or "per-step": how characters are made. */
  get engine() { return this.generation ? "generation graph" : "per-step"; }

  /** The ids of a text, or an EdgeseqError naming the characters the vocabulary lacks. @param {string} text */
  encode(text) {
    const chars = Array.from(text);
    const unknown = [...new Set(chars.filter((c) => !this.index.has(c)))];
    if (unknown.length) {
      throw new EdgeseqError(`characters not in the model's vocabulary: ${unknown.map((c) => JSON.stringify(c)).join(", ")} ` +
        `(the vocabulary is ${JSON.stringify(this.description.vocabulary)})`);
    }
    return chars.map((c) => this.index.get(c));
  }

  /**
   * A generation of up to `length` characters after `prompt`, checked now, run when iterated.
   * @param {string} prompt
   * @param {{length?: number, temperature?: number, topK?: number, seed?: number | null, context?: string}} [options]
   * @returns {Generation}
   */
  generate(prompt, { length = 100, temperature = 0, topK = 0, seed = null, context = null } = {}) {
    context = context ?? this.context;
    if (context !== "window" && context !== "stateful") {
      throw new EdgeseqError(`unknown context ${JSON.stringify(context)}; choose one of: window, stateful`);
    }
    if (!Number.isInteger(length) || length <= 0) {
      throw new EdgeseqError(`length must be a positive number of characters, got ${length}`);
    }
    if (!(Number.isFinite(temperature) && temperature >= 0)) {
      throw new EdgeseqError(`temperature must be 0 (greedy) or a positive number, got ${temperature}`);
    }
    if (!Number.isInteger(topK) || topK < 0 || topK > this.vocabulary.length) {
      throw new EdgeseqError(`topK must be from 0 to ${this.vocabulary.length} (the vocabulary size; 0: all), got ${topK}`);
    }
    if (seed !== null && seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= SEED_MAX)) {
      throw new EdgeseqError(`seed must be from 0 to ${SEED_MAX}, got ${seed}`);
    }
    if (!prompt) throw new EdgeseqError("the prompt must have at least one character");
    const ids = this.encode(prompt);
    const random = temperature > 0 ? new SplitMix64(seed ?? randomSeed()) : null;
    const chunks = this.generation
      ? this.#graphChunks(ids, length, context, temperature, topK, random)
      : this.#stepChunks(ids, length, context, temperature, topK, random);
    return new Generation(this, chunks, length);
  }

  /** The generated text, joined. @param {string} prompt @param {object} [options] */
  async text(prompt, options) {
    return this.generate(prompt, options).text();
  }

  // the generation graph: runtime/decoding.py's graph_chunks for one row
  async *#graphChunks(ids, length, context, temperature, topK, random) {
    const { rows, hidden } = this.description.state;
    const reread = context === "window" && this.generation.window === "reread";
    let slots = 1, width = 0;
    if (context === "window") {
      ids = ids.slice(-this.window); // older characters cannot reach any prediction
      slots = reread ? 1 : this.window;
      width = this.window;
    }
    let state = this.#tensor("float32", new Float32Array(slots * rows * hidden), [1, slots, rows, hidden]);
    let position = 0, done = 0, calls = 0;
    while (done < length) {
      const n = Math.min(CHUNKS[Math.min(calls, CHUNKS.length - 1)], length - done);
      const uniforms = new Float32Array(n);
      if (random) for (let i = 0; i < n; i++) uniforms[i] = random.uniform();
      const out = await this.session.run({
        ids: this.#tensor("int32", Int32Array.from(ids), [1, ids.length]),
        state,
        window: this.#int64(width),
        position: this.#int64(position),
        uniforms: this.#tensor("float32", uniforms, [n, 1]),
        temperature: this.#tensor("float32", Float32Array.of(temperature), []),
        top_k: this.#int64(topK),
      });
      const tokens = Array.from(out.tokens.data, Number);
      if (tokens.length !== n || tokens.some((t) => !(t >= 0 && t < this.vocabulary.length))) {
        throw new EdgeseqError(`${this.generation.name}: the generation graph returned ${tokens.length} ids for ` +
          `${n} characters, or an id outside the vocabulary; export the model again`);
      }
      state = out.new_state;
      position += ids.length + n - 1;
      ids = reread ? ids.concat(tokens).slice(-this.window) : tokens.slice(-1);
      done += n;
      calls += 1;
      yield tokens;
    }
  }

  // the step graph, one call per character: runtime/decoding.py's per_step_chunks for one row
  async *#stepChunks(ids, length, context, temperature, topK, random) {
    const { rows, hidden } = this.description.state;
    const zero = () => this.#tensor("float32", new Float32Array(rows * hidden), [1, rows, hidden]);
    const choose = (logits) => {
      const size = this.vocabulary.length;
      const last = logits.data.subarray(logits.data.length - size);
      return random ? pick(last, temperature, topK, random.uniform()) : argmax(last);
    };
    // onnxruntime's JavaScript API wants every input, the optional lengths too: the whole row
    const lengths = this.session.inputNames.includes("lengths");
    const run = (seen, state) => this.session.run({
      ids: this.#tensor("int32", Int32Array.from(seen), [1, seen.length]), state,
      ...(lengths ? { lengths: this.#tensor("int32", Int32Array.of(seen.length), [1]) } : {}),
    });
    if (context === "stateful") {
      let out = await run(ids, zero());
      for (let i = 0; i < length; i++) {
        const token = choose(out.logits);
        yield [token];
        if (i + 1 < length) out = await run([token], out.new_state);
      }
      return;
    }
    let history = ids.slice(-this.window); // each character from the last W, from a zero state
    for (let i = 0; i < length; i++) {
      const token = choose((await run(history, zero())).logits);
      yield [token];
      history = history.concat([token]).slice(-this.window);
    }
  }

  #tensor(type, data, dims) {
    return new this.ort.Tensor(type, data, dims);
  }

  #int64(value) {
    return new this.ort.Tensor("int64", BigInt64Array.of(BigInt(value)), []);
  }
}

/** One generation: iterate it (for await) for chunks of text, or call `text()`. A line model's
 * text ends before its line end. After the end: `stopReason` ("length" or "line_end"),
 * `chars`, `seconds`, `firstCharSeconds`, `charsPerSecond`. */
export class Generation {
  constructor(model, ids, length) {
    this.model = model;
    this.length = length;
    this.ids = ids;
    this.pieces = [];
    this.chars = 0;
    this.firstCharSeconds = null;
    this.seconds = null;
    this.stopReason = null;
  }

  async *[Symbol.asyncIterator]() {
    const started = now();
    const end = this.model.lineEnd;
    let open = true;
    for await (const tokens of this.ids) {
      let piece = tokens.map((t) => this.model.vocabulary[t]).join("");
      if (end !== null && end !== undefined && piece.includes(end)) {
        piece = piece.slice(0, piece.indexOf(end));
        open = false;
      }
      if (piece) {
        this.firstCharSeconds ??= now() - started;
        this.pieces.push(piece);
        this.chars += Array.from(piece).length;
        yield piece;
      }
      if (!open) break;
    }
    this.seconds = now() - started;
    this.stopReason = open ? "length" : "line_end";
  }

  get charsPerSecond() {
    return this.seconds ? this.chars / this.seconds : null;
  }

  /** The whole text, generating what is left first. */
  async text() {
    for await (const _ of this) { /* generate */ }
    return this.pieces.join("");
  }
}

// ------------------------------------------------------------------ reading and checking files

function readDescription(bytes, where) {
  let doc;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new EdgeseqError(`${where}: not JSON (${e.message}); export the model again`);
  }
  if (doc === null || typeof doc !== "object" || doc.format !== SIDECAR_FORMAT) {
    throw new EdgeseqError(`${where}: not an edgeseq model description (no "format": "${SIDECAR_FORMAT}")`);
  }
  if (!(doc.format_version <= SIDECAR_VERSION)) {
    throw new EdgeseqError(`${where}: format ${doc.format_version}, newer than this edgeseq.js reads ` +
      `(${SIDECAR_VERSION}): use the edgeseq.js of the edgeseq that exported it`);
  }
  if (doc.task !== "char") throw new EdgeseqError(`${where}: a ${doc.task} model; edgeseq.js runs char models`);
  const step = doc.files?.step;
  const named = [step, doc.files?.generation].filter(Boolean);
  if (!step || named.some((f) => typeof f.name !== "string" || /[/\\]/.test(f.name) || !/^[0-9a-f]{64}$/.test(f.sha256))) {
    throw new EdgeseqError(`${where}: names no step file with its sha256; export the model again`);
  }
  return doc;
}

async function checkBytes(bytes, entry, where) {
  const found = await sha256(bytes);
  if (bytes.length !== entry.bytes || found !== entry.sha256) {
    throw new EdgeseqError(`${entry.name} is not the file ${where} names: its sha256 is ${found}, the JSON ` +
      `says ${entry.sha256} (a stale or edited file); export the model again and copy its files together`);
  }
}

async function sha256(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new EdgeseqError("this page cannot check the model's sha256: the browser gives crypto.subtle only to " +
      "pages served over https or from localhost / 127.0.0.1");
  }
  const digest = new Uint8Array(await subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function isNodePath(location) {
  return typeof process !== "undefined" && !!process.versions?.node && !/^(https?|file|blob|data):/i.test(location);
}

async function readBytes(location) {
  if (isNodePath(location)) {
    const { readFile } = await import("node:fs/promises");
    try {
      return new Uint8Array(await readFile(location));
    } catch (e) {
      throw new EdgeseqError(`${location}: cannot read it (${e.code ?? e.message})`);
    }
  }
  let response;
  try {
    response = await fetch(location);
  } catch (e) {
    throw new EdgeseqError(`${location}: cannot fetch it (${e.message})`);
  }
  if (!response.ok) throw new EdgeseqError(`${location}: the server answered ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The file `name` in the folder of `location` (a path or a URL). */
function beside(location, name) {
  return location.replace(/[^/\\]*$/, name);
}

function randomSeed() {
  const words = globalThis.crypto.getRandomValues(new Uint32Array(2));
  return (BigInt(words[0]) << 32n) | BigInt(words[1]);
}

function now() {
  return performance.now() / 1000;
}
