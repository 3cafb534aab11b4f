"""Run the RunSpecs of a profile in worker processes, bounded by a timeout, one after another.

`run_groups` is the one way a profile's workers run (the job's `run`, --try-fixes, the bench
scripts): each process is one cell (`group_cell`, a `mxprof.workers.protocol.WorkerSpec`)
handed to an executor (mxprof.workers.executor), its results read back per pass
(`group_results`). Workers run sequentially: on a machine with a few cores two workers would
time each other. The environment of each worker is built here (`worker_env`, the
pass-specific part over `mxprof.workers.process.worker_env`) so that MXNet, OpenMP and oneDNN
see it when libmxnet loads.

Passes share a process where what they measure cannot tell (`group_specs`, `JOINS`): each
process costs an MXNet import, a model build and a first call (seconds), and what is fixed at
libmxnet load is the same for both passes of a pair. In MXNet 1.9.1:
- MXNET_MKLDNN_ENABLED is read once (src/operator/nn/mkldnn/mkldnn_base-inl.h, a function
  static), MXNET_ENGINE_TYPE when the engine is created (src/engine/engine.cc), and
  DNNL_VERBOSE at oneDNN's first primitive (its `get_verbose`); libmxnet.so exports no
  `dnnl_set_verbose`/`mkldnn_set_verbose` (`nm -D --defined-only` lists no dnnl C function),
  so verbose cannot be switched on later. Hence the layers pass (NaiveEngine) and the
  primitives pass (NaiveEngine + verbose) keep their own processes, and no pass shares with
  another configuration.
- MXNET_EXEC_BULK_EXEC_INFERENCE is read with getenv every time a static CachedOp builds its
  forward segments (include/mxnet/imperative.h `PreferBulkExecInference`, called from
  src/imperative/cached_op.cc `StaticInitExec`), so a process can time with bulk execution on
  and then, with the variable set and the block hybridized afresh, run the operators pass with
  bulk off: the operators pass joins the last timing process of its configuration, after the
  timing is written. An interrupted run still has every configuration's earlier timing
  processes before any breakdown, and a crash in the joined pass leaves the timing it follows
  (the worker writes its result after each pass; `run_group` keeps what was written).
A worker that crashes (a signal, e.g. SIGSEGV/SIGABRT), outlives the timeout, or crashes after
writing its result becomes a failed `RunResult` for each pass it had not finished, carrying its
stderr tail; the others go on. `run_groups`' `on_worker` is called after every worker ends, so
callers can write partial results as they arrive.

The OpenMP wait policy "auto" is decided per timing worker, right before it starts, from the
CPU time other processes took on its CPUs over a short window (`wait_decision`); the breakdown
workers after them keep a timing worker's decision (`kept_decision`): passive when any timing
worker's window found the CPUs shared, else the last one's. Each RunResult
carries its decision and the evidence (`RunResult.wait`), so a report can say which policy
every worker ran with.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import msgspec

from mxprof.cpu.openmp import WaitDecision
from mxprof.events import OnEvent, ignore
from mxprof.jobs.profile.spec import RunResult, RunSpec
from mxprof.mx.rnn import RNN_REFERENCE_ENV, has_rnn
from mxprof.workers.executor import Executor, LocalExecutor, renumbered
from mxprof.workers.process import stderr_tail, thread_env
from mxprof.workers.process import worker_env as process_env
from mxprof.workers.protocol import WorkerResult, WorkerSpec, exception_line

__all__ = ["JOINS", "SharedWeights", "Waits", "group_cell", "group_results", "group_specs",
           "kept_decision", "layer_env", "run_group", "run_groups", "run_one", "stderr_tail",
           "thread_env", "wait_decision", "worker_cpus", "worker_env"]

# The operators pass needs un-merged operators: with bulk execution on, MXNet 1.9.1's profiler
# shows one merged event per CachedOp segment. Bulk execution off.
BULK_OFF = {"MXNET_EXEC_BULK_EXEC_INFERENCE": "0"}
_VERBOSE_ON = {"DNNL_VERBOSE": "1", "DNNL_VERBOSE_TIMESTAMP": "1", "MKLDNN_VERBOSE": "1"}
# pass -> the pass whose process it may join (module docstring: why each pair may share).
JOINS = {"operators": "timing"}


def group_specs(specs: Sequence[RunSpec], *, share: bool = True) -> list[tuple[int, ...]]:
    """Which specs run in one process: tuples of indices into `specs`, in the order the
    processes run (each at the place of its first spec). A pass of `JOINS` joins the last
    spec of the pass it names with the same configuration, when there is one before it."""
    host: dict[tuple[str, str], int] = {}
    groups: dict[int, list[int]] = {}
    for i, spec in enumerate(specs):
        joins = JOINS.get(spec.pass_name) if share else None
        target = host.get((spec.config, joins)) if joins else None
        if target is None:
            groups[i] = [i]
        else:
            groups[target].append(i)
        host[(spec.config, spec.pass_name)] = i
    return [tuple(g) for g in groups.values()]


def group_label(specs: Sequence[RunSpec]) -> str:
    """'resnet18_v1 mkldnn timing + operators': one process's passes."""
    return " + ".join([specs[0].label, *(s.pass_name for s in specs[1:])])


