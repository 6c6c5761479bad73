// The page of `edgeseq export NAME.onnx --web DIR`: loads the model once, then streams each
// generation into #output, showing the first character's time and chars/s as it goes.
import * as ort from "./ort/ort.wasm.min.mjs";
import { loadCharModel } from "./edgeseq.js";

ort.env.wasm.numThreads = 1; // more threads need a cross-origin isolated page
ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href; // served from this folder, never a CDN

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };
const number = (id) => ($(id).value === "" ? null : Number($(id).value));

function showError(e) {
  $("error").textContent = e.name === "EdgeseqError" ? e.message : `${e.name}: ${e.message}`;
  status("error");
}

async function main() {
  const model = await loadCharModel(ort, document.body.dataset.model);
  const d = model.description;
  $("about").textContent = `${d.model.layers}x${d.model.cell.toUpperCase()}(${d.model.hidden}), ` +
    `${model.vocabulary.length} characters, trained for the ${d.context} context` +
    `${d.context === "window" ? ` (window ${d.window})` : ""}; ` +
    `${model.engine}, loaded in ${(model.loadSeconds * 1e3).toFixed(0)} ms`;
  for (const id of ["prompt", "generate"]) $(id).disabled = false;
  status("ready");
  $("generate").addEventListener("click", () => generate(model).catch(showError));
}

// a macrotask without setTimeout's 4 ms clamp: the browser may paint between chunks
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => waiting.shift()();
const nextTask = () => new Promise((resolve) => { waiting.push(resolve); channel.port2.postMessage(null); });

async function generate(model) {
  $("error").textContent = "";
  $("generate").disabled = true;
  try {
    const prompt = $("prompt").value;
    const generation = model.generate(prompt, {
      length: number("length"), temperature: number("temperature") ?? 0, topK: number("top-k") ?? 0,
      seed: number("seed"), context: $("context").value || null,
    });
    const out = $("output");
    out.replaceChildren(Object.assign(document.createElement("span"), { className: "prompt", textContent: prompt }));
    const made = document.createElement("span");
    made.id = "generated";
    out.append(made);
    status("generating");
    const started = performance.now();
    for await (const chunk of generation) {
      made.textContent += chunk;
      $("first-char").textContent = `${generation.firstCharSeconds * 1e3 < 10 ? (generation.firstCharSeconds * 1e3).toFixed(2)
        : (generation.firstCharSeconds * 1e3).toFixed(0)} ms`;
      $("chars-per-second").textContent = Math.round(generation.chars / ((performance.now() - started) / 1e3)).toLocaleString("en");
      await nextTask(); // let the page show the chunk
    }
    $("chars-per-second").textContent = Math.round(generation.charsPerSecond).toLocaleString("en");
    status(generation.stopReason === "line_end" ? `done: ${generation.chars} chars, the line ended` : `done: ${generation.chars} chars`);
  } finally {
    $("generate").disabled = false;
  }
}

main().catch(showError);
