"""The TensorFlow side: model builders, training loops and run folders.

This package (with ``edgeseq.export``) is the only place TensorFlow is imported. It is
imported lazily by the CLI's ``train`` and ``export`` commands, never by ``run``.
"""

import os

# Before TensorFlow is first imported anywhere below: keep its C++ log lines quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
