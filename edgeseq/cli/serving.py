"""``edgeseq serve``: the exported models behind a local HTTP endpoint (docs/serve.md).

The options are checked and handed to ``edgeseq.serve``, imported only when the command runs.
"""
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseq.choices import PRECISIONS, check_choice
from edgeseq.cli.apps import Command, app, reports_errors
from edgeseq.cli.options import PRECISION_METAVAR

HOST_HELP = ("Address to listen on. The default, 127.0.0.1, serves this machine only. Any other address is "
             "your choice to expose the server: 0.0.0.0 lets every machine that can reach this one generate "
             "text, send forecasts and read /metrics, with no password, and use this machine's CPU.")


@app.command("serve", cls=Command)
@reports_errors
def serve(
    models: Annotated[Optional[list[Path]], typer.Argument(metavar="MODEL...", help="Exported models (NAME.onnx) to serve, each under its name NAME; default: the shipped ship and stock models.", show_default=False)] = None,
    host: Annotated[str, typer.Option(help=HOST_HELP)] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port; the start-up line names it).")] = 8080,
    max_streams: Annotated[int, typer.Option(help="Streams generated at once per char model; one generation-graph call advances them all.")] = 64,
    max_queue: Annotated[int, typer.Option(help="Requests that may wait for a stream per char model; more are answered 503 with Retry-After.")] = 256,
    max_body: Annotated[int, typer.Option(metavar="BYTES", help="Largest request body.")] = 1 << 20,
    max_prompt: Annotated[int, typer.Option(metavar="CHARS", help="Longest prompt.")] = 4096,
    max_length: Annotated[int, typer.Option(metavar="CHARS", help="Most characters one request may ask for.")] = 10_000,
    max_rows: Annotated[int, typer.Option(help="Most rows in one forecast request.")] = 100_000,
    stream_buffer: Annotated[int, typer.Option(metavar="BYTES", help="Bytes a stream may have waiting for a slow reader before the server drops it.")] = 64 << 10,
    timeout: Annotated[float, typer.Option(metavar="SECONDS", help="Longest time to read a request, and to answer it.")] = 60.0,
    grace: Annotated[float, typer.Option(metavar="SECONDS", help="On SIGTERM or Ctrl-C: how long live streams may run on before they are ended with a last line saying why.")] = 10.0,
    chunk: Annotated[int, typer.Option(metavar="CHARS", help="Characters every stream advances per round (one call per round).")] = 16,
    batching: Annotated[bool, typer.Option("--batching/--no-batching", help="--no-batching gives each request its own calls (for comparison).")] = True,
    threads: Annotated[int, typer.Option(help="onnxruntime threads per model.")] = 1,
    precision: Annotated[Optional[str], typer.Option(metavar=PRECISION_METAVAR, help="fp32 (default: the files given) or int8 (NAME.int8.onnx beside each); int8 requests are run one by one, never batched: its activations are quantized per call, so a row's text would depend on the others.")] = None,
):
    """Serve exported models over HTTP on this machine: /v1/generate (streamed as NDJSON),
    /v1/forecast, /v1/models, /health, /metrics. Every live text stream of a model advances
    in one onnxruntime call per round. Stops on SIGTERM or Ctrl-C (exit 0)."""
    from edgeseq.cli.file_commands import onnx_checker
    from edgeseq.runtime.model_file import check_threads
    from edgeseq.serve.server import Limits, check_run_options, serve as run_server
    from edgeseq.serve.served import load_models, shipped_models

    if precision is not None:
        check_choice("--precision", precision, PRECISIONS)
    if not 0 <= port <= 65535:
        raise typer.BadParameter(f"must be from 0 to 65535, got {port}", param_hint="--port")
    limits = Limits(max_streams, max_queue, max_body=max_body, max_prompt=max_prompt, max_length=max_length,
                    max_rows=max_rows, stream_buffer=stream_buffer, timeout=timeout).check()
    check_run_options(grace, chunk)
    served = load_models(models or shipped_models(), check_threads(threads), precision, onnx_checker())
    run_server(served, host, port, limits, grace, batching=batching, chunk=chunk)
