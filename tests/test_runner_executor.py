"""Every profile worker runs one way (mxprof.jobs.profile.runner.run_groups): each process is
one cell handed to an executor, for the job's run, --try-fixes and the bench scripts alike."""

from __future__ import annotations

from contextlib import contextmanager

from mxprof.events import Finished, Recorder, Started
from mxprof.jobs.profile import runner
from mxprof.jobs.profile.spec import Protocol, RunSpec
from mxprof.mx import models
from mxprof.workers.executor import LocalExecutor


def _spec(pass_name: str) -> RunSpec:
    return RunSpec(model=models.resolve("mobilenet0.25", shape=(3, 32, 32)), config="mkldnn",
                   mkldnn=True, pass_name=pass_name, batch_size=1,
                   protocol=Protocol(min_time=0.05, iterations=3, warmup=1))


class _Seen(LocalExecutor):
    """The local executor, keeping each cell it is handed."""

    def __init__(self):
        self.cells = []

    def run(self, cells, on_event, *, labels=None):
        self.cells += list(cells)
        return super().run(cells, on_event, labels=labels)


def test_each_process_is_one_cell_of_the_executor_with_shared_weights(tmp_path):
    specs = [_spec("timing"), _spec("timing"), _spec("operators")]
    seen, events, around = _Seen(), Recorder(), []

    @contextmanager
    def watch(label):
        around.append(f"enter {label}")
        yield
        around.append(f"exit {label}")

    after = []
    results = runner.run_groups(specs, tmp_path, timeout=300, executor=seen, on_event=events,
                                around=watch, on_worker=lambda g, ran: after.append(g))
    assert [r.ok for r in results] == [True, True, True], [r.error for r in results]
    assert [r.spec.pass_name for r in results] == ["timing", "timing", "operators"]
    # The operators pass joined the last timing process: two processes, two cells.
    assert after == [(0,), (1, 2)]
    assert [c.module for c in seen.cells] == ["mxprof.jobs.profile.worker"] * 2
    # The first worker saved the weights it built, the second loaded them.
    assert set(seen.cells[0].spec["weights"]) == {"save"}
    assert seen.cells[1].spec["weights"]["load"] == seen.cells[0].spec["weights"]["save"]
    assert [(e.index, e.total) for e in events.of(Started)] == [(1, 2), (2, 2)]
    assert [e.status for e in events.of(Finished)] == ["ok", "ok"]
    label = "mobilenet0.25 mkldnn timing + operators"
    assert around[-2:] == [f"enter {label}", f"exit {label}"]
    assert all(r.wait is not None for r in results)
    assert not hasattr(runner, "run_specs")  # the second loop (--try-fixes, bench) is gone

