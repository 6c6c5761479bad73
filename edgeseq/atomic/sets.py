"""Writing the files of one model as a set, and finishing or removing what a killed writer left.

An export writes NAME.onnx and its siblings (NAME.fixed.onnx, NAME.gen.onnx, ...). POSIX
renames one name at a time, so no system call replaces several files at once; instead:

1. every new file is written whole into a staging folder beside the target
   (``.NAME.onnx.PID.RANDOM.set/``) and flushed to disk;
2. under the folder's lock: without --force every target must still be absent (so of two
   exports racing to one name exactly one wins); each file it replaces or removes gets a
   hard link in ``set/old/`` (its old bytes, kept without copying);
3. ``set/PLAN.json`` is written: the commit point;
4. the files are renamed into place, siblings first and the step file last, then the old
   siblings the new set does not have (a generation graph) are removed; the folder goes.

What a reader gets: each file is always whole (one rename each). Until the step file's
rename, a reader of NAME.onnx gets the old model; after it, the new one. A sibling is used
only if it names the very bytes of the step file it sits beside (its ``of_sha256``), so a
reader that meets a new sibling beside the old step file (or the reverse) does not use it.
If a rename fails (a full disk can fail even a rename), the old files come back from
``old/``: the previous set is intact. If the writer is killed: before PLAN.json, its next
run removes the staging folder (the old set never changed); after it, the next run
finishes the renames (the new set complete). Either way it says so on stderr.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from edgeseq.atomic.leftovers import PLAN, place_planned, recover
from edgeseq.atomic.steps import folder_lock, refuse_link, refuse_overwrite, remove, sync_folder, temporary_name, write_file, writing


def write_set(files: list[tuple[Path, bytes]], force: bool = False, stale: tuple[Path, ...] = ()) -> list[Path]:
    """Write (path, bytes) pairs, all in one folder, as one set (module docstring); the step
    file comes last. ``stale``: files of an older set of this model to remove with it."""
    paths = [Path(p) for p, _ in files]
    folder, step = paths[-1].parent, paths[-1]
    if any(p.parent != folder for p in paths):
        raise ValueError("a set is written into one folder")
    for path in paths + [Path(p) for p in stale]:
        refuse_link(path, "file")
    for path in paths:
        refuse_overwrite(path, force)
    with writing(step):
        folder.mkdir(parents=True, exist_ok=True)
        recover(step)
        stage = temporary_name(step, "set")
        os.mkdir(stage)
        try:
            for path, data in files:
                write_file(stage / path.name, data)
            sync_folder(stage)
            with folder_lock(folder):
                for path in paths:
                    refuse_overwrite(path, force)
                _commit(stage, folder, [p.name for p in paths], [p.name for p in stale if p not in paths])
        finally:
            remove(stage)
    return paths


def _commit(stage: Path, folder: Path, place: list[str], stale: list[str]) -> None:
    """Steps 2-4, under the folder lock; on a failure before the end, the old files return."""
    old = stage / "old"
    os.mkdir(old)
    replaced = [name for name in place + stale if (folder / name).exists()]
    for name in replaced:
        os.link(folder / name, old / name)
    write_file(stage / "PLAN.tmp", json.dumps({"place": place, "remove": stale}).encode())
    os.rename(stage / "PLAN.tmp", stage / PLAN)  # the commit point: the plan is there whole, or not at all
    sync_folder(stage)
    try:
        place_planned(stage, folder, place, stale)
    except BaseException:
        _roll_back(stage, folder, place + stale, replaced)
        raise


def _roll_back(stage: Path, folder: Path, names: list[str], replaced: list[str]) -> None:
    """Put every old file back (and take away new files that had no old one)."""
    try:
        for name in names:
            if name in replaced:
                os.replace(stage / "old" / name, folder / name)
            elif not (stage / name).exists():
                remove(folder / name)  # it was placed: there was nothing before it
        os.unlink(stage / PLAN)
    except OSError:  # cannot even roll back: keep the stage (its PLAN), the next run finishes it
        os.rename(stage, stage.with_name(stage.name + "-kept"))