def layer_env() -> dict[str, str]:
    """What per-layer hooks need before libmxnet loads (NaiveEngine, bulk execution off)."""
    from mxprof.mx.layers import LAYER_ENV
    return {str(k): str(v) for k, v in LAYER_ENV.items()}


def worker_cpus(spec: RunSpec) -> list[int] | None:
    """The CPUs the worker of `spec` will bind itself to (--cores, --physical-only), None when
    it is not bound (it keeps this process's)."""
    if spec.cpus is None and not spec.physical_only:
        return None
    from mxprof.cpu.binding import select_cpus
    from mxprof.cpu.topology import read_topology
    return select_cpus(read_topology(), spec.cpus, physical_only=spec.physical_only)


def wait_decision(spec: RunSpec) -> WaitDecision:
    """The OpenMP wait policy of the worker about to start for `spec`, decided now: "auto" (or
    no policy) measures other processes' share of the worker's CPUs over a short window
    (mxprof.cpu.openmp.decide_wait_policy; this sleeps WAIT_WINDOW_S). Call it right before
    the worker starts, with nothing of ours running."""
    from mxprof.cpu.openmp import decide_wait_policy, mxnet_default_threads
    cpus = worker_cpus(spec) or sorted(os.sched_getaffinity(0))
    threads = spec.threads or mxnet_default_threads(len(cpus))
    return decide_wait_policy(spec.wait_policy or "auto", threads=threads, cpus=cpus)


def kept_decision(last: WaitDecision, spec: RunSpec) -> WaitDecision:
    """The decision of the last timing worker for a breakdown worker after it (`spec`), said
    so; an explicit policy or one thread is decided afresh (no window needed)."""
    if (spec.wait_policy or "auto") != "auto" or (spec.threads or 2) < 2:
        return wait_decision(spec)
    return msgspec.structs.replace(last, why=f"{last.why} (the decision before the last "
                                   "timing worker, kept for this breakdown worker)")


def worker_env(spec: RunSpec, base: dict[str, str] | None = None,
               python: str | None = None, wait_policy: str | None = None) -> dict[str, str]:
    """The complete environment of the worker whose first pass is `spec`; `python`: another
    interpreter (a venv with another MXNet build, see mxprof.host.builds); `wait_policy`:
    the policy decided for this worker (`wait_decision`), default the spec's. A pass that
    joins it (`JOINS`) sets its own variables inside the worker."""
    extra: dict[str, str] = {}
    mkldnn = spec.mkldnn
    if not mkldnn and has_rnn(spec.model):
        # The reference of a network with RNN layers (mxprof.mx.rnn): MKL-DNN off fails on them.
        extra.update(RNN_REFERENCE_ENV)
        mkldnn = True
    if spec.pass_name == "operators":
        extra.update(BULK_OFF)
    if spec.pass_name in ("layers", "primitives"):
        extra.update(layer_env())
    if spec.pass_name == "primitives":
        extra.update(_VERBOSE_ON)
    return process_env(base=base, drop=("MXNET_EXEC_BULK_EXEC_INFERENCE",), mkldnn=mkldnn,
                       threads=spec.threads, extra=extra, python=python,
                       foreign=python is not None,
                       wait_policy=wait_policy or spec.wait_policy)


