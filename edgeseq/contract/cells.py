"""The recurrent cells: their names, the fused ONNX op each becomes, the states each carries.

One table for training, export's op checks, the generation builder and the runtime's state size.
"""
from __future__ import annotations

#: --cell choices, in the order the help text lists them.
CELLS: tuple[str, ...] = ("rnn", "lstm", "gru")
#: cell -> the fused ONNX op that runs it (never a Loop).
CELL_OPS: dict[str, str] = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
RECURRENT_OPS: tuple[str, ...] = tuple(CELL_OPS.values())
#: fused op -> onnxruntime's int8 kernel of it (domain com.microsoft), still one fused op per
#: layer: int8 weights, activations quantized per call. GRU and RNN have none.
INT8_OPS: dict[str, str] = {"LSTM": "DynamicQuantizeLSTM"}
#: every op that runs a whole recurrent layer in one kernel, fp32 or int8
FUSED_OPS: tuple[str, ...] = RECURRENT_OPS + tuple(INT8_OPS.values())
#: fused op -> state tensors it carries: LSTM (h, c); GRU and RNN h alone.
STATES_PER_OP: dict[str, int] = {"RNN": 1, "LSTM": 2, "GRU": 1, "DynamicQuantizeLSTM": 2}


def states_per_layer(cell: str) -> int:
    """Rows of the packed state one layer of ``cell`` takes."""
    return STATES_PER_OP[CELL_OPS[cell]]


def stack_label(cell: str, layers: int, hidden: int) -> str:
    """'2xLSTM(64)': a model's recurrent stack as every one-line description names it."""
    return f"{layers}x{cell.upper()}({hidden})"
