"""What the exporter asks of a task: the part of an export that differs between char and series.

The TensorFlow reference, the sample inputs and tolerance, the metadata record, and any
checks or files of the task's own. No TensorFlow here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from edgeseq.contract import CharMeta, FileRef, ModelFiles, SeriesMeta
from edgeseq.errors import InputError
from edgeseq.export.verify import Checklist


class ExportTask:
    """One trained model (from its run folder) as the exporter needs to see it."""

    #: largest |ONNX - TensorFlow| accepted on any output
    tolerance: float
    #: batch sizes the sample inputs come in
    batches: tuple[int, ...]
    #: whether the dynamic graph gets a ``lengths [batch]`` input (edgeseq.export.graph.fuse)
    lengths_input: bool = False

    def __init__(self, model, config: dict, metrics: dict, model_config):
        """``model``, ``config``, ``metrics``: a run folder's (training.run_folder.load_run);
        ``model_config``: the typed model settings (at least ``cell`` and ``layers``)."""
        self.model, self.config, self.metrics, self.model_config = model, config, metrics, model_config
        self.window = int(config["window"])
        self.cell = model_config.cell
        self.layers = [model.get_layer(f"rnn_{i}") for i in range(model_config.layers)]

    @classmethod
    def of_run(cls, run_dir, model, config: dict, metrics: dict) -> ExportTask:
        """The task of a loaded run folder, or one line saying how its parts disagree: a
        config.json this edgeseq cannot read (an unknown or missing setting), or a model.keras
        that is not the one the config describes (another run's)."""
        try:
            task = cls(model, config, metrics)
        except (TypeError, KeyError, ValueError) as e:
            detail = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise InputError(f"{run_dir}/config.json does not describe an edgeseq {config.get('task')} model "
                             f"({detail}); train the run again") from None
        mismatch = task.mismatch()
        if mismatch:
            raise InputError(f"{run_dir}/model.keras is not the model its config.json describes ({mismatch}); "
                             "train the run again")
        return task

    def mismatch(self) -> str:
        """How the Keras model differs from the config's settings ('' when it does not)."""
        return ""

    def reference(self, time: int | None):
        """(tf.function, input signature) of the model with time fixed to ``time`` (None: dynamic).

        The function is converted, and is the reference the graph is compared with; it takes
        the graph's inputs in order and returns its outputs by name."""
        raise NotImplementedError

    def times(self, time: int | None) -> list[int]:
        """The sequence lengths to compare the graph of time axis ``time`` on."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, batch: int, time: int) -> dict[str, np.ndarray]:
        """Random inputs for one parity case, by input name."""
        raise NotImplementedError

    def extra_checks(self, checklist: Checklist, graph: str, times: list[int], sess: ort.InferenceSession,
                     rng: np.random.Generator) -> None:
        """Checks of this task's own on one converted graph, after the parity cases (same rng)."""

    def after_graphs(self, checklist: Checklist, graphs: dict[str, onnx.ModelProto]) -> None:
        """Work on the converted graphs together, before the checklist is enforced."""

    def parity(self, checklist: Checklist) -> float:
        """The parity figure the files record: the largest |ONNX - TensorFlow| of the fp32 graphs."""
        return checklist.max_diff()

    def metadata_for(self, graph: str, ops: str, checklist: Checklist) -> CharMeta | SeriesMeta:
        """The metadata record written into the file of ``graph``."""
        raise NotImplementedError

    def companions(self, files: ModelFiles, step_meta: CharMeta | SeriesMeta,
                   step: FileRef) -> list[tuple[Path, onnx.ModelProto, CharMeta | SeriesMeta]]:
        """Files of this task's own written with the step graphs, each naming the step file
        ``step`` (its name and sha256): (path, graph, description) each."""
        return []
