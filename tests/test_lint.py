"""The code base stays clean under the ruff configuration in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed: install the test extra, pip install '.[test]'")
    proc = subprocess.run([ruff, "check", "src", "tests", "bench"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_help_lists_commands():
    from mxprof.cli import COMMANDS, build_parser

    text = build_parser().format_help()
    for name in COMMANDS:
        assert name in text


@pytest.mark.parametrize("code, rule", [
    ("from .timing import stats\n", "TID252"),  # a relative import can hide an upward one
    ("def f():\n    try:\n        return 1\n    except Exception:\n        return 0\n",
     "BLE001"),  # a blind except needs its reason in a noqa comment
    ("def f(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(13))
     + "    return -1\n", "C901"),
])
def test_ruff_keeps_the_architecture(tmp_path, code, rule):
    """The rules that keep the layers apart are on: each catches its own kind of code."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    pkg = tmp_path / "src" / "mxprof"
    pkg.mkdir(parents=True)
    (pkg / "probe.py").write_text(code)
    proc = subprocess.run([ruff, "check", "--config", str(ROOT / "pyproject.toml"),
                           "--output-format", "concise", str(pkg / "probe.py")],
                          capture_output=True, text=True)
    assert rule in proc.stdout, proc.stdout + proc.stderr
