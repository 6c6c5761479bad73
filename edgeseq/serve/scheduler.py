"""One scheduler per char model: every live request is a row, and each round advances every
lane by one chunk in one generation-graph call.

The calls run on one worker thread; between rounds, on the event loop, each row's text goes
to its sink, new requests are admitted and ended rows marked. Nothing the worker touches
changes while it runs. ``batching=False`` gives each row a lane of its own: the bench's
baseline, and how int8 is served. docs/serve.md says why.
"""
from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from edgeseq.log import logger
from edgeseq.runtime.char_model import CharModel
from edgeseq.serve.lanes import Lane, Row, first_calls
from edgeseq.serve.metrics import Metrics


class CharScheduler:
    """Admits rows up to ``max_streams`` live (``max_queue`` more wait), runs the rounds."""

    def __init__(self, name: str, model: CharModel, metrics: Metrics, *, batching: bool, chunk: int,
                 max_streams: int, max_queue: int):
        self.name, self.model, self.metrics = name, model, metrics
        self.batching = batching and model.precision != "int8"
        self.chunk, self.max_streams, self.max_queue = chunk, max_streams, max_queue
        self.waiting: deque[Row] = deque()
        self.lanes: list[Lane] = []
        self.live = 0  # rows in lanes, and joining in the round under way
        self.worker = ThreadPoolExecutor(1, thread_name_prefix=f"edgeseq-{name}")
        self.wake = asyncio.Event()
        self.stopped = False

    def submit(self, row: Row) -> bool:
        """Queue a row for the next round; False when every row and queue place is taken."""
        if self.stopped or self.live + len(self.waiting) >= self.max_streams + self.max_queue:
            return False
        self.waiting.append(row)
        self.metrics.set_gauge("edgeseq_queued_streams", len(self.waiting), model=self.name)
        self.wake.set()
        return True

    async def run(self) -> None:
        """Rounds until ``close``: admit, advance on the worker, deliver."""
        loop = asyncio.get_running_loop()
        while not self.stopped:
            if not self.live and not self.waiting:
                self.wake.clear()
                await self.wake.wait()
                continue
            joining = []
            while self.waiting and self.live + len(joining) < self.max_streams:
                joining.append(self.waiting.popleft())
            self.live += len(joining)
            try:
                if joining:  # their first characters go out before the round's call
                    self._deliver(await loop.run_in_executor(self.worker, self._admit, joining))
                delivered = await loop.run_in_executor(self.worker, self._round)
            except Exception as e:  # noqa: BLE001 - a failing model must not stop the server
                logger.error(f"edgeseq serve: {self.name}: generation failed: {type(e).__name__}: {e}")
                delivered = [(row, "") for lane in self.lanes for row in lane.rows] + [(r, "") for r in joining]
                for row, _ in delivered:
                    row.stop = row.stop or "error"
                self.lanes = []
            self.live = sum(len(lane.rows) for lane in self.lanes)
            self._deliver(delivered)
        self.worker.shutdown(wait=True)

    def _admit(self, joining: list[Row]) -> list[tuple[Row, str]]:
        """On the worker: read the new prompts (one call per key and prompt length; with
        batching off, one per row) and put each row in its lane."""
        out, groups = [], {}
        for row in joining:
            if row.stop is not None:  # ended while it waited (its client left)
                out.append((row, ""))
            elif self.batching and not row.rereads:
                groups.setdefault((row.key, len(row.prompt_ids())), []).append(row)
            else:
                groups[id(row)] = [row]
        for rows in groups.values():
            self.metrics.observe("edgeseq_batch_rows", len(rows), model=self.name)
            for row, token, ids, state, position in first_calls(rows):
                out.append((row, row.take(token)))
                if row.stop is None:
                    self._lane_for(row).add(row, ids, state, position)
        return out

    def _round(self) -> list[tuple[Row, str]]:
        """On the worker: drop the rows that ended, advance every lane by a chunk."""
        out = []
        for lane in self.lanes:
            lane.keep([row.stop is None for row in lane.rows])
        self.lanes = [lane for lane in self.lanes if lane.rows]
        for lane in self.lanes:
            tokens = lane.advance(self.chunk)
            self.metrics.observe("edgeseq_batch_rows", len(lane.rows), model=self.name)
            out += [(row, row.take(ids)) for row, ids in zip(lane.rows, tokens) if row.stop is None]
        return out

    def _lane_for(self, row: Row) -> Lane:
        if self.batching and not row.rereads:
            for lane in self.lanes:
                if lane.key == row.key:
                    return lane
        lane = Lane(self.model, row.key, self.batching)
        self.lanes.append(lane)
        return lane

    def _deliver(self, delivered: list[tuple[Row, str]]) -> None:
        """On the loop: each row's text to its sink; an ended row's end."""
        chars = 0
        for row, text in delivered:
            chars += len(text)
            row.sink.deliver(row, text)
        self.metrics.add("edgeseq_generated_characters_total", chars, model=self.name)
        self.metrics.set_gauge("edgeseq_live_streams", self.live, model=self.name)
        self.metrics.set_gauge("edgeseq_queued_streams", len(self.waiting), model=self.name)

    def end_all(self, reason: str) -> None:
        """End every live and waiting row now, with ``reason`` (the server is stopping)."""
        rows = list(self.waiting) + [row for lane in self.lanes for row in lane.rows]
        self.waiting.clear()
        for row in rows:
            if row.stop is None:
                row.stop = reason
            row.sink.deliver(row, "")

    def close(self) -> None:
        self.stopped = True
        self.wake.set()
