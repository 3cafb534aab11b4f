"""The tree is the architecture: imports only run downwards (README, "Where things live").

Each subpackage has a rank; a module may import mxprof modules of its own rank or below, never
above. Library code never imports `mxprof.commands` or `mxprof.cli`. The check reads the source
with `ast`, so it sees imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mxprof"

# Bottom to top. A module's layer is its first path component under mxprof/.
RANKS = {
    "errors": 0, "_native": 0, "_core": 0, "schema": 0, "files": 0,
    "timing": 1,
    "cpu": 2,
    "onednn": 3,
    "mx": 4,
    "workers": 5,
    "jobs": 6,
    "render": 7,
    "api": 8,
    "commands": 9, "cli": 9, "__main__": 10,
}
# Within jobs/, the jobs that build on others: compare runs profile's timing workers; results
# describes every job's result file.
JOB_RANKS = {"profile": 0, "fusion": 0, "accuracy": 0, "compare": 1, "results": 2}


def _layer(parts: tuple[str, ...]) -> tuple[int, int]:
    head = parts[0]
    sub = JOB_RANKS.get(parts[1], 0) if head == "jobs" and len(parts) > 1 else 0
    return RANKS[head], sub


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "mxprof":
                for alias in node.names:
                    yield node.lineno, ("mxprof", alias.name)
            elif node.module.startswith("mxprof."):
                yield node.lineno, tuple(node.module.split("."))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mxprof."):
                    yield node.lineno, tuple(alias.name.split("."))


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("").parts
        if rel[0] in ("__init__",):
            continue  # the package root re-exports lazily from every layer, by design
        yield path, rel


def violations() -> list[str]:
    found = []
    for path, rel in _modules():
        if rel[0] not in RANKS:
            found.append(f"{path.relative_to(SRC)}: layer {rel[0]!r} has no rank in this test")
            continue
        mine = _layer(rel)
        for line, target in _imports(path):
            tail = target[1:]
            if not tail or tail[0] == "__version__":
                continue
            if tail[0] not in RANKS:
                continue
            theirs = _layer(tail)
            if theirs > mine and not (rel[0] == tail[0] == "jobs" and theirs[1] == mine[1]):
                found.append(f"{path.relative_to(SRC)}:{line} imports {'.'.join(target)} (upward)")
    return found


def test_every_import_runs_downwards():
    assert violations() == []


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "mxprof"
    (fake / "timing").mkdir(parents=True)
    (fake / "timing" / "bad.py").write_text("from mxprof.commands import profile\n")
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    assert violations() == ["timing/bad.py:1 imports mxprof.commands (upward)"]


@pytest.mark.parametrize("layer", sorted(p.name for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("_")))
def test_every_subpackage_has_a_rank(layer):
    assert layer in RANKS
