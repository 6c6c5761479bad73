"""The words and tables of RESULTS.md, apart from the code that measures.

The text is the deliverable a reader judges the figures by; kept separate, it can be read and
reworded without touching a timed loop, and a change to a measurement cannot slip into the
prose unnoticed.
"""
from __future__ import annotations

from bench.timing import Timing


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def rate(value: float) -> str:
    return f"{value:,.0f}"


def table(timings: dict[str, Timing], reference: str, unit: str, also: dict[str, str] | None = None) -> list[str]:
    """One markdown table: time per unit (best, median), units per second, ratio vs reference."""
    ref = timings[reference].best
    extra = also or {}
    head = f"| {'':<60} | µs/{unit} best | median | {unit}s/s | × {reference.split(' (')[0]} |"
    lines = [head, "|" + "---|" * 5]
    for name, t in timings.items():
        lines.append(f"| {name:<60} | {us(t.best)} | {us(t.median)} | {rate(t.rate)} | "
                     f"{ref / t.best:.2f} |" + (f" {extra[name]}" if name in extra else ""))
    return lines

def target_line(name: str, value: float, goal: float, higher: bool, limit: str) -> str:
    met = value >= goal if higher else value <= goal
    if met:
        verdict = "**met**"
    else:
        short = goal / value if higher else value / goal
        verdict = f"**missed** by {short:.2f}x ({'need' if higher else 'allowed'} {goal:g}); {limit}"
    return f"| {name} | {value:.3g} | {'≥' if higher else '≤'} {goal:g} | {verdict} |"


