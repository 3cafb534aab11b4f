"""The profile job's one typed result (mxprof.jobs.profile.records.ProfileResult): `kind` in
every file written, older files without it still load, a file of another kind is refused, and
the roof verdict is a typed field (Roofline.roof_refuted), not a sentence searched for."""

from __future__ import annotations

import json

import pytest
from tests.conftest import FIXTURES, run_cli

SAVED = FIXTURES / "results" / "profile.json"


def test_an_older_file_without_kind_loads_and_is_written_with_it(tmp_path):
    from mxprof.jobs.profile.records import ProfileResult
    from mxprof.jobs.results import load
    data = load("profile", SAVED)
    assert "kind" not in data  # written before the job contract
    result = ProfileResult.from_report(data)
    assert result.kind == "profile" and result.to_dict()["kind"] == "profile"
    out = tmp_path / "again.json"
    proc = run_cli("profile", "--load", str(SAVED), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    again = json.loads(out.read_text())
    assert again["kind"] == "profile"
    # Every figure kept (fields added since come with their defaults, e.g. samples_ms []).
    lat = data["latency_ms"]
    assert {k: again["latency_ms"][k] for k in lat} == lat and again["runs"] == data["runs"]


def test_a_file_of_another_kind_is_refused(tmp_path):
    from mxprof.jobs.results import load
    from mxprof.schema import ResultFileError
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(SAVED.read_text()), "kind": "fusion"}))
    with pytest.raises(ResultFileError, match="mxprof fusion file"):
        load("profile", other)


def test_failed_is_the_exit_rule_on_the_record():
    from mxprof.jobs.profile.records import ProfileResult
    result = ProfileResult.from_report(json.loads(SAVED.read_text()))
    ok = all(r.status == "ok" for r in result.runs)
    assert result.failed is not ok
    failing = ProfileResult.from_report({**result.to_dict(),
                                         "checks": {"equivalence": {"status": "failed"}}})
    assert failing.failed


def test_the_roof_verdict_is_a_field_not_a_sentence():
    from mxprof.jobs.profile.roofline_section import ABOVE_ROOF_MARK
    from mxprof.jobs.profile.run import _roof_refuted
    from mxprof.jobs.profile.sections import Roofline
    assert "roof_refuted" in Roofline.__struct_fields__
    cached = {"cache": {"hit": True}}
    said_only = {"roofline": {"warnings": [f"x attains 9 GFLOP/s: {ABOVE_ROOF_MARK}"],
                              "roof_refuted": False}}
    assert not _roof_refuted(said_only, cached)
    refuted = {"roofline": {"warnings": [], "roof_refuted": True}}
    assert _roof_refuted(refuted, cached)
    assert not _roof_refuted(refuted, {"cache": {"hit": False}})  # measured now: nothing to redo


@pytest.mark.parametrize("name", ["terminal", "markdown", "json"])
def test_renderers_take_the_record_or_its_dict(name):
    from mxprof.jobs.profile.records import ProfileResult
    from mxprof.render import get_renderer
    result = ProfileResult.from_report(json.loads(SAVED.read_text()))
    renderer = get_renderer(name)
    assert renderer.render(result) == renderer.render(result.to_dict())


def test_the_cost_is_built_as_its_record_and_written_as_the_dict_was():
    """The result's cost is made as the typed Cost (mxprof.jobs.profile.cost.cost_section),
    not a dict decoded into it: same bytes in the file, floats where the record says float
    (an int wall of 10 s writes 10.0, as the JSON round trip of the dict wrote it)."""
    import msgspec

    from mxprof.jobs.profile.cost import cost_section
    from mxprof.jobs.profile.records import Cost, ProfileResult
    from mxprof.jobs.profile.spec import Protocol, RunResult, RunSpec
    from mxprof.mx.models import ModelSpec
    spec = RunSpec(model=ModelSpec(name="m", source="gluon", input_shape=(3, 8, 8)),
                   config="mkldnn", mkldnn=True, pass_name="timing", batch_size=1,
                   protocol=Protocol())
    runs = [RunResult(spec=spec, status="ok", wall_s=2.5,
                      phases={"process_wall": 3.0, "worker_wall": 2.5, "import": 1, "timed": 1}),
            RunResult(spec=msgspec.structs.replace(spec, pass_name="layers"), status="ok",
                      wall_s=2.0, phases={"pass": 2})]
    cost = cost_section(runs, 10, "shared")
    assert isinstance(cost, Cost) and cost.workers == 1 and cost.model_s == 3.0
    assert cost.phases_s["parent"] == 7.0 and cost.overhead_ratio == pytest.approx(10 / 3)
    data = json.loads(SAVED.read_text())
    through_dict = ProfileResult.from_report({**data, "cost": msgspec.to_builtins(cost)})
    typed = msgspec.structs.replace(ProfileResult.from_report(data), cost=cost)
    assert msgspec.json.encode(typed) == msgspec.json.encode(through_dict)
    assert b'"wall_s":10.0' in msgspec.json.encode(typed.cost)
