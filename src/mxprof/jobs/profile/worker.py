"""One configuration in its own process: `python -m mxprof.jobs.profile.worker SPEC.json RESULT.json`.

The spec is {"runs": [RunSpec, ...]}: one configuration's passes that share this process
(`mxprof.jobs.profile.runner.group_specs` says which may, and why). The runner sets the
environment of the first (MXNET_MKLDNN_ENABLED, OMP_NUM_THREADS, KMP_*, bulk execution,
DNNL_VERBOSE) before this process starts, so libmxnet reads it when it loads. Here, before
importing MXNet, the process binds itself to the requested CPUs and NUMA memory (threads created
later, OpenMP's included, inherit that). Then it builds the model once and runs each pass
(`mxprof.jobs.profile.passes`: what each measures), writing {"results": [RunResult, ...]}
through the one worker protocol after every pass (`mxprof.workers.protocol.checkpoint`): a
Python error, a native crash or a hang in a pass leaves the results of the passes before it,
and the runner records the failure of the rest. Each result's `phases` says where its seconds
went (start-up, MXNet import, model build, first call, warm-up, timed calls, the pass), for
bench/processes_cost.py.

For the "primitives" pass the runner points this process's stdout (fd 1, where oneDNN prints its
verbose lines from C) at the log file named by `--verbose-log`; nothing else is printed there.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from mxprof.jobs.profile.passes import make_input, run_pass
from mxprof.jobs.profile.spec import RunResult, RunSpec


def _bind(spec: RunSpec, notes: list[str]) -> dict[str, Any] | None:
    if spec.cpus is None and spec.membind is None and not spec.physical_only:
        return None
    from mxprof.cpu.binding import bind
    binding = bind(spec.cpus, spec.membind, physical_only=spec.physical_only)
    notes.extend(binding.warnings)
    return binding.to_dict()


def _fuse(mx, loaded, spec: RunSpec, notes: list[str]):
    """The "fused" configuration (compare): oneDNN subgraph fusion, as deployed. MXNet < 1.7
    has no optimize_for, and its MXNET_SUBGRAPH_BACKEND does not reach Gluon's cached graph
    (checked: conv, BatchNorm and ReLU stay three primitives in 1.5.1 and 1.6.0), so there the
    symbol is partitioned with get_backend_symbol and run as a SymbolBlock on the same params."""
    import dataclasses
    net = loaded.block
    if hasattr(net, "optimize_for"):
        net.optimize_for(make_input(mx, spec, 1), backend="MKLDNN", static_alloc=True,
                         static_shape=True)
        return loaded
    data = mx.sym.var("data")
    out = net(data)
    sym = mx.sym.Group(list(out)) if isinstance(out, (list, tuple)) else out
    block = mx.gluon.SymbolBlock(sym.get_backend_symbol("MKLDNN"), data,
                                 params=net.collect_params())
    block.hybridize(static_alloc=True, static_shape=True)
    notes.append(f"fused: MXNet {mx.__version__} has no optimize_for; graph partitioned with "
                 "get_backend_symbol('MKLDNN')")
    return dataclasses.replace(loaded, block=block)


# RunSpec.test_hook (profile --test-hook) as a fault of the worker protocol, acted out right
# before its pass: the first pass's before MXNet loads, as for a worker of its own.
HOOK_FAULTS = {"abort": "crash-before", "hang": "hang", "raise": "raise"}


def _start(spec: RunSpec, notes: list[str], weights: dict[str, Any] | None = None):
    """Bind, set the reference's RNN switch, import MXNet, build the model: (mx, loaded, env,
    phases) for every pass of this process. `weights` (the runner's, "shared" layout):
    {"save": path} to write the weights built here for the workers after this one, or
    {"load": path, "weights": label, "weights_path": path} to load them from the file the
    first worker wrote (same values in every process; the label stays the first one's)."""
    started = time.monotonic()
    binding = _bind(spec, notes)
    from mxprof.mx.rnn import RNN_REFERENCE_ENV, RNN_REFERENCE_NOTE, has_rnn
    if not spec.mkldnn and has_rnn(spec.model):
        os.environ.update(RNN_REFERENCE_ENV)  # libmxnet is not loaded yet: it reads these
        notes.append(RNN_REFERENCE_NOTE)
    from mxprof.host import environment
    # Before MXNet loads: OpenMP pins the calling thread to its first place at start-up, so the
    # process's own affinity is only visible now.
    host = environment.host_fingerprint()
    t0 = time.monotonic()
    import mxnet as mx

    t1 = time.monotonic()
    from mxprof.jobs.profile.companions import load_model
    loaded = load_model(spec, weights or {})
    if spec.config == "fused":
        loaded = _fuse(mx, loaded, spec, notes)
    # The oneDNN version from the cache the parent filled (`environment.onednn_version`).
    env = host.with_mxnet(environment.mxnet_fingerprint()).with_onednn_version(
        environment.onednn_version()).to_dict()
    if binding is not None:
        env["binding"] = binding
    phases = {"start": t0 - started, "import": t1 - t0, "build": time.monotonic() - t1}
    return mx, loaded, env, phases


def _join(spec: RunSpec, block) -> None:
    """Make this process what a worker of its own would be for `spec`, a pass that joined
    (mxprof.jobs.profile.runner.JOINS): bulk execution off for the operators pass, read when
    the fresh CachedOp builds its segments (hybridize drops the old one)."""
    from mxprof.jobs.profile.runner import BULK_OFF
    if spec.pass_name == "operators":
        os.environ.update(BULK_OFF)
        block.hybridize(static_alloc=True, static_shape=True)


def run_all(specs: list[RunSpec], *, scratch: Path, verbose_log: Path | None = None,
            after_each=lambda results: None, weights: dict[str, Any] | None = None
            ) -> list[RunResult]:
    """Every pass of `specs` in this process, in order; `after_each(results so far)` after
    each pass (the worker writes them, so a later crash cannot take them); `weights`: see
    `_start`."""
    started = time.monotonic()
    notes: list[str] = []
    from mxprof.workers.protocol import apply_fault
    apply_fault(HOOK_FAULTS.get(specs[0].test_hook or ""))
    mx, loaded, env, start_phases = _start(specs[0], notes, weights)
    results: list[RunResult] = []
    for i, spec in enumerate(specs):
        if i:
            apply_fault(HOOK_FAULTS.get(spec.test_hook or ""))
            _join(spec, loaded.block)
        t0 = time.monotonic()
        fields = run_pass(mx, loaded.block, spec, scratch, verbose_log, env)
        if spec.pass_name in ("layers", "primitives"):
            from mxprof.mx.rnn import has_rnn
            if has_rnn(spec.model):
                from mxprof.mx.layers import STATEFUL_NOTE
                notes.append(STATEFUL_NOTE)
        phases = {**(start_phases if i == 0 else {}), **fields.get("phases", {}),
                  "pass": time.monotonic() - t0}
        results.append(RunResult(
            spec=spec, status="ok", wall_s=time.monotonic() - (started if i == 0 else t0),
            environment=dict(env), weights=loaded.weights, weights_path=loaded.weights_path,
            param_count=loaded.param_count, latency=fields.get("latency"),
            throughput=fields.get("throughput"), operators=fields.get("operators"),
            layers=fields.get("layers"), primitives=fields.get("primitives"),
            trace=fields.get("trace"), notes=tuple(notes), phases=phases,
            companions=fields.get("companions"),
            shared_with=tuple(s.pass_name for s in specs if s is not spec)))
        after_each(results)
    return results


def run(spec: RunSpec, *, scratch: Path, verbose_log: Path | None = None) -> RunResult:
    """One pass in this process (`run_all` of one spec)."""
    return run_all([spec], scratch=scratch, verbose_log=verbose_log)[0]


def _run_spec(data: dict[str, Any]) -> dict[str, Any]:
    from mxprof.workers.protocol import checkpoint
    options = data.get("_options") or {}
    specs = [RunSpec.from_dict(r) for r in data["runs"]]
    log = options.get("verbose_log")

    def write(results: list[RunResult]) -> None:
        checkpoint(data, {"results": [r.to_dict() for r in results]})

    results = run_all(specs, scratch=Path(data["_workdir"]),
                      verbose_log=Path(log) if log else None, after_each=write,
                      weights=data.get("weights"))
    return {"results": [r.to_dict() for r in results]}


def main(argv: list[str] | None = None) -> int:
    from mxprof.workers.protocol import worker_main

    return worker_main(_run_spec, argv, options=("--verbose-log",))


if __name__ == "__main__":
    raise SystemExit(main())
