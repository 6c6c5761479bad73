"""The single steps every write is made of: each one system call, or a one-line refusal.

Exclusive create and flush, rename, hard link, the Linux ``renameat2`` swap, a folder's lock,
and ``cannot_write``, which turns any OSError into one line the user can act on.
"""
from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import tempfile
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


def refuse_link(path: Path, what: str = "folder") -> None:
    """Refuse a ``path`` edgeseq would delete, rename or write inside when it is a symbolic
    link, not a folder, or another user's: a link could lead the writer out of its target."""
    path = Path(path)
    if path.is_symlink():
        raise InputError(f"{path} is a symbolic link; edgeseq does not write through links: "
                         f"remove the link or choose another place")
    try:
        status = os.lstat(path)
    except OSError:  # absent, or below a file: the write itself says so
        return
    if what == "folder" and not path.is_dir():
        raise InputError(f"{path} is a file where edgeseq keeps a folder; move it away")
    if hasattr(os, "geteuid") and status.st_uid != os.geteuid() and os.geteuid() != 0:
        raise InputError(f"{path} belongs to another user; edgeseq writes only into your own folders")


def check_new_file(path: Path, force: bool, what: str = "the file") -> None:
    """What writing the file ``path`` later would meet, refused now (before the work that
    makes it): an existing file without --force, a folder of that name, a folder that cannot
    be written."""
    path = Path(path)
    refuse_link(path, "file")
    if path.is_dir():
        raise InputError(f"{path} is a folder; name {what} to write")
    refuse_overwrite(path, force)
    probe_writable(path)


def probe_writable(path: Path) -> None:
    """Create and remove a folder in ``path``'s nearest existing ancestor, or fail in one line
    (a read-only disk, no permission, a file where a folder should be)."""
    parent = next((p for p in Path(path).absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise InputError(f"{path}: cannot write: {parent} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".edgeseq-probe-", dir=parent))
    except OSError as e:
        raise cannot_write(Path(path), e) from None


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
