"""Every command in README.md and docs/*.md runs as written from a fresh clone.

Which text is a command:
- a ```bash or ```sh block: every line is a command (a line ending in a backslash goes on);
- a ```console block: lines starting with "$ " are commands, the lines after one its output.
  Output starting with "edgeseq: error:" means the command must exit 2; otherwise every
  command must exit 0. The output shown is not compared;
- a ```python block of README.md is run as a script after the README's commands;
- ```text and unmarked blocks are not run: output, or an interactive session;
- a command starting `edgeseq serve` is started in the background and runs until the page's
  commands are done; the next command runs once it says it is listening.

Each page runs in its own temporary folder holding a copy of examples/ and exported/, its
commands in order, as a reader would type them: later commands use what earlier ones made.
A shim named `edgeseq`, first on PATH, runs `python -m edgeseq.cli` from this checkout.
SKIPPED lists the commands not run and why; each must still appear in the docs.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SKIPPED = {
    "pip install .": "installs into the environment",
    "pip install '.[train,plot,dev,web]' && python -m pytest": "installs, then runs this suite",
}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


@dataclass
class Command:
    text: str
    exit_code: int


def commands_of(page: Path) -> list[Command]:
    found = []
    for kind, body in FENCE.findall(page.read_text()):
        if kind in ("bash", "sh"):
            for line in re.sub(r"\\\n\s*", "", body).splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    found.append(Command(line.strip(), 0))
        elif kind == "console":
            lines = re.sub(r"\\\n\s*", "", body).splitlines()
            for i, line in enumerate(lines):
                if line.startswith("$ "):
                    shown = lines[i + 1] if i + 1 < len(lines) else ""
                    found.append(Command(line[2:].strip(), 2 if shown.startswith("edgeseq: error:") else 0))
    return found


def python_blocks(page: Path) -> list[str]:
    return [body for kind, body in FENCE.findall(page.read_text()) if kind == "python"]


def environment(folder: Path) -> dict[str, str]:
    shim = folder / ".bin" / "edgeseq"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m edgeseq.cli "$@"\n')
    shim.chmod(0o755)
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    env["PATH"] = os.pathsep.join([str(shim.parent), str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_page(page: Path, folder: Path) -> list[str]:
    """Run a page's commands in ``folder``; returns one line per failure."""
    for shipped in ("examples", "exported"):
        shutil.copytree(REPO / shipped, folder / shipped)
    env = environment(folder)
    failures, servers = [], []
    try:
        for command in commands_of(page):
            if command.text in SKIPPED:
                continue
            if command.text.startswith("edgeseq serve"):
                server, said = start_server(command.text, folder, env)
                servers.append(server)
                if server.poll() is not None:
                    failures.append(f"{page.name}: `{command.text}` did not start: {said[-600:]}")
                    break
                continue
            if not run_command(page, command, folder, env, failures):
                break  # the page's later commands need this one's result
        for code in python_blocks(page) if not failures else []:
            done = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True,
                                  text=True, timeout=600)
            if done.returncode != 0:
                failures.append(f"{page.name}: its python block failed: {done.stderr.strip()[-600:]}")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=60)
    return failures


def start_server(text: str, folder: Path, env: dict) -> tuple[subprocess.Popen, str]:
    """``edgeseq serve ...`` in the background; returns once it says it listens (or has ended)."""
    server = subprocess.Popen(["bash", "-c", f"exec {text}"], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    said = ""
    for line in server.stderr:  # ends when the process does
        said += line
        if "listening on" in line:
            break
    threading.Thread(target=server.stderr.read, daemon=True).start()  # its later lines: never a full pipe
    return server, said


def run_command(page: Path, command: Command, folder: Path, env: dict, failures: list[str]) -> bool:
    """One command as a reader types it; False (and a failure line) when its exit code is not the doc's."""
    done = subprocess.run(["bash", "-c", command.text], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != command.exit_code:
        failures.append(f"{page.name}: `{command.text}` exited {done.returncode}, not {command.exit_code}: "
                        f"{(done.stderr or done.stdout).strip()[-600:]}")
        return False
    return True


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every page run once, two at a time (one per core)."""
    folders = [tmp_path_factory.mktemp(page.stem) for page in PAGES]
    with ThreadPoolExecutor(2) as pool:
        return dict(zip([page.name for page in PAGES], pool.map(run_page, PAGES, folders)))


@pytest.mark.slow
@pytest.mark.parametrize("page", [page.name for page in PAGES])
def test_every_command_of_the_page_runs(results, page):
    assert results[page] == []


def test_the_convention_finds_commands_and_exit_codes():
    readme = commands_of(REPO / "README.md")
    assert Command("edgeseq run stock", 0) in readme and len(python_blocks(REPO / "README.md")) == 1
    everything = [c for page in PAGES for c in commands_of(page)]
    assert any(c.exit_code == 2 for c in everything), "a page shows an error on purpose"
    texts = {c.text for c in everything}
    assert set(SKIPPED) <= texts, f"skipped commands no page has any more: {set(SKIPPED) - texts}"


def test_ci_runs_the_readmes_test_command():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    command = "pip install '.[train,plot,dev,web]' && python -m pytest"
    assert command in ci and Command(command, 0) in commands_of(REPO / "README.md")


# ---------------------------------------------------------------- the shape of the docs

def paragraphs(page: Path) -> list[str]:
    """The prose paragraphs of a page: not code blocks, tables or headings; a list item is one."""
    found, current = [], []
    text = FENCE.sub("", page.read_text())
    for line in text.splitlines() + [""]:
        starts_item = re.match(r"\s*([-*]|\d+\.)\s", line)
        if not line.strip() or line.lstrip().startswith(("|", "#")) or (starts_item and current):
            if current:
                found.append(" ".join(current))
            current = []
        if line.strip() and not line.lstrip().startswith(("|", "#")):
            current.append(line.strip())
    return found


def deepest_parenthesis(text: str) -> int:
    depth = deepest = 0
    for char in re.sub(r"`[^`]*`", "", text):  # code may hold any parentheses
        depth += {"(": 1, ")": -1}.get(char, 0)
        depth, deepest = max(depth, 0), max(deepest, depth)
    return deepest


def test_the_readme_is_short():
    assert len((REPO / "README.md").read_text().splitlines()) <= 220


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_paragraphs_are_short_and_never_nest_parentheses(page):
    for paragraph in paragraphs(page):
        assert len(paragraph) <= 600, paragraph
        assert deepest_parenthesis(paragraph) <= 1, paragraph


@pytest.mark.parametrize("page", [*PAGES, REPO / "examples" / "README.md"], ids=lambda page: page.name)
def test_every_link_to_a_file_resolves(page):
    for target in re.findall(r"\]\(([^)#]+?)(?:#[^)]*)?\)", page.read_text()):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which is not there"


def test_the_examples_are_small():
    assert sum(f.stat().st_size for f in (REPO / "examples").rglob("*") if f.is_file()) < 200_000
