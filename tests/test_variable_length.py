"""Variable-length sequences with the lab's dynamic_rnn semantics, and stateful training."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import cli
from edgeseq.data.batches import Batch, LineSource, StreamSource
from edgeseq.data.char_data import line_data, stateful_data
from edgeseq.data.text import Vocabulary, split_lines
from edgeseq.errors import InputError

TOLERANCE = 1e-4
LINES = ["if you want", "to", "build a ship", "don't drum up people", "wood"]


def test_lines_are_padded_with_zero_weights_and_end_with_a_line_end():
    vocab = Vocabulary.from_text("".join(LINES) + "\n")
    batch = next(line_data(LINES, pad_to=25, vocab=vocab).train.batches(5, shuffle=False))
    assert batch.x.shape == (5, 25)
    assert batch.weights.sum(1).tolist() == [11, 2, 12, 20, 4]
    assert vocab.decode(batch.x[1, :2]) == "to" and vocab.decode(batch.y[1, :2]) == "o\n"
    assert (batch.weights[1, 2:] == 0).all() and (batch.x[1, 2:] == 0).all()
    longest = next(line_data(LINES, vocab=vocab).train.batches(2, shuffle=False))
    assert longest.x.shape == (2, 11)  # padded to the longest line of the batch
    with pytest.raises(InputError, match="cannot pad to 5 steps: the longest line needs 20"):
        line_data(LINES, pad_to=5, vocab=vocab)


def test_split_lines_skips_and_counts_empty_lines():
    assert split_lines("ab\n\nc\ndef\n") == (["ab", "c", "def"], 1)
    with pytest.raises(InputError, match="no usable line: every line is empty"):
        split_lines("\n\n\n")


def test_stateful_chunks_continue_row_by_row():
    ids = np.arange(41)
    batches = list(StreamSource(ids, streams=2, chunk=5).batches(2))
    # 2 streams of 20 steps: row 0 is stream 0 and row 1 stream 1, each continuing itself
    assert batches[0].x.tolist() == [[0, 1, 2, 3, 4], [20, 21, 22, 23, 24]]
    assert batches[1].x.tolist() == [[5, 6, 7, 8, 9], [25, 26, 27, 28, 29]]
    assert len(batches) == 4 and all((b.y == b.x + 1).all() for b in batches)
    padded = next(StreamSource(ids, streams=2, chunk=5).batches(4))  # 4 replicas: two empty rows
    assert padded.weights.sum(1).tolist() == [5, 5, 0, 0] and padded.real == 2
    with pytest.raises(InputError, match="too short for 8 streams"):
        stateful_data("abcdefghijklmnopqrst", chunk=5, streams=8)


def ragged_case(rng, vocab_size, state_count, hidden):
    lengths = np.array([9, 4, 1, 6], np.int32)
    ids = rng.integers(0, vocab_size, (4, 9), dtype=np.int32)
    state = (rng.standard_normal((4, state_count, hidden)) * 0.5).astype(np.float32)
    return ids, state, lengths


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_ragged_batch_equals_each_row_alone_in_tf_and_onnx(cell, layers, char_export):
    from edgeseq.runtime.char_model import CharModel
    from edgeseq.runtime.model_file import open_model
    from edgeseq.training.char_network import CharModelConfig, step_function

    model, path = char_export(cell, layers, "dense")  # the export tests' model, trained once
    described = open_model(path).description
    config = CharModelConfig(vocab_size=described.vocab_size, cell=cell, layers=layers, hidden=described.hidden)
    plain, _ = step_function(model, config)
    masked, _ = step_function(model, config, lengths=True)
    session = open_model(path).session
    ids, state, lengths = ragged_case(np.random.default_rng(3), config.vocab_size, config.state_count, config.hidden)
    tf_out = masked(ids, state, lengths)
    onnx_logits, onnx_state = session.run(None, {"ids": ids, "state": state, "lengths": lengths})
    runner_logits, runner_state = CharModel(path).logits(ids, state, lengths)
    for row, n in enumerate(lengths):
        alone = plain(ids[row:row + 1, :n], state[row:row + 1])
        for logits, final in ((tf_out["logits"].numpy(), tf_out["new_state"].numpy()), (onnx_logits, onnx_state),
                              (runner_logits, runner_state)):
            assert np.abs(logits[row, :n] - alone["logits"][0]).max() <= TOLERANCE
            assert (logits[row, n:] == 0).all()
            assert np.abs(final[row] - alone["new_state"][0]).max() <= TOLERANCE


def words_lines(count: int, seed: int) -> list[str]:
    """Short and long lines over one alphabet: padding would be learned as a character."""
    rng = np.random.default_rng(seed)
    words = ["sea", "ship", "wood", "drum", "long", "tide"]
    return [" ".join(rng.choice(words, rng.integers(1, 5))) for _ in range(count)]


def validation_loss(model, data) -> float:
    """Mean cross-entropy over the valid steps of every line, computed on its own."""
    from edgeseq.evaluation.text_metrics import masked_metrics

    batch = next(data.train.batches(data.train.count, shuffle=False))
    return masked_metrics(model(batch.x).numpy(), batch.y, batch.weights)["loss"]


class UnweightedLines(LineSource):
    """Lines whose padding counts as much as their characters (what the weights prevent)."""

    def cut(self, index, rows):
        batch = super().cut(index, rows)
        return Batch(batch.x, batch.y, np.ones_like(batch.weights), batch.real)


def test_padding_length_does_not_change_training():
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char_data

    train_lines, valid_lines = words_lines(120, 0), words_lines(40, 1)
    vocab = Vocabulary.from_text("".join(train_lines + valid_lines) + "\n")
    valid = line_data(valid_lines, vocab=vocab)
    settings = TrainSettings(epochs=15, lr=0.02, batch_size=32, seed=0)
    model_config = CharModelSpec(cell="gru", layers=1, hidden=32)
    losses = {}
    for pad in (20, 200):
        model, _, _ = train_char_data(line_data(train_lines, pad, vocab), model_config, settings)
        losses[pad] = validation_loss(model, valid)
    assert abs(losses[20] - losses[200]) <= 0.01 * losses[20], losses
    # without the weights, the padding is learned and the result depends on it
    padded = line_data(train_lines, 200, vocab)
    lines = padded.train
    unmasked = dataclasses.replace(padded, train=UnweightedLines(lines.ids, lines.starts, lines.ends,
                                                                 lines.end_id, lines.pad_to))
    model, _, _ = train_char_data(unmasked, model_config, settings)
    assert validation_loss(model, valid) > 1.05 * losses[20]


def test_cli_by_line_skips_empty_lines_and_rejects_files_without_lines(tmp_path):
    text = tmp_path / "lines.txt"
    text.write_text("hello world\n\nhi there\nx\nhow are you\n")
    result = cli("train", "char", "--text", str(text), "--by-line", "--epochs", "2", "-o", str(tmp_path / "run"))
    assert result.exit_code == 0, result.stderr
    assert "skipped 1 empty line(s)" in result.stderr
    assert "4 lines of 1-11 steps" in result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n\n")
    result = cli("train", "char", "--text", str(empty), "--by-line", "-o", str(tmp_path / "r2"))
    assert result.exit_code == 2
    assert result.stderr.strip() == "edgeseq: error: no usable line: every line is empty"


@pytest.fixture(scope="module")
def stateful_model(stateful_export):
    """The ship sentence repeated to 4,000 characters, trained with the state carried (conftest)."""
    return stateful_export


def nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, targets[:, None], -1)[:, 0]


@pytest.mark.slow
def test_stateful_model_does_not_drift_and_matches_tensorflow(stateful_model):
    from edgeseq.runtime import CharGenerator

    text, model, config, path = stateful_model
    assert config["context"] == "stateful"
    generator = CharGenerator(path)
    assert generator.context == "stateful"  # from the metadata
    losses = generator.model.char_losses(text, chunk=97)  # teacher forcing, state carried between calls
    assert losses.shape == (len(text) - 1,)
    assert losses[1900:2000].mean() <= losses[:100].mean() * 1.1
    import tensorflow as tf

    ids = generator.vocab.encode(text)
    tf_losses = nll(tf.function(model)(ids[None, :-1]).numpy()[0], ids[1:])  # one graph, not 4,000 eager steps
    assert np.abs(losses - tf_losses).max() <= TOLERANCE


def test_stateful_generation_runs_for_ten_thousand_characters(stateful_model):
    from edgeseq.runtime import CharGenerator

    text, _, _, path = stateful_model
    generated = CharGenerator(path).text("if you", 10_000)
    assert len(generated) == 10_000
    assert generated[-500:] in text + text  # still the sentence, cycling, after 10,000 steps


@pytest.mark.parametrize("generation", [True, False])
@pytest.mark.parametrize("context", ["stateful", "window"])
def test_batch_of_prompts_equals_each_prompt_alone(stateful_model, context, generation):
    from edgeseq.runtime import CharGenerator

    path = stateful_model[3]
    prompts = ["if you want to build", "s", "don't drum up peo", "ship, "]
    batch = CharGenerator(path, context=context, generation=generation).request(prompts, 40).text()
    alone = [CharGenerator(path, context=context, generation=generation).text(p, 40) for p in prompts]
    assert batch == alone
    sampled = CharGenerator(path, context=context, temperature=0.9, seed=4, generation=generation)
    one = CharGenerator(path, context=context, temperature=0.9, seed=4, generation=generation)
    assert sampled.request(["if you"], 30).text() == [one.text("if you", 30)]


def test_runner_rejects_bad_lengths(stateful_model):
    from edgeseq.runtime.char_model import CharModel

    model = CharModel(stateful_model[3])
    ids = np.zeros((2, 5), np.int32)
    with pytest.raises(InputError, match=r"length 7 of row 1 is longer than the padded time axis \(5\)"):
        model.logits(ids, lengths=[3, 7])
    with pytest.raises(InputError, match="lengths must be at least 1, got 0"):
        model.logits(ids, lengths=[0, 2])
    with pytest.raises(InputError, match="lengths must be at least 1, got -2"):
        model.logits(ids, lengths=[-2, 2])
    logits, _ = model.logits(ids, lengths=[5, 2])
    assert (logits[1, 2:] == 0).all() and (logits[0] != 0).any()


def test_a_line_model_learns_where_lines_end_and_stops_there(tmp_path):
    from edgeseq.export.exporter import export_run
    from edgeseq.runtime import CharGenerator
    from edgeseq.training.char_training import CharModelSpec, TrainSettings, train_char_lines

    names = ["anna", "bob", "christopher", "maximilian", "zoe", "eve"]
    train_char_lines(names, CharModelSpec(cell="gru", layers=1, hidden=32), TrainSettings(epochs=150, lr=0.05, seed=0),
                     out=tmp_path / "run")
    export_run(tmp_path / "run", tmp_path / "names.onnx")
    for generation in (True, False):
        generator = CharGenerator(tmp_path / "names.onnx", generation=generation)
        assert generator.line_end == "\n"
        assert generator.text("maxim", 40) == "ilian"
        assert generator.request(["chri", "z"], 40).text() == ["stopher", "oe"]
        stopped = generator.request("maxim", 40)
        assert stopped.text() == "ilian" and stopped.stop_reason == "line_end"
        assert stopped.summary().endswith(", stopped at the line end (a line model's text ends there; asked for 40)")
    assert "\n" in CharGenerator(tmp_path / "names.onnx", stop_at_line_end=False).text("zo", 5)
