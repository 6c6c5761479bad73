"""The Typer apps and what every command shares: how a failure reaches the user.

A known failure is one line and exit 2, Ctrl-C exit 130, anything else a bug with its
traceback in a file and exit 1: docs/design.md, "CLI".
"""
import functools
import os
import sys
import traceback
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand

import edgeseq
from edgeseq.cli.streams import OutputError, to_devnull
from edgeseq.display import printable
from edgeseq.errors import EdgeseqError, Interrupted, ParameterError
from edgeseq.log import setup_cli_logging


class Command(TyperCommand):
    """A command whose help a person can scan: options grouped under headings
    (``options.PANELS``), a choice shown as ``[rnn|lstm|gru]``, and a required argument in
    the usage line as its metavar (``edgeseq export [OPTIONS] RUN``, not Typer's ``{RUN}``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from edgeseq.cli.options import CHOICE_METAVARS

        for param in self.params:
            if param.name in CHOICE_METAVARS:
                param.metavar = CHOICE_METAVARS[param.name]

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [piece[1:-1] if piece[:1] == "{" and piece[-1:] == "}" else piece
                for piece in super().collect_usage_pieces(ctx)]

    def format_options(self, ctx, formatter) -> None:
        from edgeseq.cli.options import PANELS

        heading = {name: title for title, names in PANELS.items() for name in names}
        if any(param.name == "temperature" for param in self.params):
            heading["seed"] = "Sampling"  # run char's seed draws the characters, train's the weights
        groups: dict[str, list] = {title: [] for title in (*PANELS, "Options")}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                groups[heading.get(param.name, "Options")].append(record)
        for title, rows in groups.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


app = typer.Typer(
    help="Train tiny sequence models in TensorFlow, export them to ONNX, run them with onnxruntime alone.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
    rich_markup_mode=None,  # help texts are plain: "edgeseq[train]" is not a style tag
    context_settings={"help_option_names": ["-h", "--help"]},
)
train_app = typer.Typer(help="Train a model in TensorFlow (needs: pip install 'edgeseq[train]').",
                        no_args_is_help=True, rich_markup_mode=None)
run_app = typer.Typer(help="Run an exported model with onnxruntime (no TensorFlow needed).",
                      no_args_is_help=True, rich_markup_mode=None)
app.add_typer(train_app, name="train")
app.add_typer(run_app, name="run")


def fail(message: str, code: int = 2, kind: str = "error") -> typer.Exit:
    one_line = printable(message.replace("\n", " "))
    print(f"edgeseq: {kind}: {one_line}", file=sys.stderr)
    return typer.Exit(code)


def internal_error(error: BaseException) -> typer.Exit:
    """An unexpected failure: its traceback to a file, one line saying where, exit code 1."""
    import tempfile  # only a bug needs it: not imported on every start

    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        fd, path = tempfile.mkstemp(prefix="edgeseq-trace-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(f"edgeseq {edgeseq.__version__}: {' '.join(sys.argv)}\n{text}")
        where = f"trace in {path}"
    except OSError as e:
        where = f"its trace could not be written: {e.strerror or e}"
    detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return fail(f"{type(error).__name__}{': ' if detail else ''}{detail} ({where}); please report it",
                1, "internal error")


def output_error(error: OSError) -> typer.Exit | None:
    """A write to stdout that failed (edgeseq.cli.streams.OutputError: a full disk, a quota, a closed
    stdout): one line, exit code 2, and stdout pointed at os.devnull so that what it still
    holds cannot fail again at the last flush. None for any other OSError (edgeseq turns the
    failures of the files it opens into one-line errors where it opens them)."""
    if not isinstance(error, OutputError):
        return None
    to_devnull(sys.stdout)
    return fail(f"cannot write the output: {error.strerror or error}")


def reports_errors(command):
    """Known failures -> one stderr line, exit 2; a missing training extra -> install hint."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ParameterError as e:  # the library names its argument (length); the CLI, its flag (--length)
            raise fail(e.flag_message()) from None
        except EdgeseqError as e:
            raise fail(str(e)) from None
        except ModuleNotFoundError as e:
            if e.name and e.name.split(".")[0] in ("tensorflow", "tf2onnx", "onnx", "keras", "matplotlib"):
                extra = "plot" if e.name.startswith("matplotlib") else "train"
                raise fail(f"this command needs the {extra} extra ({e.name} is not installed): "
                           f"pip install 'edgeseq[{extra}]'") from None
            raise internal_error(e) from None
        except Interrupted:  # the command said what it kept
            raise typer.Exit(130) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:  # `edgeseq run char ... | head`: the reader has seen enough
            to_devnull(sys.stdout)
            raise typer.Exit(0) from None
        except OSError as e:  # stdout on a full disk, or closed; else a bug
            raise (output_error(e) or internal_error(e)) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as e:  # a bug: not a traceback on the user's screen, but where it is
            raise internal_error(e) from None

    return wrapper


def version_callback(value: bool):
    if value:
        print(f"edgeseq {edgeseq.__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[Optional[bool], typer.Option(
        "--version", callback=version_callback, is_eager=True, help="Print the version and exit.")] = None):
    """edgeseq: sequence models for CPU edge devices."""
    setup_cli_logging()
