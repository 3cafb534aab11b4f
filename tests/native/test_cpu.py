"""mxprof._core CPU functions called directly: affinity of other tasks, mempolicy syscalls.

Nothing here changes the test process itself: affinity is set on a child process and memory
policies are set in subprocesses (a memory policy or CPU mask left behind would slow or skew
every later test).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from mxprof import _core as core


def test_getaffinity_matches_os():
    assert set(core.sched_getaffinity()) == os.sched_getaffinity(0)
    assert core.sched_getaffinity(os.getpid()) == sorted(os.sched_getaffinity(os.getpid()))


def test_setaffinity_of_another_process():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        last = max(os.sched_getaffinity(0))
        core.sched_setaffinity([last], child.pid)
        assert os.sched_getaffinity(child.pid) == {last}
        assert core.sched_getaffinity(child.pid) == [last]
        # The Python twin agrees in the other direction too.
        os.sched_setaffinity(child.pid, {0})
        assert core.sched_getaffinity(child.pid) == [0]
    finally:
        child.communicate(b"")


def test_setaffinity_errors_keep_errno():
    with pytest.raises(OSError) as info:
        core.sched_setaffinity([os.cpu_count() + 7], 0)  # not a CPU of this machine
    assert info.value.errno == errno.EINVAL
    assert "sched_setaffinity" in str(info.value)
    with pytest.raises(ValueError, match="empty CPU set"):
        core.sched_setaffinity([], 0)
    with pytest.raises(ProcessLookupError):
        core.sched_setaffinity([0], 2**22 + 12345)  # above pid_max: no such task


def test_get_mempolicy_shape():
    err, mode, nodes = core.get_mempolicy()
    assert err == 0, os.strerror(err)
    assert mode & ~core.MPOL_MODE_FLAGS in (core.MPOL_DEFAULT, core.MPOL_BIND,
                                             core.MPOL_PREFERRED, core.MPOL_INTERLEAVE,
                                             core.MPOL_LOCAL)
    assert all(isinstance(n, int) for n in nodes)


def test_set_mempolicy_refusal_is_an_errno_not_an_exception():
    before = core.get_mempolicy()
    assert core.set_mempolicy(core.MPOL_BIND, [4000]) == errno.EINVAL  # no such node
    assert core.get_mempolicy() == before
    with pytest.raises(ValueError, match="out of range"):
        core.set_mempolicy(core.MPOL_BIND, [5000])


def test_set_mempolicy_bind_and_reset_in_a_subprocess():
    code = """
import json
from mxprof import _core as c
err = c.set_mempolicy(c.MPOL_BIND, [0])
after = c.get_mempolicy()
reset = c.set_mempolicy(c.MPOL_DEFAULT, [])
print(json.dumps({"err": err, "after": after, "reset": reset, "final": c.get_mempolicy()}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    if out["err"] == 0:
        assert out["after"][1] & ~core.MPOL_MODE_FLAGS == core.MPOL_BIND
        assert out["after"][2] == [0]
    else:  # containers may refuse (EPERM); then the policy must be untouched
        assert out["err"] in (errno.EPERM, errno.ENOSYS)
        assert out["after"][1] == core.MPOL_DEFAULT
    assert out["reset"] == 0 or out["err"] != 0
    assert out["final"][1] == core.MPOL_DEFAULT


def test_parse_and_format_are_exported():
    assert core.parse_cpu_list("0-2,4") == [0, 1, 2, 4]
    assert core.format_cpu_list([4, 0, 1, 2]) == "0-2,4"
    with pytest.raises(ValueError, match="runs backwards"):
        core.parse_cpu_list("3-1")
