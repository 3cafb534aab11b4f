"""`profile --try-fixes`: apply a finding's fix, time the model again, show before and after.

For each finding mxprof can fix by itself, two batch-1 timing workers run back to back (the
configuration as profiled, then with the fix), so both meet the same load; the finding's
`effect.measured` gets {before_ms, before_ci95, after_ms, after_ci95, speedup, fix_applied}
(medians and the 95% confidence intervals of the medians from `mxprof.timing.stats`).

Fixes applied:
- `subnormal_parameters`: the model's parameter file rewritten with every |x| < 1.18e-38 set to
  zero (in a worker with MXNet, mxprof.jobs.profile.zero_subnormals: parameter files are
  MXNet's format). Needs a parameter file (`--params`, or zoo weights on disk): random
  initialisation has none.
- `threads_idle`: OpenMP threads = the CPUs bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from mxprof.files import temp_dir
from mxprof.jobs.profile.spec import RunResult, RunSpec
from mxprof.timing.stats import ratio_text
from mxprof.workers.process import worker_env
from mxprof.workers.protocol import WorkerSpec, run_worker

FIXABLE = ("subnormal_parameters", "threads_idle")

def zero_subnormals(params_in: str, params_out: Path, timeout: float) -> str | None:
    """Write `params_in` with its subnormal values zeroed to `params_out` (in a worker with
    MXNet: mxprof.jobs.profile.zero_subnormals); None, or why not."""
    res = run_worker(WorkerSpec(module="mxprof.jobs.profile.zero_subnormals",
                                name="zero-subnormals", workdir=params_out.parent,
                                spec={"params_in": params_in, "params_out": str(params_out)},
                                env=worker_env(), timeout=timeout, tail_lines=6))
    if res.ok and params_out.exists():
        return None
    return f"could not rewrite the parameters: {res.error} {res.stderr_tail[-300:]}"


def export_factory_weights(spec: RunSpec, out: Path, timeout: float) -> tuple[str | None, str]:
    """The weights a FILE.py:FACTORY set itself, saved to `out` (a throwaway process calls
    the factory again, in the zero_subnormals worker): (path, "") or (None, why not)."""
    res = run_worker(WorkerSpec(module="mxprof.jobs.profile.zero_subnormals",
                                name="factory-weights", workdir=out.parent,
                                spec={"factory": spec.model.factory, "params_out": str(out)},
                                env=worker_env(), timeout=timeout, tail_lines=6))
    if res.ok and out.exists():
        return str(out), ""
    return None, f"could not save the factory's weights: {res.error} {res.stderr_tail[-300:]}"


def _fixed_spec(rule: str, spec: RunSpec, report: dict[str, Any], workdir: Path,
                timeout: float) -> tuple[RunSpec | None, str]:
    if rule == "threads_idle":
        cpus = (report.get("threads") or {}).get("cpus_bound")
        return msgspec.structs.replace(spec, threads=cpus), f"OMP threads {cpus}"
    if rule == "subnormal_parameters":
        src = spec.model.params_path or (report.get("model") or {}).get("weights_path")
        if not src and (report.get("model") or {}).get("weights") == "factory":
            src, why = export_factory_weights(spec, workdir / "factory.params", timeout)
            if why:
                return None, why
        if not src:
            return None, "not applied: the weights are a random initialisation, no file to fix"
        fixed = workdir / "subnormals-zeroed.params"
        why = zero_subnormals(src, fixed, timeout)
        if why:
            return None, why
        model = msgspec.structs.replace(spec.model, params_path=str(fixed))
        return msgspec.structs.replace(spec, model=model), f"subnormal values zeroed in {fixed.name}"
    return None, "no automatic fix"


def _stats(result: RunResult) -> dict[str, Any] | None:
    lat = result.latency if result.ok else None
    if not lat:
        return None
    return {"median": lat["median"], "ci95": [lat.get("ci95_low"), lat.get("ci95_high")]}


def _ratio(before: RunResult, after: RunResult) -> dict[str, Any] | None:
    """The fix's speedup with its 95% interval and significance (None without samples)."""
    from mxprof.timing.pooled import ratio
    if not (before.ok and after.ok):
        return None
    r = ratio(before.latency, after.latency, "fix")
    return r.to_dict() if r else None


def try_fixes(report: dict[str, Any], spec: RunSpec, *, timeout: float,
              workdir: str | None = None) -> None:
    """Measure the fixable findings of `report` (in place): `spec` is the profiled timing spec."""
    from mxprof.jobs.profile.runner import run_groups
    with temp_dir("fixes", dir=workdir) as tmp:
        for i, finding in enumerate(report.get("findings") or []):
            if finding["rule"] not in FIXABLE:
                continue
            base = msgspec.structs.replace(spec, pass_name="timing", batch_size=1,
                                           companions=())
            fixed, what = _fixed_spec(finding["rule"], base, report, Path(tmp), timeout)
            effect = finding.setdefault("effect", {})
            if fixed is None:
                effect["measured"] = {"fix_applied": False, "why": what}
                continue
            folder = Path(tmp) / f"fix{i}"
            folder.mkdir()
            before, after = run_groups([base, fixed], folder, timeout=timeout)
            b, a = _stats(before), _stats(after)
            effect["measured"] = {
                "fix_applied": what, "before_ms": b and b["median"],
                "before_ci95": b and b["ci95"], "after_ms": a and a["median"],
                "after_ci95": a and a["ci95"],
                "speedup": b["median"] / a["median"] if a and b and a["median"] else None,
                "speedup_ratio": _ratio(before, after),
                "error": None if a and b else (after.error or before.error)}
            if a and b:  # what the fix saved, measured: it replaces the estimate's rank
                effect["measured"]["saved_ms"] = b["median"] - a["median"]
    report["findings"] = rank(report.get("findings") or [])


def stake_ms(finding: dict[str, Any]) -> float:
    """What fixing `finding` saves per iteration: the measured saving when --try-fixes timed
    the fix (negative when the fix made it slower), else the rule's estimate."""
    effect = finding.get("effect") or {}
    measured = effect.get("measured") or {}
    if measured.get("saved_ms") is not None:
        return float(measured["saved_ms"])
    return float(effect.get("ms_per_iter") or 0.0)


def rank(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most to save first; a measured effect ranks by what it measured."""
    return sorted(findings, key=lambda f: -stake_ms(f))


def measured_line(m: dict[str, Any]) -> str:
    """'before 1.20 ms [1.18-1.25] -> after 0.60 ms [0.58-0.61] (2.00x (95% CI 1.90-2.10);
    OMP threads 2)', or 'no significant difference (...)' when the speedup's interval holds 1."""
    if not m.get("fix_applied"):
        return f"fix not tried: {m.get('why')}"
    if m.get("error") or m.get("after_ms") is None:
        return f"fix tried ({m['fix_applied']}) but a timing worker failed: {m.get('error')}"

    def ci(pair):
        return f"[{pair[0]:.2f}-{pair[1]:.2f}]" if pair and None not in pair else "[-]"
    ratio = m.get("speedup_ratio")
    # A file from before the fix's interval was kept: the bare ratio, said to have none.
    speed = ratio_text(ratio) if ratio else f"{m['speedup']:.2f}x, no interval recorded"
    return (f"before {m['before_ms']:.2f} ms {ci(m['before_ci95'])} -> after "
            f"{m['after_ms']:.2f} ms {ci(m['after_ci95'])} ({speed}; "
            f"{m['fix_applied']}), 95% CIs of the medians, back-to-back workers")
