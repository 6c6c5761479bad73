"""Showing text that came from a file, and printing JSON, safely.

``printable`` escapes control characters, which could rewrite the user's terminal;
``json_text`` writes NaN and infinities as null. Standard library only.
"""
from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

#: Unicode categories that do not print as themselves: controls, format characters
#: (bidirectional overrides, zero-width ones), line and paragraph separators, surrogates.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, keep: str = "") -> str:
    """``text`` with every character that does not print as itself escaped (\\x1b, \\u202e),
    except those in ``keep`` (e.g. "\\n" for generated text that is meant to break lines)."""
    text = str(text)
    if text.isprintable() and not any(unicodedata.category(c) in _HIDDEN for c in text):
        return text
    return "".join(c if c in keep or (c.isprintable() and unicodedata.category(c) not in _HIDDEN)
                   else _escape(c) for c in text)


def shown(value: Any, limit: int = 60) -> str:
    """A value as an error line quotes it: repr, escaped, cut to ``limit`` characters."""
    text = printable(repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if hasattr(value, "item") and hasattr(value, "dtype"):  # a numpy scalar
        return finite_or_none(value.item())
    return value


def json_text(doc: Any, indent: int | None = 2) -> str:
    """JSON any parser accepts (undefined numbers as null), with hidden characters escaped
    the JSON way, so the text is safe on a terminal and still parses to the same values."""
    text = json.dumps(finite_or_none(doc), indent=indent, ensure_ascii=False, allow_nan=False)
    if text.isprintable() or all(c == "\n" or (c.isprintable() and unicodedata.category(c) not in _HIDDEN)
                                 for c in text):
        return text
    out = []
    for c in text:
        if c == "\n" or (c.isprintable() and unicodedata.category(c) not in _HIDDEN):
            out.append(c)
        else:  # only inside strings (JSON's own syntax is ASCII): a JSON \u escape
            out.append(json.dumps(c, ensure_ascii=True)[1:-1])
    return "".join(out)
