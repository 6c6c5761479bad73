"""What an int8 file records about itself: how it was quantized and what that cost against fp32.

The figures are measured on the model's training data at export (edgeseq.export.int8.cost)
and travel in the int8 file's description, so ``edgeseq info`` shows them.
"""
from __future__ import annotations

from dataclasses import dataclass

from edgeseq.contract.schema import Int, Number, Optional, Record, Text, spec

#: what ``--precision`` and ``--quantize`` offer (fp32: the exported model itself)
PRECISIONS = ("fp32", "int8")
#: the limits an int8 model is held to at export (edgeseq.export.int8.cost says why)
MAX_ACCURACY_DROP = 0.5  # points of next-character accuracy on the training sequences
GREEDY_CHARS = 200  # characters of greedy text from the training text's start, at most, that must not change
MAX_RMSE_RATIO = 1.02  # a forecaster's test RMSE, int8 / fp32
_LONG = 1024  # characters of one descriptive field
_COUNT = 1 << 40


@dataclass(frozen=True)
class Quantization(Record):
    """How an int8 file was made from its fp32 step file, and its measured cost."""

    precision: str = spec(Text(PRECISIONS[1:]))
    scheme: str = spec(Text(max_chars=_LONG))  # how the numbers are stored and computed
    quantized: str = spec(Text(max_chars=_LONG))  # which ops became which, what stayed fp32
    size_ratio: float = spec(Number(0))  # this file's bytes / the fp32 step file's bytes
    measured_on: str = spec(Text(max_chars=_LONG))  # the data and the calls the figures come from
    max_abs_diff: float = spec(Number(0))  # largest |int8 - fp32| of any output on that data
    tolerance: str = spec(Text(max_chars=_LONG))  # the rule the export held the int8 model to
    accuracy_fp32: float | None = spec(Optional(Number(0)), default=None)  # char: next character, all positions
    accuracy_int8: float | None = spec(Optional(Number(0)), default=None)
    last_accuracy_fp32: float | None = spec(Optional(Number(0)), default=None)  # the last position of each
    last_accuracy_int8: float | None = spec(Optional(Number(0)), default=None)
    greedy_chars: int | None = spec(Optional(Int(0, _COUNT)), default=None)  # char: greedy characters compared
    greedy_same: int | None = spec(Optional(Int(0, _COUNT)), default=None)  # ... of which int8 matched fp32 before
    #                                                                         its first difference
    rmse_fp32: float | None = spec(Optional(Number(0)), default=None)  # series: the test part, price units
    rmse_int8: float | None = spec(Optional(Number(0)), default=None)
    rmse_ratio: float | None = spec(Optional(Number(0)), default=None)  # int8 / fp32

    @property
    def accuracy_drop(self) -> float | None:
        """Points of next-character accuracy lost (positive: int8 is worse)."""
        if self.accuracy_fp32 is None or self.accuracy_int8 is None:
            return None
        return 100 * (self.accuracy_fp32 - self.accuracy_int8)

    def summary(self, size: bool = True) -> str:
        """One line: the size (unless not ``size``) and the measured cost."""
        parts = [f"{100 * self.size_ratio:.1f}% of the fp32 file"] if size else []
        if self.accuracy_fp32 is not None and self.accuracy_int8 is not None:
            parts.append(f"next-character accuracy {self.accuracy_fp32:.4f} -> {self.accuracy_int8:.4f}")
        if self.last_accuracy_fp32 is not None and self.last_accuracy_int8 is not None:
            parts.append(f"last position {self.last_accuracy_fp32:.4f} -> {self.last_accuracy_int8:.4f}")
        if self.greedy_chars is not None and self.greedy_same is not None:
            same = ("the same" if self.greedy_same == self.greedy_chars
                    else f"the same for {self.greedy_same}")
            parts.append(f"greedy text {same} of {self.greedy_chars} chars")
        if self.rmse_fp32 is not None and self.rmse_int8 is not None:
            parts.append(f"test RMSE {self.rmse_fp32:.6g} -> {self.rmse_int8:.6g}"
                         + (f" (x{self.rmse_ratio:.4f})" if self.rmse_ratio is not None else ""))
        parts.append(f"max |diff| {self.max_abs_diff:.3g}")
        return ", ".join(parts)
