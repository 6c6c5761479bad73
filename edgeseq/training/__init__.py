"""The TensorFlow side: model builders, training loops and run folders.

This package (with ``edgeseq.export``) is the only place TensorFlow is imported. It is
imported lazily by the CLI's ``train`` and ``export`` commands, never by ``run``.

TensorFlow's native runtime writes a few log lines straight to file descriptor 2 while it
loads and while it first probes for GPUs, before any log level applies ("oneDNN custom
operations are on", "Could not find cuda drivers"). Users of a CLI should see their
progress, not that, so both happen here once with the descriptor pointed at /dev/null.
"""
import os
from contextlib import contextmanager

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the block (Python's own errors still raise)."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with native_stderr_silenced():
    import tensorflow as _tf

    _tf.config.list_physical_devices("GPU")  # the GPU probe logs once; let it do so here
