"""What a profile costs: wall time, the time inside the model's own calls, seconds per phase.

`cost_section(results, wall_s, layout)` (after a run: the result's `cost`, a
mxprof.jobs.profile.records.Cost) and `estimate_cost(specs, groups, layout, checks)` (before
one: `--dry-run`, the same fields as a dict) give the same record: {layout, workers, wall_s,
model_s, overhead_ratio (wall / model), phases_s {phase: seconds}}.

Phases, summed over the worker processes (RunResult.phases, mxprof.jobs.profile.worker):
- interpreter: Python start and mxprof's imports before the worker's clock starts (the
  process's wall as the runner saw it, minus what the worker measured itself);
- start (binding, host fingerprint), import (MXNet), build (model and weights);
- first_call, warmup, timed: the timing passes' calls (batch 1 and the throughput batch);
- companions: the fused graph's build and calls and the outputs of the companion checks
  taken inside the timing processes ("shared" layout);
- passes: the operators, layers and primitives passes (their calls and their own analysis);
- parent: everything outside the workers (planning, the wait windows, the legacy layout's
  check workers, ceilings, diagnosis, rendering): the wall minus the workers' walls.
model_s counts first_call + warmup + timed + companions + passes: every call the model makes
(the passes' own analysis inside is small beside their calls), so the overhead ratio is
what the process layout costs on top of the measurements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mxprof.jobs.profile.records import Cost

MODEL_PHASES = ("first_call", "warmup", "timed", "companions", "passes")
ORDER = ("interpreter", "start", "import", "build", *MODEL_PHASES, "parent")


def _add(into: dict[str, float], key: str, seconds: float | None) -> None:
    if seconds:
        into[key] = into.get(key, 0.0) + float(seconds)


def worker_phases(results) -> tuple[dict[str, float], float, int]:
    """(seconds per phase summed over the workers, the workers' total wall, worker count)."""
    phases: dict[str, float] = {}
    walls, workers = 0.0, 0
    for r in results:
        p = r.phases or {}
        if "process_wall" in p:  # the first pass of a process (mxprof.jobs.profile.runner)
            workers += 1
            walls += p["process_wall"]
            _add(phases, "interpreter", max(0.0, p["process_wall"] - p.get("worker_wall", 0.0)))
        for key in ("start", "import", "build"):
            _add(phases, key, p.get(key))
        if r.spec.pass_name == "timing":
            for key in ("first_call", "warmup", "timed", "companions"):
                _add(phases, key, p.get(key))
        else:
            _add(phases, "passes", p.get("pass"))
    return phases, walls, workers


def cost_section(results, wall_s: float, layout: str) -> Cost:
    """The result's `cost` (see the module docstring) from one run's RunResults and its wall
    (seconds), as the typed record the result holds."""
    from mxprof.jobs.profile.records import Cost
    phases, walls, workers = worker_phases(results)
    phases["parent"] = max(0.0, float(wall_s) - walls)
    model = float(sum(phases.get(k, 0.0) for k in MODEL_PHASES))
    return Cost(layout=layout, workers=workers, wall_s=float(wall_s), model_s=model,
                overhead_ratio=wall_s / model if model else None,
                phases_s={k: phases[k] for k in ORDER if k in phases})


# Seconds per phase for the dry run's estimate, measured here (bench/profile_wall.py,
# resnet50_v1 on the 2-CPU VM, MXNet's import lean: mxprof.mx.lean_import): per process, and
# per pass beyond the timed minimum.
_PER_PROCESS = {"interpreter": 0.2, "start": 0.05, "import": 0.85, "build": 0.3}
_PER_PASS = {"operators": 3.0, "layers": 4.0, "primitives": 3.0}
_LEGACY_CHECKS = {"fusion": 4 * 4.0 + 2 * 2.0, "equivalence": 3 * 4.0}


def estimate_cost(specs: Sequence, groups: int, layout: str, checks: Sequence[str] = ()
                  ) -> dict[str, Any]:
    """The same record as `cost_section`, estimated before a run from its specs and its
    process count `groups` (rough: a first call of 1 s, the machine's load not counted)."""
    phases = {k: v * groups for k, v in _PER_PROCESS.items()}
    for s in specs:
        p = s.protocol
        if s.pass_name == "timing":
            measurements = 1 if s.batch_size == 1 else 2
            _add(phases, "first_call", 1.0 * measurements)
            _add(phases, "warmup", 0.3 * measurements)
            _add(phases, "timed", p.min_time * measurements)
            if s.companions:
                _add(phases, "companions", 1.5 + (p.min_time / 3 if "fused" in s.companions
                                                  else 0.0))
        else:
            _add(phases, "passes", _PER_PASS.get(s.pass_name, 3.0))
    phases["parent"] = 0.5 * groups + (sum(_LEGACY_CHECKS.get(c, 0.0) for c in checks)
                                      if layout == "legacy" else 0.0)
    wall = sum(phases.values())
    model = sum(phases.get(k, 0.0) for k in MODEL_PHASES)
    return {"layout": layout, "workers": groups, "wall_s": wall, "model_s": model,
            "overhead_ratio": wall / model if model else None,
            "phases_s": {k: phases[k] for k in ORDER if k in phases}}


def cost_lines(cost: dict[str, Any], *, estimated: bool = False) -> list[str]:
    """Two lines for a terminal: wall, model time, ratio; seconds per phase."""
    what = "estimated " if estimated else ""
    ratio = cost.get("overhead_ratio")
    head = (f"cost ({cost['layout']} layout, {cost['workers']} worker processes): {what}wall "
            f"{cost['wall_s']:.1f} s, inside the model's calls {cost['model_s']:.1f} s, "
            f"overhead ratio {ratio:.2f}" if ratio else "n/a")
    phases = ", ".join(f"{k} {v:.1f}" for k, v in cost["phases_s"].items())
    return [head, f"seconds per phase: {phases}"]
