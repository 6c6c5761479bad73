"""One canonical form of a converted graph, so the same run exported twice gives the same bytes.

The form depends only on what the graph computes and on its input and output names; what
it changes and why is in docs/design.md, "Export". Pure ONNX.
"""
from __future__ import annotations

import re

import onnx
from onnx import numpy_helper

from edgeseq.export.graph.interop import all_values, tensor_shape

GRAPH = onnx.AttributeProto.GRAPH
#: dimension names the converter makes up (replaced by ``batch``, ``time``... where they are the inputs' and outputs')
CONVERTER_DIM = re.compile(r"unk__\d+")


def canonicalize(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` in its canonical form (in place; returned too). See the module docstring."""
    graph = model.graph
    kept = {value.name: value.name for value in (*graph.input, *graph.output)}
    merge_equal_initializers(graph, set(kept))
    _canonical_graph(graph, "", kept, set(kept))
    _number_converter_dims(graph)
    return model


def merge_equal_initializers(graph: onnx.GraphProto, kept: set[str]) -> None:
    """One initializer per distinct constant (type, shape and values); readers of the others,
    subgraphs included, read it instead. Initializers named in ``kept`` stay."""
    first, alias = {}, {}
    for tensor in graph.initializer:
        if tensor.name in kept:
            continue
        values = (tuple(tensor.string_data) if tensor.data_type == onnx.TensorProto.STRING
                  else numpy_helper.to_array(tensor).tobytes())
        alias[tensor.name] = first.setdefault((tensor.data_type, tuple(tensor.dims), values), tensor.name)
    alias = {name: to for name, to in alias.items() if name != to}
    if alias:
        _read_instead(graph, alias)
        kept_tensors = [tensor for tensor in graph.initializer if tensor.name not in alias]
        del graph.initializer[:]
        graph.initializer.extend(kept_tensors)


def _read_instead(graph: onnx.GraphProto, alias: dict[str, str]) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = alias.get(name, name)
        for _, body in _subgraphs(node):
            _read_instead(body, alias)
    for value in graph.output:
        value.name = alias.get(value.name, value.name)


def _subgraphs(node: onnx.NodeProto):
    """(attribute name, graph) of every subgraph of ``node``."""
    return [(attr.name, attr.g) for attr in node.attribute if attr.type == GRAPH]


def depth_first(graph: onnx.GraphProto) -> tuple[list[int], list[str]]:
    """The indices of the nodes the outputs need, each after the producers of what it reads
    (see the module docstring), and the names read that no node here produces (graph inputs,
    initializers, outer-scope values), in the order first met."""
    nodes = list(graph.node)
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    done: dict[int, bool] = {}  # node index -> finished (False: on the current path)
    order, met = [], {}

    def enter(name: str):
        i = producer.get(name)
        if i is None:
            if name:
                met.setdefault(name)
            return None
        if i in done:
            if not done[i]:
                raise ValueError(f"graph {graph.name!r} has a cycle through {name!r}")
            return None
        done[i] = False
        return i, iter(_reads(nodes[i]))

    for output in graph.output:
        path = [frame] if (frame := enter(output.name)) else []
        while path:
            i, reads = path[-1]
            for name in reads:
                if frame := enter(name):
                    path.append(frame)
                    break
            else:
                path.pop()
                done[i] = True
                order.append(i)
    return order, list(met)


def _reads(node: onnx.NodeProto) -> list[str]:
    """What ``node`` reads: its inputs, then what its subgraphs read from the outer scope."""
    names = list(node.input)
    for _, body in sorted(_subgraphs(node), key=lambda pair: pair[0]):
        local = {value.name for value in body.input} | {tensor.name for tensor in body.initializer}
        names += [name for name in depth_first(body)[1] if name not in local]
    return names


def _canonical_graph(graph: onnx.GraphProto, prefix: str, outer: dict[str, str], taken: set[str]) -> None:
    """Order and name ``graph`` (``prefix``: its place, "" for the main graph). ``outer``: the new
    name of every name in scope (the main graph: its inputs and outputs, kept); ``taken``:
    the names that must not be made (kept ones)."""
    order, met = depth_first(graph)
    nodes = [_copy(graph.node[i]) for i in order]
    names = dict(outer)
    place: dict[str, int] = {}

    def name(old: str, new: str) -> None:
        while new in taken:
            new += "_"
        names[old] = new
        place[new] = len(place)

    if prefix:  # a subgraph's inputs are its own (a Loop body's iteration, condition, carried values)
        for k, value in enumerate(graph.input):
            name(value.name, f"{prefix}input:{k}")
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    read = [old for old in met if old in initializers]
    read += [old for old in initializers if old in outer and old not in read]  # an initializer that is an input
    for j, old in enumerate(old for old in read if old not in names):
        name(old, f"{prefix}const_{j}")
    for i, node in enumerate(nodes):
        node.name = f"{prefix}{node.op_type}_{i}"
        for k, out in enumerate(node.output):
            if out and out not in outer:
                name(out, f"{node.name}:{k}")

    for node in nodes:
        for i, old in enumerate(node.input):
            node.input[i] = names.get(old, old)
        for i, old in enumerate(node.output):
            node.output[i] = names.get(old, old)
        attributes = [_copy(attr) for attr in sorted(node.attribute, key=lambda attr: attr.name)]
        del node.attribute[:]
        node.attribute.extend(attributes)
        for attr in node.attribute:
            for tensor in ([attr.t] if attr.HasField("t") else []) + list(attr.tensors):
                tensor.name = ""  # a Constant's value: the converter's name for it, unused
            if attr.type == GRAPH:
                attr.g.name = f"{node.name}/{attr.name}"
                _canonical_graph(attr.g, f"{attr.g.name}/", names, taken)
    tensors = []
    for old in read:
        tensors.append(_copy(initializers[old]))
        tensors[-1].name = names[old]
    values = []
    for value in graph.value_info:
        if value.name in names:
            values.append(_copy(value))
            values[-1].name = names[value.name]
    values.sort(key=lambda value: place.get(value.name, -1))
    for value in (*graph.input, *graph.output):
        value.name = names.get(value.name, value.name)
    for field, items in ((graph.node, nodes), (graph.initializer, tensors), (graph.value_info, values)):
        del field[:]
        field.extend(items)


def _copy(message):
    copied = type(message)()
    copied.CopyFrom(message)
    return copied


def _number_converter_dims(graph: onnx.GraphProto) -> None:
    """The converter's ``unk__N`` dimension names as ``unk__0``, ``unk__1``, ... in order of appearance."""
    dims = [dim for value in all_values(graph) if (shape := tensor_shape(value)) is not None for dim in shape.dim
            if CONVERTER_DIM.fullmatch(dim.dim_param)]
    numbers: dict[str, int] = {}
    for dim in dims:
        numbers.setdefault(dim.dim_param, len(numbers))
    for dim in dims:
        dim.dim_param = f"unk__{numbers[dim.dim_param]}"


__all__ = ["canonicalize", "depth_first", "merge_equal_initializers"]
