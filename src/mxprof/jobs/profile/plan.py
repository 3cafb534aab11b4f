"""The profile job's options and plan (mxprof.jobs.contract): what runs, checked before it runs.

`Options` holds every choice of `mxprof profile` with the defaults the CLI and the notebook API
share (warm-up 5, 1 s of timed calls per measurement, 3 processes per configuration, both
companion checks, the diagnosis on). `plan(options) -> ProfilePlan` resolves them once: the
batch and timing protocol (--reference-protocol, --fast/--rigorous), the one `Placement` of
every worker (mxprof.cpu.placement), the `RunSpec`s (MKL-DNN on, and off unless
`reference=False`; headline timings first, so an interrupted run keeps what matters most), the
processes they share (mxprof.jobs.profile.runner.group_specs) and the steps `--dry-run` prints.
The layout (issue 24): "shared" (the default) asks the timing processes for the companion
checks' measurements (`with_companions`: no check worker of its own) and lets the runner build
the weights once; "legacy" (hidden `--layout legacy`, for bench/profile_wall.py) runs the
checks in workers of their own after the main run. Either way the plan carries the estimated
cost (mxprof.jobs.profile.cost: seconds per phase, overhead ratio) that `--dry-run` prints.
The wait policy "auto" stays "auto" in the specs: the runner decides it before each worker.
Bad input raises UsageError naming the option. `mxprof.jobs.profile.run.run` runs the plan.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from mxprof.cpu.placement import Placement
from mxprof.errors import UsageError
from mxprof.jobs.binding import warnings as binding_warnings
from mxprof.jobs.contract import Plan, Step
from mxprof.jobs.profile.checks import CHECKS
from mxprof.jobs.profile.spec import PASSES, TEST_HOOKS, Protocol, RunSpec
from mxprof.mx.models import ModelSpec

DEFAULT_BATCH = 8
DEFAULT_WARMUP = 5
DEFAULT_MIN_TIME = 1.0
DEFAULT_TIMEOUT = 1800.0
# The MXNet 1.3 MKL-DNN benchmark: batch 128, one socket's physical cores, numactl membind.
REFERENCE_BATCH = 128
REFERENCE_MIN_TIME = 10.0
# Seconds per pass after the process start-up (about 6 s: import, build, first call), and of
# each companion check: what --dry-run adds up.
_START_S = 6.0
_PASS_S = {"operators": 2.0, "layers": 4.0, "primitives": 2.0}
_CHECK_S = {"fusion": 40.0, "equivalence": 30.0}
LAYOUTS = ("shared", "legacy")
# What a worker of the shared layout also measures for the checks (mxprof.jobs.profile.companions).
_COMPANION_WHAT = {"fused": "the fused graph timed", "outputs": "outputs of 4 fixed inputs",
                   "fusion_trace": "both graphs traced for the fusion findings"}
_CHECK_WHAT = {"fusion": ("fusion summary", "unfused and fused workers, batch 1"),
               "equivalence": ("equivalence check", "reference, MKL-DNN, fused on 4 random "
                                                    "inputs")}


class Options(msgspec.Struct, kw_only=True):
    """What `mxprof profile` and `mxprof.profile()` are asked; None means the default named."""

    model: ModelSpec
    batch_size: int | None = None  # throughput batch: 8 (128 with reference_protocol)
    warmup: int = DEFAULT_WARMUP  # untimed calls after the first
    iterations: int | None = None  # a fixed number of timed calls (overrides min_time)
    min_time: float | None = None  # seconds of timed calls: 1 (10 with reference_protocol)
    processes: int | None = None  # timing processes per configuration: 3 (fast 2, rigorous 6)
    fast: bool = False  # 2 processes, half the min_time
    rigorous: bool = False  # 6 processes, twice the min_time
    passes: tuple[str, ...] = PASSES
    reference: bool = True  # the MKL-DNN off configuration
    checks: tuple[str, ...] = CHECKS
    diagnosis: bool = True  # ceilings, roofline, findings
    try_fixes: bool = False
    refresh_ceilings: bool = False
    reference_protocol: bool = False
    cores: str | None = None
    membind: str | None = None
    physical_only: bool = False
    threads: int | str | None = None  # a count, "runtime", None: one per physical core
    wait_policy: str = "auto"
    timeout: float = DEFAULT_TIMEOUT  # seconds per worker
    workdir: str | None = None
    share: bool = True  # the operators pass joins the last timing process
    layout: str = "shared"  # LAYOUTS: the companion checks inside the timing processes or not
    hooks: dict[str, str] = msgspec.field(default_factory=dict)  # test faults "CONFIG:PASS"
    # Another build's interpreter (profile --python/--build, mxprof.host.builds): every worker
    # runs under it; the companion checks are skipped (they would run this interpreter's MXNet).
    python: str | None = None
    # The batch of the operator, layer and primitive passes (--breakdown-batch): 1 is where the
    # time of one request goes; a model that only makes sense at batch N is broken down at N.
    breakdown_batch: int = 1


class ProfilePlan(Plan, kw_only=True):
    """What `run` needs: the options, the one placement, the specs and how they share
    processes, and the companion checks; `steps`/`notes` are what --dry-run prints."""

    kind: str = "profile"
    options: Options
    placement: Placement
    specs: list[RunSpec]
    groups: list[tuple[int, ...]]
    checks: tuple[str, ...] = ()
    cost: dict | None = None  # estimated (mxprof.jobs.profile.cost.estimate_cost)

    @property
    def workers(self) -> int:
        return len(self.groups)

    @property
    def layout(self) -> str:
        return self.options.layout

    @property
    def check_steps(self) -> tuple[str, ...]:
        """The checks that run as steps of their own (the legacy layout's check workers); in
        the shared layout the timing processes measure them."""
        return self.checks if self.layout == "legacy" else ()

    @property
    def estimate_s(self) -> float:
        return self.cost["wall_s"] if self.cost else super().estimate_s


def plan_specs(model: ModelSpec, *, batch_size: int, protocol: Protocol,
               passes: Sequence[str] = PASSES, reference: bool = True,
               placement: Placement | None = None,
               hooks: dict[tuple[str, str], str] | None = None, processes: int = 1,
               wait_policy: str | None = None, breakdown_batch: int = 1) -> list[RunSpec]:
    """One RunSpec per (configuration, pass); timing always runs, primitives only with MKL-DNN.

    Timing runs in `processes` workers per configuration, interleaved (A B A B...) so drifting
    load hits both sides (mxprof.workers.schedule); the MKL-DNN layers pass in `processes`
    workers too (`_copies`). Every spec carries `placement`'s CPUs, memory nodes, threads and
    wait policy (`wait_policy` overrides the latter); the breakdown passes run at
    `breakdown_batch` (left out of the spec at 1, so compare run keys stay). Raises ValueError for an unknown pass name.
    """
    from mxprof.workers import schedule
    unknown = set(passes) - set(PASSES)
    if unknown:
        raise ValueError(f"unknown pass(es) {', '.join(sorted(unknown))}; "
                         f"choose from {','.join(PASSES)}")
    configs = [("mkldnn", True)] + ([("reference", False)] if reference else [])
    chosen = [p for p in PASSES if p in passes or p == "timing"]
    per = {"mkldnn": chosen, "reference": [p for p in chosen if p != "primitives"]}
    # Headline timings first, so an interrupted run still has the numbers that matter most.
    order = [(c, "timing") for _, c in schedule.interleave([c for c, _ in configs], processes)] + [
        (c, p) for c, _ in configs for p in per[c] if p != "timing"
        for _ in range(_copies(c, p, processes))]
    mk = dict(configs)
    hooks = hooks or {}
    p = placement or Placement()
    return [RunSpec(model=model, config=c, mkldnn=mk[c], pass_name=ps, batch_size=batch_size,
                    protocol=protocol, threads=p.threads, cpus=p.cores, membind=p.membind,
                    physical_only=p.physical_only, test_hook=hooks.get((c, ps)),
                    wait_policy=wait_policy or p.wait_policy, threads_why=p.threads_why,
                    breakdown_batch=breakdown_batch if breakdown_batch != 1 else msgspec.UNSET)
            for c, ps in order]


def _copies(config: str, pass_name: str, processes: int) -> int:
    """Processes of one pass: the MKL-DNN layers pass runs in as many processes as the timing,
    so each layer's time pools the run-to-run spread too (`mxprof diff` gives every layer's
    difference an interval from them); the other passes run once."""
    return processes if (config, pass_name) == ("mkldnn", "layers") else 1


def _check(options: Options) -> None:
    for name in ("batch_size", "iterations", "processes", "breakdown_batch"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if options.warmup < 0:
        raise UsageError(f"--warmup must not be negative, got {options.warmup}")
    for name in ("min_time", "timeout"):
        value = getattr(options, name)
        if value is not None and not 0 < value < float("inf"):
            raise UsageError(f"--{name.replace('_', '-')} must be a finite number > 0, got "
                             f"{value}")
    if options.layout not in LAYOUTS:
        raise UsageError(f"--layout must be one of {', '.join(LAYOUTS)}, got {options.layout}")
    unknown = set(options.checks) - set(CHECKS)
    if unknown:
        raise UsageError(f"unknown check(s) {', '.join(sorted(unknown))}; "
                         f"choose from {','.join(CHECKS)} or none")
    for where, hook in options.hooks.items():
        if where.count(":") != 1 or hook not in TEST_HOOKS:
            raise UsageError(f"bad --test-hook {where}:{hook}: CONFIG:PASS:"
                             f"{'|'.join(TEST_HOOKS)}")


def _placement(options: Options) -> Placement:
    from mxprof.cpu.placement import node0, resolve
    cores, membind = options.cores, options.membind
    if options.reference_protocol and not (cores and membind):
        ref_cores, ref_node = node0()
        cores, membind = cores or ref_cores, membind or ref_node
    try:
        return resolve(cores, membind, physical_only=options.physical_only,
                       threads=options.threads, wait_policy=options.wait_policy,
                       decide_wait=False)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _protocol(options: Options) -> tuple[Protocol, int, int]:
    """(timing protocol, throughput batch, processes per configuration)."""
    from mxprof.workers import schedule
    try:
        preset = schedule.choose(options.processes, fast=options.fast,
                                 rigorous=options.rigorous)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ref = options.reference_protocol
    batch = options.batch_size or (REFERENCE_BATCH if ref else DEFAULT_BATCH)
    # An explicit min_time is what the user asked for: --fast/--rigorous scale only the default.
    min_time = options.min_time if options.min_time is not None else \
        preset.min_time_factor * (REFERENCE_MIN_TIME if ref else DEFAULT_MIN_TIME)
    protocol = Protocol.for_processes(preset.processes, warmup=options.warmup,
                                      iterations=options.iterations, min_time=min_time)
    return protocol, batch, preset.processes


def _steps(specs: list[RunSpec], groups, checks) -> list[Step]:
    from mxprof.jobs.profile.runner import group_label
    steps = []
    for group in groups:
        members = [specs[i] for i in group]
        what = "; then ".join(
            f"{s.pass_name} pass, batch "
            f"{'1 and ' + str(s.batch_size) if s.pass_name == 'timing' else s.breakdown}"
            for s in members)
        shared = ", one process" if len(members) > 1 else ""
        extra = [_COMPANION_WHAT[c] for c in _COMPANION_WHAT
                 if any(c in s.companions for s in members)]
        if extra:
            shared += f"; for the checks: {', '.join(extra)}"
        seconds = _START_S + sum(2 + 2 * s.protocol.min_time if s.pass_name == "timing"
                                 else _PASS_S[s.pass_name] for s in members)
        steps.append(Step(label=group_label(members), seconds=seconds,
                          what=f"{what}, MKL-DNN {'on' if members[0].mkldnn else 'off'}{shared}"))
    for c in checks:
        label, what = _CHECK_WHAT[c]
        steps.append(Step(label=label, what=what, seconds=_CHECK_S[c]))
    return steps


def plan(options: Options) -> ProfilePlan:
    """Everything that will run, checked (module docstring). Raises UsageError."""
    from mxprof.jobs.profile.runner import group_specs
    _check(options)
    protocol, batch, processes = _protocol(options)
    placement = _placement(options)
    hooks = {tuple(k.split(":")): v for k, v in options.hooks.items()}
    try:
        specs = plan_specs(options.model, batch_size=batch, protocol=protocol,
                           passes=options.passes, reference=options.reference,
                           placement=placement, hooks=hooks, processes=processes,
                           breakdown_batch=options.breakdown_batch)
    except ValueError as exc:  # an unknown pass
        raise UsageError(str(exc)) from None
    checks = tuple(c for c in CHECKS if c in options.checks and options.python is None)
    layout_note = []
    if options.layout == "shared" and "equivalence" in checks and not options.reference:
        # The shared layout takes the equivalence check's reference outputs from the MKL-DNN
        # off timing processes, which --no-reference leaves out: the checks get their own.
        options = msgspec.structs.replace(options, layout="legacy")
        layout_note = ["layout: the checks run in workers of their own (--no-reference: no "
                       "MKL-DNN off timing process to take the reference outputs from)"]
    if options.layout == "shared" and checks:
        from mxprof.jobs.profile.checks import with_companions
        specs = with_companions(specs, checks)
    groups = group_specs(specs, share=options.share)
    from mxprof.jobs.profile.cost import cost_lines, estimate_cost
    cost = estimate_cost(specs, len(groups), options.layout, checks)
    notes = [f"protocol: warm-up {protocol.warmup}, "
             + (f"{protocol.iterations} timed calls" if protocol.iterations
                else f">= {protocol.min_time:g} s of timed calls") + " per measurement, "
             f"{processes} timing process(es) per configuration",
             f"binding: {placement.describe()}", *binding_warnings(placement), *layout_note,
             *cost_lines(cost, estimated=True)]
    return ProfilePlan(options=options, placement=placement, specs=specs, groups=groups,
                       checks=checks, cost=cost, notes=notes,
                       steps=_steps(specs, groups, checks if options.layout == "legacy" else ()))
