"""Post-conversion graph surgery: fused recurrent ops, and per-row sequence lengths.

``fuse_recurrent_loops`` replaces each Loop tf2onnx made of a recurrent layer with the fused
op built from its weights; ``add_lengths_input`` wires an optional ``lengths [batch]`` into
every fused op's ``sequence_lens``, the lab's dynamic_rnn. Pure ONNX.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeseq.contract import RECURRENT_OPS

#: Default for the ``lengths`` input: clipped to the time axis, i.e. "no padding".
NO_PADDING = np.iinfo(np.int32).max


def onnx_weights(layer) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, dict]:
    """A Keras LSTM / GRU / SimpleRNN as (op, W [1,G*H,in], R [1,G*H,H], B [1,2*G*H], attrs).

    Keras stores kernels as [in, G*H] with gate blocks side by side; ONNX wants their
    transpose, per direction, with its own gate order: LSTM i,o,f,c (Keras i,f,c,o);
    GRU z,r,h (as Keras), where Keras' reset_after=True is ONNX linear_before_reset=1
    with the two bias rows as input and recurrent biases.
    """
    cell = layer.cell
    kind = type(layer).__name__
    units = cell.units
    kernel = np.asarray(cell.kernel.numpy(), np.float32)
    recurrent = np.asarray(cell.recurrent_kernel.numpy(), np.float32)
    gates = kernel.shape[1] // units
    reset_after = getattr(cell, "reset_after", False)
    if cell.use_bias:
        bias = np.asarray(cell.bias.numpy(), np.float32)
    else:
        bias = np.zeros((2, gates * units) if reset_after else (gates * units,), np.float32)
    zeros = np.zeros(gates * units, np.float32)
    if kind == "LSTM":
        def onnx_order(a):  # Keras i,f,c,o -> ONNX i,o,f,c
            i, f, c, o = np.split(a, 4, axis=-1)
            return np.concatenate([i, o, f, c], axis=-1)

        w, r, b = onnx_order(kernel).T, onnx_order(recurrent).T, np.concatenate([onnx_order(bias), zeros])
        attrs = {"activations": ["Sigmoid", "Tanh", "Tanh"]}
    elif kind == "GRU":
        w, r = kernel.T, recurrent.T
        b = np.concatenate([bias[0], bias[1]]) if reset_after else np.concatenate([bias, zeros])
        attrs = {"activations": ["Sigmoid", "Tanh"], "linear_before_reset": int(reset_after)}
    elif kind == "SimpleRNN":
        w, r, b = kernel.T, recurrent.T, np.concatenate([bias, zeros])
        attrs = {"activations": ["Tanh"]}
    else:
        raise TypeError(f"no fused ONNX op for {kind}")
    check_activations(layer, kind)
    op = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[kind]
    return op, *(np.ascontiguousarray(a[None]) for a in (w, r, b)), {**attrs, "hidden_size": units}


def check_activations(layer, kind: str) -> None:
    cell = layer.cell
    wanted = {"activation": "tanh"}
    if kind != "SimpleRNN":
        wanted["recurrent_activation"] = "sigmoid"
    for attr, name in wanted.items():
        got = getattr(getattr(cell, attr), "__name__", str(getattr(cell, attr)))
        if got != name:
            raise TypeError(f"{layer.name}: {attr} {got} has no fused ONNX equivalent here")
    if layer.go_backwards:
        raise TypeError(f"{layer.name}: go_backwards is not supported")


def constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    found = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            found[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return found


def names_read(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name the graph's nodes read, looking inside subgraphs too."""
    names = set()
    for node in graph.node:
        names.update(node.input)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                names |= names_read(attr.g) | {o.name for o in attr.g.output}
    return names


