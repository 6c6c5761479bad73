"""What a user asks to train, as typed specs that own their defaults and are checked once.

The CLI parses its options into these records; each checks its fields as it is made, so a
bad option fails in one line before TensorFlow loads. ``CharDataSpec`` (which text, how it
is cut), ``CharModelSpec``, ``SeriesModelSpec``, ``TrainSettings`` and ``SeriesTrainSettings``.
Every training default lives here; the CLI's help reads them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from edgeseq.choices import (CELLS, CONTEXTS, HEADS, INPUTS, SEED_MAX, STRATEGIES, TARGET_MODES, check_choice,
                             check_counts, check_fraction, check_positive_number, check_range, refuse_no_effect)
from edgeseq.data.samples import SAMPLE_PREFIX, SAMPLES
from edgeseq.errors import InputError
from edgeseq.log import logger

if TYPE_CHECKING:  # numpy stays unloaded until the data is made
    from edgeseq.data.char_data import CharData

#: Units per recurrent layer of a char model when --hidden is not given (and --head dense).
CHAR_HIDDEN = 64
#: Characters per window of a --text file when --window is not given.
TEXT_WINDOW = 10
#: Characters per chunk with --context stateful when --window is not given.
STATEFUL_WINDOW = 50
#: Parallel streams with --context stateful when --streams is not given (fewer when the text
#: is too short for that many chunks): the rows of every batch, as char-rnn's batch of 50.
STREAMS = 32
#: Windows (or lines) per batch for a --text file when --batch-size is not given.
TEXT_BATCH = 64
#: The end of a --text file kept out of training to validate on, when --val-fraction is not
#: given and the text has at least VALIDATE_FROM characters.
TEXT_VAL_FRACTION, VALIDATE_FROM = 0.1, 20_000
#: Adam's learning rate: the lab's for its samples (tiny models, one full batch an epoch),
#: and for a --text file (minibatches), measured (docs/training.md).
SAMPLE_LR, TEXT_LR = 0.1, 0.01
#: A sample's rate for a stack of DEEP_GRU or more GRU layers: at SAMPLE_LR such a stack stalls
#: on hihello and ship within 100 epochs. Other stacks that end chaotic at SAMPLE_LR start again
#: at half of it (edgeseq.training.spikes), and every sample converges for every cell and depth.
SAMPLE_DEEP_LR, DEEP_GRU = 0.05, 3
#: Gradients are scaled down to this global norm when it is larger (char-rnn clips at 5).
CLIP_NORM = 5.0
#: A vocabulary larger than this gets an embedding instead of one-hot inputs.
ONEHOT_LIMIT = 1024


@dataclass(frozen=True)
class CharDataSpec:
    """Which text to learn (one of ``sample`` and ``text``) and how it is cut.

    ``context="window"``: sliding windows, each from a zero state; ``window=None`` takes the
    sample's own (hihello and fighting: the whole text as one sequence; ship: 10), or
    ``TEXT_WINDOW`` for a text file. ``by_line``: one sequence per line of the text file.
    ``context="stateful"``: ``streams`` consecutive streams cut into chunks of ``window``
    (default ``STATEFUL_WINDOW``), the state carried from batch to batch.
    """

    sample: str | None = None
    text: str | Path | None = None
    context: str = "window"
    window: int | None = None
    streams: int | None = None
    by_line: bool = False
    stride: int | None = None
    val_fraction: float | None = None

    def __post_init__(self):
        if (self.sample is None) == (self.text is None):
            raise InputError("give exactly one of --sample NAME or --text FILE")
        if self.sample is not None:
            check_choice("--sample", self.sample, SAMPLES)
        check_choice("--context", self.context, CONTEXTS)
        if self.by_line and (self.text is None or self.context != "window"):
            raise InputError("--by-line reads the lines of --text FILE, each from a zero state (--context window)")
        check_counts(("--window", self.window), ("--streams", self.streams), ("--stride", self.stride))
        check_fraction("--val-fraction", self.val_fraction)
        stateful = self.context == "stateful"
        refuse_no_effect("--window", self.by_line and self.window is not None,
                         "with --by-line (each line is one sequence)")
        refuse_no_effect("--stride", self.stride is not None and (stateful or self.by_line),
                         "with --context stateful or --by-line (chunks follow each other; lines are whole)")
        refuse_no_effect("--streams", self.streams is not None and not stateful, "without --context stateful")

    def kept_for_validation(self, length: int) -> float:
        """--val-fraction, or its default for a text of ``length`` characters: TEXT_VAL_FRACTION
        of a text of VALIDATE_FROM characters or more, else (a sample, a poem) none: the
        model is meant to learn that very text, and a few unseen lines would only say it
        stopped generalising while it memorised."""
        if self.val_fraction is not None:
            return self.val_fraction
        return TEXT_VAL_FRACTION if self.sample is None and length >= VALIDATE_FROM else 0.0

    @property
    def name(self) -> str:
        """The run's default name: the sample's, or the text file's stem."""
        return self.sample if self.sample is not None else Path(self.text).stem

    @property
    def source(self) -> str:
        """How the run records where its text came from."""
        return f"{SAMPLE_PREFIX}{self.sample}" if self.sample is not None else str(self.text)

    def load(self) -> CharData:
        """Read the text and cut it; every data error surfaces here (numpy only, no TensorFlow)."""
        from edgeseq.data import char_data, text as textdata

        if self.sample is not None:
            corpus, own_window = textdata.sample_text(self.sample)
        else:
            corpus, own_window = textdata.read_text(self.text), TEXT_WINDOW
        try:
            return self._cut(char_data, corpus, own_window, self.kept_for_validation(len(corpus)))
        except char_data.NoRoomToValidate as e:
            if self.val_fraction is not None:  # asked for: say why it cannot be
                raise
            logger.info(f"note: no validation part: {e}")
            return self._cut(char_data, corpus, own_window, 0.0)

    def _cut(self, char_data, corpus: str, own_window: int | None, val_fraction: float) -> CharData:
        if self.by_line:
            data, skipped = char_data.text_line_data(corpus, val_fraction)
            if skipped:
                logger.info(f"skipped {skipped} empty line(s) of {self.text}")
            return data
        if self.context == "stateful":
            chunk = STATEFUL_WINDOW if self.window is None else self.window
            streams = self.streams or max(1, min(STREAMS, (len(corpus) - 1) // chunk))  # a short text: fewer
            return char_data.stateful_data(corpus, chunk, streams, val_fraction)
        return char_data.window_data(corpus, own_window if self.window is None else self.window,
                                     self.stride or 1, val_fraction)

    def settings(self, epochs: int = 100, lr: float | None = None,
                 batch_size: int | None = None, seed: int = 0, strategy: str = "default",
                 clip: float | None = None, model: CharModelSpec | None = None) -> TrainSettings:
        """The training settings for this text, the defaults settled: a sample trains as the lab
        does (lr SAMPLE_LR, or SAMPLE_DEEP_LR for ``model`` a deep GRU stack; the whole
        data as one batch); a text file in minibatches of TEXT_BATCH at TEXT_LR. With --context
        stateful each batch is a chunk of every stream."""
        refuse_no_effect("--batch-size", batch_size is not None and self.context == "stateful",
                         "with --context stateful (a batch is one chunk of every stream: set --streams)")
        sample = self.sample is not None
        if lr is None:
            deep = model is not None and model.cell == "gru" and model.layers >= DEEP_GRU
            lr = (SAMPLE_DEEP_LR if deep else SAMPLE_LR) if sample else TEXT_LR
        if batch_size is None and not sample and self.context != "stateful":
            batch_size = TEXT_BATCH
        return TrainSettings(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, strategy=strategy, clip=clip)


@dataclass(frozen=True)
class CharModelSpec:
    """ids -> (onehot | embedding) -> ``layers`` x ``cell``(``hidden``) -> (dense | no) head.

    ``hidden=None`` means ``CHAR_HIDDEN``, or with ``head="none"`` (the recurrent outputs are
    the logits) the vocabulary size, which is then the only size allowed.
    """

    cell: str = "lstm"
    layers: int = 2
    hidden: int | None = None
    head: str = "dense"
    input: str | None = None
    embedding_dim: int = 32

    def __post_init__(self):
        check_choice("--cell", self.cell, CELLS)
        check_choice("--head", self.head, HEADS)
        if self.input is not None:
            check_choice("--input", self.input, INPUTS)
        check_counts(("--layers", self.layers), ("--hidden", self.hidden))

    def for_vocabulary(self, vocab_size: int) -> CharModelSpec:
        """This spec with its hidden size and input settled for a vocabulary of ``vocab_size``.

        ``input=None`` means one-hot, or an embedding above ONEHOT_LIMIT characters (a
        one-hot row that wide would be most of every batch's memory)."""
        if vocab_size > ONEHOT_LIMIT and self.head == "none":
            raise InputError(f"--head none makes the recurrent outputs the logits: {vocab_size} units for the "
                             f"{vocab_size} distinct characters of this text is too many; use --head dense")
        if vocab_size > ONEHOT_LIMIT and self.input == "onehot":
            raise InputError(f"the text has {vocab_size} distinct characters: one-hot inputs that wide (over "
                             f"{ONEHOT_LIMIT}) would swamp every batch; use --input embedding")
        spec = self
        if self.input is None:
            spec = replace(spec, input="onehot" if vocab_size <= ONEHOT_LIMIT else "embedding")
            if spec.input == "embedding":
                logger.info(f"note: the text has {vocab_size} distinct characters (over {ONEHOT_LIMIT}): "
                            f"characters enter as learned vectors of {self.embedding_dim} (--input embedding)")
        if self.hidden is None:
            return replace(spec, hidden=vocab_size if self.head == "none" else CHAR_HIDDEN)
        if self.head == "none" and self.hidden != vocab_size:
            raise InputError(f"--head none makes the recurrent outputs the logits, so --hidden must equal "
                             f"the vocabulary size ({vocab_size}), got {self.hidden}")
        return spec


@dataclass(frozen=True)
class SeriesModelSpec:
    """x [batch, ``window``, features] -> ``layers`` x ``cell``(``hidden``) -> the next ``horizon`` targets.

    ``target_mode="change"``: scale-free windows in, the next changes out, with a prediction
    interval (edgeseq.training.change_network); ``"delta"``: min-max scaled rows in, the change
    from the last value out (an untrained model is the persistence forecast); ``"level"``:
    the scaled value itself. ``default_window`` is the window to use when none is given.
    """

    window: int = 7
    horizon: int = 1
    cell: str = "lstm"
    layers: int = 1
    hidden: int = 32
    target_mode: str = "change"

    def __post_init__(self):
        check_choice("--cell", self.cell, CELLS)
        check_choice("--target-mode", self.target_mode, TARGET_MODES)
        check_counts(("--window", self.window), ("--horizon", self.horizon), ("--layers", self.layers),
                     ("--hidden", self.hidden))


def default_window(season: int | None) -> int:
    """7 rows, or one more than the season (``--season M``) so every window holds a full season."""
    return max(7, season + 1) if season else 7


@dataclass(frozen=True)
class TrainSettings:
    """How a model is fitted; ``batch_size=None``: the whole data set is one batch.

    ``clip``: gradients are scaled down to this global norm when theirs is larger (None: never)."""

    epochs: int = 100
    lr: float = SAMPLE_LR
    batch_size: int | None = None
    seed: int = 0
    strategy: str = "default"
    clip: float | None = CLIP_NORM

    def __post_init__(self):
        check_counts(("--epochs", self.epochs), ("--batch-size", self.batch_size))
        check_positive_number("--lr", self.lr)
        check_range("--seed", self.seed, 0, SEED_MAX)
        if self.clip is not None:
            check_positive_number("--clip", self.clip)
        check_choice("--strategy", self.strategy, STRATEGIES)


@dataclass(frozen=True)
class SeriesTrainSettings(TrainSettings):
    """The char settings plus the split, early stopping and the interval.

    The first ``train_fraction`` of the rows in time order train, the rest is the walk-forward
    test. The last ``validation`` fraction of the training windows is held out; training stops
    after ``patience`` epochs without a lower validation loss and keeps the best epoch's
    weights. ``season`` adds the seasonal naive forecast; ``interval`` is the level of a change
    model's prediction interval.
    """

    epochs: int = 100
    lr: float = 1e-2
    batch_size: int | None = 64
    validation: float = 0.2
    patience: int = 20
    train_fraction: float = 0.7
    season: int | None = None  # the seasonal naive forecast's period in rows (None: no seasonal baseline)
    interval: float = 0.9  # change models: the level of the prediction interval

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.interval < 1:
            raise InputError(f"--interval must be between 0 and 1 (0.9: a central 90% interval), got {self.interval}")
        if self.season is not None and self.season < 2:
            raise InputError(f"--season must be at least 2 rows, got {self.season}")
        check_fraction("--validation", self.validation)
        if self.patience < 0:
            raise InputError(f"--patience must be 0 (off) or positive, got {self.patience}")
