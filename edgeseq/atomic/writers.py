"""One file, or one folder such as a run folder, written whole or not at all.

Creating is a hard link, so two writers racing to one new name cannot both succeed;
replacing a folder swaps the two in one step where the system can.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from edgeseq.atomic.leftovers import recover
from edgeseq.atomic.steps import (_RENAME_EXCHANGE, _RENAME_NOREPLACE, folder_lock, link_new, refuse_enclosing,
                                  refuse_link, refuse_overwrite, remove, renameat2, sync_folder, temporary_name, write_file,
                                  writing)
from edgeseq.errors import InputError


def write_bytes(path: str | Path, data: bytes, force: bool = False) -> Path:
    path = Path(path)
    refuse_link(path, "file")
    refuse_overwrite(path, force)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        recover(path)
        tmp = temporary_name(path)
        try:
            write_file(tmp, data)
            if force:
                os.replace(tmp, path)
            elif not link_new(tmp, path):
                with folder_lock(path.parent):
                    refuse_overwrite(path, force)
                    os.rename(tmp, path)
            sync_folder(path.parent)
        finally:
            remove(tmp)
    return path


def write_text(path: str | Path, text: str, force: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), force)


# ------------------------------------------------------------------ a folder

def _sync_tree(folder: Path) -> None:
    for root, _, names in os.walk(folder):
        for name in names:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        sync_folder(Path(root))


@contextmanager
def new_folder(path: str | Path, force: bool = False, may_replace=None):
    """Yield a temporary folder; on success it takes the place of ``path``, on failure it vanishes.

    ``may_replace(path) -> str | None``: with --force, why an existing ``path`` must not be
    replaced (None: it may), e.g. a folder that is not a run folder."""
    path = Path(path)
    check_new_folder(path, force, may_replace)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        recover(path)
        tmp = temporary_name(path)
        os.mkdir(tmp)
    try:
        with writing(path):
            yield tmp
            _sync_tree(tmp)
            with folder_lock(path.parent):
                _put_folder(tmp, path, force)
            sync_folder(path.parent)
    finally:
        remove(tmp)


def check_new_folder(path: str | Path, force: bool, may_replace=None) -> None:
    """What ``new_folder`` refuses before any work: an existing ``path`` without --force, the
    current folder or one holding it, and (``may_replace``) a folder that is not of the kind."""
    path = Path(path)
    refuse_link(path)
    refuse_overwrite(path, force)
    if path.exists():
        refuse_enclosing(path)
        why_not = may_replace(path) if may_replace else None
        if why_not:
            raise InputError(why_not)


def _put_folder(tmp: Path, path: Path, force: bool) -> None:
    """Move the complete folder ``tmp`` to ``path`` (under the folder lock)."""
    if not path.exists():
        if not renameat2(tmp, path, _RENAME_NOREPLACE):
            os.rename(tmp, path)
        return
    refuse_overwrite(path, force)
    if not path.is_dir():
        raise InputError(f"{path} is a file; a run folder cannot replace it")
    if renameat2(tmp, path, _RENAME_EXCHANGE):
        return  # one step: tmp now holds the old folder, removed by the caller
    old = temporary_name(path, "old")
    os.rename(path, old)  # a killed writer's next run moves it back (edgeseq.atomic.leftovers)
    os.rename(tmp, path)
    remove(old)
