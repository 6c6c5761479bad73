"""Choosing the next character from logits: greedy, temperature, top-k.

One uniform per draw from a seeded SplitMix64 stream and an inverse-CDF choice, so a seed
gives the same text on every path, in Python and in js/edgeseq.js.
"""
from __future__ import annotations

import os

import numpy as np

from edgeseq.choices import MIN_TEMPERATURE, SEED_MAX, check_positive_number, check_range
from edgeseq.errors import ParameterError


class Sampler:
    """The settings of one request and the random stream it draws from.

    ``seed``: an int for a fresh SplitMix64 stream, None for an unpredictable one, a stream
    of one's own (anything with ``random(n)``, such as a numpy Generator), or another Sampler
    to draw from its stream (a CharGenerator's default). The stream is made on first use.
    """

    def __init__(self, temperature: float = 0.0, top_k: int = 0,
                 seed: int | SplitMix64 | np.random.Generator | Sampler | None = None):
        check_positive_number("temperature", temperature, zero="greedy")
        if 0 < temperature < MIN_TEMPERATURE:
            raise ParameterError("temperature", f" must be 0 (greedy) or at least {MIN_TEMPERATURE:g} (below it "
                                 f"float32 sampling is greedy or overflows), got {temperature:g}")
        if top_k < 0:
            raise ParameterError("top_k", f" must be 0 (off) or positive, got {top_k}")
        if isinstance(seed, int):  # a stream or a Sampler brings its own
            check_range("seed", seed, 0, SEED_MAX)
        self.temperature = float(temperature)
        self.top_k = int(top_k)
        self._seed, self._rng = seed, None

    @property
    def rng(self) -> SplitMix64 | np.random.Generator:
        """The random stream, made (or taken from the Sampler given as seed) on first use."""
        if self._rng is None:
            seed = self._seed
            if isinstance(seed, Sampler):
                self._rng = seed.rng
            elif seed is None or isinstance(seed, int):
                self._rng = SplitMix64(int.from_bytes(os.urandom(8), "little") if seed is None else seed)
            else:
                self._rng = seed
        return self._rng

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def uniforms(self, n: int) -> np.ndarray:
        """The next n uniforms in [0, 1), as float32 (what a sampling graph is given)."""
        return np.asarray(self.rng.random(n), np.float32)

    def choose_rows(self, logits: np.ndarray) -> np.ndarray:
        """One id per row of logits [batch, vocab], int64 [batch]; when sampling, the batch's
        uniforms are drawn together, row 0 first (the order a generation graph is given)."""
        if self.greedy:
            return np.argmax(logits, axis=-1)
        u = self.uniforms(len(logits))
        return np.array([pick(row, self.temperature, self.top_k, ui) for row, ui in zip(logits, u)], np.int64)


class SplitMix64:
    """Steele, Lea and Flood's SplitMix64: a 64-bit state advanced by a fixed odd constant, each
    output a mix of the state. Each uniform is the output's top 24 bits over 2**24: exact in
    float32 (and in JavaScript's numbers), in [0, 1). js/edgeseq.js has the same few lines."""

    GAMMA, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
    MASK = (1 << 64) - 1

    def __init__(self, seed: int):
        self.state = seed & self.MASK

    def next_u64(self, n: int) -> np.ndarray:
        """The next n outputs, uint64 [n]: the states after 1..n steps, each mixed (numpy's
        uint64 arithmetic wraps modulo 2**64, as the algorithm needs)."""
        steps = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(self.state) + steps * np.uint64(self.GAMMA)
        self.state = (self.state + n * self.GAMMA) & self.MASK
        z = (z ^ (z >> np.uint64(30))) * np.uint64(self.MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(self.MIX2)
        return z ^ (z >> np.uint64(31))

    def random(self, n: int) -> np.ndarray:
        """The next n uniforms in [0, 1), float32 [n]."""
        return (self.next_u64(n) >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)


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
