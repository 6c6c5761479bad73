"""The conversion side: tf2onnx, graph checks, parity against TensorFlow, metadata.

With ``edgeseq.training`` the only place TensorFlow and tf2onnx are imported.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
