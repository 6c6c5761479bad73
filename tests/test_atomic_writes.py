"""All-or-nothing writes under faults: SIGKILL at every step, a full disk at every step, races.

Faults are driven, not timed: a counting stand-in for the ``os`` module of edgeseq.atomic and
edgeseq.atomic counts every system call that changes the disk (open, write, fsync, link,
unlink, replace, rename, mkdir, renameat2) and at the N-th one either SIGKILLs its own
process (in a subprocess) or raises ENOSPC (in this process). A dry run counts the steps, so
every N is tried.
"""
from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, cli
from edgeseq.errors import InputError

HARNESS = textwrap.dedent('''
    import errno, os, signal, sys
    import edgeseq.atomic as atomic
    from edgeseq.atomic import writers as a_files, leftovers as a_leftovers, sets as a_sets, steps as a_steps
    WRITERS = (a_files, a_leftovers, a_sets, a_steps)  # every module of edgeseq.atomic that calls os

    STEPS = ("open", "write", "fsync", "link", "unlink", "replace", "rename", "mkdir")

    class Faults:
        """Count disk-changing calls; at call AT (or the AT-th call of NAME) do ACTION."""

        def __init__(self, at, action, name=None):
            self.at, self.action, self.name, self.count = at, action, name, 0

        def step(self, name):
            if self.name in (None, name):
                self.count += 1
                if self.count == self.at:
                    self.action()

    class CountingOs:
        def __init__(self, faults):
            self._faults = faults

        def __getattr__(self, name):
            real = getattr(os, name)
            if name not in STEPS:
                return real
            def counted(*args, **kwargs):
                self._faults.step(name)
                return real(*args, **kwargs)
            return counted

    def install(faults, exchange=True):
        for module in WRITERS:
            module.os = CountingOs(faults)
        real = a_steps.renameat2
        def renameat2(src, dst, flags):
            faults.step("renameat2")
            return real(src, dst, flags) if exchange else False
        a_files.renameat2 = renameat2

    def kill():
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def no_space():
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
''')

SET_WRITER = HARNESS + textwrap.dedent('''
    from pathlib import Path
    folder, at, with_gen, new = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", Path(sys.argv[4])
    faults = Faults(at, kill)
    install(faults)
    names = ["tiny.fixed.onnx"] + (["tiny.gen.onnx"] if with_gen else []) + ["tiny.onnx"]
    files = [(folder / n, (new / n).read_bytes()) for n in names]
    atomic.write_set(files, force=True, stale=(folder / "tiny.gen.onnx",) if not with_gen else ())
    print("STEPS", faults.count)
''')

FOLDER_WRITER = HARNESS + textwrap.dedent('''
    from pathlib import Path
    path, at, exchange = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    faults = Faults(at, kill)
    install(faults, exchange)
    with atomic.new_folder(path, force=True) as tmp:
        for name in ("config.json", "history.json", "model.keras"):
            (tmp / name).write_text("new " + name)
    print("STEPS", faults.count)
''')

NAMES = ("tiny.fixed.onnx", "tiny.gen.onnx", "tiny.onnx")


