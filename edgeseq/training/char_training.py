"""Training a character model, and saving the run with how it must be run.

A text is presented as windows from a zero state, as lines of any length, or as stateful
streams (edgeseq.data.char_data); one loss and one loop serve all three. The run records
the context it must be run in, and export's chaos test judges the weights it keeps: a chaotic model starts again at half
the lr (edgeseq.training.epochs).
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import edgeseq
from edgeseq.contract.siblings import file_sha256
from edgeseq.data.char_data import CharData, line_data, window_data
from edgeseq.data.samples import SAMPLE_PREFIX
from edgeseq.data.text import split_lines
from edgeseq.log import logger
from edgeseq.training.specs import CharModelSpec, TrainSettings
from edgeseq.training.char_network import CharModelConfig, build_training_model, step_forward
from edgeseq.training.epochs import Plan
from edgeseq.training.loop import Steps, Task, check_batch
from edgeseq.training.rounding_check import RoundingCheck
from edgeseq.training.session import Session, run_history, spike_record
from edgeseq.training.tf_setup import describe_devices, distribution_strategy, keras, seed_everything, tf


def char_task(model: keras.Model, config: CharModelConfig, carries_state: bool) -> Task:
    """Cross-entropy over the weighted steps; accuracy, and accuracy at each row's last step."""
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    if carries_state:
        step = step_forward(model, config)

        def forward(ids, state, training):
            out = step(ids, state, training=training)
            return out["logits"], out["new_state"]
    else:
        def forward(ids, state, training):
            return model(ids, training=training), None

    def sums(y, weights, logits, training):
        hit = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y), tf.float32)
        counted = weights > 0
        rows = tf.reduce_any(counted, axis=1)
        last = tf.maximum(tf.reduce_sum(tf.cast(counted, tf.int32), axis=1) - 1, 0)
        if training:  # the loss Keras' fit minimises, operation for operation
            loss = tf.reduce_sum(cross_entropy(y, logits) * weights)
        else:  # scores in float64, as evaluation.text.masked_metrics computes them
            nats = tf.nn.sparse_softmax_cross_entropy_with_logits(y, tf.cast(logits, tf.float64))
            loss = tf.reduce_sum(nats * tf.cast(weights, tf.float64))
        return {"loss": loss, "weight": tf.reduce_sum(weights),
                "hits": tf.reduce_sum(hit * weights), "rows": tf.reduce_sum(tf.cast(rows, tf.float32)),
                "last_hits": tf.reduce_sum(tf.gather(hit, last, batch_dims=1) * tf.cast(rows, tf.float32))}

    def metrics(totals):
        return {"loss": totals["loss"] / totals["weight"], "accuracy": totals["hits"] / totals["weight"]}

    state_shape = (config.state_count, config.hidden) if carries_state else None
    return Task(model, forward, sums, metrics, state_shape, bits=True)


