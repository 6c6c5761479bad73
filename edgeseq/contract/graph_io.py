"""The inputs and outputs a description promises, checked against the graph's own.

Every size the runner allocates from must be one the graph declares. The runtime passes the
graph's inputs and outputs as ``{name: (type, shape)}`` in onnxruntime's terms.
"""
from __future__ import annotations

from edgeseq.contract.char_meta import CharMeta
from edgeseq.contract.series_meta import SeriesMeta
from edgeseq.errors import ModelFileError

#: a size the graph may leave free (batch, time)
ANY = None
Tensor = tuple[str, list]  # (type, shape)

FLOAT, INT32, INT64 = "tensor(float)", "tensor(int32)", "tensor(int64)"


def promised(meta: CharMeta | SeriesMeta) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(inputs, outputs) the graph of ``meta`` must have, by name: type and shape (ANY: free)."""
    if isinstance(meta, SeriesMeta):
        time = meta.window if meta.graph == "fixed" else ANY
        horizon = meta.horizon if meta.graph == "fixed" else ANY  # a dynamic graph's y may be free: probed
        outputs = ("y", "lower", "upper", "change") if meta.target_mode == "change" else ("y",)
        return {"x": (FLOAT, [ANY, time, len(meta.features)])}, {name: (FLOAT, [ANY, horizon]) for name in outputs}
    s, h, v = meta.state.rows, meta.state.hidden, meta.vocab_size
    if meta.graph == "generation":
        return ({"ids": (INT32, [ANY, ANY]), "state": (FLOAT, [ANY, ANY, s, h]), "window": (INT64, []),
                 "position": (INT64, []), "uniforms": (FLOAT, [ANY, ANY]), "temperature": (FLOAT, []),
                 "top_k": (INT64, [])},
                {"tokens": (INT32, [ANY, ANY]), "new_state": (FLOAT, [ANY, ANY, s, h])})
    time = meta.window if meta.graph == "fixed" else ANY
    return ({"ids": (INT32, [ANY, time]), "state": (FLOAT, [ANY, s, h])},
            {"logits": (FLOAT, [ANY, ANY, v]), "new_state": (FLOAT, [ANY, s, h])})


#: inputs a graph may have beyond the promised ones, because the runner may leave them out
OPTIONAL_INPUTS = {"lengths"}


def _dims(shape: list) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else "?" for d in shape) + "]"


def check_graph_io(meta: CharMeta | SeriesMeta, inputs: dict[str, Tensor], outputs: dict[str, Tensor],
                   where: str) -> None:
    """Refuse a graph whose inputs or outputs are not the ones its description promises."""
    want_inputs, want_outputs = promised(meta)
    extra = sorted(set(inputs) - set(want_inputs) - OPTIONAL_INPUTS)
    if extra:
        raise ModelFileError(f"{where}: the graph has input(s) {', '.join(extra)} that an edgeseq "
                             f"{meta.task} {meta.graph} graph does not have")
    for side, want, have in (("input", want_inputs, inputs), ("output", want_outputs, outputs)):
        for name, (kind, shape) in want.items():
            if name not in have:
                raise ModelFileError(f"{where}: the graph has no {side} {name!r}")
            got_kind, got_shape = have[name]
            got_shape = list(got_shape) if got_shape is not None else None
            if got_kind != kind or got_shape is None or len(got_shape) != len(shape):
                raise ModelFileError(f"{where}: the graph's {side} {name!r} is {got_kind} "
                                     f"{_dims(got_shape or [])}, not {kind} {_dims(shape)}")
            for axis, (size, got) in enumerate(zip(shape, got_shape)):
                if size is not ANY and got != size:
                    raise ModelFileError(
                        f"{where}: the graph's {side} {name!r} has shape {_dims(got_shape)}, but the metadata "
                        f"says {_dims(shape)} (axis {axis}: {size}{_meaning(meta, name, axis)})")


def _meaning(meta: CharMeta | SeriesMeta, name: str, axis: int) -> str:
    """What a promised size stands for, for the error line."""
    if isinstance(meta, SeriesMeta):
        return {"x": {1: ", the window", 2: ", the features"}}.get(name, {1: ", the horizon"}).get(axis, "")
    if name == "logits" and axis == 2:
        return f", the vocabulary of {meta.vocab_size} characters"
    if name == "ids" and axis == 1:
        return ", the window"
    return ", the state" if "state" in name else ""