def report(info, size, char, stock, p, stateful, windowed, batched, first, latency, throughput,
           cold, cli_first, cold_conditions, sizes, stock_info, seconds) -> str:
    cfg = p["cfg"]
    g = "edgeseq runner (generation graph)"
    s_ratio_tfl = stateful["TFLite step (1x1, fixed shapes)"].best / stateful[g].best
    s_ratio_floor = stateful["in-kernel floor (one call over 500 chars)"].best / stateful[g].best
    wg = "edgeseq runner (generation graph, W staggered states)"
    w_ratio = windowed["TFLite window (1x10, fixed shapes)"].best / windowed[wg].best
    lat_e = latency["edgeseq SeriesGraph.run (dynamic graph)"].best
    lat_b = latency["onnxruntime, bound call on stock.fixed.onnx (IOBinding)"].best
    lat_tfl = latency["TFLite (1x7x5, fixed shapes)"].best
    lat_tf = latency["TensorFlow tf.function (1x7x5)"].best
    thr_e = throughput["edgeseq SeriesGraph.run (dynamic graph)"].rate
    thr_tf = throughput[f"TensorFlow tf.function ({size.big_batch}x7x5)"].rate
    thr_ort = throughput[f"onnxruntime, one call of {size.big_batch} windows"].rate
    thr_proto = throughput["prototype: LSTM cell unrolled into matrix ops, one call (bench/models.py)"].rate
    int8_g = stateful["edgeseq runner, int8 (int8 generation graph)"].best
    int8_vs_fp32 = stateful[g].best / int8_g
    int8_vs_tflite = stateful["TFLite dynamic-range int8 step (1x1)"].best / int8_g
    ort_wall = cold['python -c "import onnxruntime"'][0].median
    run_wall = cold["edgeseq run char --length 1"][0].median
    tf_wall = cold['python -c "import tensorflow"'][0].median
    teardown_wall = cold["the same, with the interpreter's teardown"][0].median
    run_cpu = cold["edgeseq run char --length 1"][1].median
    ort_cpu = cold['python -c "import onnxruntime"'][1].median
    tf_cpu = cold['python -c "import tensorflow"'][1].median
    floor = stateful["in-kernel floor (one call over 500 chars)"].best
    rec = stateful["a Loop of just the LSTM ops at time 1 (no head, no choice)"].best
    rec_int8 = stateful["a Loop of just the int8 LSTM ops (DynamicQuantizeLSTM) at time 1"].best
    tfl = stateful["TFLite step (1x1, fixed shapes)"].best
    best_g = stateful[g].best
    e, h, v = cfg.embedding_dim if cfg.input == "embedding" else cfg.vocab_size, cfg.hidden, cfg.vocab_size
    rec_kib = cfg.layers * 4 * h * h * 4 / 1024
    all_kib = (4 * h * e + 4 * h * h * (2 * cfg.layers - 1) + h * v) * 4 / 1024
    lines = [
        "# edgeseq benchmark results" + (" (SMOKE RUN: tiny models, not figures)" if size.smoke else ""),
        "",
        f"Made by `PYTHONPATH=. python -m bench` in {seconds:.0f} s. One thread everywhere (onnxruntime "
        "intra-op 1, TensorFlow intra/inter-op 1, TFLite num_threads 1). Each figure is the best of "
        f"{size.rounds} rounds that visit every peer in turn (median beside it), so a noisy neighbour "
        "slows every peer of a table alike.",
        "",
        "## Machine",
        "",
        *(f"- **{k}**: {v}" for k, v in info.items()),
        "",
        "## Reference models (built with edgeseq)",
        "",
        f"- **char**: Embedding({cfg.vocab_size}, {cfg.embedding_dim}) → {cfg.layers}×LSTM({cfg.hidden}) → "
        f"Dense({cfg.vocab_size}), trained with `edgeseq.training.char_training.train_char` "
        f"for {1 if size.smoke else 3} epochs on generated pseudo-words over a 64-character alphabet "
        f"(trained weights, not untrained: greedy text then has real margins), exported with "
        f"`export_run` (dynamic + fixed + generation graph, {char.extra['checks']} checks passed). "
        f"Train {char.train_seconds:.1f} s, export {char.export_seconds:.1f} s.",
        f"- **stock**: LSTM(10) over 7 days × 5 columns → Dense(1), trained with `train_series` on the "
        f"synthetic price file, exported with `export_run`. Train {stock.train_seconds:.1f} s, "
        f"export {stock.export_seconds:.1f} s.",
        "",
        "## Targets (issues 5 and 12)",
        "",
        "| target | measured | goal | verdict |",
        "|---|---|---|---|",
        target_line("stateful streaming: edgeseq ÷ TFLite chars/s", s_ratio_tfl, 3, True,
                    "see *What limits stateful streaming*"),
        target_line("stateful streaming: edgeseq ÷ in-kernel floor throughput", s_ratio_floor, 0.5, True,
                    "see *What limits stateful streaming*"),
        target_line("windowed generation: edgeseq ÷ TFLite chars/s", w_ratio, 2, True, "see the windowed table"),
        target_line("stock batch-1 latency: edgeseq ÷ TFLite", lat_e / lat_tfl, 0.8, False,
                    f"the bound onnxruntime call is {lat_b / lat_tfl:.2f}x TFLite: the rest is the "
                    "SeriesGraph's per-call Python (slicing, list, concatenate)"),
        target_line("stock batch-1 latency: edgeseq ÷ TensorFlow", lat_e / lat_tf, 1 / 20, False,
                    f"the bound onnxruntime call is {lat_b / lat_tf:.3f}x TensorFlow"),
        target_line(f"stock batch-{size.big_batch} throughput: edgeseq ÷ TensorFlow", thr_e / thr_tf, 1.2, True,
                    f"one plain onnxruntime call of {size.big_batch} windows reaches {thr_ort / thr_tf:.2f}x: "
                    "onnxruntime's LSTM kernel applies the gate functions row by row (10 values a row); the "
                    f"unrolled-cell prototype in the stock table reaches {thr_proto / thr_tf:.2f}x but drops the "
                    "fused LSTM op the exported graphs must keep. Also tried: packing 4 windows per LSTM row "
                    "with block-diagonal weights (fused op kept) reached 1.15-1.35x TensorFlow at hidden 10 "
                    "over 5 runs (TensorFlow itself varied 20%), but made the shipped hidden-32 model slower, "
                    "so it is not shipped"),
        target_line("int8 stateful streaming: edgeseq int8 ÷ edgeseq fp32 chars/s", int8_vs_fp32, 1.3, True,
                    f"the recurrent kernels alone (a Loop of just them, section 1) are {rec / rec_int8:.2f}x as fast "
                    f"in int8 ({rec * 1e6:.1f} -> {rec_int8 * 1e6:.1f} µs per character): at batch 1 each "
                    "DynamicQuantizeLSTM call quantizes its one-row input and state, and every LSTM call pays "
                    "onnxruntime's fixed per-call cost, in both precisions; see section 8"),
        target_line("int8 stateful streaming: edgeseq int8 ÷ TFLite dynamic-range int8 chars/s", int8_vs_tflite, 1, True,
                    "see section 8"),
        target_line("cold start: `edgeseq run` ÷ `import tensorflow` (wall, median)", run_wall / tf_wall, 1 / 8,
                    False, f"`import onnxruntime` alone takes {ort_wall * 1e3:.0f} ms of the {run_wall * 1e3:.0f}"),
        target_line("cold start: `edgeseq run` ÷ bare `import onnxruntime` (wall, median)", run_wall / ort_wall, 1.6,
                    False, "the rest is the CLI (Typer), edgeseq's own modules and opening the generation "
                    "graph's session; see the cold-start section"),
        "",
        "## 1. Stateful streaming, batch 1 (greedy unless said)",
        "",
        *table(stateful, "TFLite step (1x1, fixed shapes)", "char"),
        "",
        f"The in-kernel floor is one onnxruntime call of the step graph over 500 characters that are "
        f"known in advance, {us(floor)} µs per character: the input projections of all 500 steps are "
        "one matrix product there, and only the recurrent weights stream through the cache per step.",
        "",
        "### What limits stateful streaming",
        "",
        f"A Loop that does nothing but the {cfg.layers} LSTM ops at time 1 already costs "
        f"{us(rec)} µs per character ({rec / floor:.2f}x the floor), so the targets ask for less "
        f"than the recurrent kernels alone take: half the floor's throughput means ≤ {us(2 * floor)} µs "
        f"per character, and 3x TFLite ≤ {us(tfl / 3)} µs. Two things make a character dearer than "
        "a floor step. (1) Each character's input is the previous output, so the input projections "
        "cannot be one matrix product over all steps as in the floor: per character every weight "
        f"matrix streams through the cache ({all_kib:.0f} KiB, against the floor's {rec_kib:.0f} KiB of "
        "recurrent weights), and a one-row matrix product is bound by cache bandwidth. (2) "
        "onnxruntime's LSTM kernel has a fixed cost per call (it allocates and fills its work "
        "buffers: about 3 µs per call measured with a hidden size of 8), paid once per layer per "
        f"character. Everything else of the runner (Gather, head MatMul + Add, ArgMax, the Loop, "
        f"Python between chunks) adds {us(best_g - rec)} µs. Tried and measured slower: LSTM cells "
        "written out as MatMul + 9 element-wise ops per layer (node overhead), and Loops nested "
        "in an If (onnxruntime then does not pre-pack the weights; so the graph has no If: each "
        "mode is a top-level Loop gated by its trip count). Closer to the floor would take a fused "
        "multi-layer step kernel or a custom op, outside an onnxruntime-and-numpy runtime.",
        "",
        "## 2. Windowed generation, window 10, batch 1 (each character from the last 10, zero state)",
        "",
        *table(windowed, "TFLite window (1x10, fixed shapes)", "char"),
        "",
        "edgeseq keeps 10 staggered states and advances all of them with one batched step per character "
        "(the slot that has read the last 10 characters gives the prediction, then restarts from zero), "
        "instead of re-reading the window: the same arithmetic as 10 dependent steps, as one matrix "
        "product per layer. The re-reading Loop (last row) is the alternative it was measured against. "
        "The int8 generation graph re-reads the window (it must make the int8 per-step path's very calls "
        "to round the same way: dynamic quantization scales each call's activations by that call's own "
        "range; edgeseq.export.int8.int8_contexts).",
        "",
        "## 3. Batch generation, 32 prompts (stateful, greedy): total characters per second",
        "",
        *table(batched, "TFLite step (32x1, fixed shapes)", "char"),
        "",
        "The window-context row does the windowed work (every character from the last 10, from a "
        "zero state: 10 slots per row, 320 rows per step); it is there for reference, not as a peer "
        "of the stateful rows.",
        "",
        "## 4. Time to first character (prompt of 12 characters, 200 asked)",
        "",
        "| runner | first call of a fresh generator, ms | later calls (median), ms |",
        "|---|---|---|",
        *(f"| {label} | {cold_s * 1e3:.2f} | {warm_s * 1e3:.2f} |" for label, cold_s, warm_s in first),
        "",
        ("`edgeseq run char --length 1` (shipped ship model, a whole process) reports its first character "
         f"after {min(cli_first):.2f} ms (best of {len(cli_first)})." if cli_first else ""),
        "",
        "The generation graph's first chunk is one character; later chunks grow (5, 17, 65, 129). "
        "In the window context its first call also fills the 10 staggered states, one batched step "
        "per prompt character (the last 10), before the first character: hence its longer wait.",
        "",
        "## 5. Stock model, LSTM(10) over 7 × 5",
        "",
        *table(latency, "TFLite (1x7x5, fixed shapes)", "call"),
        "",
        *table(throughput, f"TFLite ({size.big_batch}x7x5, fixed shapes)", "window"),
        "",
        "## 6. Cold start (whole processes, wall time; CPU = user + system)",
        "",
        "| command | wall median, ms | wall best, ms | CPU median, ms |",
        "|---|---|---|---|",
        *(f"| `{label}` | {w.median * 1e3:.0f} | {w.best * 1e3:.0f} | {c.median * 1e3:.0f} |"
          for label, (w, c, _) in cold.items()),
        "",
        f"`edgeseq run char --length 1` ÷ `import tensorflow`: {run_wall / tf_wall:.3f} (wall medians), "
        f"{run_cpu / tf_cpu:.3f} (CPU medians). ÷ a bare `import onnxruntime`: {run_wall / ort_wall:.2f} "
        f"(wall medians), {run_cpu / ort_cpu:.2f} (CPU medians). Conditions: {cold_conditions}.",
        "",
        "`edgeseq run` ends its process as soon as its output is flushed (edgeseq.cli.program), without "
        "the interpreter's teardown (freeing every module, onnxruntime's session and environment, a last "
        f"garbage collection): the row with the teardown ({teardown_wall * 1e3:.0f} ms) is the same command "
        "run through `edgeseq.cli.main`, which exits the usual way.",
        "",
        "## 7. Export time and file sizes",
        "",
        "| model | train, s | export, s | what the export does |",
        "|---|---|---|---|",
        f"| char (2×LSTM) | {char.train_seconds:.1f} | {char.export_seconds:.1f} | tf2onnx ×2, TF parity, generation graph built and checked against the per-step path |",
        f"| stock (LSTM(10)) | {stock.train_seconds:.1f} | {stock.export_seconds:.1f} | tf2onnx ×2, TF parity |",
        f"| int8 of both | | {char.extra['int8_seconds'] + stock.extra['int8_seconds']:.1f} | quantize_dynamic, the "
        "cost measured on the training data, the int8 generation graph checked against the int8 per-step path |",
        f"| TFLite conversions (char: 3, stock: 2) | | {sum(p['tflite_seconds'].values()) + stock_info['tflite_seconds']:.1f} | for comparison |",
        "",
        "| file | KiB |",
        "|---|---|",
        *(f"| {name} | {nbytes / 1024:,.0f} |" for name, nbytes in sizes.items()),
        "",
        *int8_section(char, stock, sizes, stateful, windowed, batched, latency, throughput, size),
        *serve_section(),
    ]
    return "\n".join(lines)


