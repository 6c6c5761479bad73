"""The same run exported twice gives the same bytes: the canonical form of a converted graph.

tf2onnx orders and names nodes differently from one process to the next; the exporter
rewrites every converted graph into one canonical form (edgeseq.export.graph.canonical), so that
a file's sha256 (its sealed digest, the ``made_from`` of its int8 and generation siblings,
the shipped MANIFEST) depends on the run alone.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import REPO
from edgeseq.export.graph.canonical import canonicalize

F, BOOL, I64 = TensorProto.FLOAT, TensorProto.BOOL, TensorProto.INT64


@pytest.mark.slow
def test_one_run_exported_in_two_processes_gives_the_same_bytes(tiny_run, tiny_export, tmp_path):
    """The CLI's export in a fresh process against the session's own export of the same run
    (``tiny_export``, made in this process): every file the same bytes. (An int8 set is made
    from these bytes alone: test_int8 quantizes the shipped fp32 files again, in this process,
    and gets the shipped int8 files' bytes.)"""
    out = tmp_path / "tiny.onnx"
    done = subprocess.run([sys.executable, "-m", "edgeseq.cli", "export", str(tiny_run), "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    written = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in tmp_path.iterdir()}
    assert sorted(written) == ["tiny.fixed.onnx", "tiny.gen.onnx", "tiny.json", "tiny.onnx"]
    assert written == {name: hashlib.sha256(data).hexdigest() for name, data in tiny_export.items()}


def value(name: str, elem: int = F, shape=None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def graph_with_subgraphs() -> onnx.ModelProto:
    """x [2, 3], flag -> y, z: a MatMul and an Add by constants, two equal constants, two equal
    Relu nodes, an If whose branches read outer values (one an initializer), a Loop whose
    body reads an outer value, a node nothing needs and an initializer nothing reads."""
    rng = np.random.default_rng(0)
    constants = {"w": rng.standard_normal((3, 3)).astype(np.float32), "b": rng.standard_normal(3).astype(np.float32),
                 "axes_a": np.array([0], np.int64), "axes_b": np.array([0], np.int64), "trips": np.array(3, np.int64),
                 "k": np.array(2.0, np.float32), "unused": np.zeros(5, np.float32)}
    then_branch = helper.make_graph([helper.make_node("Mul", ["relu", "k"], ["then_out"])], "then", [],
                                    [value("then_out")])
    else_branch = helper.make_graph([helper.make_node("Neg", ["sum"], ["else_out"])], "else", [], [value("else_out")])
    body = helper.make_graph([helper.make_node("Add", ["carried", "sum"], ["next"]),
                              helper.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
                             [value("iteration", I64, []), value("cond_in", BOOL, []), value("carried")],
                             [value("cond_out", BOOL, []), value("next")])
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["prod"], name="matmul"),
        helper.make_node("Add", ["prod", "b"], ["sum"], name="add"),
        helper.make_node("Relu", ["sum"], ["relu"], name="relu"),
        helper.make_node("Relu", ["sum"], ["relu_again"], name="relu_again"),
        helper.make_node("Unsqueeze", ["relu", "axes_a"], ["ua"]),
        helper.make_node("Unsqueeze", ["sum", "axes_b"], ["ub"]),
        helper.make_node("Unsqueeze", ["relu_again", "axes_b"], ["uc"]),
        helper.make_node("Concat", ["ua", "ub", "uc"], ["z"], axis=0),
        helper.make_node("If", ["flag"], ["chosen"], then_branch=then_branch, else_branch=else_branch),
        helper.make_node("Loop", ["trips", "", "chosen"], ["y"], body=body),
        helper.make_node("Sigmoid", ["x"], ["nobody_reads_it"]),
    ]
    graph = helper.make_graph(nodes, "test", [value("x", F, [2, 3]), value("flag", BOOL, [])],
                              [value("y", F, [2, 3]), value("z", F, [3, 2, 3])],
                              [numpy_helper.from_array(v, k) for k, v in constants.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def shuffled_and_renamed(model: onnx.ModelProto, seed: int) -> onnx.ModelProto:
    """The same computation: nodes and initializers in another order (the main graph's and the
    Loop body's), every internal name and node name another, one of the equal constants
    read in place of the other (as tf2onnx does in some runs)."""
    rng = np.random.default_rng(seed)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    kept = {v.name for v in (*copy.graph.input, *copy.graph.output)}
    for node in copy.graph.node:
        node.input[:] = ["axes_a" if name == "axes_b" else name for name in node.input]

    def internal(graph, top):
        names = [t.name for t in graph.initializer] + [v.name for v in graph.input if not top]
        for node in graph.node:
            names += [out for out in node.output if out]
            names += [name for attr in node.attribute if attr.type == onnx.AttributeProto.GRAPH
                      for name in internal(attr.g, False)]
        return names

    old = [name for name in internal(copy.graph, True) if name not in kept]
    new = dict(zip(old, (f"t{n}" for n in rng.permutation(len(old)) + 100)))

    def rename(graph, top):
        for node in graph.node:
            node.input[:] = [new.get(name, name) for name in node.input]
            node.output[:] = [new.get(name, name) for name in node.output]
            node.name = f"node{rng.integers(10**6)}"
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    rename(attr.g, False)
        for v in [*graph.initializer] + ([] if top else [*graph.input, *graph.output]):
            v.name = new.get(v.name, v.name)
        for field in (graph.node, graph.initializer):
            items = [field[i] for i in rng.permutation(len(field))]
            copied = [type(item)() for item in items]
            for target, item in zip(copied, items):
                target.CopyFrom(item)
            del field[:]
            field.extend(copied)

    rename(copy.graph, True)
    return copy


def outputs(model: onnx.ModelProto, flag: bool) -> list[np.ndarray]:
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["y", "z"], {"x": x, "flag": np.array(flag)})


def canonical(model: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return canonicalize(copy)


def test_a_shuffled_renamed_graph_canonicalises_to_the_same_bytes_and_computes_the_same():
    model = graph_with_subgraphs()
    reference = canonical(model)
    data = reference.SerializeToString()
    for seed in (1, 2):
        variant = shuffled_and_renamed(model, seed)
        assert [n.op_type for n in variant.graph.node] != [n.op_type for n in model.graph.node]  # really shuffled
        assert canonical(variant).SerializeToString() == data, seed
    assert canonical(reference).SerializeToString() == data  # a fixed point
    onnx.checker.check_model(reference, full_check=True)
    for flag in (True, False):
        for got, want in zip(outputs(reference, flag), outputs(model, flag)):
            np.testing.assert_array_equal(got, want)


def test_the_canonical_order_and_names():
    """Depth-first from the outputs (y, then z), each node after what it reads in input order,
    then what its subgraphs read (else_branch before then_branch); the unread node and
    initializer gone, the equal constants one, the inputs' and outputs' names kept."""
    graph = canonical(graph_with_subgraphs()).graph
    assert [n.name for n in graph.node] == ["MatMul_0", "Add_1", "Relu_2", "If_3", "Loop_4", "Unsqueeze_5",
                                            "Unsqueeze_6", "Relu_7", "Unsqueeze_8", "Concat_9"]
    assert [(list(n.input), list(n.output)) for n in graph.node[:5]] == [
        (["x", "const_1"], ["MatMul_0:0"]), (["MatMul_0:0", "const_2"], ["Add_1:0"]), (["Add_1:0"], ["Relu_2:0"]),
        (["flag"], ["If_3:0"]), (["const_0", "", "If_3:0"], ["y"])]
    assert [t.name for t in graph.initializer] == ["const_0", "const_1", "const_2", "const_3", "const_4"]
    assert graph.node[5].input[1] == graph.node[6].input[1] == graph.node[8].input[1] == "const_4"
    branches = {a.name: a.g for a in graph.node[3].attribute}
    assert [(list(n.input), n.name, list(n.output)) for n in branches["then_branch"].node] == [
        (["Relu_2:0", "const_3"], "If_3/then_branch/Mul_0", ["If_3/then_branch/Mul_0:0"])]
    assert [o.name for o in branches["else_branch"].output] == ["If_3/else_branch/Neg_0:0"]
    body = graph.node[4].attribute[0].g
    assert [v.name for v in body.input] == ["Loop_4/body/input:0", "Loop_4/body/input:1", "Loop_4/body/input:2"]
    assert [(list(n.input), list(n.output)) for n in body.node] == [
        (["Loop_4/body/input:1"], ["Loop_4/body/Identity_0:0"]),
        (["Loop_4/body/input:2", "Add_1:0"], ["Loop_4/body/Add_1:0"])]
    assert [v.name for v in (*graph.input, *graph.output)] == ["x", "flag", "y", "z"]
