"""No writer follows a symbolic link out of its target (issue 22, item 1).

Each case points a link at a decoy folder full of dot-files and plain files, runs a writer
that would delete, rename or write there, and checks that the writer refuses in one line
naming the link and that every decoy file has the bytes it had before.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from conftest import EXPORTED, cli
from edgeseq.atomic import new_folder, write_bytes, write_set
from edgeseq.errors import InputError

LINK_LINE = "is a symbolic link; edgeseq does not write through links: remove the link or choose another place"


@pytest.fixture
def decoy(tmp_path):
    folder = tmp_path / "decoy"
    folder.mkdir()
    for name in (".a", ".b", "keep", ".state.json"):
        (folder / name).write_text(f"decoy {name}\n")
    (folder / ".hidden-folder").mkdir()
    (folder / ".hidden-folder" / "inner").write_text("inner\n")
    return folder


def fingerprint(folder: Path) -> dict[str, str]:
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            found[str(path.relative_to(folder))] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def refused(result, link: Path) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [f"edgeseq: error: {link} {LINK_LINE}"]


TRAIN = ("train", "char", "--sample", "ship", "--hidden", "4", "--layers", "1", "--epochs", "2")


@pytest.mark.parametrize("how", [(), ("--force",), ("--resume",)])
def test_training_refuses_a_linked_checkpoint_folder(tmp_path, decoy, how):
    before = fingerprint(decoy)
    link = tmp_path / "runs" / ".run.training"
    link.parent.mkdir()
    link.symlink_to(decoy)
    refused(cli(*TRAIN, "-o", str(tmp_path / "runs" / "run"), *how), link)
    assert fingerprint(decoy) == before
    assert not (tmp_path / "runs" / "run").exists()


def test_training_refuses_a_linked_run_folder_even_with_force(tmp_path, decoy):
    before = fingerprint(decoy)
    link = tmp_path / "run"
    link.symlink_to(decoy)
    refused(cli(*TRAIN, "-o", str(link), "--force"), link)
    assert fingerprint(decoy) == before and link.is_symlink()


def test_the_checkpoint_writer_refuses_a_link_made_after_the_check(tmp_path, decoy):
    """A link that appears between the CLI's check and the first checkpoint is still refused."""
    from edgeseq.training.checkpoint import Checkpoints

    before = fingerprint(decoy)
    link = tmp_path / ".run.training"
    link.symlink_to(decoy)
    checkpoints = Checkpoints.beside(tmp_path / "run", {})
    for act in (checkpoints.clean_stale, checkpoints.remove, checkpoints.epochs):
        with pytest.raises(InputError, match=LINK_LINE):
            act()
    assert fingerprint(decoy) == before


def test_export_refuses_a_linked_model_file(tmp_path, decoy):
    for name in ("ship.onnx", "ship.gen.onnx"):
        shutil.copy(EXPORTED / name, tmp_path / name)
    before = fingerprint(decoy)
    link = tmp_path / "ship.int8.onnx"
    link.symlink_to(decoy / "keep")
    refused(cli("export", str(tmp_path / "ship.onnx"), "--quantize", "int8", "--force"), link)
    assert fingerprint(decoy) == before and link.is_symlink()


def test_single_files_sets_and_folders_refuse_links(tmp_path, decoy):
    before = fingerprint(decoy)
    (tmp_path / "file").symlink_to(decoy / "keep")
    (tmp_path / "folder").symlink_to(decoy)
    with pytest.raises(InputError, match=LINK_LINE):
        write_bytes(tmp_path / "file", b"new", force=True)
    with pytest.raises(InputError, match=LINK_LINE):
        write_set([(tmp_path / "file", b"new")], force=True)
    with pytest.raises(InputError, match=LINK_LINE):
        with new_folder(tmp_path / "folder", force=True):
            pass
    assert fingerprint(decoy) == before


def test_a_killed_writers_leftover_that_is_a_link_is_refused_not_followed(tmp_path, decoy):
    """A staging folder of a dead writer (pid 2**22 + 1 is above Linux's limit) replaced by a
    link to a folder holding a plan: finishing it would move the decoy's files."""
    (decoy / "PLAN.json").write_text('{"place": ["keep"], "remove": []}')
    before = fingerprint(decoy)
    leftover = tmp_path / f".model.onnx.{2**22 + 1}.abcd1234.set"
    leftover.symlink_to(decoy)
    with pytest.raises(InputError, match=LINK_LINE):
        write_bytes(tmp_path / "model.onnx", b"new")
    assert fingerprint(decoy) == before and not (tmp_path / "keep").exists()


def test_a_killed_writers_plan_nested_too_deep_is_one_line(tmp_path):
    """A dead writer's staging folder whose PLAN.json nests 10,000 arrays: one line, nothing moved."""
    stage = tmp_path / f".model.onnx.{2**22 + 1}.abcd1234.set"
    stage.mkdir()
    (stage / "PLAN.json").write_text("[" * 10_000 + "]" * 10_000)
    with pytest.raises(InputError, match=r"PLAN.json is damaged; move that folder away and export again"):
        write_bytes(tmp_path / "model.onnx", b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [stage.name]
