"""Every process mxprof starts runs a module of this package with `-m` (issue 19): no code
passed as `-c` strings, and every module named to run exists; the workers among them (a
`WorkerSpec(module=...)`) use the one protocol (mxprof.workers.protocol.worker_main). A module
moved without its name string updated fails here, not in a user's run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# The protocol's own test seam: a fault that starts processes escaping the worker's group,
# found by the marker in their command line (tests/test_interrupt.py).
CODE_STRING_ALLOWED = {"mxprof/workers/protocol.py"}
# A module name that a process runs (module=... is matched by its keyword).
_RUN_NAME = re.compile(r"^mxprof(\.[a-z_0-9]+)+(\.worker|_probe)$")


def _trees():
    for path in sorted((SRC / "mxprof").rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(), filename=str(path))


def _module_path(name: str) -> Path:
    base = SRC.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def named_modules() -> dict[str, set[str]]:
    """Module names that code starts processes with -> 'worker' | 'run' (where named)."""
    found: dict[str, set[str]] = {}
    for _, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "module" and \
                    isinstance(node.value, ast.Constant):
                found.setdefault(node.value.value, set()).add("worker")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    _RUN_NAME.match(node.value):
                found.setdefault(node.value, set()).add("run")
    return found


def test_no_code_is_passed_as_a_string():
    found = []
    for rel, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, (ast.List, ast.Tuple)) and any(
                    isinstance(e, ast.Constant) and e.value == "-c" for e in node.elts):
                found.append(f"{rel}:{node.lineno}")
    assert [f for f in found if f.split(":")[0] not in CODE_STRING_ALLOWED] == []


def test_every_module_run_exists_and_workers_use_the_protocol():
    named = named_modules()
    for expected in ("mxprof.jobs.ceilings.worker", "mxprof.jobs.model_check",
                     "mxprof.jobs.profile.zero_subnormals", "mxprof.host.build_probe",
                     "mxprof.host.onednn_probe", "mxprof.cpu.openmp_probe"):
        assert expected in named, expected
    for name, how in named.items():
        path = _module_path(name)
        assert path.is_file(), f"{name} is started but {path} does not exist"
        text = path.read_text()
        assert "__main__" in text, f"{name} cannot run with -m"
        if "worker" in how or name.endswith((".worker", "onednn_probe")):
            assert "worker_main" in text, f"{name} is a worker outside the protocol"
