"""The local model server (``edgeseq serve``): HTTP on asyncio, one batching scheduler per char model.

It sits on the runtime as the CLI does: it may import runtime, contract, data, evaluation,
errors, log, display and choices, and the standard library; never training or export."""
