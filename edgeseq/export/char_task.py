"""Exporting a trained char model: what is its own in an export (see edgeseq.export.task).

The dynamic and fixed graphs are compared with TensorFlow, the dynamic one also streaming and
on a ragged batch. Beside them goes NAME.gen.onnx, the generation graph, checked token for
token against the per-step path.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from edgeseq.contract import CharMeta, FileRef, GenerationInfo, ModelFiles, StateLayout
from edgeseq.evaluation.rounding import CHAR_BATCHES, LOGIT_TOLERANCE, char_lengths, random_char_inputs
from edgeseq.export.generation.build import DEFAULT_UNROLL
from edgeseq.export.generation.check import build_and_verify
from edgeseq.export.task import ExportTask
from edgeseq.export.verify import Checklist, check_parity
from edgeseq.training.char_network import CharModelConfig, step_function

TOLERANCE = LOGIT_TOLERANCE


class CharExport(ExportTask):
    tolerance = TOLERANCE
    batches = CHAR_BATCHES
    lengths_input = True

    def __init__(self, model, config: dict, metrics: dict):
        super().__init__(model, config, metrics, CharModelConfig(**config["model"]))
        self.generation: onnx.ModelProto | None = None

    def reference(self, time: int | None, lengths: bool = False):
        return step_function(self.model, self.model_config, time, lengths=lengths)

    def times(self, time: int | None) -> list[int]:
        return char_lengths(self.window) if time is None else [time]

    def sample(self, rng: np.random.Generator, batch: int, time: int) -> dict[str, np.ndarray]:
        cfg = self.model_config
        return random_char_inputs(rng, cfg.vocab_size, (cfg.state_count, cfg.hidden), batch, time)

    def extra_checks(self, checklist: Checklist, graph: str, times: list[int], sess: ort.InferenceSession,
                     rng: np.random.Generator) -> None:
        if times[0] != 1 and len(times) == 1:
            return  # a fixed graph cannot take single steps
        self.check_streaming(checklist, graph, max(times), sess, rng)
        if graph == "dynamic":
            self.check_ragged(checklist, graph, self.window + 3, sess)

    def check_streaming(self, checklist: Checklist, graph: str, time: int, sess: ort.InferenceSession,
                        rng: np.random.Generator) -> None:
        """One character per call, carrying the state, gives the logits of one whole call."""
        cfg = self.model_config
        ids = rng.integers(0, cfg.vocab_size, (3, time), dtype=np.int32)
        state = np.zeros((3, cfg.state_count, cfg.hidden), np.float32)
        whole = sess.run(["logits"], {"ids": ids, "state": state})[0]
        streamed = []
        for t in range(time):
            step_logits, state = sess.run(["logits", "new_state"], {"ids": ids[:, t:t + 1], "state": state})
            streamed.append(step_logits)
        checklist.add(f"{graph} streaming vs whole, batch 3 time {time}",
                      np.concatenate(streamed, axis=1), whole, TOLERANCE)

    def check_ragged(self, checklist: Checklist, graph: str, time: int, sess: ort.InferenceSession,
                     seed: int = 1) -> None:
        """Rows of different lengths in one padded call: ONNX ``lengths`` vs TF's masked layers."""
        lengths = np.array([time, max(1, time // 2), 1], np.int32)
        feeds = {**self.sample(np.random.default_rng(seed), 3, time), "lengths": lengths}
        masked, _ = self.reference(None, lengths=True)
        check_parity(checklist, masked, sess, [(f"{graph} lengths {lengths.tolist()}", "", feeds)], TOLERANCE)

    def after_graphs(self, checklist: Checklist, graphs: dict[str, onnx.ModelProto]) -> None:
        cfg = self.model_config
        self.generation = build_and_verify(checklist, graphs["dynamic"], self.window, (cfg.state_count, cfg.hidden))

    def metadata_for(self, graph: str, ops: str, checklist: Checklist) -> CharMeta:
        config, cfg = self.config, self.model_config
        return CharMeta(
            graph=graph, vocabulary=config["vocabulary"], cell=cfg.cell, layers=cfg.layers,
            hidden=cfg.hidden, head=cfg.head, input=cfg.input,
            window=config["window"], context=config.get("context", "window"),
            state=StateLayout(cfg.state_count, cfg.hidden, tuple(cfg.state_names())),
            recurrent_ops=ops, metrics=self.metrics, parity_max_abs_diff=checklist.max_diff(),
            training=config.get("training", {}), line_end=config.get("line_end"))

    def mismatch(self) -> str:
        cfg = self.model_config
        outputs = self.model.output_shape[-1]
        if cfg.vocab_size != len(self.config["vocabulary"]):
            return f"its settings name {cfg.vocab_size} characters, its vocabulary has {len(self.config['vocabulary'])}"
        if outputs != cfg.vocab_size:
            return f"it predicts {outputs} characters, the config's vocabulary has {cfg.vocab_size}"
        units = [layer.units for layer in self.layers]
        if any(u != cfg.hidden for u in units):
            return f"its recurrent layers have {units} units, the config says {cfg.hidden}"
        return ""

    def companions(self, files: ModelFiles, step_meta: CharMeta,
                   step: FileRef) -> list[tuple[Path, onnx.ModelProto, CharMeta]]:
        """The generation graph, naming the step file it was made from by its sha256 (none
        when the builder gave none: the stale one of an older export is then removed)."""
        if self.generation is None:
            return []
        info = GenerationInfo(step.of, step.of_sha256, DEFAULT_UNROLL)
        return [(files.generation, self.generation, step_meta.generation_meta(info))]


__all__ = ["CharExport", "TOLERANCE"]
