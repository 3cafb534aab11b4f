"""bind(), the OpenMP environment and `mxprof bind`: real syscalls, in subprocesses.

Binding changes the process that calls it, so every real bind runs in a child process; the
pytest process keeps its CPUs and memory policy.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest

from fake_sysfs import make_sysfs
from mxprof.cpu.binding import Binding, select_cpus, select_nodes
from mxprof.cpu.openmp import (
    detect_openmp_runtime,
    elf_needed,
    openmp_env,
    openmp_places,
    resolve_wait_policy,
    wait_policy_in_force,
)
from mxprof.cpu.topology import read_topology

CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
LAST_CPU = max(os.sched_getaffinity(0))


def run_py(code: str) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON object as its last line."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=CHILD_ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def fake_topology(tmp_path):
    root = make_sysfs(tmp_path / "sys", nodes={0: "0-2,8-10", 1: "3-7,11-15", 2: ""},
                      node_memory_kb={2: 0})
    return read_topology(root, tmp_path / "missing")


# ---- choosing CPUs and nodes (pure, fake topologies) -------------------------------------

def test_select_cpus(fake_topology):
    assert select_cpus(fake_topology) == tuple(range(16))
    assert select_cpus(fake_topology, "0-3,8-11") == (0, 1, 2, 3, 8, 9, 10, 11)
    assert select_cpus(fake_topology, "0-3,8-11", physical_only=True) == (0, 1, 2, 3)
    assert select_cpus(fake_topology, [9, 8], physical_only=True) == (8, 9)
    assert select_cpus(fake_topology, physical_only=True) == tuple(range(8))


def test_select_cpus_names_the_online_set(fake_topology):
    with pytest.raises(ValueError, match="CPU 16-17 not online: this machine has CPUs 0-15"):
        select_cpus(fake_topology, "14-17")
    with pytest.raises(ValueError, match="'x' is not a number"):
        select_cpus(fake_topology, "x")
    with pytest.raises(ValueError, match="empty"):
        select_cpus(fake_topology, [])


def test_select_nodes(fake_topology):
    assert select_nodes(fake_topology, "0-1") == (0, 1)
    with pytest.raises(ValueError, match="NUMA node 5 does not exist: this machine has nodes 0-2"):
        select_nodes(fake_topology, "5")
    with pytest.raises(ValueError, match="NUMA node 2 has no memory"):
        select_nodes(fake_topology, [2])


# ---- OpenMP environment ------------------------------------------------------------------

def test_openmp_places_fill_cores_first(tmp_path, fake_topology):
    assert openmp_places(fake_topology, range(16)) == (*range(8), *range(8, 16))
    assert openmp_places(fake_topology, [0, 1, 8, 9]) == (0, 1, 8, 9)
    # Adjacent siblings (0,1), (2,3)...: first threads of all cores, then the second threads.
    interleaved = read_topology(make_sysfs(tmp_path / "vm", sockets=1, cores=4,
                                           numbering="interleaved"), tmp_path / "missing")
    assert openmp_places(interleaved, range(8)) == (0, 2, 4, 6, 1, 3, 5, 7)


def test_openmp_env_values():
    assert openmp_env(18, wait_policy="active") == {
        "OMP_NUM_THREADS": "18", "KMP_AFFINITY": "granularity=fine,compact,1,0",
        "KMP_BLOCKTIME": "1"}
    assert openmp_env(4, blocktime=5, wait_policy="active")["KMP_BLOCKTIME"] == "5"
    assert openmp_env(4, blocktime=5, wait_policy="passive")["KMP_BLOCKTIME"] == "0"
    # GNU: no OMP_PROC_BIND unless places are asked for (it would pin MXNet's engine threads).
    assert openmp_env(2, intel_openmp=False, wait_policy="passive") == {
        "OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}
    # ACTIVE alone spins 3e10 iterations: the spin is bounded to libgomp's unset default.
    assert openmp_env(2, intel_openmp=False, wait_policy="active") == {
        "OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "300000"}
    assert openmp_env(2, intel_openmp=False, places=[0, 36], wait_policy="passive") == {
        "OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE", "OMP_PROC_BIND": "close",
        "OMP_PLACES": "{0},{36}"}
    # auto with one thread: nothing waits, whatever the load
    assert openmp_env(1, intel_openmp=False)["OMP_WAIT_POLICY"] == "PASSIVE"
    with pytest.raises(ValueError, match="at least 1"):
        openmp_env(0)
    with pytest.raises(ValueError, match="unknown wait policy 'spin'"):
        openmp_env(2, wait_policy="spin")


def test_auto_wait_policy_spins_only_on_idle_cpus():
    from mxprof.cpu.load import CpuShare

    def share(fraction, load=9.0):
        return CpuShare(cpus=(0, 1), window_s=0.5, other_cpu_s=fraction, own_cpu_s=0.0,
                        share=fraction, load_average=load)

    # the window decides, whatever the load average says
    assert resolve_wait_policy("auto", threads=2, share=share(0.02, load=9.0))[0] == "active"
    policy, reason = resolve_wait_policy("auto", threads=2, share=share(0.45, load=0.1))
    assert policy == "passive"
    assert reason == ("auto: other processes took 45% of CPUs 0-1 over 0.50 s (1-min load "
                      "average 0.1), limit 10%: they are shared")
    assert resolve_wait_policy("auto", threads=2, share=share(0.10))[0] == "active"
    assert resolve_wait_policy("auto", threads=1, share=share(0.9)) == (
        "passive", "auto: one OpenMP thread, no team waits")
    assert resolve_wait_policy("active", threads=2, share=share(0.9)) == (
        "active", "chosen by the user")


def test_wait_policy_in_force_reads_the_variables():
    assert wait_policy_in_force({}) == {"policy": "runtime default", "variables": {}}
    assert wait_policy_in_force({"OMP_WAIT_POLICY": "passive"})["policy"] == "passive"
    got = wait_policy_in_force(openmp_env(2, intel_openmp=False, wait_policy="active"))
    assert got == {"policy": "active", "variables": {"OMP_WAIT_POLICY": "ACTIVE",
                                                     "GOMP_SPINCOUNT": "300000"}}
    assert wait_policy_in_force({"KMP_BLOCKTIME": "0"})["policy"] == "passive"
    assert wait_policy_in_force({"KMP_BLOCKTIME": "1"})["policy"] == "active"


def test_fingerprint_records_the_wait_policy(monkeypatch):
    from mxprof.host.environment import Environment, host_fingerprint

    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    env = host_fingerprint()
    assert env.wait_policy == {"policy": "passive", "variables": {"OMP_WAIT_POLICY": "PASSIVE"}}
    assert Environment.from_dict(json.loads(json.dumps(env.to_dict()))) == env


def test_detects_the_runtime_of_the_installed_mxnet():
    import importlib.util

    lib = Path(importlib.util.find_spec("mxnet").submodule_search_locations[0]) / "libmxnet.so"
    needed = elf_needed(lib)
    assert "libc.so.6" in needed
    expected = "gnu" if any(n.startswith("libgomp") for n in needed) else "intel"
    assert detect_openmp_runtime("mxnet") == expected
    assert detect_openmp_runtime("json") == "unknown"
    assert elf_needed(Path(__file__)) == []


# ---- bind() for real, in child processes ---------------------------------------------------

def test_bind_pins_every_thread():
    out = run_py(f"""
        import json, os, threading
        from mxprof import bind
        stop = threading.Event()
        worker = threading.Thread(target=stop.wait)
        worker.start()
        b = bind("{LAST_CPU}")
        late = threading.Thread(target=stop.wait)
        late.start()
        cpus = {{t: sorted(os.sched_getaffinity(t)) for t in
                 (0, worker.native_id, late.native_id)}}
        stop.set()
        print(json.dumps({{"binding": b.to_dict(), "cpus": list(cpus.values())}}))
    """)
    assert out["binding"]["cpus"] == str(LAST_CPU)
    assert out["binding"]["threads_pinned"] == 2
    assert out["cpus"] == [[LAST_CPU]] * 3
    assert out["binding"]["membind"] is None and out["binding"]["memory_bound"] is False


def test_bind_membind_record_is_honest():
    out = run_py("""
        import json
        from mxprof import bind
        from mxprof.cpu.binding import affinity_fingerprint, current_membind
        b = bind("0", "0")
        print(json.dumps({"binding": b.to_dict(), "readback": current_membind(),
                          "fingerprint": affinity_fingerprint()}))
    """)
    b = out["binding"]
    assert b["cpus"] == "0" and b["membind"] == "0"
    # Either outcome is allowed here (containers may refuse), a false record is not.
    assert b["memory_bound"] == (out["readback"] == [0])
    assert out["fingerprint"]["memory_bound"] == b["memory_bound"]
    assert out["fingerprint"]["cpus"] == "0"
    assert out["fingerprint"]["openmp_runtime"] == detect_openmp_runtime("mxnet")
    if not b["memory_bound"]:
        assert any("memory is not" in w for w in b["warnings"])
    else:
        assert out["fingerprint"]["membind"] == "0" and out["fingerprint"]["mempolicy"] == "bind"


def test_refused_membind_still_binds_cpus_and_says_so():
    # A topology that claims a node 1 the kernel does not have: set_mempolicy really fails.
    out = run_py(f"""
        import json, msgspec, os
        from mxprof import bind
        from mxprof.cpu.binding import current_membind
        from mxprof.cpu.topology import read_topology
        real = read_topology()
        fake = msgspec.structs.replace(real, nodes={{**real.nodes, 4000: ()}},
                                      node_memory_kb={{4000: 1024}})
        b = bind("{LAST_CPU}", [4000], topology=fake)
        print(json.dumps({{"binding": b.to_dict(), "readback": current_membind(),
                          "cpus": sorted(os.sched_getaffinity(0))}}))
    """)
    assert out["binding"]["memory_bound"] is False
    assert out["readback"] is None
    assert out["cpus"] == [LAST_CPU]
    (warning,) = out["binding"]["warnings"]
    assert "refused by the kernel" in warning and "memory is not" in warning


def test_kernel_refusing_cpus_is_a_bind_error():
    out = run_py("""
        import json, msgspec
        from mxprof import bind
        from mxprof.cpu.binding import BindError
        from mxprof.cpu.topology import Cpu, read_topology
        real = read_topology()
        ghost = Cpu(4000, 4000, 0, 0, (4000,))
        fake = msgspec.structs.replace(real, cpus=real.cpus + (ghost,))
        try:
            bind([4000], topology=fake)
        except BindError as exc:
            print(json.dumps({"errno": exc.errno, "message": exc.strerror}))
    """)
    assert out["errno"] == 22
    assert "refused to bind to CPUs 4000" in out["message"]
    assert "may run on CPUs" in out["message"]


def test_bind_rejects_cpus_that_are_not_online():
    from mxprof import bind
    with pytest.raises(ValueError, match=r"CPU 4000 not online: this machine has CPUs"):
        bind([4000])
    with pytest.raises(ValueError, match="NUMA node 4000 does not exist"):
        bind(None, "4000")


def test_binding_record_round_trips():
    b = Binding((0, 1, 2, 8), (0,), False, ("memory refused",), 3)
    assert Binding.from_dict(json.loads(json.dumps(b.to_dict()))) == b
    assert b.to_dict()["cpus"] == "0-2,8"
    assert msgspec.structs.replace(b, membind=None).to_dict()["membind"] is None


# ---- the CLI -------------------------------------------------------------------------------

PRINT_BINDING = ("import json, os; from mxprof.cpu.binding import current_membind; "
                 "print(json.dumps({'cpus': sorted(os.sched_getaffinity(0)), "
                 "'env': {k: v for k, v in os.environ.items() if k[:4] in ('OMP_', 'KMP_')}, "
                 "'membind': current_membind()}))")


def test_cli_bind_execs_with_cpus_and_threads(cli):
    proc = cli("bind", "--cores", str(LAST_CPU), "--", sys.executable, "-c", PRINT_BINDING,
               env=CHILD_ENV)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["cpus"] == [LAST_CPU]
    assert out["env"]["OMP_NUM_THREADS"] == "1"
    assert out["membind"] is None
    assert proc.stderr == ""


def test_cli_bind_intel_openmp_env_and_threads(cli):
    proc = cli("bind", "--openmp", "intel", "--threads", "3", "--blocktime", "0", "--",
               sys.executable, "-c", PRINT_BINDING, env=CHILD_ENV)
    assert proc.returncode == 0, proc.stderr
    env = json.loads(proc.stdout)["env"]
    assert env["OMP_NUM_THREADS"] == "3"
    assert env["KMP_AFFINITY"] == "granularity=fine,compact,1,0"
    assert env["KMP_BLOCKTIME"] == "0"
    if os.cpu_count() < 3:
        assert "3 OpenMP threads on" in proc.stderr


def test_cli_bind_membind_is_honest(cli):
    proc = cli("bind", "--cores", "0", "--membind", "0", "--", sys.executable, "-c",
               PRINT_BINDING, env=CHILD_ENV)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    if "refused" in proc.stderr:
        assert "mxprof: warning: memory binding to NUMA node 0 refused" in proc.stderr
        assert out["membind"] is None
    else:
        assert out["membind"] == [0]


def test_cli_dry_run_changes_nothing(cli):
    proc = cli("bind", "--cores", "0", "--membind", "0", "--openmp", "gnu", "--dry-run", "--",
               "false")
    assert proc.returncode == 0, proc.stderr
    assert "dry run" in proc.stdout
    assert "CPUs:    0 (1 logical CPUs on 1 physical cores)" in proc.stdout
    assert "NUMA node 0 (MPOL_BIND)" in proc.stdout
    assert "OMP_WAIT_POLICY=PASSIVE" in proc.stdout
    assert "wait:    passive (auto: one OpenMP thread, no team waits)" in proc.stdout
    assert "OMP_PLACES" not in proc.stdout and "OMP_PROC_BIND" not in proc.stdout
    assert "exec:    false" in proc.stdout
    pinned = cli("bind", "--cores", "0", "--openmp", "gnu", "--pin-threads", "--dry-run", "--",
                 "false")
    assert pinned.returncode == 0, pinned.stderr
    assert "OMP_PLACES={0}" in pinned.stdout and "OMP_PROC_BIND=close" in pinned.stdout


@pytest.mark.parametrize(("openmp", "policy", "expected"), [
    ("gnu", "active", ["OMP_WAIT_POLICY=ACTIVE", "GOMP_SPINCOUNT=300000"]),
    ("gnu", "passive", ["OMP_WAIT_POLICY=PASSIVE"]),
    ("intel", "active", ["KMP_BLOCKTIME=1"]),
    ("intel", "passive", ["KMP_BLOCKTIME=0"]),
])
def test_cli_wait_policy(cli, openmp, policy, expected):
    proc = cli("bind", "--threads", "2", "--openmp", openmp, "--wait-policy", policy,
               "--dry-run", "--", "true")
    assert proc.returncode == 0, proc.stderr
    assert f"wait:    {policy} (chosen by the user)" in proc.stdout
    for line in expected:
        assert line in proc.stdout
    other = "PASSIVE" if policy == "active" else "ACTIVE"
    assert f"OMP_WAIT_POLICY={other}" not in proc.stdout


def test_cli_physical_only(cli):
    topo = read_topology()
    proc = cli("bind", "--physical-only", "--dry-run", "--", "true")
    assert proc.returncode == 0, proc.stderr
    from mxprof.cpu.cpulist import format_cpu_list
    assert f"CPUs:    {format_cpu_list(topo.physical_cpus())} " in proc.stdout


def test_busy_warning_only_when_the_bound_cpus_are_shared():
    from mxprof.commands.bind import busy_warning

    assert busy_warning(2, 2, 2, 0.3) is None
    assert busy_warning(2, 2, 1, 4.5) is None  # one thread has no barrier to wait at
    assert busy_warning(72, 18, 18, 30.0) is None  # the load fits on the 54 other CPUs
    message = busy_warning(2, 2, 2, 4.5)
    assert message.startswith("load average 4.5 on a machine with 2 CPUs")
    assert "compare with --threads 1" in message


@pytest.mark.parametrize(("args", "message"), [
    (["--cores", "99"], "--cores 99: CPU 99 not online: this machine has CPUs"),
    (["--cores", "x"], "--cores x: invalid CPU list 'x': 'x' is not a number"),
    (["--cores", "3-1"], "--cores 3-1: invalid CPU list '3-1': range 3-1 runs backwards"),
    (["--membind", "5"], "--membind 5: NUMA node 5 does not exist: this machine has nodes"),
    (["--threads", "0"], "--threads must be at least 1"),
])
def test_cli_bad_input(cli, args, message):
    proc = cli("bind", *args, "--", "true")
    assert proc.returncode == 2
    assert f"mxprof: error: {message}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_missing_or_unknown_command(cli):
    proc = cli("bind", "--cores", "0")
    assert proc.returncode == 2 and "bind needs a command" in proc.stderr
    proc = cli("bind", "--cores", "0", "--")
    assert proc.returncode == 2 and "bind needs a command" in proc.stderr
    proc = cli("bind", "--cores", "0", "--", "no-such-command-mxprof")
    assert proc.returncode == 127 and "command not found: no-such-command-mxprof" in proc.stderr


# A launcher that makes set_mempolicy fail the way a container (EPERM) or a kernel built without
# NUMA (ENOSYS) does, with a seccomp filter that survives exec, then execs its arguments.
SECCOMP_LAUNCHER = """
import ctypes, os, sys

class Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]

class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

nr, err = int(sys.argv[1]), int(sys.argv[2])
rules = (Filter * 4)(
    Filter(0x20, 0, 0, 0),                   # load seccomp_data.nr
    Filter(0x15, 0, 1, nr),                  # set_mempolicy?
    Filter(0x06, 0, 0, 0x00050000 | err),    # SECCOMP_RET_ERRNO | err
    Filter(0x06, 0, 0, 0x7FFF0000),          # SECCOMP_RET_ALLOW
)
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.byref(Program(4, rules)), 0, 0):
    sys.exit("seccomp unavailable: " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[3], sys.argv[3:])
"""
SET_MEMPOLICY_NR = {"x86_64": 238, "aarch64": 237}


@pytest.mark.parametrize("refusal", [errno.EPERM, errno.ENOSYS], ids=["EPERM", "ENOSYS"])
def test_cli_refused_membind_warns_and_still_runs(tmp_path, refusal):
    import platform

    nr = SET_MEMPOLICY_NR.get(platform.machine())
    if nr is None:
        pytest.skip(f"no set_mempolicy syscall number for {platform.machine()}")
    launcher = tmp_path / "launcher.py"
    launcher.write_text(SECCOMP_LAUNCHER)
    proc = subprocess.run(
        [sys.executable, str(launcher), str(nr), str(refusal), sys.executable, "-m", "mxprof",
         "bind", "--cores", str(LAST_CPU), "--membind", "0", "--", sys.executable, "-c",
         "import json; from mxprof.cpu.binding import affinity_fingerprint as f; "
         "print(json.dumps(f()))"],
        capture_output=True, text=True, env=CHILD_ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    name = errno.errorcode[refusal]
    assert (f"mxprof: warning: memory binding to NUMA node 0 refused by the kernel ({name}"
            in proc.stderr)
    fingerprint = json.loads(proc.stdout)
    assert fingerprint["cpus"] == str(LAST_CPU)
    assert fingerprint["memory_bound"] is False and fingerprint["membind"] is None