def train_char_data(data: CharData, spec: CharModelSpec, settings: TrainSettings,
                    out: str | Path | None = None, force: bool = False, source: str = "",
                    resume: bool = False) -> tuple[keras.Model, dict, dict]:
    """Train on prepared data; save a run folder at ``out`` when given. Returns (model, config, metrics).

    ``resume``: continue the unfinished training checkpointed beside ``out``."""
    config = CharModelConfig.from_spec(spec, len(data.vocab))
    fingerprint = text_fingerprint(source)  # of the text as training starts to read it
    strategy = distribution_strategy(settings.strategy)  # first: a cluster must form before TF runs anything
    seed_everything(settings.seed)
    batch = data.streams if data.context == "stateful" else settings.batch_size
    check_batch(None if data.context == "stateful" else batch, strategy.num_replicas_in_sync)  # streams are padded
    for note in data.notes:
        logger.info(note)
    logger.info(f"training {config.summary()} on {data.summary}, vocabulary {len(data.vocab)}, "
                f"batch {batch or 'everything'}, lr {settings.lr:g}, {describe_devices()}, "
                f"{strategy.num_replicas_in_sync} replica(s)")
    with strategy.scope():
        model = build_training_model(config)
    steps = Steps(char_task(model, config, data.context == "stateful"), strategy, settings.lr, settings.clip)
    rounding = RoundingCheck(config, data.window, (data.validation or data.train).arrays[0])
    session = Session(steps, out, resume_options(data, config, settings, source), force, resume)
    plan = Plan(settings.epochs, None if data.context == "stateful" else settings.batch_size, settings.seed,
                uniform_loss=math.log(len(data.vocab)) if len(data.vocab) > 1 else None, lr=settings.lr,
                model_label=f"{config.layers}x{config.hidden} units", unit="chars", rounding=rounding.refusal)
    outcome = session.fit(data.train, data.validation, plan)
    progress = outcome.progress
    kept = progress.best_epoch
    if outcome.stopped_by is None:
        metrics = final_metrics(steps, data, batch)
    else:  # stopping: the figures the history holds for the kept epoch, no further pass
        metrics = {k: v[kept - 1] for k, v in progress.history.items() if not k.startswith("val_")} if kept else {}
    metrics.update({k: v[kept - 1] for k, v in progress.history.items() if k in ("val_loss", "val_bpc")})
    if kept:
        logger.info("final: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                    + (f"  (the weights of epoch {kept}, the lowest validation loss)" if data.validation else ""))
    chaos = {}
    if kept and outcome.stopped_by is None:  # export's chaos test, its verdict for the user
        chaos["rounding"], line = rounding.verdict(model.get_weights(), progress.lr)
        logger.info(line)
    run_config = {
        "task": "char",
        "edgeseq_version": edgeseq.__version__,
        "model": config.to_dict(),
        "vocabulary": data.vocab.chars,
        "window": data.window,
        "context": data.context,
        **({"line_end": data.line_end} if data.line_end else {}),
        "training": {**settings.__dict__, "batch_size": batch, "source": source, **fingerprint,
                     "data": data.summary, "epochs_run": progress.epoch, "epoch_kept": kept,
                     **spike_record(progress), **chaos, "tensorflow": tf.__version__},
    }
    if kept:
        session.write(run_config, run_history(progress), metrics)
    session.close(outcome)
    return model, run_config, metrics


def text_fingerprint(source: str) -> dict:
    """``{"text_sha256": ...}`` of a training text file (nothing for a sample): by it ``export
    --quantize int8`` knows the text it measures the int8 model on is the one trained on."""
    if not source or source.startswith(SAMPLE_PREFIX) or not Path(source).is_file():
        return {}
    return {"text_sha256": file_sha256(source)}


def final_metrics(steps: Steps, data: CharData, batch: int | None) -> dict:
    """Loss, accuracy and last-step accuracy of the kept weights over the training data,
    batch by batch (with the state carried through the text for a stateful model)."""
    # 256 rows a call for windows and lines (fewer calls); a stateful text's batch is its streams
    rows = data.train.natural_rows(None) if data.train.carries_state else max(batch or 0, 256)
    totals = steps.evaluate(data.train, rows)
    return {"loss": totals["loss"] / totals["weight"], "accuracy": totals["hits"] / totals["weight"],
            "last_accuracy": totals["last_hits"] / totals["rows"]}


def resume_options(data: CharData, config: CharModelConfig, settings: TrainSettings, source: str) -> dict:
    """What a resumed run must share with its checkpoint, by the option that sets it."""
    ids = data.train.arrays[0]
    return {"the text (sha256)": hashlib.sha256(ids.tobytes()).hexdigest()[:16], "the data": data.summary,
            "--cell": config.cell, "--layers": config.layers, "--hidden": config.hidden, "--head": config.head,
            "--input": config.input, "--lr": settings.lr, "--batch-size": settings.batch_size,
            "--seed": settings.seed, "--clip": settings.clip, "--sample / --text": source}


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
