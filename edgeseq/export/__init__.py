"""The export stage: a run folder to verified ONNX files (``exporter.export_run``).

Only the modules that convert load TensorFlow and tf2onnx, quietly, through
``edgeseq.training``: ``exporter`` (export_run), ``convert`` (tf2onnx), and the two tasks
``char_task`` and ``series_task``. The graph code is pure ONNX and loads no TensorFlow:
``onnx_graph`` (op types, metadata, writing), ``verify`` (the checklist and the parity
check), ``fuse`` and ``step_graph`` (graph surgery and reading), ``generation`` and
``generation_check`` (the generation graph; ``generation_int8`` its int8 contexts), and
int8: ``quantize`` (the int8 step graph), ``int8_data`` (the training data, read again),
``int8_cost`` (the cost against fp32 and the limits), ``int8_set`` (built, checked and
written beside the fp32 set). ``targets`` makes, from exported files as they are, a web
folder (``web_folder``) and ORT-format files (``ort_format``). So this package imports
nothing by itself.
"""