def python(script: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def two_sets(tiny_export, tmp_path_factory):
    """An old set (tiny_export) and a new one (the same model, other training notes: other bytes)."""
    from conftest import edited_copy

    root = tmp_path_factory.mktemp("sets")
    old, new = root / "old", root / "new"
    old.mkdir()
    new.mkdir()
    for name, data in tiny_export.items():
        (old / name).write_bytes(data)
    edited_copy(old / "tiny.onnx", new / "tiny.onnx", lambda m: m["training"].update(note="new"))
    sha = digest((new / "tiny.onnx").read_bytes())
    for name, key in (("tiny.fixed.onnx", "made_from"), ("tiny.gen.onnx", "generation")):
        edited_copy(old / name, new / name, lambda m, key=key: m[key].update(of_sha256=sha))
    return {n: (old / n).read_bytes() for n in NAMES}, {n: (new / n).read_bytes() for n in NAMES}, root


def count_steps(script: str, *args) -> int:
    done = python(script, *args[:1], 10**9, *args[2:])
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("with_gen", [True, False], ids=["same-files", "new-set-drops-gen"])
def test_sigkill_at_every_step_of_a_set_write(two_sets, tmp_path, with_gen):
    from edgeseq.atomic import recover, write_set

    old, new, root = two_sets
    want_new = {n: d for n, d in new.items() if with_gen or n != "tiny.gen.onnx"}
    probe = root / f"probe{int(with_gen)}"
    probe.mkdir(exist_ok=True)
    for n, d in old.items():
        (probe / n).write_bytes(d)
    steps = count_steps(SET_WRITER, probe, 0, int(with_gen), root / "new")
    assert steps > 20
    outcomes = set()
    for at in range(1, steps + 1):
        folder = tmp_path / f"k{at}"
        folder.mkdir()
        for n, d in old.items():
            (folder / n).write_bytes(d)
        done = python(SET_WRITER, folder, at, int(with_gen), root / "new")
        assert done.returncode == -9, (at, done.stderr)
        # what a reader meets now: every file whole, and a sibling pairs with the step file
        # beside it only if both come from the same set
        present = {p.name: p.read_bytes() for p in folder.glob("*.onnx")}
        step_is_new = present["tiny.onnx"] == new["tiny.onnx"]
        assert present["tiny.onnx"] in (old["tiny.onnx"], new["tiny.onnx"]), at
        for name, data in present.items():
            assert data in (old[name], new[name]), (at, name)
            if name != "tiny.onnx":
                pairs = digest(present["tiny.onnx"]) in data.decode("latin-1")
                assert pairs == ((data == new[name]) == step_is_new), (at, name)
        # the next write finishes or removes what was left, saying so; then all old or all new
        said = recover(folder / "tiny.onnx")
        after = {p.name: p.read_bytes() for p in folder.glob("*.onnx")}
        assert after in (old, want_new), at
        assert not leftovers(folder), (at, leftovers(folder))
        outcomes.add(("new" if after == want_new else "old", bool(said)))
        # and a retry writes the new set
        write_set([(folder / n, d) for n, d in want_new.items() if n != "tiny.onnx"] +
                  [(folder / "tiny.onnx", new["tiny.onnx"])], force=True,
                  stale=() if with_gen else (folder / "tiny.gen.onnx",))
        assert {p.name: p.read_bytes() for p in folder.glob("*.onnx")} == want_new and not leftovers(folder)
    assert outcomes >= {("old", True), ("new", True)}, outcomes  # killed before and after the commit point


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_sigkill_at_every_step_of_a_run_folder_replacement(tmp_path, exchange):
    from edgeseq.atomic import recover

    def content(path):
        return {p.name: p.read_text() for p in path.iterdir()} if path.is_dir() else None

    old = {n: "old " + n for n in ("config.json", "history.json", "model.keras", "metrics.json")}
    new = {n: "new " + n for n in ("config.json", "history.json", "model.keras")}

    def fresh(name):
        run = tmp_path / name / "run"
        run.mkdir(parents=True)
        for n, text in old.items():
            (run / n).write_text(text)
        return run

    steps = count_steps(FOLDER_WRITER, fresh("probe"), 0, int(exchange))
    vanished = 0
    for at in range(1, steps + 1):
        run = fresh(f"k{at}")
        done = python(FOLDER_WRITER, run, at, int(exchange))
        assert done.returncode == -9, (at, done.stderr)
        if exchange:
            assert content(run) in (old, new), at  # no moment without a run folder
        vanished += content(run) is None
        recover(run)
        assert content(run) in (old, new), at
        assert not leftovers(run.parent), (at, leftovers(run.parent))
    assert exchange or vanished  # the fallback has a moment without it, which recovery repairs


def test_a_full_disk_at_every_step_of_a_set_write_keeps_the_old_set(two_sets, tmp_path, monkeypatch):
    from edgeseq.atomic import write_set

    old, new, _ = two_sets
    scope = {}
    exec(HARNESS, scope)
    probe = scope["Faults"](0, lambda: None)
    folder = tmp_path / "probe"
    folder.mkdir()
    with monkeypatch.context() as patch:
        for module in scope["WRITERS"]:
            patch.setattr(module, "os", scope["CountingOs"](probe))
        write_set([(folder / n, new[n]) for n in NAMES], force=True)
    for at in range(1, probe.count + 1):
        folder = tmp_path / f"f{at}"
        folder.mkdir()
        for n, d in old.items():
            (folder / n).write_bytes(d)
        faults = scope["Faults"](at, scope["no_space"])
        with monkeypatch.context() as patch:
            for module in scope["WRITERS"]:
                patch.setattr(module, "os", scope["CountingOs"](faults))
            try:
                write_set([(folder / n, new[n]) for n in NAMES], force=True)
            except InputError as e:
                assert str(e) == f"{folder / 'tiny.onnx'}: cannot write: No space left on device", at
                assert {n: (folder / n).read_bytes() for n in NAMES} == old, at
            else:  # the fault hit a step whose failure does not matter (syncing a folder)
                assert {n: (folder / n).read_bytes() for n in NAMES} == new, at
        assert not leftovers(folder), (at, leftovers(folder))


def test_a_real_full_disk(tmp_path, two_sets):
    """A 96 KiB tmpfs, where the machine lets the tests mount one: the old set (about 55 KiB)
    fits, a second set beside it does not."""
    from edgeseq.atomic import write_set

    old, new, _ = two_sets
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        for n, d in old.items():
            (mount / n).write_bytes(d)
        with pytest.raises(InputError, match=r"tiny.onnx: cannot write: No space left on device"):
            write_set([(mount / n, new[n]) for n in NAMES], force=True)
        assert {n: (mount / n).read_bytes() for n in NAMES} == old and not leftovers(mount)
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_writer_that_comes_second_to_a_new_name_is_refused(tmp_path, monkeypatch, two_sets):
    """Both passed the early check; the other placed its set first: this one says so."""
    import edgeseq.atomic.sets as atomic_sets

    _, new, _ = two_sets
    real_lock = atomic_sets.folder_lock

    def other_writer_first(folder):
        (folder / "tiny.onnx").write_bytes(b"the other export's")
        return real_lock(folder)

    monkeypatch.setattr(atomic_sets, "folder_lock", other_writer_first)
    with pytest.raises(InputError, match="tiny.onnx already exists; pass --force"):
        atomic_sets.write_set([(tmp_path / n, new[n]) for n in NAMES])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]


