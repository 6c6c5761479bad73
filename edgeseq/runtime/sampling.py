"""Choosing the next character from logits: greedy, temperature, top-k.

Each draw uses exactly one uniform number from a seeded numpy generator, and the choice
is an inverse-CDF lookup, so the same seed gives the same text on any path that consumes
the same uniforms in the same order (the per-step loop here, or a graph that is handed
the uniforms as an input).
"""
from __future__ import annotations

import numpy as np

from edgeseq.choices import MIN_TEMPERATURE, SEED_MAX, check_positive_number, check_range
from edgeseq.errors import ParameterError


class Sampler:
    """The settings of one request and the random stream it draws from.

    ``seed``: an int for a fresh stream, None for an unpredictable one, a numpy Generator,
    or another Sampler to draw from its stream (a CharGenerator's default). The stream is
    made on the first draw: greedy requests never draw, and numpy loads its random module
    only when a generator is first made, a cost ``edgeseq run`` need not pay at start.
    """

    def __init__(self, temperature: float = 0.0, top_k: int = 0,
                 seed: int | np.random.Generator | Sampler | None = None):
        check_positive_number("temperature", temperature, zero="greedy")
        if 0 < temperature < MIN_TEMPERATURE:
            raise ParameterError("temperature", f" must be 0 (greedy) or at least {MIN_TEMPERATURE:g} (below it "
                                 f"float32 sampling is greedy or overflows), got {temperature:g}")
        if top_k < 0:
            raise ParameterError("top_k", f" must be 0 (off) or positive, got {top_k}")
        if isinstance(seed, int):  # a Generator or a Sampler brings its own stream
            check_range("seed", seed, 0, SEED_MAX)
        self.temperature = float(temperature)
        self.top_k = int(top_k)
        self._seed, self._rng = seed, None

    @property
    def rng(self) -> np.random.Generator:
        """The random stream, made (or taken from the Sampler given as seed) on first use."""
        if self._rng is None:
            seed = self._seed
            self._rng = seed.rng if isinstance(seed, Sampler) else np.random.default_rng(seed)
        return self._rng

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def uniforms(self, n: int) -> np.ndarray:
        """The next n uniforms in [0, 1), as float32 (what a sampling graph is given)."""
        return self.rng.random(n).astype(np.float32)

    def choose_rows(self, logits: np.ndarray) -> np.ndarray:
        """One id per row of logits [batch, vocab], int64 [batch]; when sampling, the batch's
        uniforms are drawn together, row 0 first (the order a generation graph is given)."""
        if self.greedy:
            return np.argmax(logits, axis=-1)
        u = self.uniforms(len(logits))
        return np.array([pick(row, self.temperature, self.top_k, ui) for row, ui in zip(logits, u)], np.int64)


def pick(logits: np.ndarray, temperature: float, top_k: int, u: float) -> int:
    """Inverse-CDF draw: scale by 1/T, keep the k largest, softmax, first bin past u."""
    z = logits.astype(np.float32) / np.float32(temperature)
    if 0 < top_k < z.shape[-1]:
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= kth, z, np.float32(-np.inf))
    weights = np.exp(z - z.max())
    cumulative = np.cumsum(weights)
    index = int(np.searchsorted(cumulative, np.float32(u) * cumulative[-1], side="right"))
    return min(index, z.shape[-1] - 1)