def group_cell(specs: Sequence[RunSpec], workdir: Path, *, timeout: float, index: int = 0,
               python: str | None = None, wait_policy: str | None = None,
               weights: dict | None = None) -> WorkerSpec:
    """The one worker process (mxprof.workers.protocol) that runs `specs` (same configuration
    and binding) in order: a cell for an executor (mxprof.workers.executor). `wait_policy`:
    the policy decided for it (`wait_decision`); `weights`: `SharedWeights.next_worker()`."""
    first = specs[0]
    name = f"{index:02d}-{first.config}-{'+'.join(s.pass_name for s in specs)}"
    primitives = any(s.pass_name == "primitives" for s in specs)
    return WorkerSpec(module="mxprof.jobs.profile.worker", name=name,
                      spec={"runs": [s.to_dict() for s in specs], "weights": weights or {}},
                      workdir=Path(workdir), timeout=timeout,
                      env=worker_env(first, python=python, wait_policy=wait_policy),
                      python=python, keep_stdout=primitives,
                      args=("--verbose-log", str(Path(workdir) / f"{name}.stdout"))
                      if primitives else ())


def group_results(specs: Sequence[RunSpec], res: WorkerResult,
                  wait: WaitDecision | None = None) -> list[RunResult]:
    """One RunResult per spec from the worker of `group_cell(specs)`, each carrying the
    worker's wait decision `wait`: the passes the worker finished keep their results, the
    others carry the failure; the first carries the process's wall (`_with_process_wall`)."""
    written = [RunResult.from_dict(r) for r in ((res.data or {}).get("results") or ())]
    results = _with_process_wall(_complete(specs, written, res), res.wall_s)
    return [msgspec.structs.replace(r, wait=wait) for r in results] if wait else results


def _complete(specs: Sequence[RunSpec], written: list[RunResult], res: WorkerResult
              ) -> list[RunResult]:
    if res.ok and len(written) == len(specs):
        return written
    # The pass that was running when the worker died, and every pass after it, failed; a
    # crash after the last result was written is charged to that last pass, as the protocol
    # charges it to a one-pass worker.
    if len(written) == len(specs):
        return [*written[:-1], _failed(specs[-1], res, after_result=True)]
    return written + [_failed(s, res) for s in specs[len(written):]]


def run_group(specs: Sequence[RunSpec], workdir: Path, *, timeout: float, index: int = 0,
              python: str | None = None, wait: WaitDecision | None = None,
              weights: dict | None = None, executor: Executor | None = None,
              on_event: OnEvent = ignore) -> list[RunResult]:
    """Run `specs` (same configuration and binding) in one worker process, in order, as one
    cell of `executor` (default a LocalExecutor); one RunResult per spec, each carrying the
    worker's wait decision (`wait`, else decided here by `wait_decision` right before the
    worker starts). Never raises for worker failures (`group_results`)."""
    wait = wait or wait_decision(specs[0])
    cell = group_cell(specs, workdir, timeout=timeout, index=index, python=python,
                      wait_policy=wait.policy, weights=weights)
    (_, res), = (executor or LocalExecutor()).run([cell], on_event,
                                                  labels=[group_label(specs)])
    return group_results(specs, res, wait)


def _with_process_wall(results: list[RunResult], wall_s: float) -> list[RunResult]:
    """The first result carries the process's wall as this side saw it and the worker's own
    (its passes' walls): the difference is the interpreter's start (mxprof.jobs.profile.cost)."""
    if not results:
        return results
    phases = {**results[0].phases, "process_wall": wall_s,
              "worker_wall": sum(r.wall_s for r in results)}
    return [msgspec.structs.replace(results[0], phases=phases), *results[1:]]


def _failed(spec: RunSpec, res: WorkerResult, *, after_result: bool = False) -> RunResult:
    status = "timeout" if res.status == "timeout" else "failed"
    error = res.error
    if res.data is not None and res.status != "timeout" and not after_result:
        # The protocol's "after writing its result" names the earlier passes' results: say
        # what happened in this pass instead.
        error = f"worker {res.outcome.description}: " + (
            exception_line(res.stderr_tail) or "no error output")
    return RunResult(spec=spec, status=status, wall_s=res.wall_s,
                     returncode=res.outcome.returncode, stderr_tail=res.stderr_tail,
                     error=error)


def run_one(spec: RunSpec, workdir: Path, *, timeout: float, index: int = 0,
            python: str | None = None) -> RunResult:
    """Run one spec in its own worker to completion or timeout; never raises for failures."""
    return run_group([spec], workdir, timeout=timeout, index=index, python=python)[0]


