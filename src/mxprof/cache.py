"""mxprof's cache folder, the one place that says where it is: cached venvs (mxprof.host.builds),
measured ceilings (mxprof.cpu.ceilings), compare's results file, the oneDNN version probe."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$MXPROF_CACHE, else $XDG_CACHE_HOME/mxprof, else ~/.cache/mxprof (the XDG base directory
    specification's default); `~` expanded."""
    root = os.environ.get("MXPROF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "mxprof")
    return Path(os.path.expanduser(root))
