"""The model-file contract: what an exported edgeseq file promises its readers.

Export writes through this package and the runtime reads through it; nothing else builds
or parses a model's metadata by string keys. It needs only the standard library (and
numpy, nowhere yet), so the runner, the exporter and a bare ``edgeseq info`` share it
without pulling in either side's dependencies.

* ``files``: the sibling-file naming (NAME.onnx, NAME.fixed.onnx, NAME.gen.onnx, ...) and
  ``file_sha256``, by which a generation graph names the step file it was made from.
* ``cells``: the recurrent cells, the ONNX op each becomes, and the states each carries.
* ``meta``: the versioned JSON description stored in every file's metadata_props, as
  typed records that validate what they read.
"""
from edgeseq.contract.cells import CELL_OPS, CELLS, RECURRENT_OPS, STATES_PER_OP, states_per_layer
from edgeseq.contract.files import ModelFiles, file_sha256
from edgeseq.contract.meta import (FORMAT_VERSION, METADATA_KEY, Baselines, CharMeta, GenerationInfo, SeriesMeta,
                                   StateLayout, parse_meta)

__all__ = ["CELLS", "CELL_OPS", "RECURRENT_OPS", "STATES_PER_OP", "states_per_layer", "ModelFiles",
           "file_sha256", "FORMAT_VERSION", "METADATA_KEY", "Baselines", "CharMeta", "SeriesMeta", "GenerationInfo",
           "StateLayout", "parse_meta"]
