"""What int8 costs against fp32, measured on the model's training data, and the export's limits.

A char model may lose at most MAX_ACCURACY_DROP of next-character accuracy and must keep
fp32's greedy text; a forecaster's test RMSE may grow by MAX_RMSE_RATIO. fp32 and int8 get
the very calls the runner makes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgeseq.contract import CharMeta, SeriesMeta
from edgeseq.contract.quantization import GREEDY_CHARS, MAX_ACCURACY_DROP, MAX_RMSE_RATIO
from edgeseq.data.series import rows_sha256
from edgeseq.data.char_data import CharData
from edgeseq.errors import InputError
from edgeseq.export.verify import Checklist
from edgeseq.runtime.decoding import per_step_chunks
from edgeseq.evaluation.backtest import backtest, forecast_rows
from edgeseq.runtime.series_graph import BATCH, SeriesGraph
from edgeseq.runtime.series_model import SeriesModel
from edgeseq.runtime.model_file import ModelFile
from edgeseq.runtime.sampling import Sampler

GREEDY_LINES = 8  # a line model: its first lines, each from its first character
MAX_SEQUENCES = 2048  # training sequences scored at most (evenly spread over all of them)
CHAR_TOLERANCE = (f"next-character accuracy on the training sequences drops by at most {MAX_ACCURACY_DROP} "
                  f"points, and greedy text from the training text's start is fp32's exactly (up to "
                  f"{GREEDY_CHARS} characters)")
SERIES_TOLERANCE = f"test RMSE at most {100 * (MAX_RMSE_RATIO - 1):.0f}% above fp32's"


class _Pair:
    """The fp32 and int8 step sessions given the same calls; the largest output difference seen."""

    def __init__(self, fp32: ort.InferenceSession, int8: ort.InferenceSession):
        self.sessions = (fp32, int8)
        self.max_diff = 0.0

    def run(self, feeds: dict) -> tuple[list, list]:
        """Both sessions on the same feeds; every output compared."""
        return self._compared([s.run(None, feeds) for s in self.sessions])

    def run_each(self, ids: np.ndarray, states: list[np.ndarray]) -> tuple[list, list]:
        """A char step of each session from its own state (a stream carried separately)."""
        return self._compared([s.run(None, {"ids": ids, "state": state}) for s, state in zip(self.sessions, states)])

    def _compared(self, outputs: list[list]) -> tuple[list, list]:
        a, b = outputs
        self.max_diff = max([self.max_diff, *(float(np.abs(x - y).max()) for x, y in zip(a, b) if x.size)])
        return a, b


class _Tally:
    """Right next-character guesses of fp32 and int8: at every position, and at the last of each sequence."""

    def __init__(self):
        self.right, self.last_right, self.positions, self.sequences = [0, 0], [0, 0], 0, 0

    def add(self, outputs: tuple[list, list], targets: np.ndarray) -> None:
        for k, (logits, *_) in enumerate(outputs):
            hits = logits[0].argmax(-1) == targets
            self.right[k] += int(hits.sum())
            self.last_right[k] += int(hits[-1])
        self.positions += len(targets)
        self.sequences += 1


def char_cost(fp32: ort.InferenceSession, int8: ort.InferenceSession, meta: CharMeta, text: str, data: CharData,
              checklist: Checklist) -> dict:
    """The Quantization fields of a char model's int8 cost; one checklist line per limit."""
    pair = _Pair(fp32, int8)
    tally, scored_on = (_score_stateful if data.context == "stateful" else _score_windows)(pair, meta, data)
    accuracy = [right / tally.positions for right in tally.right]
    last_accuracy = [right / tally.sequences for right in tally.last_right]
    same, chars, prompts = _greedy(fp32, int8, meta, text, data)
    drop = 100 * (accuracy[0] - accuracy[1])
    checklist.require(f"int8 next-character accuracy {accuracy[0]:.4f} -> {accuracy[1]:.4f} on {tally.positions} "
                      f"training positions (drop {points(drop)} points, at most {MAX_ACCURACY_DROP})",
                      drop <= MAX_ACCURACY_DROP)
    checklist.require(f"int8 greedy text = fp32's for {same} of {chars} chars ({prompts})", same == chars)
    return dict(measured_on=f"{scored_on} ({tally.positions} positions); greedy text {prompts}, per step",
                max_abs_diff=pair.max_diff, tolerance=CHAR_TOLERANCE,
                accuracy_fp32=accuracy[0], accuracy_int8=accuracy[1],
                last_accuracy_fp32=last_accuracy[0], last_accuracy_int8=last_accuracy[1],
                greedy_chars=chars, greedy_same=same)


def points(drop: float) -> str:
    """Points of accuracy as the checklist shows them, to 2 decimals: a drop that rounds to
    nothing (int8 a hair better, on a text of over 20,000 positions) reads 0.00, not -0.00."""
    return f"{round(drop, 2) + 0.0:.2f}"


def _spread(count: int) -> np.ndarray:
    """At most MAX_SEQUENCES of ``count`` indices, evenly spread, first and last included."""
    return np.arange(count) if count <= MAX_SEQUENCES else np.unique(np.linspace(0, count - 1, MAX_SEQUENCES).round())


