"""Writing files, sets of files and folders so that a failure never leaves half a result.

Every artifact edgeseq writes is first written whole under a temporary name beside its
destination (``.NAME.PID.RANDOM.tmp``), flushed to disk, and only then moved into place; an
existing destination is replaced only when the user said ``--force``, and never the folder
the user is in or one that holds it.

* ``write_bytes`` / ``write_text``: one file. Replacing is one rename (readers see the old
  bytes or the new, never a mix); creating is a hard link, which fails if the name exists,
  so two writers racing to one new name cannot both succeed.
* ``write_set``: the files of one exported model (edgeseq.atomic_set): all written into a
  staging folder, then moved into place under a journal, the step file last.
* ``new_folder``: a run folder, written into a temporary folder that then takes the
  destination's place. Replacing swaps the two in one step (Linux ``renameat2`` with
  ``RENAME_EXCHANGE``), so there is no moment without a run folder; where the system
  cannot swap, the old folder is first renamed aside (``.NAME.PID.RANDOM.old``) and a killed
  writer's next run puts it back.

Leftovers of a killed writer carry its process id; the next write to the same name removes
or finishes them (``edgeseq.atomic_set.recover``), saying so, and leaves those of a writer
still running alone. Any OSError (a full disk, a read-only folder) is one line
(``cannot_write``), with the previous files intact.
"""
from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from edgeseq.errors import InputError

LOCK_WAIT_SECONDS = 30.0  #: how long a writer waits for another to finish placing files in a folder


def refuse_overwrite(path: Path, force: bool) -> None:
    if Path(path).exists() and not force:
        raise InputError(f"{path} already exists; pass --force to overwrite it")


def refuse_enclosing(path: Path) -> None:
    """Never replace the current folder, a folder that holds it, or a file system root."""
    target, here = Path(path).resolve(), Path.cwd().resolve()
    if target == here or target in here.parents or target == Path(target.anchor):
        raise InputError(f"refusing to replace {path}: it is the current folder or holds it; choose another -o")


def cannot_write(path: Path, error: OSError) -> InputError:
    blocking = next((p for p in Path(path).parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        return InputError(f"{path}: cannot write: {blocking} is a file, not a folder")
    return InputError(f"{path}: cannot write: {error.strerror or error}")


@contextmanager
def writing(path: Path):
    """Turn any OSError inside into the one-line ``cannot_write`` for ``path``."""
    try:
        yield
    except OSError as e:
        raise cannot_write(path, e) from None


def temporary_name(path: Path, kind: str = "tmp") -> Path:
    """``.NAME.PID.RANDOM.kind`` beside ``path``: whose it is, so leftovers can be told apart."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.{kind}")


# ------------------------------------------------------------------ the steps, each one system call

def write_file(path: Path, data: bytes) -> None:
    """Create ``path`` (which must not exist) with ``data``, flushed to disk; a failure removes it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask gives the usual mode
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        remove(path)
        raise
    os.close(fd)


def sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (where the system can)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the renames still happened
    finally:
        os.close(fd)


def remove(path: Path) -> None:
    """Remove a file or a folder tree if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def link_new(src: Path, dst: Path) -> bool:
    """Give ``src`` the new name ``dst``, failing if ``dst`` exists; False where the file
    system has no hard links (then the caller renames under the folder lock)."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise InputError(f"{dst} already exists (another writer made it just now); pass --force to overwrite it") \
            from None
    except OSError as e:
        if e.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV, errno.EMLINK):
            return False
        raise
    os.unlink(src)
    return True


_RENAME_NOREPLACE, _RENAME_EXCHANGE, _AT_FDCWD = 1, 2, -100
_libc_renameat2 = None


def renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux renameat2 (exchange or no-replace); False where the system or file system lacks it."""
    global _libc_renameat2
    if _libc_renameat2 is None:
        try:
            _libc_renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", False)
        except OSError:
            _libc_renameat2 = False
    if not _libc_renameat2:
        return False
    if _libc_renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTTY):
        return False
    if code == errno.EEXIST:
        raise InputError(f"{dst} already exists (another writer made it just now); pass --force to overwrite it")
    raise OSError(code, os.strerror(code), str(dst))


@contextmanager
def folder_lock(folder: Path):
    """Hold ``folder``'s advisory lock while files are placed in it: edgeseq writers place their
    files one at a time (the lock is released when the process ends, however it ends)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the link / no-replace steps still refuse clobbering
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InputError(f"{folder}: another edgeseq has been writing here for "
                                     f"{LOCK_WAIT_SECONDS:.0f} s; try again") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


# ------------------------------------------------------------------ one file

def write_bytes(path: str | Path, data: bytes, force: bool = False) -> Path:
    from edgeseq.atomic_set import recover

    path = Path(path)
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
    from edgeseq.atomic_set import recover

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
    os.rename(path, old)  # a killed writer's next run moves it back (atomic_set.recover)
    os.rename(tmp, path)
    remove(old)
