"""The commands on model files: ``export`` (a run folder to ONNX, verified against
TensorFlow), ``verify`` (a file, a set or a folder with its MANIFEST.json) and ``info``."""
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseq.choices import PRECISIONS, check_choice, either, metavar
from edgeseq.cli.apps import Command, app, reports_errors
from edgeseq.contract.quantization import MAX_ACCURACY_DROP, MAX_RMSE_RATIO
from edgeseq.display import json_text, printable
from edgeseq.errors import EdgeseqError


@app.command("export", cls=Command)
@reports_errors
def export(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A run folder written by 'edgeseq train'; or, with --quantize, a model file NAME.onnx it exported: then only the int8 files are made beside it, from the exported files as they are (no TensorFlow; the fp32 files stay untouched).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="NAME.onnx to write, with NAME.fixed.onnx (and for char models the generation graph NAME.gen.onnx) beside it; default RUN/model.onnx.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
    allow_failed_checks: Annotated[bool, typer.Option("--allow-failed-checks", help="Write the model even when a check fails (parity against TensorFlow, int8's cost); each failure is still printed.")] = False,
    author: Annotated[Optional[str], typer.Option(metavar="NAME", help="Who made the model: stored in every file as the metadata key 'author' (Netron shows it).")] = None,
    license_: Annotated[Optional[str], typer.Option("--license", metavar="SPDX", help="The model's license as an SPDX identifier or expression (e.g. MIT, Apache-2.0): stored as the metadata key 'license'.")] = None,
    web: Annotated[Optional[Path], typer.Option(metavar="DIR", help="For RUN an exported char model NAME.onnx: write a static folder that generates text in the browser (index.html, the JavaScript runner, the model files and NAME.json, onnxruntime-web's files); serve it with python -m http.server. Built from an edgeseq checkout whose js/ has its npm packages (npm ci).")] = None,
    ort: Annotated[bool, typer.Option("--ort", help="For RUN an exported model NAME.onnx: also write NAME.ort (and for char models NAME.gen.ort) in onnxruntime's compact format, with NAME.required_operators.config for a reduced onnxruntime build; edgeseq run reads NAME.ort.")] = False,
    quantize: Annotated[Optional[str], typer.Option(metavar=metavar(PRECISIONS[1:]), help=f"{either(PRECISIONS[1:])}: also write an int8 model beside it (NAME.int8.onnx, and for char models NAME.int8.gen.onnx; for RUN an exported NAME.onnx, only these), measured against fp32 on the training data, which must be where training read it; refused (unless --allow-failed-checks) when it costs more than {MAX_ACCURACY_DROP:g} points of next-character accuracy, changes the greedy text of the training text, or raises a forecaster's test RMSE by over {100 * (MAX_RMSE_RATIO - 1):.0f}%.")] = None,
):
    """Convert a run to ONNX (dynamic and fixed-window graphs), verified against TensorFlow;
    or, from an exported model NAME.onnx, make its int8 files (--quantize int8), a web folder
    (--web DIR) or its ORT-format files (--ort)."""
    if quantize is not None:
        check_choice("--quantize", quantize, PRECISIONS[1:])
    if run.suffix == ".onnx" and not run.is_dir():  # an exported model: files made from it as it is
        check_exported_model_options(run, quantize, web, ort, out, author, license_)
        if web is not None:
            from edgeseq.export.targets.web_folder import js_folder

            js_folder()  # before any other work: the folder cannot be built without it
        if ort:
            import importlib.util

            if importlib.util.find_spec("onnx") is None:
                raise EdgeseqError("--ort converts with onnxruntime's converter, which needs the onnx package: "
                                   "pip install '.[train]' (or pip install onnx)")
        if quantize is not None:
            from edgeseq.export.int8.int8_files import quantize_exported

            quantize_exported(run, force=force, allow_failed=allow_failed_checks)
        if ort:
            from edgeseq.export.targets.ort_format import write_ort

            write_ort(run, force=force)
        if web is not None:
            from edgeseq.export.targets.web_folder import write_web_folder

            write_web_folder(run, web, force=force)
        return
    if web is not None or ort:
        raise EdgeseqError("--web and --ort take an exported model NAME.onnx, not a run folder: export the run "
                           "first, then pass its NAME.onnx")
    from edgeseq.export.exporter import export_run
    from edgeseq.export.graph.interop import Provenance

    provenance = Provenance(author=author, license=license_)  # checked before TensorFlow loads
    export_run(run, out or run / "model.onnx", force=force, provenance=provenance, quantize=quantize,
               allow_failed=allow_failed_checks)


def check_exported_model_options(model: Path, quantize: Optional[str], web: Optional[Path], ort: bool,
                                 out: Optional[Path], author: Optional[str], license_: Optional[str]) -> None:
    """``edgeseq export NAME.onnx``: only --quantize, --web, --ort, --force and --allow-failed-checks
    apply to a model already exported."""
    if quantize is None and web is None and not ort:
        raise EdgeseqError(f"{model} names a model file, not a run folder: to make its int8 model beside it, pass "
                           f"--quantize {PRECISIONS[1]}; a web folder, --web DIR; its ORT files, --ort; to export it "
                           "again, pass the run folder it was exported from")
    if out is not None:
        raise EdgeseqError(f"-o names the model a run folder is exported to; the files made from {model} go beside it "
                           f"({model.stem}.{PRECISIONS[1]}.onnx, ...) or into --web DIR: leave -o out")
    if author is not None or license_ is not None:
        raise EdgeseqError(f"--author and --license are given when a run folder is exported; the int8 files of "
                           f"{model} carry its own")


