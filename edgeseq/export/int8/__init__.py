"""int8: the quantized step graph, its int8 generation graph, and its cost measured against fp32.

ONNX, onnxruntime and numpy: no TensorFlow."""
