"""Training a character model, and saving the run with how it must be run.

Three ways to present a text, one loss (sequence cross-entropy, Adam):

* ``windows``: the classic RNN lab's programs (the course exercises edgeseq grows out of).
  hihello and the Korean string are one sequence each; the ship sentence is cut into
  sliding windows of 10. Every window starts from a zero
  state, so the model must be run the same way: ``context: window``.
* ``lines``: one sequence per line, of any length, padded at the end. Padded steps have
  weight 0 in the loss and the metrics (the lab's sequence_loss weights) and the loss is
  divided by the number of valid steps, so how far rows are padded changes nothing: a
  recurrent layer's output at a valid step never depends on later (padded) steps.
* ``stateful``: a long text cut into consecutive chunks; the state is carried from batch
  to batch (truncated backpropagation through time) and reset at each epoch. Such a model
  streams with its state carried, for as long as asked: ``context: stateful``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import edgeseq
from edgeseq.data.text import CharData, line_data, split_lines, window_data
from edgeseq.errors import InputError
from edgeseq.evaluation.text import masked_metrics
from edgeseq.log import logger
from edgeseq.specs import CharModelSpec, TrainSettings
from edgeseq.training.char_model import CharModelConfig, build_training_model
from edgeseq.training.progress import ProgressBar
from edgeseq.training.run_folder import save_run
from edgeseq.training.tf_setup import describe_devices, distribution_strategy, keras, seed_everything, tf


def spread_over_replicas(data: CharData, batch_size: int | None, replicas: int):
    """(x, y, weights, batch) such that every replica gets an equal share of every batch.

    tf.distribute rejects a batch that does not split evenly over the replicas. With the
    whole data set as one batch, a data set that does not split (hihello is one sequence)
    is repeated ``replicas`` times: the mean loss and its gradient are unchanged. With
    minibatches, the batch must be a multiple of the replicas, and the last few windows
    are dropped if the last batch would not split.
    """
    x, y, weights = data.x, data.y, data.weights
    if replicas == 1:
        return x, y, weights, batch_size or len(x)
    if batch_size is None:
        if len(x) % replicas:
            repeat = lambda a: None if a is None else np.tile(a, (replicas, 1))  # noqa: E731
            x, y, weights = repeat(x), repeat(y), repeat(weights)
        return x, y, weights, len(x)
    if batch_size % replicas:
        raise InputError(f"--batch-size {batch_size} must be a multiple of the {replicas} replicas")
    keep = len(x) - len(x) % batch_size % replicas
    return x[:keep], y[:keep], None if weights is None else weights[:keep], batch_size


def compile_model(model: keras.Model, lr: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


class ResetStatesEachEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)


def reset_states(model: keras.Model) -> None:
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()


def copy_weights(trained: keras.Model, plain: keras.Model) -> keras.Model:
    """The trained weights in an ordinary model (no strategy, no stateful layers)."""
    plain.set_weights(trained.get_weights())
    return plain


def fit_stateful(data: CharData, config: CharModelConfig, settings: TrainSettings):
    """Train with the state carried across batches; return an ordinary (stateless) model."""
    if settings.strategy != "default":
        raise InputError("--context stateful trains on one device; drop --strategy")
    model = build_training_model(config, stateful_batch=data.streams)
    compile_model(model, settings.lr)
    history = model.fit(data.x, data.y, batch_size=data.streams, epochs=settings.epochs, verbose=0,
                        shuffle=False, callbacks=[ResetStatesEachEpoch(), ProgressBar(settings.epochs)])
    reset_states(model)  # predict in order: the carried state again, as in training
    logits = model.predict(data.x, batch_size=data.streams, verbose=0)
    return copy_weights(model, build_training_model(config)), history, logits


def train_char_data(data: CharData, spec: CharModelSpec, settings: TrainSettings,
                    out: str | Path | None = None, force: bool = False,
                    source: str = "") -> tuple[keras.Model, dict, dict]:
    """Train on prepared data; save a run folder at ``out`` when given. Returns (model, config, metrics)."""
    config = CharModelConfig.from_spec(spec, len(data.vocab))
    seed_everything(settings.seed)
    strategy = distribution_strategy(settings.strategy)
    logger.info(f"training {config.summary()} on {data.summary}, vocabulary {len(data.vocab)}, "
                f"{describe_devices()}, {strategy.num_replicas_in_sync} replica(s)")
    if data.context == "stateful":
        model, history, logits = fit_stateful(data, config, settings)
        batch = data.streams
    else:
        x, y, weights, batch = spread_over_replicas(data, settings.batch_size, strategy.num_replicas_in_sync)
        with strategy.scope():
            model = build_training_model(config)
            compile_model(model, settings.lr)
        history = model.fit(x, y, sample_weight=weights, batch_size=batch, epochs=settings.epochs,
                            verbose=0, shuffle=batch < len(x), callbacks=[ProgressBar(settings.epochs)])
        if strategy.num_replicas_in_sync > 1:  # evaluate and save outside the strategy
            model = copy_weights(model, build_training_model(config))
        logits = model.predict(data.x, verbose=0, batch_size=4096)
    metrics = masked_metrics(logits, data.y, data.weights)
    logger.info("final: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    run_config = {
        "task": "char",
        "edgeseq_version": edgeseq.__version__,
        "model": config.to_dict(),
        "vocabulary": data.vocab.chars,
        "window": data.window,
        "context": data.context,
        **({"line_end": data.line_end} if data.line_end else {}),
        "training": {**settings.__dict__, "batch_size": batch, "source": source, "data": data.summary,
                     "tensorflow": tf.__version__},
    }
    history_doc = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    if out is not None:
        save_run(out, model, run_config, history_doc, metrics, force)
        logger.info(f"saved run folder {out}")
    return model, run_config, metrics


def train_char(text: str, window: int | None, spec: CharModelSpec, settings: TrainSettings,
               out: str | Path | None = None, force: bool = False,
               source: str = "") -> tuple[keras.Model, dict, dict]:
    """Windows of ``text`` (or, window None, the whole text as one sequence), as the lab cuts them."""
    return train_char_data(window_data(text, window), spec, settings, out, force, source)


def train_char_lines(lines: list[str], spec: CharModelSpec, settings: TrainSettings,
                     pad_to: int | None = None, out: str | Path | None = None, force: bool = False,
                     source: str = "") -> tuple[keras.Model, dict, dict]:
    """One sequence per string, any lengths (empty strings are skipped)."""
    usable, skipped = split_lines("\n".join(lines))
    if skipped:
        logger.info(f"skipped {skipped} empty line(s)")
    return train_char_data(line_data(usable, pad_to), spec, settings, out, force, source)