def remove_dead_nodes(graph: onnx.GraphProto) -> None:
    while True:
        used = names_read(graph) | {o.name for o in graph.output}
        alive = [n for n in graph.node if any(o in used for o in n.output)]
        if len(alive) == len(graph.node):
            break
        del graph.node[:]
        graph.node.extend(alive)
    used = names_read(graph) | {o.name for o in graph.output}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def loop_anatomy(loop: onnx.NodeProto, consts: dict) -> dict | None:
    """What a recurrent Loop steps over, carries and emits; None if it is not one."""
    body = next(a.g for a in loop.attribute if a.name == "body")
    carried = len(loop.input) - 2
    body_inputs = [i.name for i in body.input]
    made_inside = {o for n in body.node for o in n.output} | set(body_inputs)
    producer = {o: n for n in body.node for o in n.output}

    def through_identities(name: str) -> str:
        while name in producer and producer[name].op_type == "Identity":
            name = producer[name].input[0]
        return name

    stepped = [n.input[0] for n in body.node if n.op_type == "Gather"
               and n.input[0] not in made_inside and n.input[1] in body_inputs]
    scan_outputs = len(body.output) - 1 - carried
    if len(stepped) != 1 or scan_outputs != 1:
        return None
    sequence = through_identities(body.output[-1].name)
    states, h_index = [], None
    for j in range(carried):
        kind = body.input[2 + j].type.tensor_type
        if kind.elem_type == TensorProto.FLOAT and len(kind.shape.dim) == 2 and loop.input[2 + j] not in consts:
            states.append(j)
            if through_identities(body.output[1 + j].name) == sequence:
                h_index = j
    if h_index is None:
        return None
    states = [h_index] + [j for j in states if j != h_index]  # (h) or (h, c)
    weights = [consts[n] for n in list(loop.input[2:]) + sorted(names_read(body)) if n in consts]
    return {"x": stepped[0], "state_in": [loop.input[2 + j] for j in states],
            "state_out": [loop.output[j] for j in states], "y": loop.output[carried],
            "weights": weights}


def layer_of(anatomy: dict, layers: list):
    for layer in layers:
        kernel = np.asarray(layer.cell.kernel.numpy())
        if any(w.shape in (kernel.shape, kernel.T.shape) and
               (np.array_equal(w, kernel) or np.array_equal(w, kernel.T)) for w in anatomy["weights"]):
            return layer
    return None


def fuse_recurrent_loops(model: onnx.ModelProto, layers: list) -> int:
    """Replace every Loop that runs one of ``layers`` by its fused op; returns how many."""
    graph = model.graph
    consts = constants(graph)
    nodes, fused = [], 0
    for node in graph.node:
        anatomy = loop_anatomy(node, consts) if node.op_type == "Loop" else None
        layer = layer_of(anatomy, layers) if anatomy else None
        if layer is None:
            nodes.append(node)
            continue
        op, w, r, b, attrs = onnx_weights(layer)
        if len(anatomy["state_in"]) != (2 if op == "LSTM" else 1):
            nodes.append(node)
            continue
        p = f"fused_{layer.name}_"
        for name, value in (("W", w), ("R", r), ("B", b), ("axis0", np.array([0], np.int64)),
                            ("axis1", np.array([1], np.int64))):
            graph.initializer.append(numpy_helper.from_array(value, p + name))
        initial = []
        for k, state in enumerate(anatomy["state_in"]):  # [batch, H] -> [1, batch, H]
            initial.append(f"{p}initial{k}")
            nodes.append(helper.make_node("Unsqueeze", [state, p + "axis0"], [initial[-1]]))
        outputs = [p + "Y", p + "Y_h", p + "Y_c"][: 3 if op == "LSTM" else 2]
        nodes.append(helper.make_node(op, [anatomy["x"], p + "W", p + "R", p + "B", ""] + initial,
                                      outputs, name=p + op, **attrs))
        # keep the Loop's output names, so that nothing downstream needs rewiring
        nodes.append(helper.make_node("Squeeze", [outputs[0], p + "axis1"], [anatomy["y"]]))
        for out, name in zip(outputs[1:], anatomy["state_out"]):
            nodes.append(helper.make_node("Squeeze", [out, p + "axis0"], [name]))
        fused += 1
    del graph.node[:]
    graph.node.extend(nodes)
    remove_dead_nodes(graph)
    return fused