def int8_section(char, stock, sizes, stateful, windowed, batched, latency, throughput, size) -> list[str]:
    """Section 8: int8 against fp32 and against TFLite's dynamic-range int8, sizes and cost."""
    pairs = [("stateful streaming", stateful, "edgeseq runner (generation graph)",
              "edgeseq runner, int8 (int8 generation graph)", "TFLite dynamic-range int8 step (1x1)"),
             ("windowed generation", windowed, "edgeseq runner (generation graph, W staggered states)",
              "edgeseq runner, int8 (int8 generation graph, re-reading the window)",
              "TFLite dynamic-range int8 window (1x10)"),
             ("batch generation, 32 rows", batched, "edgeseq runner (generation graph), 32 rows",
              "edgeseq runner, int8 (int8 generation graph), 32 rows", "TFLite dynamic-range int8 step (32x1)"),
             ("stock batch-1 latency", latency, "edgeseq SeriesGraph.run (dynamic graph)",
              "edgeseq SeriesGraph.run, int8", "TFLite dynamic-range int8 (1x7x5)"),
             (f"stock batch-{size.big_batch} throughput", throughput, "edgeseq SeriesGraph.run (dynamic graph)",
              "edgeseq SeriesGraph.run, int8", f"TFLite dynamic-range int8 ({size.big_batch}x7x5)")]
    ratio = lambda a, b: f"{sizes[a] / sizes[b]:.1%}" if a in sizes and b in sizes else "n/a"  # noqa: E731
    return [
        "## 8. int8 against fp32 (same run, the tables above)",
        "",
        "| work | fp32 µs/unit | int8 µs/unit | int8 speed-up | TFLite int8 µs/unit | int8 ÷ TFLite int8 speed |",
        "|---|---|---|---|---|---|",
        *(f"| {what} | {us(t[f].best)} | {us(t[i].best)} | {t[f].best / t[i].best:.2f}x | {us(t[tl].best)} | "
          f"{t[tl].best / t[i].best:.2f}x |" for what, t, f, i, tl in pairs),
        "",
        "| file | int8 ÷ fp32 size |",
        "|---|---|",
        f"| char.int8.onnx | {ratio('char/char.int8.onnx', 'char/char.onnx')} |",
        f"| char.int8.gen.onnx | {ratio('char/char.int8.gen.onnx', 'char/char.gen.onnx')} |",
        f"| stock.int8.onnx | {ratio('stock/stock.int8.onnx', 'stock/stock.onnx')} |",
        f"| TFLite step, dynamic-range int8 | {ratio('char/char_step.int8.tflite', 'char/char_step.tflite')} |",
        f"| shipped ship.int8.onnx | {ratio('shipped/ship.int8.onnx', 'shipped/ship.onnx')} |",
        f"| shipped stock.int8.onnx | {ratio('shipped/stock.int8.onnx', 'shipped/stock.onnx')} |",
        "",
        f"Measured cost of the bench's int8 models (their metadata; on their training data): char: "
        f"{char.extra['int8'].summary()}; stock: {stock.extra['int8'].summary()}.",
        "",
        "Measured once, not by this bench: one int8 scale per weight matrix instead of per gate row streamed "
        "at 19.1 against 21.9 µs per character, but cost too much text quality (docs/int8.md), so edgeseq "
        "keeps per gate row.",
        "",
    ]


def serve_section() -> list[str]:
    """Section 9: the serving bench's targets, from bench/SERVING.md (``python -m bench.serve``)."""
    from bench.serve import results_section

    return ["", results_section()]
