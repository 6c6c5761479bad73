"""Writing an ONNX graph by hand: unique names, one pool of constants, Loops from a body method.

Names are unique across the whole model, and every constant is a main-graph initializer that
Loop bodies read from the outer scope.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F, I32, I64, BOOL = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL

#: body(builder of the body, iteration number, carried names) -> (new carried names, scan outputs)
LoopBody = Callable[["GraphBuilder", str, list[str]], tuple[list[str], list[str]]]


def value_info(name: str, elem: int, shape=None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


class GraphBuilder:
    """The nodes of one graph (the main graph, or a Loop body made by ``loop``)."""

    def __init__(self, counter: itertools.count | None = None, consts: dict | None = None):
        self.nodes: list[onnx.NodeProto] = []
        self.counter = itertools.count() if counter is None else counter
        self.consts: dict[str, np.ndarray] = {} if consts is None else consts

    def fresh(self, hint: str) -> str:
        return f"{hint}_{next(self.counter)}"

    def add(self, op: str, inputs: list[str], outputs: int | list[str] = 1, **attrs):
        """One node; returns its output name (or names, for several outputs)."""
        names = [self.fresh(op.lower()) for _ in range(outputs)] if isinstance(outputs, int) else outputs
        self.nodes.append(helper.make_node(op, inputs, names, **attrs))
        return names[0] if len(names) == 1 else names

    def const(self, value, dtype) -> str:
        """A shared constant initializer (one per distinct value)."""
        value = np.asarray(value, dtype)
        key = f"c_{value.dtype}_{'x'.join(map(str, value.shape))}_{'_'.join(map(str, value.reshape(-1).tolist()))}"
        key = key.replace("-", "m").replace(".", "p")
        self.consts.setdefault(key, value)
        return key

    def i64(self, value) -> str:
        return self.const(value, np.int64)

    def as_i64(self, flag: str) -> str:
        """A boolean as 0 or 1, to multiply a Loop's iteration count by."""
        return self.add("Cast", [flag], to=I64)

    def count_if(self, count: str, *flags: str) -> str:
        """``count`` when every 0/1 flag is 1, else 0: the count of a Loop that runs only in its mode."""
        for flag in flags:
            count = self.add("Mul", [count, flag])
        return count

    def initializers(self) -> list[TensorProto]:
        return [numpy_helper.from_array(v, k) for k, v in self.consts.items()]

    def loop(self, count: str, carried: list[tuple[str, int]], body: LoopBody, scans: int) -> list[str]:
        """A Loop of ``count`` iterations carrying ``carried`` (name, element type) pairs.

        ``body`` builds one iteration into a fresh builder; the Loop's outputs are the final
        carried values, then ``scans`` scan outputs (int64, stacked over the iterations)."""
        inner = GraphBuilder(self.counter, self.consts)
        iteration, cond = inner.fresh("iter"), inner.fresh("cond")
        names_in = [inner.fresh("in") for _ in carried]
        new, scan_names = body(inner, iteration, names_in)
        outs, seen = [], set(names_in)
        for name in [*new, *scan_names]:  # a body output must be a distinct, computed name
            outs.append(inner.add("Identity", [name]) if name in seen else name)
            seen.add(name)
        cond_out = inner.add("Identity", [cond])
        body_graph = helper.make_graph(
            inner.nodes, inner.fresh("body"),
            [value_info(iteration, I64, []), value_info(cond, BOOL, []),
             *(value_info(n, t) for n, (_, t) in zip(names_in, carried))],
            [value_info(cond_out, BOOL, []),
             *(value_info(n, t) for n, (_, t) in zip(outs[:len(carried)], carried)),
             *(value_info(n, I64) for n in outs[len(carried):])],
        )
        results = self.add("Loop", [count, "", *(n for n, _ in carried)], outputs=len(carried) + scans,
                           body=body_graph)
        return results if isinstance(results, list) else [results]
