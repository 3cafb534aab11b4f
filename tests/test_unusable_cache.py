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


@pytest.fixture
def cache_under_a_file(tmp_path, monkeypatch):
    """MXPROF_CACHE below a regular file: nothing can be made there, root or not (a read-only
    mount, tried by hand in the trial, fails the same calls with EROFS)."""
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path / "file" / "cache"))
    return tmp_path


def test_compare_without_a_usable_cache_says_so_before_any_worker(cache_under_a_file):
    """The results file under the cache folder cannot be made: exit 2 with the way out, not a
    traceback after the first measured run (nor one from the workers' PYTHONPATH folder)."""
    done = subprocess.run([sys.executable, "-m", "mxprof", "compare", "mobilenet0.25",
                           "--shape", "3,32,32", "--fast", "--processes", "1", "--batch-size",
                           "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "give --results PATH" in done.stderr.splitlines()[-1]
    assert "running" not in done.stderr  # no worker started


def test_workers_find_mxprof_without_a_usable_cache(cache_under_a_file):
    """The folder linking mxprof for another interpreter's workers goes to a private temporary
    folder instead, and its links work."""
    from mxprof.workers.pythonpath import package_path_dir
    shim = package_path_dir()
    assert "cache" not in shim.parts
    done = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                           " import mxprof.workers.pythonpath as p; print(p.PACKAGE)", str(shim)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str((shim / "mxprof").resolve())
    assert package_path_dir() == shim  # once per process