@pytest.mark.slow
def test_two_exports_racing_to_one_name(tiny_run, tmp_path):
    out = tmp_path / "race.onnx"
    command = [sys.executable, "-m", "edgeseq.cli", "export", str(tiny_run), "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    racers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
              for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in racers]
    assert sorted(code for code, _ in results) == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    last = loser.strip().splitlines()[-1]  # the first file of the set it found there
    assert last.startswith(f"edgeseq: error: {tmp_path}/race.") and last.endswith("already exists; pass --force to overwrite it")
    assert "Traceback" not in loser
    assert cli("verify", str(out)).exit_code == 0 and not leftovers(tmp_path)


def test_a_killed_export_is_finished_by_the_next_one(tiny_run, tmp_path):
    """SIGKILL during a real `edgeseq export`, at its second rename into place (after the commit
    point): the files on disk are a mix; the next export finishes the set, says so, and then
    refuses to overwrite it without --force."""
    out = tmp_path / "killed.onnx"
    script = HARNESS + textwrap.dedent(f'''
        install(Faults(2, kill, name="replace"))  # the fixed graph is in place, the others not
        from edgeseq.cli import app
        app(["export", {str(tiny_run)!r}, "-o", {str(out)!r}])
    ''')
    done = python(script)
    assert done.returncode == -9, done.stderr
    assert [p.name for p in tmp_path.glob("*.onnx")] == ["killed.fixed.onnx"] and len(leftovers(tmp_path)) == 1
    retry = cli("export", str(tiny_run), "-o", str(out))
    assert retry.exit_code == 2
    assert f"note: finished an interrupted write of {out}" in retry.stderr
    assert retry.stderr.strip().splitlines()[-1] == f"edgeseq: error: {out} already exists; pass --force to overwrite it"
    assert cli("verify", str(out)).exit_code == 0 and not leftovers(tmp_path)


def test_a_full_disk_while_saving_a_run_keeps_the_old_run(tmp_path, monkeypatch):
    from edgeseq.atomic import new_folder

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("old")
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name == "history.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(InputError, match=r"run: cannot write: No space left on device"):
        with new_folder(run, force=True) as tmp:
            (tmp / "config.json").write_text("new")
            (tmp / "history.json").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["run"] and (run / "config.json").read_text() == "old"
