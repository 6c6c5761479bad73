"""How edgeseq scores a model, shared by training, which reports, and the runtime, which replays.

numpy only; may import data and contract.
"""
