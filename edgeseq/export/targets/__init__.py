"""Other places an exported model runs: a static web folder (``web_folder``) and onnxruntime's
compact ORT format (``ort_format``). Both work from the exported files as they are (no TensorFlow)."""
