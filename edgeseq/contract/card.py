"""The model card: a few lines saying what an exported model is and how to run it.

Written into the ONNX ``doc_string`` that Netron and onnxruntime show, from the same record
the runner reads, so the card always matches the file.
"""
from __future__ import annotations

from pathlib import Path

from edgeseq.contract.cells import stack_label
from edgeseq.contract.siblings import int8_made_from

#: where the card points for the full description (the metadata key of edgeseq.contract.meta)
_DETAILS = "in the metadata key 'edgeseq' (edgeseq info prints them); any ONNX runtime can feed the " \
           "inputs as each one's description says"
_INPUT_NAMES = {"onehot": "one-hot"}
#: the metadata_props keys ``edgeseq export --author --license`` sets (Netron shows them; ``edgeseq info`` too)
AUTHOR_KEY, LICENSE_KEY = "author", "license"


def char_card(meta) -> str:
    """The card of a char model's file (``meta``: its CharMeta)."""
    head = "dense head" if meta.head == "dense" else "no head (the last layer's outputs are the logits)"
    trained = (f"trained on windows of {meta.window} from a zero state" if meta.context == "window"
               else f"trained on chunks of {meta.window} with the state carried")
    line_end = f", lines end with {meta.line_end!r}" if meta.line_end else ""
    stack = stack_label(meta.cell, meta.layers, meta.hidden)
    step = meta.generation.of if meta.graph == "generation" else "NAME.onnx"
    this_file = {
        "dynamic": "the step graph: ids and state in, logits and new state out; optional lengths for rows "
                   "padded at the end",
        "fixed": f"the step graph with time fixed to {meta.window} (no lengths input)",
        "generation": f"the generation graph of {step}: the character loop and the sampling in one graph, "
                      "used by the runner when it lies beside that file",
    }[meta.graph]
    return "\n".join(line for line in (
        f"edgeseq char model: {stack}, {head}, {_INPUT_NAMES.get(meta.input, meta.input)} input, vocabulary of "
        f"{meta.vocab_size} characters, {trained}{line_end}.",
        f"This file: {this_file}.",
        _int8(meta),
        _figures("Training", meta.metrics),
        f"Run: edgeseq run char --model {_run_model(step, meta)} --prompt TEXT. Vocabulary and state layout are "
        f"{_DETAILS}.",
    ) if line)


def series_card(meta) -> str:
    """The card of a forecaster's file (``meta``: its SeriesMeta)."""
    mode = {"change": "the next changes of windows taken relative to their last value, with a "
                      f"{100 * (meta.interval_level or 0):g}% interval (lower, upper)",
            "delta": "the change from the last value"}.get(meta.target_mode, "the value itself")
    rows = "any number of rows" if meta.graph == "dynamic" else f"time fixed to {meta.window} rows"
    rmse = (meta.evaluation or {}).get("rmse") or {}
    test = ""
    if isinstance(rmse.get("model"), (int, float)) and isinstance(rmse.get("persistence"), (int, float)):
        test = (f"Test RMSE {rmse['model']:.4g} against persistence {rmse['persistence']:.4g} "
                f"(walk-forward, {(meta.test or {}).get('forecasts', '?')} forecasts).")
    return "\n".join(line for line in (
        f"edgeseq series model: {stack_label(meta.cell, meta.layers, meta.hidden)} over {meta.window} rows of "
        f"{len(meta.features)} features ({', '.join(meta.features)}) -> the next {meta.horizon} value(s) of "
        f"{meta.target}, predicting {mode}.",
        f"This file: the forecaster, {rows} per window.",
        _int8(meta),
        test,
        f"Run: edgeseq run stock --model {_run_model('NAME.onnx', meta)} --csv HISTORY.csv. Features, "
        f"{'transform' if meta.target_mode == 'change' else 'scaler'} and horizon are {_DETAILS}.",
    ) if line)


def _run_model(step: str, meta) -> str:
    """What ``--model`` names to run this file: its fp32 step file, with ``--precision int8``
    for an int8 file (the runner finds NAME.int8.onnx and its generation graph beside it)."""
    if meta.quantization is None:
        return step
    return f"{(int8_made_from(step) or Path(step)).name} --precision int8"


def _int8(meta) -> str:
    """'In int8: ...; measured against fp32: ...': what an int8 file is and costs ('' for fp32)."""
    q = meta.quantization
    if q is None:
        return ""
    made_from = f" made from {meta.made_from.of}" if meta.made_from is not None else ""
    return f"In int8{made_from}: {q.quantized}. Measured against fp32 on {q.measured_on}: {q.summary()}."


def _figures(what: str, metrics: dict) -> str:
    """'Training: loss 0.2291, accuracy 0.8965.': the numeric figures of ``metrics``, or ''."""
    numbers = [f"{key} {value:.4g}" for key, value in metrics.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)]
    return f"{what}: {', '.join(numbers)}." if numbers else ""
