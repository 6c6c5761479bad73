"""The generation graph: the character loop and the sampling inside one ONNX graph, and its check.

Pure ONNX; never imports edgeseq.export.int8."""
