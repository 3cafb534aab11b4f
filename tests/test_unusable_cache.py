"""A cache folder mxprof cannot look into costs what the cache saves, never the command.

Found by the breaker trial (docs/trial-2026-12-08b.md): with `MXPROF_CACHE` in a folder the user
may not search (mode 000, another user's cache; stat fails with EACCES) every zoo-model command
stopped with a PermissionError traceback from `mxprof.jobs.model_check.check_zoo`'s
`marker.is_file()` (pathlib turns only "not found" errors into False), and every worker died on
the same call in `mxprof.host.environment.onednn_version` (the oneDNN version cache). Tests run as root in CI,
where modes do not stop stat, so the test makes stat fail with another error pathlib does not
ignore: a folder name longer than the file system allows (ENAMETOOLONG). The check's child is
real (MXNet builds the network).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from mxprof.host.environment import probe_onednn_version
from mxprof.mx import models

pytest.importorskip("mxnet")
from mxprof.jobs.model_check import check_zoo


@pytest.fixture
def unusable_cache(tmp_path, monkeypatch):
    root = tmp_path / ("x" * 300)  # NAME_MAX is 255 on Linux file systems
    monkeypatch.setenv("MXPROF_CACHE", str(root))
    with pytest.raises(OSError):
        (root / "probe").is_file()  # what check_zoo's marker lookup meets
    return root


def test_check_zoo_runs_the_check_when_the_cache_cannot_be_read(unusable_cache):
    check_zoo(models.resolve("mobilenet0.25", shape=(3, 32, 32)))  # checked, no exception
    with pytest.raises(ValueError, match="do not fit"):  # still really checked: squeezenet's
        check_zoo(models.resolve("squeezenet1.0", shape=(3, 32, 32)))  # 13x13 pool > 1x1


def test_a_command_with_an_unusable_cache_still_runs(unusable_cache):
    done = subprocess.run([sys.executable, "-m", "mxprof", "profile", "mobilenet0.25",
                           "--shape", "3,32,32", "--dry-run"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_the_onednn_version_is_probed_when_the_cache_cannot_be_read(unusable_cache, tmp_path,
                                                                      monkeypatch):
    unreadable = probe_onednn_version()  # every worker asks this (fingerprint)
    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path / "usable"))
    assert unreadable == probe_onednn_version()
