"""The conversion side: tf2onnx, graph checks, parity against TensorFlow, metadata.

With ``edgeseq.training`` the only place TensorFlow and tf2onnx are imported; importing
``edgeseq.training`` first loads TensorFlow quietly (see its docstring).
"""
import edgeseq.training  # noqa: F401
