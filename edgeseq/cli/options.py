"""Help texts shared by several options, each explaining every choice of its list.

``explain`` checks that a text covers exactly the choices the option is checked against.
"""
from edgeseq.choices import (CELLS, CONTEXTS, DATE_FORMATS, FILL_METHODS, HEADS, INPUTS, PRECISIONS, STRATEGIES, TARGET_MODES,
                             explain, metavar)
from edgeseq.data.dates import DATE_EXAMPLES
from edgeseq.errors import InputError

#: --plot-last: a backtest plot draws this many of the last forecasts in detail
PLOT_LAST = 150


def check_plot_last(n: int) -> None:
    if n < 10:
        raise InputError(f"--plot-last must be at least 10 forecasts, got {n}")

CONTEXT_HELP = explain({"window": "every window starts from a zero state",
                        "stateful": "consecutive chunks with the state carried across batches, for long texts "
                                    "streamed without limit"}, CONTEXTS)
HEAD_HELP = explain({"dense": "a softmax layer over the RNN outputs", "none": "the RNN outputs are the logits"}, HEADS)
INPUT_HELP = explain({"onehot": "ids enter as one-hot vectors", "embedding": "ids enter as learned vectors"},
                     INPUTS)
STRATEGY_HELP = explain({"default": "one device (a visible GPU, else the CPU)",
                         "mirrored": "tf.distribute over all GPUs, or logical CPUs",
                         "multi-worker": "tf.distribute over several processes or machines (--workers, or TF_CONFIG)"},
                        STRATEGIES)
WORKERS_HELP = ("With --strategy multi-worker: every worker's HOST:PORT, comma-separated, the same list on each "
                "(instead of TF_CONFIG).")
CLUSTER_TIMEOUT_HELP = ("With --strategy multi-worker: seconds to wait for the other workers to listen; then give up "
                        "with one line naming the one missing.")
WORKER_INDEX_HELP = "With --workers: this process's place in the list; 0 is the chief, which writes the run."
RESUME_HELP = ("Continue the unfinished training checkpointed beside --out (.NAME.training) from its last "
               "complete epoch; give the same options.")
TARGET_MODE_HELP = explain({"change": "each window relative to its own last value (log ratios for a column that "
                                      "grows multiplicatively, else differences), scaled by its own typical change; "
                                      "predicts the next changes with a prediction interval, and falls back to "
                                      "persistence when training does not clearly beat it",
                            "delta": "min-max scaled rows in, the change from the last value out (untrained = "
                                     "persistence)",
                            "level": "min-max scaled rows in, the value itself out"}, TARGET_MODES)
FILL_HELP = explain({"ffill": "fill missing cells (empty, '.', NA, null, ...) from the previous row and say how "
                                "many"}, FILL_METHODS)
DATE_FORMAT_HELP = (f"How the date column writes its dates: {explain(DATE_EXAMPLES, DATE_FORMATS)} "
                    "(default: found from the whole column; a day above 12 settles month/day order)")
DROP_HELP = "Leave out every row with a missing value (empty, '.', NA, null, ...) and say how many"
SEASON_HELP = "Add the seasonal naive forecast (the value one season of M rows earlier) beside the model"
PRECISION_HELP = explain({"fp32": "the exported model NAME.onnx",
                          "int8": "NAME.int8.onnx beside it (made by 'edgeseq export NAME.onnx --quantize int8'): a "
                                  "smaller file, faster only for LSTM models and mainly in batches (a GRU or RNN runs "
                                  "in fp32 from weights stored int8); its measured cost in 'edgeseq info'"},
                         PRECISIONS) + " (default: fp32, or int8 for a --model NAME.int8.onnx)"
PRECISION_METAVAR = metavar(PRECISIONS)

#: the headings a command's --help groups its options under, in order (option -> heading)
PANELS = {
    "Data": ("sample", "text", "csv", "features", "target", "date", "date_format", "fill", "drop_missing",
             "by_line", "window", "stride", "streams", "val_fraction", "train_fraction", "validation", "season",
             "horizon", "prompt", "backtest", "from_", "run", "path", "file"),
    "Model": ("model", "cell", "layers", "hidden", "head", "input", "context", "target_mode", "interval",
              "precision", "quantize"),
    "Sampling": ("length", "temperature", "top_k"),
    "Training": ("epochs", "lr", "batch_size", "clip", "patience", "seed", "strategy", "workers", "worker_index",
                 "resume"),
    "Serving": ("host", "port", "chunk", "batching", "grace"),
    "Limits": ("max_streams", "max_queue", "max_body", "max_prompt", "max_length", "max_rows", "stream_buffer",
               "timeout"),
    "Output": ("out", "force", "allow_failed_checks", "as_json", "plot", "plot_last", "author", "license_", "threads"),
}
#: option -> the choices it is checked against, shown in its help as [a|b|c]
CHOICE_METAVARS = {"cell": metavar(CELLS), "context": metavar(CONTEXTS), "head": metavar(HEADS),
                   "input": metavar(INPUTS), "strategy": metavar(STRATEGIES), "target_mode": metavar(TARGET_MODES),
                   "fill": metavar(FILL_METHODS), "date_format": metavar(DATE_FORMATS),
                   "precision": metavar(PRECISIONS), "quantize": metavar(PRECISIONS[1:])}

