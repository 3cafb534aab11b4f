"""Operator breakdown and profiler trace handling, on MXNet's real profiler output."""

from __future__ import annotations

import json

import mxnet as mx
import pytest

from mxprof.mx import operators


@pytest.fixture(scope="module")
def tiny():
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Conv2D(8, 3, padding=1), mx.gluon.nn.BatchNorm(),
            mx.gluon.nn.Activation("relu"), mx.gluon.nn.Dense(10))
    net.initialize()
    net.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.ones((1, 3, 16, 16))

    def call():
        net(x).wait_to_read()
    call()
    return call


def test_trace_of_one_iteration(tiny, tmp_path):
    # First in this file on purpose: MXNet's profiler writes to the file name of its first
    # run only. Bulk execution is on in this process, so the graph runs as merged segments
    # ("ImperativeBulk"); the bulk-off trace of every operator is checked in test_profile.py.
    import time
    t0 = time.perf_counter()
    events = operators.trace_one_iteration(tiny, str(tmp_path / "trace.json"))
    wall_us = (time.perf_counter() - t0) * 1e6
    assert events and all(e["ph"] == "X" and e["dur"] >= 0 and e["ts"] >= 0 for e in events)
    assert max(e["ts"] + e["dur"] for e in events) <= wall_us


def test_breakdown_from_real_profiler(tiny, tmp_path):
    aggregate = operators.collect_aggregate(tiny, 4, trace_file=str(tmp_path / "p.json"))
    bd = operators.operator_breakdown(aggregate, 4)
    ops = {r.op: r for r in bd.rows}
    assert "Convolution" in ops and "FullyConnected" in ops
    assert ops["FullyConnected"].count == 1.0
    assert sum(r.percent for r in bd.rows) == pytest.approx(100.0)
    assert bd.total_ms == pytest.approx(sum(r.ms for r in bd.rows))
    assert all(name in operators.ENGINE_OPS for name in bd.engine)
    assert [r.ms for r in bd.rows] == sorted((r.ms for r in bd.rows), reverse=True)
    again = operators.OperatorBreakdown.from_dict(json.loads(json.dumps(bd.to_dict())))
    assert again == bd


def test_table_and_json_dumps_agree(tiny, tmp_path):
    mx.profiler.set_config(profile_all=True, aggregate_stats=True,
                           filename=str(tmp_path / "t.json"))
    mx.profiler.dumps(reset=True)
    mx.profiler.set_state("run")
    for _ in range(3):
        tiny()
    mx.nd.waitall()
    mx.profiler.set_state("stop")
    as_json = json.loads(mx.profiler.dumps(reset=False, format="json"))
    as_table = operators.parse_table(mx.profiler.dumps(reset=True))
    a = operators.operator_breakdown(as_json, 3)
    b = operators.operator_breakdown(as_table, 3)
    assert [r.op for r in a.rows] == [r.op for r in b.rows]
    assert [r.count for r in a.rows] == [r.count for r in b.rows]
    for ra, rb in zip(a.rows, b.rows):
        assert ra.ms == pytest.approx(rb.ms, rel=0.02, abs=0.002)


def test_unfinished_dump_is_read():
    text = ('{\n "traceEvents": [\n,\n {"name": "Convolution", "cat": "operator", "ph": "B", '
            '"ts": 100, "pid": 0, "tid": 7}\n,\n {"name": "Convolution", "cat": "operator", '
            '"ph": "E", "ts": 130, "pid": 0, "tid": 7}\n,\n')
    events = operators.read_trace_events(text)
    assert [e["ph"] for e in events] == ["B", "E"]
    done = operators.complete_events(events, 90, 200)
    assert done == [{"name": "Convolution", "cat": "operator", "ph": "X", "ts": 10.0,
                     "dur": 30.0, "pid": 0, "tid": 0, "args": {"op": "Convolution"}}]
    assert operators.complete_events(events, 110, 200) == []  # began before the window
