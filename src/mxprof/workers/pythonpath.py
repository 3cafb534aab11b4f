"""How a worker process finds this very mxprof: on PYTHONPATH, before anything else.

- Under this interpreter, the directory holding the package (`package_parent`: src/ of a
  checkout, or site-packages) goes first on the worker's path.
- Under another interpreter (a venv with another MXNet, mxprof.host.builds) that directory will
  not do: when mxprof is pip-installed it is site-packages, and the other venv would import this
  venv's MXNet and numpy. `package_path_dir` makes a directory whose only entries are symlinks
  to this mxprof package and to msgspec, the records library its workers import.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mxprof.cache import cache_root

# This file is mxprof/workers/pythonpath.py: the package is two levels up, found without
# importing the package root.
PACKAGE = Path(__file__).resolve().parents[1]


def package_parent() -> str:
    """The directory holding this mxprof package (src/ of a checkout, or site-packages)."""
    return str(PACKAGE.parent)


def package_path_dir() -> Path:
    """A directory whose only entries are symlinks to this mxprof package and to the one
    package its workers need beyond MXNet and numpy, msgspec (msgspec has no dependencies, and
    its compiled core needs the same Python minor version as mxprof's). Under the cache folder;
    where that cannot hold it (read-only, or not this user's), in a private temporary folder
    removed when this process exits. Raises OSError only when neither can be written."""
    import msgspec

    packages = {"mxprof": PACKAGE, "msgspec": Path(msgspec.__file__).resolve().parent}
    tag = hashlib.sha256("\n".join(map(str, packages.values())).encode()).hexdigest()[:12]
    try:
        return _linked(cache_root() / "pythonpath" / tag, packages)
    except OSError:
        if tag not in _PRIVATE:
            import atexit
            import shutil
            import tempfile
            shim = Path(tempfile.mkdtemp(prefix="mxprof-pythonpath-"))  # mode 0700, unique
            atexit.register(shutil.rmtree, shim, True)  # removes the links, not their targets
            _PRIVATE[tag] = _linked(shim, packages)
        return _PRIVATE[tag]


_PRIVATE: dict[str, Path] = {}  # tag -> this process's own shim when the cache cannot hold it


def _linked(shim: Path, packages: dict[str, Path]) -> Path:
    for name, package in packages.items():
        link = shim / name
        if not (link.is_symlink() and link.resolve() == package):
            shim.mkdir(parents=True, exist_ok=True)
            tmp = shim / f".{name}.{os.getpid()}"
            if tmp.is_symlink():
                tmp.unlink()
            tmp.symlink_to(package, target_is_directory=True)
            os.replace(tmp, link)  # atomic: concurrent sweeps never see a missing link
    return shim
