"""The runner: onnxruntime and numpy only, nothing from training or export.

Names load on first use, so ``edgeseq run char`` does not import the series model, nor
``run stock`` the char generator.
"""
from __future__ import annotations

import importlib

#: name -> the module that defines it
_EXPORTS = {"CharGenerator": "generator", "SeriesModel": "series_model", "Forecast": "series_model",
            "ModelFile": "model_file", "default_model_path": "model_file", "open_model": "model_file"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
