"""The runner: onnxruntime and numpy only, nothing from training.

An edgeseq model file describes itself (its metadata), so this package needs nothing but
the file. It never imports TensorFlow, tf2onnx or onnx; a test holds it to that.
"""
from edgeseq.runtime.forecaster import Forecaster
from edgeseq.runtime.generator import CharGenerator
from edgeseq.runtime.model_file import ModelFile, default_model_path, open_model

__all__ = ["CharGenerator", "Forecaster", "ModelFile", "default_model_path", "open_model"]
