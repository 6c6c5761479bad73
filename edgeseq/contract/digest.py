"""A model file's own digest: how a damaged or edited file is told from the one export wrote.

``file_sha256`` is the sha256 of the file's bytes with those 64 digits written as zeros;
a MANIFEST.json carries ``manifest_sha256`` the same way. Integrity, not authenticity:
docs/design.md, "Contract".
"""
from __future__ import annotations

import hashlib
import re

from edgeseq.errors import IntegrityError

KEY = "file_sha256"
MANIFEST_KEY = "manifest_sha256"
PLACEHOLDER = "0" * 64


def _stored(key: str) -> re.Pattern:
    return re.compile(b'"' + key.encode("ascii") + rb'": "([0-9a-f]{64})"')


def _marker(digest: str, key: str = KEY) -> bytes:
    return f'"{key}": "{digest}"'.encode("ascii")


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seal(data: bytes, key: str = KEY) -> bytes:
    """The serialized model ``data`` (whose metadata holds the placeholder digest) with its
    digest filled in. Export calls this on the final bytes, just before they are written."""
    placeholder = _marker(PLACEHOLDER, key)
    if data.count(placeholder) != 1:
        raise ValueError(f"the model bytes hold the digest placeholder {data.count(placeholder)} times, not once")
    return data.replace(placeholder, _marker(bytes_sha256(data), key))


def stored_digest(data: bytes, where: str, key: str = KEY) -> str | None:
    """The digest a file's bytes carry, None if it has none (written before digests)."""
    found = _stored(key).findall(data)
    if len(found) > 1:
        raise IntegrityError(f"{where}: the file holds {len(found)} digests, not one; it was not written by "
                             "edgeseq export")
    return found[0].decode("ascii") if found else None


def check_digest(data: bytes, where: str, key: str = KEY) -> str | None:
    """Refuse bytes that do not match the digest they carry; the digest (None: none stored)."""
    digest = stored_digest(data, where, key)
    if digest is not None and bytes_sha256(data.replace(_marker(digest, key), _marker(PLACEHOLDER, key))) != digest:
        raise IntegrityError(f"{where}: its bytes do not match its digest ({key}): the file is damaged or was "
                             "edited after export; export it again")
    return digest