def add_lengths_input(model: onnx.ModelProto, ids: str = "ids", zeroed_output: str = "logits") -> int:
    """Add the optional input ``lengths`` int32 [batch] to every fused recurrent op.

    Returns the number of recurrent ops now driven by it.
    """
    graph = model.graph
    batch = graph.input[0].type.tensor_type.shape.dim[0]
    lengths_type = helper.make_tensor_type_proto(TensorProto.INT32, [batch.dim_param or batch.dim_value or "batch"])
    graph.input.append(helper.make_value_info("lengths", helper.make_optional_type_proto(lengths_type)))
    add = graph.initializer.append
    for name, value in (("len_one", np.array([1], np.int64)), ("len_zero_i", np.array(0, np.int32)),
                        ("len_one_i", np.array(1, np.int32)), ("len_last_axis", np.array([-1], np.int64)),
                        ("len_batch_axis", np.array([0], np.int64)), ("len_zero_f", np.array(0, np.float32))):
        add(numpy_helper.from_array(value, name))
    prelude = [  # sequence_lens = min(expand(lengths if given else NO_PADDING, [batch]), time)
        helper.make_node("OptionalHasElement", ["lengths"], ["len_given"]),
        helper.make_node("If", ["len_given"], ["len_chosen"], then_branch=_branch(
            "lengths_given", helper.make_node("OptionalGetElement", ["lengths"], ["len_from_input"])),
            else_branch=_branch("lengths_omitted", helper.make_node(
                "Constant", [], ["len_no_padding"], value=numpy_helper.from_array(np.array([NO_PADDING], np.int32))))),
        helper.make_node("Shape", [ids], ["len_ids_shape"]),
        helper.make_node("Gather", ["len_ids_shape", "len_batch_axis"], ["len_batch"], axis=0),
        helper.make_node("Expand", ["len_chosen", "len_batch"], ["len_expanded"]),
        helper.make_node("Gather", ["len_ids_shape", "len_one"], ["len_time64"], axis=0),
        helper.make_node("Cast", ["len_time64"], ["len_time"], to=TensorProto.INT32),
        helper.make_node("Min", ["len_expanded", "len_time"], ["sequence_lens"]),
    ]
    driven = 0
    for node in graph.node:
        if node.op_type in RECURRENT_OPS:
            while len(node.input) < 5:
                node.input.append("")
            node.input[4] = "sequence_lens"
            driven += 1
    producer = next(n for n in graph.node if zeroed_output in n.output)
    raw = zeroed_output + "_unmasked"
    producer.output[list(producer.output).index(zeroed_output)] = raw
    mask = [  # logits[b, t] = 0 where t >= length[b]
        helper.make_node("Squeeze", ["len_time", "len_batch_axis"], ["len_time_s"]),
        helper.make_node("Range", ["len_zero_i", "len_time_s", "len_one_i"], ["len_steps"]),
        helper.make_node("Unsqueeze", ["sequence_lens", "len_last_axis"], ["len_column"]),
        helper.make_node("Less", ["len_steps", "len_column"], ["len_valid"]),
        helper.make_node("Unsqueeze", ["len_valid", "len_last_axis"], ["len_valid3"]),
        helper.make_node("Where", ["len_valid3", raw, "len_zero_f"], [zeroed_output]),
    ]
    nodes = prelude + list(graph.node) + mask
    del graph.node[:]
    graph.node.extend(nodes)
    return driven


def _branch(name: str, node: onnx.NodeProto) -> onnx.GraphProto:
    """An If branch of one node whose output is the branch's int32 result."""
    return helper.make_graph([node], name, [], [helper.make_tensor_value_info(node.output[0], TensorProto.INT32, None)])
