"""Writing the files of one model as a set: staged, committed by a plan, renamed step file last.

A failure brings the old files back; a killed writer's set is finished or removed by the next
run. The protocol is in docs/design.md, "Writes".
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
