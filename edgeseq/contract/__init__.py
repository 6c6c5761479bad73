"""The model-file contract: what an exported file and a run folder promise their readers.

Export writes through it, the runtime and the CLI read through it; standard library only, so
each side shares it without the other's dependencies. Of edgeseq it may import only errors
and display.
"""
from edgeseq.contract.cells import CELL_OPS, CELLS, FUSED_OPS, INT8_OPS, RECURRENT_OPS, STATES_PER_OP, states_per_layer
from edgeseq.contract.siblings import ModelFiles, file_sha256
from edgeseq.contract.meta import (FORMAT_VERSION, METADATA_KEY, PRECISIONS, Baselines, CharMeta, FileRef,
                                   GenerationInfo, Quantization, SeriesMeta, StateLayout, metadata_text, parse_meta)

__all__ = ["CELLS", "CELL_OPS", "RECURRENT_OPS", "INT8_OPS", "FUSED_OPS", "STATES_PER_OP", "states_per_layer",
           "ModelFiles", "file_sha256", "FORMAT_VERSION", "METADATA_KEY", "PRECISIONS", "CharMeta", "SeriesMeta",
           "GenerationInfo", "FileRef", "StateLayout", "Baselines", "Quantization", "metadata_text", "parse_meta"]
