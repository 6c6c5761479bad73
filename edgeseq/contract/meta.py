"""The description every exported file carries in its metadata_props: written and read here only.

One versioned JSON document under the key ``edgeseq``: a header, the task's record
(``CharMeta`` or ``SeriesMeta``) and the file's digest. ``metadata_text`` writes it, checked as
a reader will check it; ``parse_meta`` reads it back, refusing in one line what is wrong.
"""
from __future__ import annotations

import json
from typing import Any

from edgeseq import __version__
from edgeseq.contract.char_meta import (CONTEXTS, GRAPHS, HEADS, INPUTS, WINDOW_MODES, CharMeta, FileRef,
                                        GenerationInfo, StateLayout)
from edgeseq.contract.quantization import PRECISIONS, Quantization
from edgeseq.contract.reading import MAX_META_CHARS, load_document
from edgeseq.contract.schema import Int, Text
from edgeseq.contract.series_meta import (COLUMN_MODES, DATE_FORMATS, MISSING_VALUES, TARGET_MODES, Baselines,
                                         SeriesMeta)
from edgeseq.display import printable
from edgeseq.errors import ModelFileError

#: Where the description lives in metadata_props.
METADATA_KEY = "edgeseq"
#: Version of the description's layout; a reader refuses a larger one.
FORMAT_VERSION = 1
TASKS: dict[str, type] = {"char": CharMeta, "series": SeriesMeta}


def document(description: CharMeta | SeriesMeta) -> dict:
    """The JSON document of a description: the header, then its fields."""
    body = description.to_json()
    body.pop("edgeseq_version", None)
    return {"format": "edgeseq", "format_version": FORMAT_VERSION,
            "edgeseq_version": description.edgeseq_version, "task": description.task, **body}


def metadata_text(description: CharMeta | SeriesMeta, where: str = "the metadata written") -> str:
    """The metadata text of a description, checked the way every reader will check it."""
    text = json.dumps(document(description), ensure_ascii=False, allow_nan=False)
    if len(text) > MAX_META_CHARS:
        raise ModelFileError(f"{where}: the metadata would be {len(text):,} characters; at most "
                             f"{MAX_META_CHARS:,} are allowed")
    parse_meta(text, where)
    return text


def parse_meta(raw: str, where: str) -> CharMeta | SeriesMeta:
    """A model's description from its metadata text, checked.

    ``where`` (the file's path) starts every error line.
    """
    return read_document(load_document(raw, where), where)


def read_document(doc: Any, where: str) -> CharMeta | SeriesMeta:
    """A model's description from its parsed metadata document (any JSON value), checked."""
    where = f"{where}: edgeseq metadata"
    if not isinstance(doc, dict):
        raise ModelFileError(f"{where}: expected a JSON object, found {type(doc).__name__ if doc is not None else 'null'}")
    version = Int(0, 1 << 30).read(doc.get("format_version", 0), "format_version", where)
    if version > FORMAT_VERSION:
        made_by = doc.get("edgeseq_version")
        made_by = f"edgeseq {printable(made_by[:20])}" if isinstance(made_by, str) and made_by else "a newer edgeseq"
        raise ModelFileError(f"{where.removesuffix(': edgeseq metadata')}: made by {made_by} (format {version}); "
                             f"this edgeseq ({__version__}) reads format {FORMAT_VERSION}: upgrade edgeseq")
    if "format" in doc:
        Text(("edgeseq",)).read(doc["format"], "format", where)
    if "task" not in doc:
        raise ModelFileError(f"{where}: 'task' is missing")
    task = Text(tuple(TASKS)).read(doc["task"], "task", where)
    return TASKS[task].read(doc, where)


__all__ = ["METADATA_KEY", "FORMAT_VERSION", "TASKS", "GRAPHS", "CONTEXTS", "HEADS", "INPUTS", "TARGET_MODES", "COLUMN_MODES",
           "DATE_FORMATS", "MISSING_VALUES", "WINDOW_MODES", "PRECISIONS", "Baselines", "Quantization",
           "CharMeta", "SeriesMeta", "StateLayout", "GenerationInfo", "FileRef", "document", "metadata_text",
           "parse_meta", "read_document"]
