"""The measuring layers' records as msgspec Structs: the dicts they write are the ones the
hand-written codecs wrote (same keys, same order, same values), and decoding is strict.

Each expected dict below is what the codec of the record wrote before it became a Struct.
"""

from __future__ import annotations

import json
import math

import msgspec
import pytest

from mxprof.cpu.binding import Binding
from mxprof.cpu.topology import Cpu, Topology
from mxprof.host.builds import Build
from mxprof.mx.layers import LayerProfile, LayerTime
from mxprof.onednn.findings import Finding
from mxprof.onednn.roofline import Ceilings
from mxprof.onednn.verbose import VerboseStats
from mxprof.onednn.work import Work
from mxprof.timing.timer import SectionStats
from mxprof.workers.process import ProcessOutcome


def _round_trip(record):
    """to_dict through strict JSON text (as a file holds it) and back."""
    return type(record).from_dict(json.loads(json.dumps(record.to_dict(), allow_nan=False)))


def test_process_outcome_and_build_write_the_dataclass_dicts():
    out = ProcessOutcome("crashed", None, "killed by signal SIGSEGV", "boom", 1.5)
    assert out.to_dict() == {"status": "crashed", "returncode": None,
                             "description": "killed by signal SIGSEGV", "stderr_tail": "boom",
                             "wall_s": 1.5}
    assert _round_trip(out) == out
    build = Build("old", "/opt/venv/bin/python", "mxnet-mkl==1.6.0", "1.6.0", True)
    assert list(build.to_dict()) == ["name", "python", "pip_spec", "mxnet", "mkldnn"]
    assert Build.from_dict({"name": "current"}) == Build("current")
    with pytest.raises(msgspec.ValidationError, match=r"Expected `float`, got `str` - at `\$.wall_s`"):
        ProcessOutcome.from_dict({**out.to_dict(), "wall_s": "slow"})


def test_verbose_stats_decode_the_scanner_dict():
    raw = {"lines_total": 10, "lines_verbose": 8, "lines_parsed": 6, "lines_graph": 0,
           "lines_untimed": 1, "lines_malformed": 1, "lines_skipped": 4,
           "unterminated_last_line": False, "time_decimals": 3}
    stats = VerboseStats.from_dict(raw)
    assert stats.to_dict() == raw and list(stats.to_dict()) == list(raw)
    assert VerboseStats.from_dict({k: v for k, v in raw.items() if k != "time_decimals"}) \
        .time_decimals == 0


def test_finding_work_and_ceilings_dicts():
    f = Finding("threads_idle", "fewer threads busy", ("conv0", "conv1"), "1 of 2", "--threads 2",
                {"ms_per_iter": 0.5, "estimate": "idle share"})
    assert f.to_dict() == {"rule": "threads_idle", "title": "fewer threads busy",
                           "layers": ["conv0", "conv1"], "evidence": "1 of 2",
                           "fix": "--threads 2",
                           "effect": {"ms_per_iter": 0.5, "estimate": "idle share"}}
    assert _round_trip(f) == f and f.cost_ms == 0.5
    w = Work(200.0, 40.0, 50.0, 10.0, "int8")
    assert w.to_dict() == {"flops": 200.0, "src_bytes": 40.0, "wei_bytes": 50.0,
                           "dst_bytes": 10.0, "compute": "int8", "bytes": 100.0,
                           "intensity": 2.0}
    c = Ceilings.from_dict({"peak_gflops": {"f32": 100, "int8": 400}, "bandwidth_gbs": 10})
    assert c == Ceilings({"f32": 100.0, "int8": 400.0}, 10.0, "measured")
    assert c.to_dict() == {"peak_gflops": {"f32": 100.0, "int8": 400.0}, "bandwidth_gbs": 10.0,
                           "source": "measured"}


def test_layer_profile_dict_and_its_nan_written_as_null():
    """Before: from_dict of a saved profile whose coverage was NaN (strict JSON writes null)
    raised TypeError (float(None))."""
    p = LayerProfile((LayerTime("conv0", "Convolution", (1, 8, 4, 4), 1.5, 2.0, 1),
                      LayerTime("flat", "Flatten", None, 0.5, 0.5, 1)),
                     iterations=3, method="m", per_iteration_ms=2.0, latency_ms=2.5,
                     windows=((0, 0, 1.0, 2.5),))
    d = p.to_dict()
    assert list(d) == ["layers", "iterations", "method", "per_iteration_ms", "latency_ms",
                       "overhead_ms", "layers_ms", "coverage", "windows"]
    assert d["layers"][0] == {"name": "conv0", "op": "Convolution", "output_shape": [1, 8, 4, 4],
                              "ms": 1.5, "ms_p90": 2.0, "count_per_iter": 1,
                              "samples_ms": []}  # each iteration's ms (none given here)
    assert d["layers"][1]["output_shape"] is None
    assert d["windows"] == [[0, 0, 1.0, 2.5]] and d["layers_ms"] == 2.0
    assert d["coverage"] is None  # NaN, as the strict writer puts it in the file
    again = _round_trip(p)
    assert math.isnan(again.coverage) and math.isnan(again.overhead_ms)
    assert again.layers == p.layers and again.windows == p.windows


def test_binding_topology_and_sections_keep_their_file_forms():
    b = Binding((0, 1, 2, 5), (0,), True)
    assert b.to_dict() == {"cpus": "0-2,5", "membind": "0", "memory_bound": True,
                           "warnings": [], "threads_pinned": 1}
    assert _round_trip(b) == b
    t = Topology(cpus=(Cpu(0, 0, 0, 0, (0, 2)), Cpu(2, 0, 0, 1, (0, 2))), sockets=(0,),
                 nodes={0: (0,), 1: (2,)}, node_memory_kb={0: 1024}, model_name="cpu",
                 isa=("avx2",))
    d = t.to_dict()
    assert list(d) == ["cpus", "sockets", "nodes", "node_memory_kb", "model_name", "isa",
                       "online", "cores", "threads_per_core"]
    assert d["nodes"] == {"0": [0], "1": [2]} and d["cpus"][1]["siblings"] == [0, 2]
    assert (d["online"], d["cores"], d["threads_per_core"]) == ("0,2", 1, 2)
    assert _round_trip(t) == t
    s = SectionStats("infer", 4, 100, 10, 40)
    assert s.to_dict() == {"name": "infer", "count": 4, "total_ns": 100, "min_ns": 10,
                           "max_ns": 40, "mean_ns": 25.0}
    assert _round_trip(s) == s
