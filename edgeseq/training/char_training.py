"""Training a character model on windows of a text, as the lab does, and saving the run.

The lab's programs differ only in their data: hihello and the Korean string are one
sequence each; the ship sentence is cut into windows of 10. All are next-character
prediction with a sequence cross-entropy, trained from a zero state, so one function
serves them and records how the model must be run: from a zero state over at most
``window`` characters (``context: window``).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import edgeseq
from edgeseq.data.text import CharWindows, Vocabulary, sliding_windows
from edgeseq.training.char_model import CharModelConfig, build_training_model
from edgeseq.training.progress import ProgressBar
from edgeseq.training.run_folder import save_run
from edgeseq.training.tf_setup import describe_devices, distribution_strategy, keras, seed_everything, tf


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 50
    lr: float = 0.1
    batch_size: int | None = None  # None: the whole data set is one batch (the lab)
    seed: int = 0
    strategy: str = "default"

    def check(self) -> None:
        from edgeseq.errors import InputError

        if self.epochs < 1:
            raise InputError(f"--epochs must be at least 1, got {self.epochs}")
        if not self.lr > 0:
            raise InputError(f"--lr must be positive, got {self.lr}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {self.batch_size}")


def char_windows(text: str, vocab: Vocabulary, window: int | None) -> CharWindows:
    """The lab's data: the whole text as one sequence (window None) or sliding windows."""
    ids = vocab.encode(text)
    return sliding_windows(ids, len(ids) - 1 if window is None else window)


def spread_over_replicas(data: CharWindows, batch_size: int | None, replicas: int):
    """(data, batch) such that every replica gets at least one window per batch.

    With the whole data set as one batch, a data set smaller than the replica count (hihello
    is one sequence) is repeated ``replicas`` times: the mean loss and its gradient are
    unchanged, and no replica receives an empty batch, which tf.distribute rejects.
    """
    from edgeseq.errors import InputError

    if batch_size is None:
        if replicas > 1 and len(data.x) % replicas:
            data = CharWindows(np.tile(data.x, (replicas, 1)), np.tile(data.y, (replicas, 1)))
        return data, len(data.x)
    if batch_size < replicas:
        raise InputError(f"--batch-size {batch_size} is smaller than the {replicas} replicas of the strategy")
    return data, batch_size


def evaluate_windows(model: keras.Model, data: CharWindows) -> dict:
    """Loss, accuracy over all positions, and accuracy at each window's last position."""
    logits = model.predict(data.x, verbose=0, batch_size=4096)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(data.y, logits)
    predicted = logits.argmax(-1)
    return {
        "loss": float(loss),
        "accuracy": float((predicted == data.y).mean()),
        "last_accuracy": float((predicted[:, -1] == data.y[:, -1]).mean()),
    }


def train_char(text: str, window: int | None, model_config: dict, settings: TrainSettings,
               out: str | Path | None = None, force: bool = False, source: str = "",
               log=sys.stderr) -> tuple[keras.Model, dict, dict]:
    """Train on ``text``; save a run folder at ``out`` when given. Returns (model, config, metrics)."""
    settings.check()
    vocab = Vocabulary.from_text(text)
    data = char_windows(text, vocab, window)
    config = CharModelConfig(vocab_size=len(vocab), **model_config)
    seed_everything(settings.seed)
    strategy = distribution_strategy(settings.strategy)
    windows = len(data.x)
    data, batch = spread_over_replicas(data, settings.batch_size, strategy.num_replicas_in_sync)
    print(f"training {config.layers}x{config.cell.upper()}({config.hidden}) head={config.head} "
          f"input={config.input} on {windows} windows of {data.window}, vocabulary "
          f"{len(vocab)}, batch {batch}, {describe_devices()}, "
          f"{strategy.num_replicas_in_sync} replica(s)", file=log)
    with strategy.scope():
        model = build_training_model(config)
        model.compile(
            optimizer=keras.optimizers.Adam(settings.lr),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    history = model.fit(data.x, data.y, batch_size=batch, epochs=settings.epochs, verbose=0,
                        shuffle=batch < len(data.x),
                        callbacks=[ProgressBar(settings.epochs, log)])
    metrics = evaluate_windows(model, data)
    print("final: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()), file=log)
    run_config = {
        "task": "char",
        "edgeseq_version": edgeseq.__version__,
        "model": config.to_dict(),
        "vocabulary": vocab.chars,
        "window": data.window,
        "context": "window",
        "training": {**settings.__dict__, "batch_size": batch, "source": source,
                     "windows": windows, "tensorflow": tf.__version__},
    }
    history_doc = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    if out is not None:
        save_run(out, model, run_config, history_doc, metrics, force)
        print(f"saved run folder {out}", file=log)
    return model, run_config, metrics
