"""The tree is the architecture: imports only run downwards (README, "Where things live").

Each subpackage has a rank; a module may import mxprof modules of its own rank or below, never
above. Library code never imports `mxprof.commands` or `mxprof.cli`, nor the package root
(`import mxprof`, `from mxprof import Timer`): the root re-exports from every layer, so such an
import runs back up (the version is `mxprof._version`). The check reads the source with `ast`,
so it sees imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mxprof"

# Bottom to top. A module's layer is its first path component under mxprof/.
RANKS = {
    "errors": 0, "_native": 0, "_core": 0, "_version": 0, "schema": 0, "events": 0,
    "jsonio": 0, "cache": 0, "files": 0,
    "timing": 1,
    "cpu": 2,
    "onednn": 3,
    "mx": 4,
    "workers": 5,
    "host": 6,
    # Dask sweeps: above workers/ and host/ (runs worker specs, fingerprints hosts), below the
    # jobs that hand it cells.
    "cluster": 7,
    "jobs": 8,
    "render": 9,
    "api": 10,
    "commands": 11, "cli": 11, "__main__": 12,
}
# Within jobs/, the jobs that build on others: compare runs profile's timing workers; results
# describes every job's result file.
JOB_RANKS = {"profile": 0, "fusion": 0, "accuracy": 0, "compare": 1, "results": 2, "diff": 2}


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
                if alias.name == "mxprof" or alias.name.startswith("mxprof."):
                    yield node.lineno, tuple(alias.name.split("."))


# Modules that may import the package root: the command line sits above every layer.
ROOT_IMPORTERS = ("__main__", "cli")


def _is_module(name: str) -> bool:
    """`name` is a module or subpackage of mxprof (not a name the root re-exports)."""
    return name in RANKS or (SRC / name).is_dir() or (SRC / f"{name}.py").is_file()


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
            if (not tail or not _is_module(tail[0])) and rel[0] not in ROOT_IMPORTERS:
                found.append(f"{path.relative_to(SRC)}:{line} imports the package root "
                             f"({'.'.join(target)})")
                continue
            if not tail:
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


@pytest.mark.parametrize("code", ["import mxprof\n", "from mxprof import __version__\n",
                                  "def f():\n    from mxprof import Timer\n"])
def test_the_check_catches_an_import_of_the_package_root(tmp_path, monkeypatch, code):
    fake = tmp_path / "mxprof"
    (fake / "workers").mkdir(parents=True)
    (fake / "workers" / "bad.py").write_text(code)
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    (found,) = violations()
    assert found.startswith("workers/bad.py:") and "imports the package root" in found


def test_the_version_has_one_source():
    import tomllib

    from mxprof._version import __version__
    project = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text())["project"]
    assert project["version"] == __version__


@pytest.mark.parametrize("layer", sorted(p.name for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("_")))
def test_every_subpackage_has_a_rank(layer):
    assert layer in RANKS
