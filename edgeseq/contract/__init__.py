"""The model-file contract: what an exported edgeseq file promises its readers.

Export writes through this package and the runtime reads through it; nothing else builds
or parses a model's metadata by string keys. It needs only the standard library, so the
runner, the exporter and a bare ``edgeseq info`` share it without pulling in either side's
dependencies.

* ``files``: the sibling-file naming (NAME.onnx, NAME.fixed.onnx, NAME.gen.onnx,
  NAME.int8.onnx, ...) and ``file_sha256``, by which a sibling names the step file it was
  made from.
* ``quantization``: what an int8 file records of how it was made and what it costs.
* ``cells``: the recurrent cells, the ONNX op each becomes, and the states each carries.
* ``schema``: the limits and the kinds every field is checked by; ``char_meta`` and
  ``series_meta``: the two descriptions as records; ``meta``: the versioned JSON document
  stored in every file's metadata_props, written and read.
* ``digest``: the file's own sha256, by which a damaged or edited file is refused.
* ``graph_io``: the inputs and outputs a description promises, checked against the graph.
* ``sidecar``: NAME.json, what a JavaScript runner reads of a char model, naming its files by sha256.
"""
from edgeseq.contract.cells import CELL_OPS, CELLS, FUSED_OPS, INT8_OPS, RECURRENT_OPS, STATES_PER_OP, states_per_layer
from edgeseq.contract.siblings import ModelFiles, file_sha256
from edgeseq.contract.meta import (FORMAT_VERSION, METADATA_KEY, PRECISIONS, Baselines, CharMeta, FileRef,
                                   GenerationInfo, Quantization, SeriesMeta, StateLayout, metadata_text, parse_meta)

__all__ = ["CELLS", "CELL_OPS", "RECURRENT_OPS", "INT8_OPS", "FUSED_OPS", "STATES_PER_OP", "states_per_layer",
           "ModelFiles", "file_sha256", "FORMAT_VERSION", "METADATA_KEY", "PRECISIONS", "CharMeta", "SeriesMeta",
           "GenerationInfo", "FileRef", "StateLayout", "Baselines", "Quantization", "metadata_text", "parse_meta"]
