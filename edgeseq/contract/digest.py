"""A model file's own digest: how a damaged or edited file is told from the one export wrote.

Every file export writes carries, in its edgeseq metadata, ``"file_sha256"``: the sha256 of
the file's bytes as written, computed with those 64 hex digits themselves written as zeros.
So the digest covers *every* byte of the file, weights, nodes, shapes, opsets and the
metadata alike, but itself. Checking it needs nothing but the bytes and hashlib: the
digits are found in the bytes by their key (the JSON is written with ``": "`` after each
key; inside a JSON string a quote is always escaped, so the pattern cannot occur in another
field), zeroed, and the bytes hashed again. A single flipped bit anywhere in the file
changes the hash.

Integrity, not authenticity: whoever can write the file can also recompute the digest. It
catches damage (a bad copy, a flipped bit, a truncated download) and hand edits, and binds
the siblings of a model to its step file (each names the step file's whole-file sha256).

A file without one is refused as damaged or edited. A set's MANIFEST.json carries one the
same way (``manifest_sha256``, over its own text), so that its
figures and texts are covered as well as the files it lists.
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
