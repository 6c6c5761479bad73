"""edgeseq: train tiny sequence models in TensorFlow, export to ONNX, run on onnxruntime.

Importing the package loads nothing heavy: each stage (data, training, export, runtime)
is imported on its own, so a machine with only onnxruntime can run models.
"""

__version__ = "0.1.0"
