"""The one training loop: every model, every way of presenting data, every strategy.

A custom loop instead of ``Model.fit``, which fails under MultiWorkerMirroredStrategy and
cannot carry a stateful model's state. Each step is a ``tf.function`` running
``strategy.run`` on the replicas' share of one batch; it returns sums, never logits, and
clips the gradient by its global norm. A task (``Task``) puts in the forward pass, the sums
and the metrics; epochs are ``edgeseq.training.epochs``. docs/design.md says why each rule.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeseq.data.batches import Batch, Source
from edgeseq.errors import InputError
from edgeseq.training.tf_setup import keras, tf

#: forward(x, state, training) -> (outputs, new_state); state is None without carried state
Forward = Callable[..., tuple]


@dataclass
class Task:
    """What differs between models: their forward pass, sums and metrics.

    ``sums(y, weights, outputs, training)`` returns scalar tensors by name, at least ``loss``
    (the weighted sum of the per-element losses) and ``weight`` (the sum of the weights);
    ``metrics(totals)`` turns summed figures (floats) into the reported ones.
    ``state_shape``: (S, H) of the carried state, or None when every batch starts from zero.
    ``bits``: the loss is in nats per character; validation also reports bits per character.
    """

    model: keras.Model
    forward: Forward
    sums: Callable[..., dict]
    metrics: Callable[[dict], dict]
    state_shape: tuple[int, int] | None = None
    bits: bool = False


class Steps:
    """The distributed train and eval steps of one model, and how batches reach them."""

    def __init__(self, task: Task, strategy: tf.distribute.Strategy, lr: float, clip: float | None):
        self.task, self.strategy, self.clip = task, strategy, clip
        self.replicas = strategy.num_replicas_in_sync
        self.variables = task.model.trainable_variables
        with strategy.scope():
            self.optimizer = keras.optimizers.Adam(lr)
            self.optimizer.build(self.variables)
        self._train = tf.function(self._train_fn, reduce_retracing=True)
        self._eval = tf.function(self._eval_fn, reduce_retracing=True)

    # -------------------------------------------------------------- inside the graph

    def _replica_train(self, total, factor, x, y, w, state=None):
        task = self.task
        with tf.GradientTape() as tape:
            outputs, new_state = task.forward(x, state, training=True)
            sums = task.sums(y, w, outputs, training=True)
            loss = sums["loss"] / total
        grads = tape.gradient(loss, self.variables)
        if self.clip:
            grads = self._clipped(grads)
        if factor != 1.0:  # a Python number: only a test forcing a spike traces this in
            grads = [_scaled(g, factor) for g in grads]
        self.optimizer.apply_gradients(zip(grads, self.variables))  # sums over the replicas
        return self._with_state(sums, new_state)

    def _clipped(self, grads):
        """Scaled so that the global norm of the replicas' summed gradient is at most ``clip``."""
        summed = grads
        if self.replicas > 1:
            summed = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
        norm = tf.linalg.global_norm(summed)
        scale = self.clip / tf.maximum(norm, self.clip)
        return [g * scale for g in grads]

    def _replica_eval(self, x, y, w, state=None):
        outputs, new_state = self.task.forward(x, state, training=False)
        return self._with_state(self.task.sums(y, w, outputs, training=False), new_state)

    @staticmethod
    def _with_state(sums, new_state):
        """The sums, and the new state tagged with the replica's id (whose rows it holds)."""
        if new_state is None:
            return sums, ()
        return sums, (tf.distribute.get_replica_context().replica_id_in_sync_group, new_state)

    def _train_fn(self, total, factor, inputs):
        sums, states = self.strategy.run(self._replica_train, args=(total, factor, *inputs))
        return self._summed(sums), states

    def _eval_fn(self, inputs):
        sums, states = self.strategy.run(self._replica_eval, args=inputs)
        return self._summed(sums), states

    def _summed(self, sums):
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in sums.items()}

    # -------------------------------------------------------------- on the host

    def inputs(self, batch: Batch, state) -> tuple:
        """(x, y, w[, state]) as this worker's replicas take them: each its slice of the rows."""
        parts = (batch.x, batch.y, batch.weights) + (() if state is None else (state,))
        if self.replicas == 1:
            return tuple(tf.convert_to_tensor(a) for a in parts)
        size = batch.rows // self.replicas

        def share(context):
            first = context.replica_id_in_sync_group * size
            return tuple(tf.constant(a[first:first + size]) for a in parts)

        return self.strategy.experimental_distribute_values_from_function(share)

    def run(self, batch: Batch, state, train: bool, gradient_factor: float = 1.0) -> tuple[dict[str, float], object]:
        """One step on ``batch``: its sums, and the state it ends with (None without one).

        ``gradient_factor`` multiplies the step's (clipped) gradients: the test hook of
        edgeseq.training.spikes, 1.0 otherwise.

        With one replica the state stays a tensor from step to step; with several, each
        replica's rows are gathered into one host array that is shared out again."""
        inputs = self.inputs(batch, state)
        if train:
            sums, states = self._train(tf.constant(float(batch.weights.sum()), tf.float32),
                                       float(gradient_factor), inputs)
        else:
            sums, states = self._eval(inputs)
        if state is not None and self.replicas == 1:
            state = states[1]
        elif state is not None:
            state = np.array(state)
            size = batch.rows // self.replicas
            for replica, new in zip(*(self.strategy.experimental_local_results(part) for part in states)):
                first = int(replica) * size
                state[first:first + size] = new.numpy()
        return {k: float(v) for k, v in sums.items()}, state

    def any_worker(self, flag: bool) -> bool:
        """``flag`` or'ed over the workers of a cluster, so that they decide alike."""
        if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return flag
        flags = self.strategy.run(lambda: tf.constant(float(flag)))
        return bool(self.strategy.reduce(tf.distribute.ReduceOp.SUM, flags, axis=None) > 0)

    def zero_state(self, rows: int) -> np.ndarray | None:
        shape = self.task.state_shape
        return None if shape is None else np.zeros((rows, *shape), np.float32)

    def evaluate(self, source: Source, rows: int) -> dict[str, float]:
        """The task's sums over every batch of ``source``, in order (the state carried when
        the source carries it)."""
        rows = round_up(max(rows, source.natural_rows(rows)), self.replicas)
        state = self.zero_state(rows) if source.carries_state else None
        totals: dict[str, float] = {}
        for batch in source.batches(rows, shuffle=False):
            sums, state = self.run(batch, state, train=False)
            add_to(totals, sums)
        return totals


def check_batch(batch_size: int | None, replicas: int) -> None:
    """A batch the user sized must split evenly over the replicas (one given as everything is
    padded instead, with rows of weight 0)."""
    if batch_size is not None and batch_size % replicas:
        raise InputError(f"--batch-size {batch_size} must be a multiple of the strategy's {replicas} replicas")


def _scaled(gradient, factor):
    if isinstance(gradient, tf.IndexedSlices):  # an embedding's: scale the rows it touches
        return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
    return gradient * factor


def round_up(rows: int, replicas: int) -> int:
    return -(-rows // replicas) * replicas


def add_to(totals: dict[str, float], sums: dict[str, float]) -> None:
    for k, v in sums.items():
        totals[k] = totals.get(k, 0.0) + v
