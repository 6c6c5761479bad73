"""ONNX graph tools: fusing recurrent ops, the canonical form, a graph builder, reading a step graph.

Pure ONNX: no TensorFlow."""
