"""The comparison matrix: which runs a sweep makes, the record each leaves, the rows they give.

Contract (pure functions, no MXNet import):
- `plan(...) -> [PlannedRun]`: for every model x build x throughput batch x configuration one
  timing run (latency at batch 1 and throughput at the batch, see `mxprof.jobs.profile.spec`), each with
  a key that names exactly what was measured where (spec, build, instances, machine), so a
  results file can tell which runs are already done.
- `make_record(planned, results) -> dict`: the JSON line a finished run leaves in the results
  file (`mxprof.jobs.compare.results_log`), carrying each worker's environment fingerprint.
  `processes=N` gives one record per process (`process` 0..N-1); their rows are
  `mxprof.jobs.compare.rows`.
Configurations: "reference" (MXNET_MKLDNN_ENABLED=0), "mkldnn" (on), "fused" (on, plus
`optimize_for(backend='MKLDNN')`, the subgraph fusion of the reference's second table).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from mxprof.host.builds import Build
from mxprof.jobs.compare.results_log import KIND
from mxprof.jobs.profile.spec import Protocol, RunResult, RunSpec
from mxprof.jobs.sweeps import machine_label, machine_of  # noqa: F401 - re-exported
from mxprof.mx.models import ModelSpec
from mxprof.schema import SCHEMA

CONFIGS: dict[str, bool] = {"reference": False, "mkldnn": True, "fused": True}
CONFIG_LABELS = {"reference": "MKL-DNN off (MXNET_MKLDNN_ENABLED=0)", "mkldnn": "MKL-DNN on",
                 "fused": "MKL-DNN on + optimize_for(backend='MKLDNN')"}
DEFAULT_BATCH = 128  # the reference's throughput batch

# The reference table's 14 networks in its order, with its own throughput batch sizes:
# (label, name, throughput batch). Inception v4, Inception-ResNet v2, DCGAN and GNMT are
# mxprof's own (`mxprof.mx.zoo`: neither zoo has them); Faster R-CNN's throughput equals
# 1/latency: batch 1.
REFERENCE_MODELS: tuple[tuple[str, str, int], ...] = (
    ("ResNet-50 v1", "resnet50_v1", 128),
    ("ResNet-50 v2", "resnet50_v2", 128),
    ("Inception v3", "inceptionv3", 128),
    ("Inception v4", "inceptionv4", 128),
    ("DenseNet", "densenet121", 128),
    ("MobileNet", "mobilenet1.0", 128),
    ("VGG16", "vgg16", 128),
    ("AlexNet", "alexnet", 128),
    ("inception-resnet v2", "inceptionresnetv2", 128),
    ("Faster R-CNN", "faster_rcnn_resnet50_v1b_voc", 1),
    ("SSD-VGG16", "ssd_300_vgg16_atrous_voc", 224),
    ("SSD-MobileNet", "ssd_512_mobilenet1.0_voc", 256),
    ("GNMT", "gnmt", 64),
    ("DCGAN", "dcgan", 128),
)
# The reference's own MKL-DNN speedups (MXNet 1.3.0 vs mxnet-mkl 1.3.0, c5.18xlarge, one
# socket; docs/reference-benchmark.md): name -> (latency speedup at batch 1, throughput speedup).
REFERENCE_SPEEDUPS: dict[str, tuple[float, float]] = {
    "resnet50_v1": (7.45, 15.90), "resnet50_v2": (7.58, 15.51), "inceptionv3": (10.44, 23.57),
    "inceptionv4": (10.54, 22.87), "densenet121": (5.91, 17.60), "mobilenet1.0": (8.73, 20.60),
    "vgg16": (20.25, 24.31), "alexnet": (17.00, 36.32), "inceptionresnetv2": (3.67, 15.14),
    "faster_rcnn_resnet50_v1b_voc": (9.91, 10.08), "ssd_300_vgg16_atrous_voc": (15.14, 19.13),
    "ssd_512_mobilenet1.0_voc": (8.45, 14.18), "gnmt": (7.27, 6.83), "dcgan": (37.85, 38.94),
}
QUICK_BATCH = 2  # --quick: latency at 1 and throughput at this batch
QUICK_MIN_TIME = 0.3  # --quick: seconds of timed calls per measurement
QUICK_PROCESSES = 2  # --quick: timing processes per cell (pyperf's --fast uses fewer too)
MODEL_BATCH = {name: batch for _, name, batch in REFERENCE_MODELS}
MODEL_LABEL = {name: label for label, name, _ in REFERENCE_MODELS}
ALIASES = {label.lower().replace(" ", "-"): name for label, name, _ in REFERENCE_MODELS}
_OTHER_CATEGORIES = {"gnmt": "RNN", "dcgan": "GAN"}
_DETECTION_PREFIXES = ("ssd", "faster_rcnn", "mask_rcnn", "yolo", "center_net")


def category(model_name: str) -> str:
    if model_name in _OTHER_CATEGORIES:
        return _OTHER_CATEGORIES[model_name]
    return "detection" if model_name.startswith(_DETECTION_PREFIXES) else "classification"


def model_batches(model_name: str, requested: Sequence[int] | None) -> list[int]:
    """Batch sizes for a model: the user's list, else 1 and the reference's batch for it."""
    if requested:
        return sorted(set(requested))
    return sorted({1, MODEL_BATCH.get(model_name, DEFAULT_BATCH)})


def quick_batches(model_name: str) -> list[int]:
    """--quick: batch 1 and QUICK_BATCH, or the reference's own batch where it is smaller
    (Faster R-CNN: the reference timed batch 1, and GluonCV's hybridized Faster R-CNN fails at
    batch 2 in its proposal concat)."""
    return sorted({1, min(QUICK_BATCH, MODEL_BATCH.get(model_name, DEFAULT_BATCH))})


def throughput_batches(batches: Sequence[int]) -> list[int]:
    """One timing run per batch above 1 (each also times batch 1); batch 1 alone -> one run."""
    above = [b for b in batches if b > 1]
    return above or [1]


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    key: str
    build: Build
    spec: RunSpec
    machine: dict[str, Any]
    instance_cpus: tuple[str, ...] = ()  # throughput mode: one CPU list per bound instance
    process: int = 0  # which of the run's processes (several per configuration, interleaved)
    base_key: str = ""  # the key shared by the processes of one run ("" = key)
    # A point of a --threads sweep: the label names the thread count, or two runs read alike.
    show_threads: bool = False

    @property
    def label(self) -> str:
        threads = f" threads={self.spec.threads or 'runtime'}" if self.show_threads else ""
        inst = f" x{len(self.instance_cpus)} instances" if self.instance_cpus else ""
        proc = f" #{self.process + 1}" if self.process else ""
        return (f"{self.spec.model.name} bs={self.spec.batch_size} {self.spec.config} "
                f"[{self.build.name}]{threads}{inst}{proc}")


def run_key(spec: RunSpec, build: Build, machine: dict[str, Any],
            instance_cpus: Sequence[str] = (), process: int = 0,
            environment: dict[str, Any] | None = None) -> str:
    """Same key = same measurement: what runs, under which interpreter (and its MXNet), where,
    how bound, in which environment (`results_log.reuse_fingerprint`), and which process of it
    (process 0 keeps the key it had before processes existed)."""
    spec_d = spec.to_dict()
    spec_d.pop("test_hook", None)
    # What "auto" chose under the load of the moment is not what a run is: the policy asked
    # for is in `environment` when it was not auto (mxprof.jobs.compare.job).
    spec_d.pop("wait_policy", None)
    what = {"spec": spec_d, "build": [build.name, build.python, build.pip_spec],
            "machine": machine, "instances": list(instance_cpus)}
    if process:
        what["process"] = process
    if environment is not None:
        what["environment"] = environment
        what["build_mxnet"] = [build.mxnet, build.mkldnn]
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def plan(models: Sequence[ModelSpec], builds: Sequence[Build], *, machine: dict[str, Any],
         configs: Sequence[str] = ("reference", "mkldnn"), batch_sizes: Sequence[int] | None = None,
         protocol: Protocol | None = None, threads: int | None = None, cpus: str | None = None,
         membind: str | None = None, instance_cpus: Sequence[str] = (),
         processes: int = 1, environment: dict[str, Any] | None = None,
         wait_policy: str | None = None) -> list[PlannedRun]:
    """Model-major order, so an interrupted sweep has whole rows for the models it reached.

    Within a model and batch, `processes` rounds of every build x configuration, interleaved
    (round 1: A B C, round 2: A B C, ...) so drifting load hits every side of a comparison.
    A build without MKL-DNN compiled in (`Build.mkldnn is False`) runs "reference" only.
    """
    protocol = protocol or Protocol()
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise ValueError(f"unknown configuration {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    out: list[PlannedRun] = []
    for model in models:
        for batch in throughput_batches(model_batches(model.name, batch_sizes)):
            for process in range(processes):
                for build in builds:
                    for config in configs:
                        if build.mkldnn is False and CONFIGS[config]:
                            continue
                        spec = RunSpec(model=model, config=config, mkldnn=CONFIGS[config],
                                       pass_name="timing", batch_size=batch, protocol=protocol,
                                       threads=threads, cpus=cpus, membind=membind,
                                       wait_policy=wait_policy)
                        key = run_key(spec, build, machine, instance_cpus, process, environment)
                        base = (run_key(spec, build, machine, instance_cpus, 0, environment) if process
                                else key)
                        out.append(PlannedRun(key=key, build=build, spec=spec, machine=machine,
                                              instance_cpus=tuple(instance_cpus),
                                              process=process, base_key=base))
    return out


def make_record(planned: PlannedRun, results: Sequence[RunResult],
                machine_load: dict[str, Any] | None = None) -> dict[str, Any]:
    """The results-file line for one finished run (one worker, or one group of instances);
    `machine_load`: what else ran meanwhile (mxprof.cpu.load.MachineLoad.to_dict())."""
    status = "ok" if results and all(r.ok for r in results) else next(
        (r.status for r in results if not r.ok), "failed")
    return {
        "kind": KIND, "schema": SCHEMA, "key": planned.key, "status": status,
        "base_key": planned.base_key or planned.key, "process": planned.process,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "build": planned.build.to_dict(), "machine": planned.machine,
        "instance_cpus": list(planned.instance_cpus),
        "results": [r.to_dict() for r in results],
        "machine_load": machine_load,
    }