@app.command("verify", cls=Command)
@reports_errors
def verify(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="A model file (NAME.onnx brings its siblings NAME.*.onnx), or a folder of models with a MANIFEST.json (such as exported/).")],
):
    """Check model files: ONNX checker, digest, metadata, graph shapes, sibling pairing, manifest.

    One line per check; exit code 1 when any check fails."""
    from edgeseq.runtime.verify_files import verify_path

    checks = verify_path(path, onnx_checker())
    for check in checks:
        print(printable(check.line()))
    failed = sum(check.status == "FAIL" for check in checks)
    print(f"{len(checks)} checks, {failed} failed", file=sys.stderr)
    if failed:
        raise typer.Exit(1)


def onnx_checker():
    """The ONNX checker, when the onnx package is installed (the runner does not need it)."""
    try:
        import onnx
    except ImportError:
        return None

    def check(data: bytes) -> None:
        onnx.checker.check_model(onnx.load_from_string(data), full_check=True)

    return check


@app.command("info", cls=Command)
@reports_errors
def info(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="An ONNX file written by 'edgeseq export'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
):
    """Print an exported model's description (its ONNX metadata), and the measured cost of the
    int8 model beside it (NAME.int8.onnx), if there is one."""
    from edgeseq.runtime.model_file import int8_sibling, open_model

    model = open_model(file)
    int8 = int8_sibling(model)
    if as_json:
        print(json_text({**model.meta, **({"provenance": model.provenance} if model.provenance else {}),
                         **({"int8_beside": int8} if int8 else {})}))
        return
    # an int8 file carries the fp32 model's training figures and export parity: say whose they are
    labels = FP32_FIGURES if model.description.quantization is not None else {}
    for key, value in model.meta.items():  # every line escaped: the text is the file's
        key_shown = labels.get(key, key)
        if key == "evaluation" and value:  # a series model's walk-forward test table (checked when read)
            from edgeseq.evaluation.forecast_metrics import format_table

            print("evaluation (walk-forward over the test part, price units):")
            print_lines(format_table(value, fallback(model.meta)), "  ")
        elif key == "test" and isinstance(value, dict):
            print("test:")
            print_test(value, "  ")
        elif isinstance(value, dict):
            print(printable(f"{key_shown}:"))
            print_fields(value, "  ")
        else:
            print(printable(f"{key_shown}: {value!r}" if key == "vocabulary" else f"{key_shown}: {value}"))
    for key, value in model.provenance.items():  # export --author / --license (ONNX metadata_props)
        print(printable(f"{key}: {value}"))
    if int8 and "problem" in int8:
        print(printable(f"int8 beside it: {int8['file']} cannot be run: {int8['problem']}"))
    elif int8:
        sizes = "; ".join(f"{name} {100 * ratio:.1f}% of {name.replace('.int8', '')}'s size"
                          for name, ratio in int8["size_ratios"].items())
        print(printable(f"int8 beside it (run it with --precision int8): {sizes}"))
        print(printable(f"  its cost, measured against fp32 on {int8['quantization']['measured_on']}: "
                        f"{int8['summary']}"))


#: how ``info`` labels the fields an int8 file keeps from the fp32 model it was made from
FP32_FIGURES = {"metrics": "metrics (the fp32 model's, from training)",
                "parity_max_abs_diff": "parity_max_abs_diff (the fp32 file's, against TensorFlow)"}


def fallback(meta: dict) -> bool:
    """Whether a series model forecasts persistence: its gate rejected the trained weights."""
    gate = meta.get("training", {}).get("gate") if isinstance(meta.get("training"), dict) else None
    return isinstance(gate, dict) and gate.get("kept") is False


def print_lines(text: str, indent: str) -> None:
    print("\n".join(indent + printable(line) for line in text.splitlines()))


def print_test(test: dict, indent: str) -> None:
    """A series model's test part: its fields, the interval's coverage (each step's too), the
    error by step as a small table, and the fallback in words."""
    from edgeseq.evaluation.forecast_metrics import format_steps
    from edgeseq.evaluation.intervals import format_interval

    print_fields({k: v for k, v in test.items() if k not in ("steps", "interval", "model")}, indent)
    if isinstance(test.get("interval"), dict):
        print_lines(format_interval(test["interval"]), indent)
    steps = test.get("steps")
    if isinstance(steps, list) and steps and all(isinstance(s, dict) and "evaluation" in s for s in steps):
        print_lines(format_steps([s["evaluation"] for s in steps]), indent)
    if test.get("model") == "persistence (fallback)":
        print_lines("model: persistence (fallback): training did not show its weights beating persistence on "
                    "the validation windows, so it forecasts the last value", indent)


def print_fields(fields: dict, indent: str) -> None:
    """``key: value`` lines, a nested record's fields indented below its key."""
    for k, v in fields.items():
        if isinstance(v, dict):
            print(printable(f"{indent}{k}:"))
            print_fields(v, indent + "  ")
        else:
            print(printable(f"{indent}{k}: {v if not isinstance(v, float) else f'{v:.6g}'}"))
