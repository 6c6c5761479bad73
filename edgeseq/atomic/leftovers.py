"""Finishing or removing what a killed writer left beside its target.

Every temporary name carries its writer's process id; leftovers of writers no longer running
are removed, finished or put back, each with one line on stderr.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from edgeseq.atomic.steps import folder_lock, refuse_link, remove, sync_folder, writing
from edgeseq.errors import InputError
from edgeseq.log import logger

PLAN = "PLAN.json"


def place_planned(stage: Path, folder: Path, place: list[str], stale: list[str]) -> None:
    """Rename the planned files of ``stage`` into ``folder`` and remove the stale ones (step 4 of a set)."""
    for name in place:
        if (stage / name).exists():
            os.replace(stage / name, folder / name)
    for name in stale:
        remove(folder / name)
    sync_folder(folder)
    os.unlink(stage / PLAN)


_LEFTOVER = r"^\.{name}\.(\d+)\.[0-9a-f]+\.(tmp|set|old)(-kept)?$"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def recover(path: Path) -> list[str]:
    """Finish or remove what writers of ``path`` that are no longer running left beside it;
    one line on stderr per leftover, and the same lines returned."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        return []
    pattern = re.compile(_LEFTOVER.format(name=re.escape(path.name)))
    found = []
    for entry in os.listdir(folder):
        match = pattern.match(entry)
        if match and (match.group(3) or not _alive(int(match.group(1)))):
            found.append((entry, match.group(2)))
    if not found:
        return []
    said = []
    with writing(path), folder_lock(folder):
        for entry, kind in sorted(found, key=lambda e: e[1] != "old"):  # restore first
            leftover = folder / entry
            if not leftover.exists():
                continue
            said.append(_recover_one(leftover, kind, path))
            logger.info(said[-1])
    return said


def _recover_one(leftover: Path, kind: str, path: Path) -> str:
    refuse_link(leftover, "folder" if kind != "tmp" else "file")
    if kind == "old" and not path.exists():
        os.rename(leftover, path)
        return f"note: put {path} back from {leftover.name}, where an interrupted replacement had left it"
    if kind == "set" and (leftover / PLAN).is_file():
        try:
            plan = json.loads((leftover / PLAN).read_text())
            place, stale = list(plan["place"]), list(plan["remove"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
            raise InputError(f"{leftover / PLAN} is damaged; move that folder away and export again") from None
        names = [n for n in place + stale if isinstance(n, str) and "/" not in n and n not in ("", ".", "..")]
        if len(names) != len(place) + len(stale):
            raise InputError(f"{leftover / PLAN} names files outside its folder; move that folder away")
        place_planned(leftover, path.parent, place, stale)
        remove(leftover)
        return (f"note: finished an interrupted write of {path} and its siblings "
                f"({', '.join(place)}) from {leftover.name}")
    remove(leftover)
    return f"note: removed {leftover.name}, left by an interrupted write of {path}"
