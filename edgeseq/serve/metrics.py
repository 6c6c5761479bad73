"""The server's counters, gauges and histograms, written in the Prometheus text format.

Only the metric names in ``HELP`` exist (a typo fails at once); labels are given as keyword
arguments. Updates come from the event loop and from the schedulers' worker threads, so
each holds a lock for the moment it takes.
"""
from __future__ import annotations

import threading

#: name -> (type, help)
HELP = {
    "edgeseq_requests_total": ("counter", "Requests answered, by endpoint and status code."),
    "edgeseq_generated_characters_total": ("counter", "Characters generated, by model."),
    "edgeseq_dropped_streams_total": ("counter", "Streams the server ended early, by model and reason."),
    "edgeseq_live_streams": ("gauge", "Rows being generated, by model."),
    "edgeseq_queued_streams": ("gauge", "Requests waiting for a row, by model."),
    "edgeseq_open_connections": ("gauge", "Open client connections."),
    "edgeseq_batch_rows": ("histogram", "Rows per generation-graph call, by model."),
    "edgeseq_first_char_seconds": ("histogram", "Time from a request's arrival to its first character."),
    "edgeseq_request_seconds": ("histogram", "Time from a request's arrival to its answer's end, by endpoint."),
}
BUCKETS = {
    "edgeseq_batch_rows": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    "edgeseq_first_char_seconds": (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
    "edgeseq_request_seconds": (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60),
}


def _labels(labels: dict) -> tuple:
    return tuple(sorted(labels.items()))


class Metrics:
    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[str, dict[tuple, float]] = {name: {} for name in HELP}
        self._histograms: dict[str, dict[tuple, list]] = {name: {} for name, (kind, _) in HELP.items()
                                                          if kind == "histogram"}

    def add(self, name: str, amount: float = 1, **labels) -> None:
        key = _labels(labels)
        with self._lock:
            self._values[name][key] = self._values[name].get(key, 0) + amount

    def set_gauge(self, name: str, value: float, **labels) -> None:
        with self._lock:
            self._values[name][_labels(labels)] = value

    def observe(self, name: str, value: float, **labels) -> None:
        """One observation of a histogram: [count per bucket..., count, sum]."""
        buckets = BUCKETS[name]
        key = _labels(labels)
        with self._lock:
            counts = self._histograms[name].setdefault(key, [0] * (len(buckets) + 2))
            for i, bound in enumerate(buckets):
                if value <= bound:
                    counts[i] += 1
            counts[-2] += 1
            counts[-1] += value

    def value(self, name: str, **labels) -> float:
        with self._lock:
            return self._values[name].get(_labels(labels), 0)

    def text(self) -> str:
        """Every metric in the Prometheus text exposition format (version 0.0.4)."""
        lines = []
        with self._lock:
            for name, (kind, help_text) in HELP.items():
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
                if kind != "histogram":
                    for key, value in sorted(self._values[name].items()):
                        lines.append(f"{name}{_format(key)} {_number(value)}")
                    continue
                for key, counts in sorted(self._histograms[name].items()):
                    for bound, count in zip(BUCKETS[name], counts):
                        lines.append(f"{name}_bucket{_format(key + (('le', _number(bound)),))} {count}")
                    lines.append(f"{name}_bucket{_format(key + (('le', '+Inf'),))} {counts[-2]}")
                    lines.append(f"{name}_count{_format(key)} {counts[-2]}")
                    lines.append(f"{name}_sum{_format(key)} {_number(counts[-1])}")
        return "\n".join(lines) + "\n"


def _format(key: tuple) -> str:
    if not key:
        return ""
    escaped = (str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, v in key)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(key, escaped)) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
