"""Other MXNet builds and releases, each in its own interpreter, for side-by-side comparison.

`--python NAME=PATH` names an interpreter that already has an MXNet (a venv with `mxnet-native`,
`mxnet-mkl==1.6.0`, ...). `--build NAME=PIP_SPEC` makes such a venv itself and caches it under
`~/.cache/mxprof/venvs/<hash of the spec>` (`$MXPROF_CACHE` overrides the root), so the second
sweep starts at once.

How a worker in another venv finds mxprof: that venv has MXNet but not mxprof. Installing mxprof
into every venv would mean rebuilding the native core per venv; instead the worker gets a
PYTHONPATH holding a directory with a symlink `mxprof -> <this package>` (and one to msgspec,
the records library its workers import): mxprof.workers.pythonpath. The compiled
`_core*.so` is tied to the CPython ABI (3.11 here), so the other venv must run the same Python
minor version: `probe()` checks it and refuses a mismatch with a clear message.

Install recipes: old `mxnet-mkl` wheels declare `numpy<1.17` (no wheel for Python 3.11), so they
are installed with `--no-deps` plus the dependencies they need at run time (`numpy==1.23.5`,
`requests`, `graphviz`), the recipe that installs 1.5.1 on Python 3.11; other specs install
normally with the numpy pin.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import msgspec

from mxprof.cache import cache_root
from mxprof.files import temp_dir
from mxprof.jsonio import write_json
from mxprof.schema import Record
from mxprof.workers.process import run_process
from mxprof.workers.pythonpath import package_path_dir

NUMPY_PIN = "numpy==1.23.5"
# pandas: the profile worker's primitives pass tables the verbose log with it (profile --build).
WORKER_PACKAGES = ("pandas",)
NO_DEPS_EXTRAS = (NUMPY_PIN, "requests", "graphviz", *WORKER_PACKAGES)
# Releases installed without their declared dependencies from the start (1.5.1 and older);
# any other spec that fails to resolve gets the same recipe as a second try.
_NO_DEPS = re.compile(r"^mxnet(-mkl)?==1\.[0-5](\.\d+)*(\.post\d+)?$", re.I)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
# Run by the interpreter asked about, with only mxprof on its path (see probe()).
PROBE_MODULE = "mxprof.host.build_probe"


class BuildError(RuntimeError):
    """A build that cannot be made or used; the message says what to do."""


class Build(Record, frozen=True):
    """One interpreter to run workers under. `python=None` is this interpreter."""

    name: str
    python: str | None = None
    pip_spec: str | None = None  # set for --build
    mxnet: str | None = None  # filled by probe()
    mkldnn: bool | None = None


def current_build(name: str = "current") -> Build:
    return Build(name=name)


def _split(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise ValueError(f"bad {flag} {text!r}: expected NAME=VALUE")
    if not _NAME.match(name):
        raise ValueError(f"bad {flag} name {name!r}: letters, digits and _.+- only")
    return name, value


def parse_python(text: str) -> Build:
    """`NAME=/path/to/python` -> Build; the path must be an executable file."""
    name, path = _split(text, "--python")
    path = os.path.expanduser(path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise ValueError(f"--python {name}: {path} is not an executable interpreter")
    return Build(name=name, python=os.path.abspath(path))


def parse_build(text: str) -> tuple[str, str]:
    """`NAME=PIP_SPEC` -> (name, spec); the venv is made by `ensure_venv`."""
    return _split(text, "--build")


def venv_key(pip_spec: str, python_version: str | None = None) -> str:
    """Cache key: the normalised spec and the Python minor version (wheels are per ABI)."""
    py = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    norm = " ".join(sorted(re.sub(r"\s+", "", p).lower() for p in pip_spec.split()))
    return hashlib.sha256(f"{norm}|py{py}".encode()).hexdigest()[:16]


def venv_dir(pip_spec: str) -> Path:
    return cache_root() / "venvs" / venv_key(pip_spec)


def install_commands(pip_spec: str, venv: Path, base_python: str | None = None, *,
                     no_deps: bool | None = None) -> list[list[str]]:
    """The commands that create the venv for `pip_spec` (shown to the user on failure)."""
    base_python = base_python or sys.executable
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
           "--no-input"]
    packages = pip_spec.split()
    if no_deps is None:
        no_deps = all(_NO_DEPS.match(re.sub(r"\s+", "", p)) for p in packages)
    cmds = [[base_python, "-m", "venv", str(venv)]]
    if no_deps:
        cmds.append([*pip, "--no-deps", *packages])
        cmds.append([*pip, *NO_DEPS_EXTRAS])
    else:
        cmds.append([*pip, *packages, NUMPY_PIN, *WORKER_PACKAGES])
    return cmds


def ensure_venv(name: str, pip_spec: str, *, log=None) -> Build:
    """The cached venv for `pip_spec`, created on first use. A half-made venv is never reused:
    the marker file `mxprof-build.json` is written last."""
    venv = venv_dir(pip_spec)
    marker = venv / "mxprof-build.json"
    python = venv / "bin" / "python"
    if marker.is_file() and python.exists():
        return Build(name=name, python=str(python), pip_spec=pip_spec)
    try:
        cmds = _install(name, pip_spec, venv, None, log)
    except BuildError as first:
        if not first.args[0].endswith("[resolve]"):
            raise
        if log:
            log(f"build {name}: dependencies did not resolve; retrying with --no-deps")
        cmds = _install(name, pip_spec, venv, True, log)
    write_json(marker, {"name": name, "pip_spec": pip_spec, "commands": cmds})
    return Build(name=name, python=str(python), pip_spec=pip_spec)


def _install(name: str, pip_spec: str, venv: Path, no_deps: bool | None, log) -> list[list[str]]:
    if venv.exists():
        _remove_tree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    cmds = install_commands(pip_spec, venv, no_deps=no_deps)
    for step, cmd in enumerate(cmds):
        if log:
            log(f"build {name}: {' '.join(cmd)}")
        code, text = _run_captured(cmd, timeout=_INSTALL_TIMEOUT)
        if code != 0:
            tail = "\n".join(text.strip().splitlines()[-15:])
            # A dependency conflict (not a missing package) is worth one --no-deps retry.
            retry = step == 1 and no_deps is None and "ResolutionImpossible" in text
            raise BuildError(f"--build {name}={pip_spec}: `{' '.join(cmd)}` failed "
                             f"(exit {code}):\n{tail}" + ("[resolve]" if retry else ""))
    return cmds


_INSTALL_TIMEOUT = 3600.0


def _run_captured(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None
                  ) -> tuple[int | None, str]:
    """(exit status or None, stdout + stderr) of `cmd`, run like every worker (its own process
    group, killed with the parent: mxprof.workers.process), so an interrupted sweep leaves no
    pip or probe behind."""

    with temp_dir("build") as tmp:
        out, err = Path(tmp) / "stdout.txt", Path(tmp) / "stderr.txt"
        outcome = run_process(cmd, env=env, timeout=timeout, stdout=out, stderr=err)
        text = "".join(p.read_text(errors="replace") for p in (out, err) if p.exists())
    if outcome.status == "error":
        raise BuildError(outcome.description)
    return outcome.returncode, text


def _remove_tree(path: Path) -> None:
    import shutil
    shutil.rmtree(path)


def probe(build: Build, timeout: float = 120.0) -> Build:
    """Ask the interpreter for its Python and MXNet versions and whether MKL-DNN is compiled in."""
    python = build.python or sys.executable
    try:
        code, text = _run_captured([python, "-m", PROBE_MODULE], timeout=timeout,
                                   env=_probe_env())
    except BuildError as exc:
        raise BuildError(f"build {build.name}: cannot run {python}: {exc}") from None
    lines = [ln for ln in text.splitlines() if ln.startswith("{")]
    if code != 0 or not lines:
        raise BuildError(f"build {build.name}: {python} failed to start:\n{text[-2000:]}")
    info = json.loads(lines[-1])
    here = sys.implementation.cache_tag
    if info["abi"] != here:
        raise BuildError(f"build {build.name}: {python} is Python {info['python']} "
                         f"({info['abi']}); mxprof's native core is built for {here}: make the "
                         f"venv with the same Python minor version")
    if "error" in info:
        raise BuildError(f"build {build.name}: MXNet does not import under {python}: "
                         f"{info['error']}")
    return msgspec.structs.replace(build, mxnet=info["mxnet"], mkldnn=bool(info["mkldnn"]))


def _probe_env() -> dict[str, str]:
    # The probe must see the other venv's packages only, not ours through PYTHONPATH: only the
    # directory linking mxprof (and msgspec, which the probe does not import) is added.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(package_path_dir())
    return env
