"""edgeseq's own benchmark (a development tool: it imports TensorFlow). See bench/run.py."""
