"""The character model: ids -> one-hot or embedding -> N recurrent layers -> logits.

One set of layers, two ways to call them: ``build_training_model`` starts every sequence from
a zero state; ``step_forward`` takes the state in and gives it back, for stateful training
and for the step graph the runner streams with.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from edgeseq.training.tf_setup import keras
from edgeseq.training.tf_setup import tf

from edgeseq.contract.cells import stack_label, states_per_layer
from edgeseq.training.specs import CHAR_HIDDEN, CharModelSpec
from edgeseq.training.layers import OneHot, recurrent_layer


@dataclass(frozen=True)
class CharModelConfig:
    """A ``CharModelSpec`` settled for its vocabulary: what is built, and what a run records.

    Made by ``from_spec`` (which checked the user's choices once) or read back from a run
    folder's config.json, which such a spec wrote.
    """

    vocab_size: int
    cell: str = CharModelSpec.cell
    layers: int = CharModelSpec.layers
    hidden: int = CHAR_HIDDEN
    head: str = CharModelSpec.head
    input: str = "onehot"
    embedding_dim: int = CharModelSpec.embedding_dim

    @classmethod
    def from_spec(cls, spec: CharModelSpec, vocab_size: int) -> "CharModelConfig":
        spec = spec.for_vocabulary(vocab_size)
        return cls(vocab_size, spec.cell, spec.layers, spec.hidden, spec.head, spec.input, spec.embedding_dim)

    def summary(self) -> str:
        """'2xLSTM(64) head=dense input=onehot', for the training line."""
        return f"{stack_label(self.cell, self.layers, self.hidden)} head={self.head} input={self.input}"

    @property
    def state_count(self) -> int:
        """Rows of the packed state tensor [batch, state_count, hidden]."""
        return self.layers * states_per_layer(self.cell)

    def state_names(self) -> list[str]:
        parts = ("h", "c") if self.cell == "lstm" else ("h",)
        return [f"{p}{i}" for i in range(self.layers) for p in parts]

    def to_dict(self) -> dict:
        return asdict(self)


def build_training_model(config: CharModelConfig) -> keras.Model:
    """ids [batch, time] -> logits [batch, time, vocab], every sequence from a zero state."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    if config.input == "onehot":
        x = OneHot(config.vocab_size, name="onehot")(ids)
    else:
        x = keras.layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding")(ids)
    for i in range(config.layers):
        x = recurrent_layer(config.cell, config.hidden, name=f"rnn_{i}")(x)[0]
    if config.head == "dense":
        x = keras.layers.Dense(config.vocab_size, name="head")(x)
    return keras.Model(ids, x, name=f"char_{config.cell}")


def step_forward(model: keras.Model, config: CharModelConfig):
    """The model's layers as a function (ids, state, lengths=None, training=False) ->
    {"logits", "new_state"}: the state [batch, S, H] goes in and comes out packed.

    Training with the state carried (--context stateful) calls it with training=True;
    ``step_function`` wraps it as the graph export converts.
    """
    per_layer = states_per_layer(config.cell)
    embed = model.get_layer("onehot" if config.input == "onehot" else "embedding")
    rnns = [model.get_layer(f"rnn_{i}") for i in range(config.layers)]
    head = model.get_layer("head") if config.head == "dense" else None

    def forward(ids, state, lengths=None, training=False):
        mask = None if lengths is None else tf.sequence_mask(lengths, tf.shape(ids)[1])
        keep = None if mask is None else tf.cast(mask, tf.float32)[:, :, None]
        x = embed(ids)
        new_state = []
        for i, rnn in enumerate(rnns):
            initial = [state[:, i * per_layer + k, :] for k in range(per_layer)]
            x, *final = rnn(x, initial_state=initial, mask=mask, training=training)
            x = x if keep is None else x * keep
            new_state.extend(final)
        logits = head(x) if head is not None else x
        logits = logits if keep is None else logits * keep
        return {
            "logits": tf.identity(logits, name="logits"),
            "new_state": tf.stack(new_state, axis=1, name="new_state"),
        }

    return forward


def step_function(model: keras.Model, config: CharModelConfig, time: int | None = None,
                  lengths: bool = False):
    """A tf.function (ids [batch, time], state [batch, S, H]) -> (logits, new_state).

    ``time=None`` gives the dynamic graph; an int fixes the time axis (the batch axis stays
    dynamic: tf2onnx 1.17 fuses LSTM only when the batch is not a static 1).

    ``lengths=True`` adds lengths [batch] with the lab's dynamic_rnn semantics: logits are zero
    at steps >= length and the state is the one after the last valid step. Keras masking
    repeats the last output over masked steps, hence the multiplications by the mask. This is
    the reference the exported graph is checked against, never converted: tf2onnx turns masked
    layers into Loops (edgeseq.export.graph.fuse).
    """
    signature = [
        tf.TensorSpec((None, time), tf.int32, name="ids"),
        tf.TensorSpec((None, config.state_count, config.hidden), tf.float32, name="state"),
    ]
    if lengths:
        signature.append(tf.TensorSpec((None,), tf.int32, name="lengths"))
    forward = step_forward(model, config)

    def step(ids, state, lengths=None):
        return forward(ids, state, lengths)

    return tf.function(step, input_signature=signature), signature
