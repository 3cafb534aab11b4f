"""The profile plan is made once (mxprof.jobs.profile.plan.plan_specs), for the CLI and the
notebook API alike: headline timings first, interleaved over processes, one wait policy."""

from __future__ import annotations

import pytest

from mxprof.jobs.profile.plan import plan_specs
from mxprof.jobs.profile.spec import Protocol
from mxprof.mx.models import ModelSpec

MODEL = ModelSpec("resnet18_v1", "gluon", (3, 32, 32))


def test_timings_first_interleaved_over_processes():
    specs = plan_specs(MODEL, batch_size=4, protocol=Protocol(), passes=("timing", "layers"),
                       processes=2, wait_policy="passive")
    assert [(s.config, s.pass_name) for s in specs] == [
        ("mkldnn", "timing"), ("reference", "timing"), ("mkldnn", "timing"),
        ("reference", "timing"), ("mkldnn", "layers"), ("mkldnn", "layers"),
        ("reference", "layers")]  # MKL-DNN's layers pooled over processes (mxprof diff)
    assert {s.wait_policy for s in specs} == {"passive"}


def test_primitives_only_with_mkldnn_and_unknown_passes_refused():
    specs = plan_specs(MODEL, batch_size=4, protocol=Protocol(), passes=("primitives",),
                       reference=False)
    assert [(s.config, s.pass_name) for s in specs] == [("mkldnn", "timing"),
                                                        ("mkldnn", "primitives")]
    with pytest.raises(ValueError, match="unknown pass"):
        plan_specs(MODEL, batch_size=4, protocol=Protocol(), passes=("timming",))