def run_groups(specs: Sequence[RunSpec], workdir: Path, *, timeout: float,
               groups: Sequence[tuple[int, ...]] | None = None, python: str | None = None,
               layout: str = "shared", executor: Executor | None = None,
               on_event: OnEvent = ignore,
               around: Callable[[str], AbstractContextManager] | None = None,
               on_worker: Callable[[tuple[int, ...], list[RunResult]], None] | None = None,
               ) -> list[RunResult]:
    """Run every spec, one worker process per group (`groups`, default `group_specs(specs)`),
    one after another through `executor` (default a LocalExecutor): the one way a profile's
    workers run. Results in spec order.

    Each worker's wait policy is decided right before it starts (`Waits`: a window on its
    CPUs, nothing of ours running); with `layout` "shared" the first worker saves the weights
    it built and every later one loads them (`SharedWeights`), "legacy": each builds its own.
    `on_event` gets each cell's Started/Finished, counted over all groups; `around(label)`
    wraps each worker's run (the profile job's machine-load record) and `on_worker(group, its
    results)` follows it (the partial result). `python`: run every worker under this
    interpreter (another MXNet build, mxprof.host.builds)."""
    groups = group_specs(specs) if groups is None else groups
    executor = executor or LocalExecutor()
    waits = Waits()
    shared = SharedWeights(Path(workdir) / "weights.params", on=layout == "shared"
                           and bool(specs) and specs[0].model.params_path is None)
    results: dict[int, RunResult] = {}
    for n, group in enumerate(groups):
        members = [specs[i] for i in group]
        # Before `around`: the window must see the machine without this worker, and a load
        # monitor should not count the window. A window before each timing worker (the
        # headline figures); the breakdown workers after them keep the last timing worker's
        # decision (0.5 s each saved).
        wait = waits.decide(members[0])
        with around(group_label(members)) if around else nullcontext():
            ran = run_group(members, workdir, timeout=timeout, index=n, python=python,
                            wait=wait, weights=shared.next_worker(), executor=executor,
                            on_event=renumbered(on_event, n, len(groups)))
        shared.seen(ran)
        results.update(zip(group, ran, strict=True))
        if on_worker:
            on_worker(group, ran)
    return [results[i] for i in range(len(specs))]


class Waits:
    """The wait decision of each worker in plan order (`decide(its first spec)`, right
    before it starts): a window before each timing worker; the breakdown workers keep a timing
    worker's decision (`kept_decision`): the first passive one when any window found the CPUs
    shared, else the last. Active threads spin at every barrier: on CPUs another process wants,
    a layer waits a whole scheduler time slice for a descheduled thread. A breakdown worker
    that kept an "active" taken in a quiet moment between busy ones measured every layer 150x
    slower (8-16 ms instead of 0.05-0.1 ms, 2 of 4 layers processes; the clean-clone run of
    2026-12-08, two test files at once), while passive threads only add a wake-up."""

    def __init__(self):
        self.last: WaitDecision | None = None
        self.shared: WaitDecision | None = None  # the first timing decision that said passive

    def decide(self, spec: RunSpec) -> WaitDecision:
        if spec.pass_name == "timing" or self.last is None:
            return self.seen(wait_decision(spec))
        return kept_decision(self.shared or self.last, spec)

    def seen(self, decision: WaitDecision) -> WaitDecision:
        """Record a timing worker's decision; -> it."""
        self.last = decision
        if self.shared is None and decision.policy == "passive" and decision.window is not None:
            self.shared = decision  # an auto window that found the CPUs shared
        return decision


class SharedWeights:
    """Weights built once per profile ("shared" layout): the first worker initialises (or
    reads the local pretrained file) and saves them, every later worker loads that file, so
    every process computes with the same values (the equivalence check compares outputs of
    different processes) and none pays for a random initialisation again. A first worker
    that fails to save leaves the next one to try."""

    def __init__(self, path: Path, *, on: bool):
        self.path, self.on = path, on
        self.label: dict | None = None

    def next_worker(self) -> dict:
        if not self.on:
            return {}
        if self.label is None or not self.path.exists():
            return {"save": str(self.path)}
        return {"load": str(self.path), **self.label}

    def seen(self, results: Sequence[RunResult]) -> None:
        first = next((r for r in results if r.weights), None)
        if self.label is None and first is not None and self.path.exists():
            self.label = {"weights": first.weights, "weights_path": first.weights_path}
