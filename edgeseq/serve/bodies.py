"""Request bodies, checked field by field: every refusal is a 400 whose message starts with
the field it is about (``length: must be from 1 to 2000, got 10**9``).

A generate body is a JSON object; a forecast body is a JSON object with ``rows`` or a CSV
text. Unknown fields are refused, so a misspelt ``temprature`` is not silently ignored.
JSON rows become the CSV text they stand for, so both bodies go through the very reading
``edgeseq run stock`` does (columns by name, dates, order, missing values).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass

from edgeseq.choices import SEED_MAX
from edgeseq.contract.meta import CONTEXTS
from edgeseq.serve.wire import HttpError

GENERATE_FIELDS = ("model", "prompt", "length", "temperature", "top_k", "seed", "context", "stream")
FORECAST_FIELDS = ("model", "rows")


@dataclass(frozen=True)
class GenerateBody:
    model: str | None
    prompt: str
    length: int
    temperature: float
    top_k: int
    seed: int | None
    context: str | None
    stream: bool


def bad(field: str, message: str) -> HttpError:
    return HttpError(400, f"{field}: {message}")


def json_object(body: bytes, fields: tuple[str, ...]) -> dict:
    """The body as a JSON object with only ``fields`` in it."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise bad("body", "not UTF-8 text") from None
    except (ValueError, RecursionError) as e:
        raise bad("body", f"not valid JSON ({str(e).splitlines()[0][:80]})") from None
    if not isinstance(doc, dict):
        raise bad("body", f"must be a JSON object, got {type(doc).__name__}")
    unknown = [key for key in doc if key not in fields]
    if unknown:
        raise bad(_shown(unknown[0]), f"unknown field; the fields are {', '.join(fields)}")
    return doc


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _shown(key: str) -> str:
    return json.dumps(key[:40])


def whole(doc: dict, field: str, default: int | None, lo: int, hi: int, meaning: str = "") -> int | None:
    value = doc.get(field, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(field, f"must be a whole number, got {_kind(value)}")
    if not lo <= value <= hi:
        raise bad(field, f"must be from {lo} to {hi}{f' ({meaning})' if meaning else ''}, got {_short(value)}")
    return value


def text(doc: dict, field: str, default: str | None, longest: int, limit: str) -> str | None:
    value = doc.get(field, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(field, f"must be a string, got {_kind(value)}")
    if len(value) > longest:
        raise bad(field, f"{len(value)} characters, more than {limit} {longest}")
    return value


def generate_body(body: bytes, max_prompt: int, max_length: int) -> GenerateBody:
    doc = json_object(body, GENERATE_FIELDS)
    if "prompt" not in doc:
        raise bad("prompt", "missing: give the text to continue")
    prompt = text(doc, "prompt", None, max_prompt, "--max-prompt")
    if not prompt:
        raise bad("prompt", "must have at least one character")
    temperature = doc.get("temperature", 0.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) \
            or temperature < 0:
        raise bad("temperature", f"must be 0 (greedy) or a finite positive number, got {_kind(temperature)}")
    context = text(doc, "context", None, 20, "")
    if context is not None and context not in CONTEXTS:
        raise bad("context", f"must be one of {', '.join(CONTEXTS)}, got {_shown(context)}")
    stream = doc.get("stream", False)
    if not isinstance(stream, bool):
        raise bad("stream", f"must be true or false, got {_kind(stream)}")
    return GenerateBody(text(doc, "model", None, 200, ""), prompt,
                        whole(doc, "length", 100, 1, max_length, "--max-length"), float(temperature),
                        whole(doc, "top_k", 0, 0, 1 << 20), whole(doc, "seed", None, 0, SEED_MAX), context, stream)


def forecast_body(body: bytes, content_type: str, max_rows: int) -> tuple[str | None, str]:
    """(the model named, the rows as CSV text) from a JSON body with ``rows`` or a CSV body."""
    if content_type in ("text/csv", "text/plain"):
        try:
            csv_text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise bad("body", "the CSV is not UTF-8 text") from None
        if "\0" in csv_text:
            raise bad("body", "the CSV holds a NUL character")
        rows = csv_text.count("\n")
        if rows > max_rows + 2:
            raise bad("rows", f"{rows} lines, more than --max-rows {max_rows}")
        return None, csv_text
    doc = json_object(body, FORECAST_FIELDS)
    rows = doc.get("rows")
    if not isinstance(rows, list) or not rows:
        raise bad("rows", f"must be a non-empty list of objects (column -> value), got {_kind(rows)}")
    if len(rows) > max_rows:
        raise bad("rows", f"{len(rows)} rows, more than --max-rows {max_rows}")
    columns = rows[0].keys() if isinstance(rows[0], dict) else ()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(columns))
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or row.keys() != columns:
            raise bad(f"rows[{i}]", f"must be an object with the columns of rows[0] ({', '.join(map(str, columns))})")
        cells = []
        for name, value in row.items():
            if value is None:
                cells.append("")
            elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise bad(f"rows[{i}].{name}", f"must be a number, a string or null, got {_kind(value)}")
            elif isinstance(value, str) and any(c in value for c in ",\"\r\n\0"):
                raise bad(f"rows[{i}].{name}", "a cell may not hold a comma, a quote or a line break")
            else:
                cells.append(repr(value) if isinstance(value, float) else str(value))
        writer.writerow(cells)
    if any(not isinstance(name, str) or not name or any(c in name for c in ",\"\r\n\0") for name in columns):
        raise bad("rows[0]", "column names must be non-empty and hold no comma, quote or line break")
    return text(doc, "model", None, 200, ""), out.getvalue()


def _kind(value) -> str:
    if isinstance(value, (bool, int, float)) or value is None:
        return json.dumps(value) if not isinstance(value, int) or abs(value) < 10**12 else "a huge number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _short(value: int) -> str:
    return str(value) if abs(value) < 10**12 else "a huge number"
