"""The data an int8 model is measured on: the fp32 model's own training data, read again.

A run records where its data came from, so it is read again from there and refused when it
changed. Relative paths are taken from ``root``.
"""
from __future__ import annotations

from pathlib import Path

from edgeseq.contract.siblings import file_sha256
from edgeseq.data.samples import SAMPLE_PREFIX, SAMPLES
from edgeseq.data.char_data import CharData, line_data, stateful_data, window_data
from edgeseq.data.text import read_text, sample_text, split_lines
from edgeseq.display import shown
from edgeseq.errors import EdgeseqError, InputError

#: the most streams a stateful model records (its training batch)
MAX_STREAMS = 2**31 - 1



def char_source(training: dict, root: Path | None = None) -> str | Path:
    """Where a char model's training text is: a sample's name (``sample:ship``) or a path.
    Refuses, before anything heavy loads, a run that does not say, or a file no longer there."""
    source = training.get("source") if isinstance(training, dict) else None
    if not isinstance(source, str) or not source:
        raise InputError("the int8 cost is measured on the training text, and this model does not record where "
                         "its text came from (train it again with this edgeseq)")
    if source.startswith(SAMPLE_PREFIX):
        if source[len(SAMPLE_PREFIX):] not in SAMPLES:
            raise InputError(f"the model was trained on {source!r}, which this edgeseq does not have")
        return source
    return _existing(Path(source), root, "training text")


def series_source(data: dict, root: Path | None = None) -> Path:
    """Where a forecaster's training CSV is (refused when it is no longer there)."""
    source = data.get("source") if isinstance(data, dict) else None
    if not isinstance(source, str) or not source:
        raise InputError("the int8 cost is measured on the training run's test part, and this model does not "
                         "record its CSV (train it again with this edgeseq)")
    return _existing(Path(source), root, "training CSV")


def _existing(path: Path, root: Path | None, what: str) -> Path:
    full = path if path.is_absolute() or root is None else root / path
    if not full.is_file():
        raise InputError(f"the int8 cost is measured on the model's {what}, {path}, which is not there "
                         f"(looked for {full.absolute()}); export from the folder it was trained in")
    return full


def training_streams(training: dict) -> int:
    """The streams a stateful model was trained on (its metadata's training.batch_size; 1 when
    it records none), or one line naming the field."""
    streams = training.get("batch_size") or 1
    if not isinstance(streams, int) or isinstance(streams, bool) or not 1 <= streams <= MAX_STREAMS:
        raise InputError(f"edgeseq metadata: 'training.batch_size' must be a whole number of streams from 1 to "
                         f"{MAX_STREAMS}, got {shown(streams)}; export the model again")
    return streams


def char_training_data(training: dict, vocabulary: str, window: int, context: str, line_end: str | None,
                       root: Path | None = None) -> tuple[str, CharData]:
    """(the training text, cut the way training cut it): windows of the model's window at
    every character (whatever --stride training used), its lines, or as many stateful streams
    as training had, over the whole text (a validation part included: the int8 file must say
    what the fp32 one says on all of it, and the streams' boundaries may differ from
    training's). Refused when the text's characters are not the model's vocabulary, or when
    its bytes are not the ones training recorded."""
    source = char_source(training, root)
    try:
        text = sample_text(source[len(SAMPLE_PREFIX):])[0] if isinstance(source, str) else read_text(source)
        if line_end is not None:
            data = line_data(split_lines(text)[0])
        elif context == "stateful":
            data = stateful_data(text, window, training_streams(training))
        else:
            data = window_data(text, window)
    except EdgeseqError as e:
        raise InputError(f"cannot cut the training text again as training did: {e}") from None
    if data.vocab.chars != vocabulary:
        raise InputError(f"{training['source']} is not the text the model was trained on (its characters are not "
                         "the model's vocabulary)")
    recorded = training.get("text_sha256")
    if isinstance(source, Path) and not isinstance(recorded, str):
        raise InputError(f"the model's training record names no sha256 of {training['source']}, so the text cannot "
                         "be checked; train the run again")
    if isinstance(source, Path) and file_sha256(source) != recorded:
        raise InputError(f"{training['source']} is not the text the model was trained on (it changed since: its "
                         "sha256 is not the one training recorded); measure on that very text")
    return text, data
