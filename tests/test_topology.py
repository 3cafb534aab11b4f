"""CPU lists and sysfs topology: fake 2-socket SMT trees with uneven nodes, and this machine."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_sysfs import make_cpuinfo, make_sysfs
from mxprof.cpu import cpulist
from mxprof.cpu.topology import Topology, read_cpuinfo, read_topology

IMPLEMENTATIONS = {
    "native": (cpulist.parse_cpu_list, cpulist.format_cpu_list),
    "python": (cpulist.parse_cpu_list_py, cpulist.format_cpu_list_py),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request):
    return IMPLEMENTATIONS[request.param]


@pytest.mark.parametrize(("text", "expected"), [
    ("0", [0]),
    ("0-3", [0, 1, 2, 3]),
    ("0-17,36-53", [*range(18), *range(36, 54)]),
    (" 1 , 3-4 \n", [1, 3, 4]),
    ("5,1,5,2-3", [1, 2, 3, 5]),
    ("7-7", [7]),
])
def test_parse_cpu_list(impl, text, expected):
    parse, _ = impl
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "why"), [
    ("3-1", "runs backwards"),
    ("a", "'a' is not a number"),
    ("", "empty list"),
    ("  \n", "empty list"),
    (",,", "empty item"),
    ("0,", "empty item"),
    ("1-2-3", "not a number"),
    ("-1", "empty number"),
    ("0x1", "not a number"),
    ("\u0663", "not a number"),  # Arabic-Indic digit three: int() would accept it
    ("99999999", "larger than"),
])
def test_parse_cpu_list_rejects_garbage(impl, text, why):
    parse, _ = impl
    with pytest.raises(ValueError, match=why):
        parse(text)


@pytest.mark.parametrize(("cpus", "expected"), [
    ([], ""),
    ([0], "0"),
    ([3, 2, 1, 0, 8, 10, 11, 11], "0-3,8,10-11"),
    ([*range(18), *range(36, 54)], "0-17,36-53"),
])
def test_format_cpu_list(impl, cpus, expected):
    _, fmt = impl
    assert fmt(cpus) == expected


def test_format_rejects_negative(impl):
    _, fmt = impl
    with pytest.raises(ValueError, match=">= 0"):
        fmt([1, -2])


@given(st.sets(st.integers(0, 300), min_size=1))
def test_format_then_parse_round_trips(cpus):
    for parse, fmt in IMPLEMENTATIONS.values():
        assert parse(fmt(cpus)) == sorted(cpus)


@given(st.text(alphabet="0123456789-, \n\tx", max_size=12))
def test_native_and_python_parsers_agree_on_anything(text):
    outcomes = []
    for parse, _ in IMPLEMENTATIONS.values():
        try:
            outcomes.append(("ok", parse(text)))
        except ValueError as exc:
            outcomes.append(("error", str(exc)))
    assert outcomes[0] == outcomes[1]


# ---- topology from fake sysfs trees ----------------------------------------------------------

def test_two_sockets_with_smt_split_numbering(tmp_path):
    root = make_sysfs(tmp_path / "sys")
    topo = read_topology(root, make_cpuinfo(tmp_path / "cpuinfo"))
    assert topo.sockets == (0, 1)
    assert topo.online == tuple(range(16))
    assert topo.core_count == 8 and topo.threads_per_core == 2
    assert topo.cpu(0).siblings == (0, 8) and topo.cpu(12).siblings == (4, 12)
    # core_id restarts per socket: CPU 4 is core 0 of socket 1, not the same core as CPU 0.
    assert (topo.cpu(4).core, topo.cpu(4).socket) == (0, 1)
    assert topo.physical_cpus() == tuple(range(8))
    assert topo.nodes == {0: (0, 1, 2, 3, 8, 9, 10, 11), 1: (4, 5, 6, 7, 12, 13, 14, 15)}
    assert topo.cores_of_node(1) == (4, 5, 6, 7)
    assert [c.node for c in topo.cpus] == [0] * 4 + [1] * 4 + [0] * 4 + [1] * 4
    assert topo.model_name == "Intel(R) Xeon(R) Platinum 8124M CPU @ 3.00GHz"
    assert topo.isa == ("avx2", "avx512f", "avx512_vnni")


def test_physical_cpus_keeps_the_threads_asked_for(tmp_path):
    topo = read_topology(make_sysfs(tmp_path / "sys"), tmp_path / "missing")
    # Only second threads asked: keep them rather than jumping to their siblings.
    assert topo.physical_cpus([8, 9, 10]) == (8, 9, 10)
    assert topo.physical_cpus([0, 8, 1, 9]) == (0, 1)


def test_interleaved_numbering(tmp_path):
    root = make_sysfs(tmp_path / "sys", sockets=1, cores=4, numbering="interleaved")
    topo = read_topology(root, tmp_path / "missing")
    assert topo.cpu(0).siblings == (0, 1)
    assert topo.physical_cpus() == (0, 2, 4, 6)


def test_uneven_nodes_and_a_memory_only_node(tmp_path):
    # Sub-NUMA clustering gone lopsided plus an HBM/CXL node without CPUs.
    nodes = {0: "0-2,8-10", 1: "3-7,11-15", 2: ""}
    root = make_sysfs(tmp_path / "sys", nodes=nodes, node_memory_kb={2: 4 * 2**20})
    topo = read_topology(root, tmp_path / "missing")
    assert topo.nodes[0] == (0, 1, 2, 8, 9, 10)
    assert topo.nodes[2] == ()
    assert topo.cores_of_node(0) == (0, 1, 2)
    assert topo.cores_of_node(1) == (3, 4, 5, 6, 7)
    assert topo.cores_of_node(2) == ()
    assert topo.node_memory_kb[2] == 4 * 2**20
    with pytest.raises(ValueError, match="no NUMA node 3: this machine has nodes 0-2"):
        topo.cores_of_node(3)


def test_offline_cpus_are_left_out(tmp_path):
    topo = read_topology(make_sysfs(tmp_path / "sys", offline=(15,)), tmp_path / "missing")
    assert 15 not in topo.online
    assert topo.cpu(7).siblings == (7,)  # its sibling 15 is offline
    assert 15 not in topo.nodes[1]


def test_kernel_without_numa_has_one_node(tmp_path):
    topo = read_topology(make_sysfs(tmp_path / "sys", sockets=1, with_node_dir=False),
                         tmp_path / "missing")
    assert topo.nodes == {0: tuple(range(8))}


def test_missing_sysfs_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read the online CPUs"):
        read_topology(tmp_path)


def test_cpuinfo_missing_or_without_model(tmp_path):
    assert read_cpuinfo(tmp_path / "missing") == ("unknown", ())
    arm = make_cpuinfo(tmp_path / "arm", "processor\t: 0\nFeatures\t: fp asimd\n")
    assert read_cpuinfo(arm) == ("unknown", ())


def test_to_dict_round_trips_through_json(tmp_path):
    topo = read_topology(make_sysfs(tmp_path / "sys", nodes={0: "0-7", 1: "8-15", 2: ""}),
                         make_cpuinfo(tmp_path / "cpuinfo"))
    data = json.loads(json.dumps(topo.to_dict()))
    assert data["online"] == "0-15" and data["cores"] == 8 and data["threads_per_core"] == 2
    assert Topology.from_dict(data) == topo


def test_this_machine():
    topo = read_topology()
    assert len(topo.online) == os.cpu_count()
    assert set(os.sched_getaffinity(0)) <= set(topo.online)
    assert sorted(c for cpus in topo.nodes.values() for c in cpus) == list(topo.online)
    with open("/proc/cpuinfo") as f:
        model_line = next(line for line in f if line.startswith("model name"))
    assert topo.model_name == " ".join(model_line.split(":", 1)[1].split())


# ---- CLI -------------------------------------------------------------------------------------

def test_cli_table_on_a_fake_two_socket_machine(cli, tmp_path):
    root = make_sysfs(tmp_path / "sys", nodes={0: "0-2,8-10", 1: "3-7,11-15", 2: ""})
    proc = cli("topology", "--sysfs-root", str(root), "--cpuinfo",
               str(make_cpuinfo(tmp_path / "cpuinfo")))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "2 socket(s), 8 physical cores, 16 logical CPUs online (0-15), 2 threads per core, " \
           "3 NUMA node(s)" in out
    assert "Platinum 8124M" in out and "avx512_vnni" in out
    assert "memory only" in out
    assert "0,8" in out  # SMT siblings of core 0
    assert "0-3,8-11" in out and "4-7,12-15" in out  # logical CPUs of each socket


def test_cli_json_on_this_machine(cli):
    proc = cli("topology", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["online"] == cpulist.format_cpu_list(read_topology().online)
    assert len(data["cpus"]) == os.cpu_count()


def test_cli_bad_sysfs_root(cli, tmp_path):
    proc = cli("topology", "--sysfs-root", str(tmp_path))
    assert proc.returncode == 2
    assert "mxprof: error: cannot read the CPU topology" in proc.stderr
    assert "Traceback" not in proc.stderr
