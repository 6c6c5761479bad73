"""The export stage: a run folder to verified ONNX files (``exporter.export_run``).

Graph tools in ``graph/``, the generation graph in ``generation/``, int8 in ``int8/``, other
targets in ``targets/``. Only the converting modules load TensorFlow; importing the package
loads nothing.
"""
