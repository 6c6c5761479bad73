"""One step of the model and the choice of the next character, as ONNX nodes.

The fused recurrent ops with the step graph's own weights, the head, and the runtime's
``sampling.pick`` in ONNX ops.
"""
from __future__ import annotations

import numpy as np

from edgeseq.export.graph.onnx_builder import F, I64, GraphBuilder
from edgeseq.export.graph.step_graph import StepParts


class StepNodes:
    """Nodes for one step of the step graph ``parts``, added to any (sub)graph builder."""

    def __init__(self, parts: StepParts):
        self.parts = parts

    def layers(self, graph: GraphBuilder, x: str, states: list[str], sequence_out: bool,
               last_sequence: bool = False) -> tuple[str, list[str]]:
        """The recurrent layers over x [time, rows, E] from states (each [1, rows, H]).

        Returns (the last layer's final h [1, rows, H], the new states). Only the layers
        below the last write their whole output sequence (the next layer's input), unless
        ``last_sequence``: then the last one does too, and its sequence [time, rows, H] is
        returned instead of its final h."""
        new = list(states)
        for i, layer in enumerate(self.parts.layers):
            last = i == len(self.parts.layers) - 1
            count = len(layer.state_rows)
            y = graph.fresh("y") if (sequence_out and not last) or (last and last_sequence) else ""
            finals = [graph.fresh("final") for _ in range(count)]
            inputs = [x, *layer.weights, "", *(states[r] for r in layer.state_rows)]
            if layer.scales:  # DynamicQuantizeLSTM: peepholes (none), then the weights' scales
                inputs += [""] * (8 - len(inputs)) + layer.scales
            graph.add(layer.op_type, inputs, outputs=[y, *finals], domain=layer.domain or None, **layer.attributes)
            for r, name in zip(layer.state_rows, finals):
                new[r] = name
            # time 1: the final h is the output sequence, already [1, rows, H]
            x = graph.add("Squeeze", [y, graph.i64([1])]) if y else finals[0]
        return x, new

    def head(self, graph: GraphBuilder, h: str) -> str:
        """Logits from the last layer's h (the h itself when the model has no head); an int8
        head as the step graph has it: h quantized per call, MatMulInteger, both scales."""
        if self.parts.head_weight is None:
            return h
        if self.parts.head_scale is None:
            return graph.add("Add", [graph.add("MatMul", [h, "head_weight"]), "head_bias"])
        q, scale, zero_point = graph.add("DynamicQuantizeLinear", [h], outputs=3)
        product = graph.add("MatMulInteger", [q, "head_weight", zero_point, "head_zero_point"])
        scales = graph.add("Mul", [scale, "head_scale"])
        return graph.add("Add", [graph.add("Mul", [graph.add("Cast", [product], to=F), scales]), "head_bias"])

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
