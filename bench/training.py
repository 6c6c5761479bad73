"""Training throughput and memory: edgeseq's loop beside plain Keras ``fit``, one run.

    PYTHONPATH=. python -m bench.training                  # full: 1 MB and 10 MB texts, 100k-row CSV, 2 rounds
    PYTHONPATH=. python -m bench.training --smoke          # seconds: tiny sizes, nothing written

Every configuration trains the same model on the same batches twice: with edgeseq's custom
loop (``edgeseq.training.loop`` / ``epochs.fit``: batches cut from the id array) and with
Keras ``Model.fit`` on the windows materialised as arrays (for stateful streams, Keras'
``stateful=True`` layers on the chunk arrays, the way edgeseq trained before). Each peer of
each configuration runs in its own process, started through an intermediate one that reports
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: the peak RSS of that training alone,
data preparation included. Throughput is characters (text) or windows (CSV) trained per
second over one epoch, step tracing included for both. A last row measures preparing a
50 MB text (read, vocabulary, ids, windows; no TensorFlow).

The smoke run does everything in-process with tiny sizes and reports no memory.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: name -> (kind, size in characters or rows, options). Full sizes; --smoke divides them.
CONFIGS = {
    "1 MB text, stateful (64 streams x 50)": ("stateful", 1_000_000, {}),
    "1 MB text, windows of 50, stride 25": ("window", 1_000_000, {"window": 50, "stride": 25}),
    "10 MB text, stateful (64 streams x 50)": ("stateful", 10_000_000, {}),
    "10 MB text, windows of 50, stride 25": ("window", 10_000_000, {"window": 50, "stride": 25}),
    "100k-row CSV, window 7, batch 32": ("series", 100_000, {}),
}
PREPARE = ("50 MB text: data preparation only (no TensorFlow)", 50_000_000)
STREAMS, CHUNK, BATCH, LR = 64, 50, 64, 0.01


def write_text(path: Path, chars: int, seed: int = 0) -> Path:
    """Seeded pseudo-words (64 distinct characters, lines of 3-9 words)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    lexicon = ["".join(rng.choice(letters, rng.integers(2, 8))) for _ in range(2000)]
    picks = rng.integers(0, len(lexicon), min(chars, 1_000_000) // 5 + 10)  # longer texts repeat it
    ends = np.where(rng.random(len(picks)) < 0.15, "\n", " ")
    text = "".join(f"{lexicon[i]}{end}" for i, end in zip(picks, ends))
    path.write_text((text * (chars // len(text) + 1))[:chars] + ".\n")
    return path


def data_for(kind: str, path: Path, options: dict):
    from edgeseq.training.specs import CharDataSpec

    if kind == "stateful":
        return CharDataSpec(text=path, context="stateful", window=CHUNK, streams=STREAMS, val_fraction=0).load()
    return CharDataSpec(text=path, window=options["window"], stride=options["stride"], val_fraction=0).load()


def edgeseq_peer(kind: str, path: Path, options: dict) -> tuple[int, float]:
    """(units trained, seconds) of one epoch with edgeseq's loop."""
    from edgeseq.training.epochs import Plan, Progress, fit
    from edgeseq.training.loop import Steps
    from edgeseq.training.tf_setup import distribution_strategy, seed_everything

    strategy = distribution_strategy("default")
    seed_everything(0)
    if kind == "series":
        from edgeseq.data.batches import ArraySource
        from edgeseq.training.series_network import SeriesModelConfig, build_model
        from edgeseq.training.series_training import series_task

        x, y, features, target = series_windows(path)
        model = build_model(SeriesModelConfig(features, target))
        source, task, batch, units = ArraySource(x, y), series_task(model), 32, len(x)
    else:
        from edgeseq.training.char_network import CharModelConfig, build_training_model
        from edgeseq.training.char_training import char_task

        data = data_for(kind, path, options)
        config = CharModelConfig(len(data.vocab))
        stateful = kind == "stateful"
        task = char_task(build_training_model(config), config, stateful)
        source, batch = data.train, None if stateful else BATCH
        units = source.count * (CHUNK if stateful else options["window"])
    steps = Steps(task, strategy, LR, 5.0)
    started = time.perf_counter()
    fit(steps, source, None, Plan(1, batch), Progress())
    return units, time.perf_counter() - started


def keras_peer(kind: str, path: Path, options: dict) -> tuple[int, float]:
    """(units trained, seconds) of one epoch of Keras ``fit`` on materialised arrays."""
    import keras

    from edgeseq.training.tf_setup import seed_everything

    seed_everything(0)
    optimizer = keras.optimizers.Adam(LR, global_clipnorm=5.0)
    if kind == "series":
        from edgeseq.training.series_network import SeriesModelConfig, build_model

        x, y, features, target = series_windows(path)
        model = build_model(SeriesModelConfig(features, target))
        model.compile(optimizer=optimizer, loss="mse")
        started = time.perf_counter()
        model.fit(x, y, batch_size=32, epochs=1, shuffle=True, verbose=0)
        return len(x), time.perf_counter() - started
    data = data_for(kind, path, options)
    ids = data.train.ids
    if kind == "stateful":  # the chunk arrays, row k*streams+i = chunk k of stream i
        per = (len(ids) - 1) // STREAMS // CHUNK * CHUNK
        starts = np.arange(STREAMS) * ((len(ids) - 1) // STREAMS)
        cut = lambda shift: np.stack([ids[s + shift:s + shift + per] for s in starts]).reshape(  # noqa: E731
            STREAMS, -1, CHUNK).transpose(1, 0, 2).reshape(-1, CHUNK).astype(np.int32)
        x, y, batch, window = cut(0), cut(1), STREAMS, CHUNK
    else:
        window, stride = options["window"], options["stride"]
        positions = (np.arange(data.train.count) * stride)[:, None] + np.arange(window)
        x, y, batch = ids[positions].astype(np.int32), ids[positions + 1].astype(np.int32), BATCH
    model = keras_char_model(len(data.vocab), STREAMS if kind == "stateful" else None)
    model.compile(optimizer=optimizer, weighted_metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    started = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=kind != "stateful", verbose=0)
    return x.size, time.perf_counter() - started


def keras_char_model(vocab: int, stateful_batch: int | None):
    """edgeseq's char model (one-hot, 2 x LSTM(64), dense head) with Keras' stateful layers when asked."""
    import keras

    from edgeseq.training.layers import OneHot

    ids = keras.Input(shape=(None,), dtype="int32", batch_size=stateful_batch)
    x = OneHot(vocab)(ids)
    for _ in range(2):
        x = keras.layers.LSTM(64, return_sequences=True, stateful=stateful_batch is not None)(x)
    return keras.Model(ids, keras.layers.Dense(vocab)(x))


def series_windows(path: Path):
    from edgeseq.data.series import load_csv
    from edgeseq.data.windows import train_test_windows

    series = load_csv(path)
    _, train, _ = train_test_windows(series.values, series.target_index, 7, 1, "level", 0.7, series.features)
    return train.x, train.y, len(series.features), series.target_index


def prepare_peer(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    data = data_for("window", path, {"window": 50, "stride": 1})
    return data.train.count + 50, time.perf_counter() - started


def worker(name: str, peer: str, path: Path) -> dict:
    if name == PREPARE[0]:
        units, seconds = prepare_peer(path)
    else:
        kind, _, options = CONFIGS[name]
        units, seconds = (edgeseq_peer if peer == "edgeseq" else keras_peer)(kind, path, options)
    return {"units": units, "seconds": seconds}


MEASURED = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-3000:], "peak": peak}))
"""


def measured(name: str, peer: str, path: Path) -> dict:
    """One peer of one configuration in a fresh process: its figures and its peak RSS."""
    argv = [sys.executable, "-m", "bench.training", "--worker", name, peer, str(path)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    report = json.loads(subprocess.run([sys.executable, "-c", MEASURED, *argv], capture_output=True, text=True,
                                       env=env, check=True).stdout)
    if report["rc"] != 0:
        raise RuntimeError(f"{name} / {peer} failed: {report['stderr']}")
    return {**json.loads(report["stdout"].strip().splitlines()[-1]), "peak": report["peak"]}


def run(smoke: bool, work: Path, rounds: int) -> list[str]:
    """The table: per configuration, the best round of each peer (rounds alternate the peers,
    so a busy moment slows both) and the largest peak RSS any of its rounds had."""
    scale = 1000 if smoke else 1
    lines = ["| configuration | peer | units/s | × Keras fit | peak RSS |", "|---|---|---:|---:|---:|"]
    for name, (kind, size, _) in CONFIGS.items():
        path = data_file(kind, max(size // scale, 4000), work)
        rounds_of: dict[str, list[dict]] = {"edgeseq": [], "keras": []}
        for _ in range(rounds):
            for peer, done in rounds_of.items():
                done.append(worker(name, peer, path) if smoke else measured(name, peer, path))
        results = {peer: {**min(done, key=lambda r: r["seconds"]),
                          **({"peak": max(r["peak"] for r in done)} if not smoke else {})}
                   for peer, done in rounds_of.items()}
        for peer, r in results.items():
            rate = r["units"] / r["seconds"]
            ratio = rate / (results["keras"]["units"] / results["keras"]["seconds"])
            unit = "windows" if kind == "series" else "chars"
            lines.append(f"| {name} | {'edgeseq loop' if peer == 'edgeseq' else 'Keras fit'} | "
                         f"{rate:,.0f} {unit}/s | {ratio:.2f} | {memory(r)} |")
    path = data_file("window", PREPARE[1] // scale, work)
    r = worker(PREPARE[0], "edgeseq", path) if smoke else measured(PREPARE[0], "edgeseq", path)
    lines.append(f"| {PREPARE[0]} | edgeseq | {r['units'] / r['seconds']:,.0f} chars/s | | {memory(r)} |")
    return lines


def memory(result: dict) -> str:
    return f"{result['peak'] / 2**20:,.0f} MiB" if "peak" in result else "n/a (smoke)"


def data_file(kind: str, size: int, work: Path) -> Path:
    if kind == "series":
        from edgeseq.data.synthetic import write_synthetic_csv

        path = work / f"prices-{size}.csv"
        return path if path.exists() else write_synthetic_csv(path, days=size, seed=7)
    path = work / f"text-{size}.txt"
    return path if path.exists() else write_text(path, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.training", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, in-process, no memory figures")
    parser.add_argument("--out", type=Path, help="write the table here (default: bench/TRAINING.md; smoke: print)")
    parser.add_argument("--rounds", type=int, help="rounds of every peer of every configuration (default 2; smoke 1)")
    parser.add_argument("--worker", nargs=3, metavar=("NAME", "PEER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        name, peer, path = args.worker
        print(json.dumps(worker(name, peer, Path(path))))
        return 0
    started = time.perf_counter()
    load = "load average {:.2f} {:.2f} {:.2f} at start".format(*os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        lines = run(args.smoke, Path(tmp), args.rounds or (1 if args.smoke else 2))
    title = "# edgeseq training benchmark" + (" (SMOKE RUN: tiny sizes, not figures)" if args.smoke else "")
    text = "\n".join([title, "", f"- {load}; {os.cpu_count()} CPUs; {time.perf_counter() - started:.0f} s in all",
                      "- model: one-hot, 2 x LSTM(64), dense head (char); LSTM(32) over 7 x 5 (CSV); Adam, "
                      "gradients clipped at 5; one epoch a round, TensorFlow's default threads; the best round "
                      "of each peer, the largest peak RSS of its rounds", "", *lines, ""])
    print(text)
    out = args.out or (None if args.smoke else HERE / "TRAINING.md")
    if out is not None:
        from edgeseq.atomic import write_text as write_atomic

        write_atomic(out, text, force=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
