"""Checking a generation graph against the runtime's per-step path, and describing it.

The graph is written only when it chooses the very characters the per-step path does; its
metadata names the step file it was made from.
"""
from __future__ import annotations

import numpy as np
import onnx

from edgeseq.log import logger
from edgeseq.export.generation.build import GenerationUnsupported, build_generation, rereads_window
from edgeseq.export.verify import Checklist, session
from edgeseq.runtime.char_model import GenerationGraph
from edgeseq.runtime.decoding import graph_chunks, per_step_chunks
from edgeseq.runtime.sampling import Sampler


def verify_generation(checklist: Checklist, step_bytes: bytes, gen_model: onnx.ModelProto, window: int,
                      state_shape: tuple, length: int = 40, seed: int = 0, rereads: bool = False,
                      label: str = "generation graph") -> None:
    """The generation graph against the per-step path of the runtime, token for token.

    Both contexts; greedy, temperature and top-k sampling; batch 1 and 3; prompts shorter
    than, as long as and longer than the window; ``length`` characters in chunks of 1, 5,
    17, ... (so every chunk size, the unrolled loop and its remainder, and chunk-to-chunk
    continuation are exercised). One checklist line per context and sampling. ``rereads``:
    the graph re-reads the window (an int8 graph), and is run as the runtime runs one.
    """
    step = session(step_bytes)
    vocab = step.get_outputs()[0].shape[-1]
    graph = GenerationGraph(session(gen_model.SerializeToString()), None, None, vocab, rereads_window=rereads)
    rng = np.random.default_rng(seed)
    what = label
    for context in ("stateful", "window"):
        for label, temperature, top_k in (("greedy", 0.0, 0), ("sampled T=0.9", 0.9, 0),
                                          ("sampled T=1.3 top-3", 1.3, 3)):
            same, cases = True, 0
            for batch in (1, 3):
                for time in (1, max(1, window - 3), window + 4):
                    ids = rng.integers(0, vocab, (batch, time), dtype=np.int32)
                    case_seed = int(rng.integers(1 << 30))
                    runs = []
                    for make in (lambda s: graph_chunks(graph, ids, length, context, window, state_shape, s),
                                 lambda s: per_step_chunks(step, ids, length, context, window, state_shape, s)):
                        chunks = [tokens for tokens, _ in make(Sampler(temperature, top_k, case_seed))]
                        runs.append(np.concatenate(chunks, axis=1))
                    same &= runs[0].shape == runs[1].shape and bool((runs[0] == runs[1]).all())
                    cases += 1
            checklist.require(f"{what} = per-step path: {context}, {label} "
                              f"({cases} prompts x {length} chars)", same)


def build_and_verify(checklist: Checklist, step_model: onnx.ModelProto, window: int,
                     state_shape: tuple, what: str = "generation graph",
                     build=build_generation) -> onnx.ModelProto | None:
    """The exporter's entry point: build the generation graph of ``step_model`` and check it.

    The generation graph is an optional speed-up: a step graph the builder does not
    recognise, or a generation graph that disagrees with the per-step path, gets a note and
    no graph (the model then runs per step, correctly); it never blocks the step graphs.
    ``what`` names it in the checklist ('int8 generation graph').
    """
    logger.info(f"building the {what} ...")
    try:
        gen = build(step_model)
    except GenerationUnsupported as e:
        checklist.notes.append(f"no {what} ({e}); the runtime will run this model per step")
        return None
    own = Checklist()
    verify_generation(own, step_model.SerializeToString(), gen, window, state_shape,
                      rereads=rereads_window(step_model), label=what)
    if own.failures:
        failed = "; ".join(c.label for c in own.failures)
        checklist.notes.append(f"no {what}: it disagreed with the per-step path ({failed}); "
                               "the runtime will run this model per step")
        return None
    checklist.checks.extend(own.checks)
    return gen
