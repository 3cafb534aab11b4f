"""What every renderer is: `render(report) -> str` and the file extension it writes."""

from __future__ import annotations

from typing import Any


class Renderer:
    """Turns a schema-1 profile report (a dict, see `mxprof.jobs.profile.report`) into text."""

    name = "base"
    extension = ".txt"

    def render(self, report: dict[str, Any]) -> str:
        raise NotImplementedError

    def write(self, report: dict[str, Any], path: str) -> None:
        from mxprof.jsonio import write_text  # atomic: never half a report

        write_text(path, self.render(report))


def as_dict(result: Any) -> dict[str, Any]:
    """A Result Struct (mxprof.jobs.contract) or its dict, as the dict the renderers read."""
    return result.to_dict() if hasattr(result, "to_dict") else result


def fmt_inputs(model: dict) -> str:
    """A model record's inputs for a header: `3x224x224` for the one image input, else each
    input's name, per-sample shape with N for the batch, and dtype (`src N,50 int32`)."""
    inputs = model.get("inputs") or ()
    if not inputs:
        return "x".join(str(d) for d in model.get("input_shape", ()))
    return "; ".join(f"{i['name']} {','.join(['N', *map(str, i['shape'])])} "
                     f"{i.get('dtype', 'float32')}" for i in inputs)


def fmt_ms(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def environment_phrase(mxnet: str | None, onednn: str | None, cpu_model: str | None,
                       cores: int | None, cpus: str | None, threads: Any,
                       wait_policy: str | None = "") -> str:
    """'MXNet 1.9.1, oneDNN v2.4.4; AMD EPYC, 2 cores; affinity CPUs 0-1, OpenMP threads 2,
    wait policy passive': the versions, CPU, cores, CPU list, OpenMP threads and wait policy a
    run measured with, one phrase in every report header; a fact a file lacks (written by an
    older mxprof) is '?'. `wait_policy` '' leaves it out (a header that says it elsewhere)."""
    wait = "" if wait_policy == "" else f", wait policy {wait_policy or '?'}"
    return (f"MXNet {mxnet or '?'}, oneDNN {onednn or '?'}; {cpu_model or '?'}, "
            f"{cores or '?'} cores; affinity CPUs {cpus or '?'}, OpenMP threads "
            f"{threads or 'runtime default'}{wait}")


def environment_line(env: dict[str, Any] | None, threads: Any = None,
                     wait_policy: str | None = None) -> str:
    """`environment_phrase` of an environment record (mxprof.host.environment: its `mxnet`,
    `affinity`, `threads`, `wait_policy` parts, as the workers reported them); `threads` and
    `wait_policy` what the run asked for, used when the record holds none."""
    env = env or {}
    mx, aff = env.get("mxnet") or {}, env.get("affinity") or {}
    return environment_phrase(
        mx.get("version") or (env.get("packages") or {}).get("mxnet"), env.get("onednn_version"),
        env.get("cpu_model"), env.get("physical_cores"),
        mx.get("allowed_cpus") or aff.get("cpus"),
        mx.get("openmp_threads") or env.get("threads") or threads,
        (env.get("wait_policy") or {}).get("policy") or wait_policy)