def _score_windows(pair: _Pair, meta: CharMeta, data: CharData) -> tuple[_Tally, str]:
    """Each sequence alone from a zero state, its padding cut off; and what was scored."""
    zero = np.zeros((1, meta.state.rows, meta.state.hidden), np.float32)
    source = data.train
    tally, rows = _Tally(), _spread(source.count).astype(np.int64)
    for row in rows:
        batch = source.cut(np.array([row]), 1)
        length = int(batch.weights[0].sum())
        tally.add(pair.run({"ids": batch.x[:, :length], "state": zero}), batch.y[0, :length])
    kind = "lines" if data.line_end is not None else f"windows of {data.window}"
    return tally, f"{len(rows)} of the {source.count} training {kind}, each alone from a zero state"


def _score_stateful(pair: _Pair, meta: CharMeta, data: CharData) -> tuple[_Tally, str]:
    """Each training stream chunk by chunk with its state carried, as stateful training ran it
    (batch k holds chunk k of every stream: edgeseq.data.batches.StreamSource)."""
    source = data.train
    streams = source.streams
    per_stream = max(1, min(source.chunks, MAX_SEQUENCES // streams))
    tally = _Tally()
    zero = np.zeros((1, meta.state.rows, meta.state.hidden), np.float32)
    states = [[zero, zero] for _ in range(streams)]
    for _, batch in zip(range(per_stream), source.batches(streams)):
        for stream in range(streams):
            outputs = pair.run_each(batch.x[stream:stream + 1], states[stream])
            tally.add(outputs, batch.y[stream])
            states[stream] = [new_state for _, new_state in outputs]
    return tally, (f"the first {per_stream} of {source.chunks} chunks of {data.window} of the training text cut "
                   f"into {streams} streams (as many as training had), the state carried")


def _greedy(fp32: ort.InferenceSession, int8: ort.InferenceSession, meta: CharMeta, text: str,
            data: CharData) -> tuple[int, int, str]:
    """(leading characters int8 gets the same, characters compared, what was prompted): greedy
    text from the training text's start through the runtime's per-step path, one prompt."""
    if data.line_end is not None:
        lines = text.splitlines()
        prompts = [(line[:1], min(len(line), GREEDY_CHARS)) for line in lines if line][:GREEDY_LINES]
        label = f"each of the first {len(prompts)} training lines from its first character"
    else:
        start = min(meta.window, len(text) - 1)
        prompts = [(text[:start], min(GREEDY_CHARS, len(text) - start))]
        label = f"from the training text's first {start} characters"
    vocab = {c: i for i, c in enumerate(meta.vocabulary)}
    shape = (meta.state.rows, meta.state.hidden)
    same = chars = 0
    for prompt, length in prompts:
        ids = np.array([[vocab[c] for c in prompt]], np.int32)
        texts = [np.concatenate([t for t, _ in per_step_chunks(s, ids, length, meta.context, meta.window, shape,
                                                               Sampler(0.0))], axis=1)[0] for s in (fp32, int8)]
        differ = np.flatnonzero(texts[0] != texts[1])
        same += int(differ[0]) if differ.size else length
        chars += length
    return same, chars, label


def series_cost(fp32: ModelFile, int8: ort.InferenceSession, csv: Path, checklist: Checklist) -> dict:
    """The Quantization fields of a forecaster's int8 cost: its test-part RMSE beside fp32's
    (``evaluation.backtest``), and every output of both graphs on those windows."""
    meta: SeriesMeta = fp32.description
    quantized = ModelFile(fp32.path, int8, fp32.meta, meta)
    models = SeriesModel(fp32), SeriesModel(quantized)
    series = models[0].read_csv(csv)
    values = series.values
    split = meta.data.get("train_rows")
    if not isinstance(split, int) or not 0 < split < len(values) or rows_sha256(values[:split]) != meta.train_sha256:
        raise InputError(f"{csv} is not the file the model was trained on (its first {split} rows are not the "
                         "training rows the model recorded)")
    rmse = [backtest(m, series, split).evaluation["rmse"]["model"] for m in models]
    x = SeriesGraph(fp32).inputs(values, forecast_rows(len(values), meta.window, meta.horizon, split, csv.name))
    pair = _Pair(fp32.session, int8)
    name = fp32.session.get_inputs()[0].name
    for start in range(0, len(x), BATCH):
        pair.run({name: x[start:start + BATCH]})
    ratio = rmse[1] / rmse[0] if rmse[0] else float("inf")
    checklist.require(f"int8 test RMSE {rmse[0]:.6g} -> {rmse[1]:.6g} on {len(x)} forecasts (x{ratio:.4f}, at most "
                      f"x{MAX_RMSE_RATIO})", ratio <= MAX_RMSE_RATIO)
    return dict(measured_on=f"the {len(x)} test-part forecasts of the training run ({csv.name}), as "
                            f"'edgeseq run stock --backtest' makes them (up to {BATCH} windows per call)",
                max_abs_diff=pair.max_diff, tolerance=SERIES_TOLERANCE,
                rmse_fp32=float(rmse[0]), rmse_int8=float(rmse[1]), rmse_ratio=float(ratio))
