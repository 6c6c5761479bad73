"""One way to open an onnxruntime session for the benchmark.

Every peer that calls onnxruntime directly, char and stock alike, must run on the same single
thread as edgeseq's own runners, or the tables would compare thread counts rather than code.
"""
from __future__ import annotations

from pathlib import Path


def ort_session(path: Path):
    from edgeseq.runtime.model_file import session_options
    import onnxruntime as ort

    return ort.InferenceSession(str(path), session_options(1), providers=["CPUExecutionProvider"])
