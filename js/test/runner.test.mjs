// node --test: edgeseq.js under onnxruntime-node against the Python runner.
//
// The Python side writes the cases (model, prompt, settings, the text `edgeseq run char` gave)
// to the JSON file named by EDGESEQ_CASES (tests/test_js_runner.py does, then runs this).
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import * as ort from "onnxruntime-node";

import { EdgeseqError, SplitMix64, loadCharModel } from "../edgeseq.js";

const EXPORTED = fileURLToPath(new URL("../../exported/", import.meta.url));

test("SplitMix64 gives the published outputs of seed 0 and Python's uniforms", () => {
  const stream = new SplitMix64(0);
  assert.deepEqual([stream.nextU64(), stream.nextU64(), stream.nextU64()],
    [0xe220a8397b1dcdafn, 0x6e789e6aa1b965f4n, 0x06c45d188009454fn]);
  assert.equal(new SplitMix64(0).uniform(), 0xe220a8 / 2 ** 24);
});

test("every case: the same text as the Python runner", { skip: !process.env.EDGESEQ_CASES && "EDGESEQ_CASES not set" },
  async () => {
    const cases = JSON.parse(await readFile(process.env.EDGESEQ_CASES, "utf8"));
    const models = new Map();
    const failures = [];
    for (const c of cases) {
      const key = `${c.json} ${c.generation}`;
      if (!models.has(key)) models.set(key, await loadCharModel(ort, c.json, { generation: c.generation }));
      const model = models.get(key);
      assert.equal(model.engine, c.generation ? "generation graph" : "per-step");
      const got = await model.text(c.prompt, c.options);
      if (got !== c.expected) failures.push({ ...c, got });
    }
    assert.deepEqual(failures, []);
    assert.ok(cases.length >= 10, `${cases.length} cases`);
  });

async function copiedShip() {
  const folder = await mkdtemp(join(tmpdir(), "edgeseq-js-"));
  for (const name of ["ship.json", "ship.onnx", "ship.gen.onnx"]) await copyFile(join(EXPORTED, name), join(folder, name));
  return folder;
}

test("a JSON naming another sha256 is refused, saying which file and what to do", async () => {
  const folder = await copiedShip();
  const path = join(folder, "ship.json");
  const doc = JSON.parse(await readFile(path, "utf8"));
  const named = doc.files.generation.sha256;
  doc.files.generation.sha256 = named.replace(/^./, named[0] === "0" ? "1" : "0");
  await writeFile(path, JSON.stringify(doc));
  await assert.rejects(loadCharModel(ort, path), (e) => e instanceof EdgeseqError &&
    e.message === `ship.gen.onnx is not the file ${path} names: its sha256 is ${named}, the JSON says ` +
      `${doc.files.generation.sha256} (a stale or edited file); export the model again and copy its files together`);
});

test("model bytes changed after export are refused; the step file too when it is the one loaded", async () => {
  const folder = await copiedShip();
  for (const [name, generation] of [["ship.gen.onnx", true], ["ship.onnx", false]]) {
    const path = join(folder, name);
    const bytes = await readFile(path);
    bytes[bytes.length - 1] ^= 1;
    await writeFile(path, bytes);
    await assert.rejects(loadCharModel(ort, join(folder, "ship.json"), { generation }),
      new RegExp(`^EdgeseqError: ${name.replace(/\./g, "\\.")} is not the file .* names: its sha256 is [0-9a-f]{64}`));
  }
});

test("settings are checked before anything runs, in one line each", async () => {
  const model = await loadCharModel(ort, join(EXPORTED, "ship.onnx"));
  assert.throws(() => model.generate("if you", { length: 0 }), /^EdgeseqError: length must be a positive number/);
  assert.throws(() => model.generate("if you", { seed: -1, temperature: 1 }), /^EdgeseqError: seed must be from 0 to 4294967295, got -1$/);
  assert.throws(() => model.generate("if you", { topK: 99 }), /^EdgeseqError: topK must be from 0 to 25 \(the vocabulary size; 0: all\), got 99$/);
  assert.throws(() => model.generate("IF", {}), /^EdgeseqError: characters not in the model's vocabulary: "I", "F"/);
});
