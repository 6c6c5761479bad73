"""One step of the model and the choice of the next character, as ONNX nodes.

The generation graph (edgeseq.export.generation) repeats these inside its Loops: the fused
recurrent ops with the step graph's own weights, the head, and the choice of a character
(the runtime's ``sampling.pick`` in ONNX ops, as that module's docstring describes).
"""
from __future__ import annotations

import numpy as np

from edgeseq.export.onnx_builder import I64, GraphBuilder
from edgeseq.export.step_graph import StepParts


class StepNodes:
    """Nodes for one step of the step graph ``parts``, added to any (sub)graph builder."""

    def __init__(self, parts: StepParts):
        self.parts = parts

    def layers(self, graph: GraphBuilder, x: str, states: list[str], sequence_out: bool) -> tuple[str, list[str]]:
        """The recurrent layers over x [time, rows, E] from states (each [1, rows, H]).

        Returns (the last layer's final h [1, rows, H], the new states). Only the layers
        below the last write their whole output sequence (the next layer's input)."""
        new = list(states)
        for i, layer in enumerate(self.parts.layers):
            last = i == len(self.parts.layers) - 1
            count = len(layer.state_rows)
            y = "" if last or not sequence_out else graph.fresh("y")
            finals = [graph.fresh("final") for _ in range(count)]
            graph.add(layer.op_type, [x, *layer.weights, "", *(states[r] for r in layer.state_rows)],
                      outputs=[y, *finals], **layer.attributes)
            for r, name in zip(layer.state_rows, finals):
                new[r] = name
            # time 1: the final h is the output sequence, already [1, rows, H]
            x = graph.add("Squeeze", [y, graph.i64([1])]) if y else finals[0]
        return x, new

    def head(self, graph: GraphBuilder, h: str) -> str:
        """Logits from the last layer's h (the h itself when the model has no head)."""
        if self.parts.head_weight is None:
            return h
        return graph.add("Add", [graph.add("MatMul", [h, "head_weight"]), "head_bias"])

    def choose(self, graph: GraphBuilder, logits: str, u: str | None) -> str:
        """Ids int64 [...] from logits [..., V]: ArgMax when u is None, else the inverse-CDF draw
        with u [...] (reads the graph's ``safe_temperature`` and ``top_k_1d``)."""
        if u is None:
            return graph.add("ArgMax", [logits], axis=-1, keepdims=0)
        last, add = graph.i64([-1]), graph.add
        z = add("Div", [logits, "safe_temperature"])
        top = add("TopK", [z, "top_k_1d"], outputs=2, axis=-1, largest=1, sorted=1)[0]
        kth = add("Gather", [top, graph.i64(-1)], axis=-1)
        keep = add("GreaterOrEqual", [z, add("Unsqueeze", [kth, last])])
        exp = add("Exp", [add("Sub", [z, add("ReduceMax", [z], axes=[-1], keepdims=1)])])
        weights = add("Where", [keep, exp, graph.const(0.0, np.float32)])
        cumulative = add("CumSum", [weights, graph.i64(-1)])
        total = add("Gather", [cumulative, graph.i64(-1)], axis=-1)
        target = add("Unsqueeze", [add("Mul", [u, total]), last])
        below = add("Cast", [add("LessOrEqual", [cumulative, target])], to=I64)
        index = add("ReduceSum", [below, last], keepdims=0)
        return add("Min", [index, graph.i64(self.parts.vocab - 1)])
