"""Result files: the published JSON Schemas, the schema-1 files of today, strict loading.

tests/fixtures/results/ holds one real output of each command, written by mxprof before its
records moved to msgspec (schema 1; see tests/fixtures/results/README.md for the commands).
They must keep loading and re-rendering, and validate against schemas/ (jsonschema, an
independent validator of the schemas msgspec generates).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from mxprof.jobs import results
from mxprof.jobs.accuracy.records import AccuracyReport
from mxprof.jobs.profile.spec import RunResult
from mxprof.schema import SCHEMA, ResultFileError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "results"
SCHEMAS = ROOT / "schemas"
FILES = {"profile": "profile.json", "fusion": "fusion.json", "accuracy": "accuracy.json",
         "compare": "compare.json"}


def _fixture(kind: str) -> dict:
    return json.loads((FIXTURES / FILES[kind]).read_text())


def _log_lines() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "compare-results.jsonl").read_text()
            .splitlines() if line.strip()]


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _mxprof(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "mxprof", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def test_committed_schemas_are_what_the_code_generates(tmp_path):
    generated = results.schemas()
    committed = {p.name for p in SCHEMAS.glob("*.schema.json")}
    assert committed == set(generated), "regenerate: python -m mxprof.jobs.results " \
                                        "--write-schemas schemas/"
    for name, schema in generated.items():
        on_disk = json.loads((SCHEMAS / name).read_text())
        assert on_disk == json.loads(json.dumps(schema)), (
            f"schemas/{name} is stale: python -m mxprof.jobs.results --write-schemas schemas/")


@pytest.mark.parametrize("kind", sorted(FILES))
def test_schema_1_files_validate_against_the_published_schema(kind):
    data = _fixture(kind)
    if kind == "accuracy":
        # Written before the one statistics record: loading converts its latencies, and the
        # published schema describes the file as written today.
        from mxprof.jobs.accuracy.records import upgrade_file
        data = upgrade_file(data)
    _validator(results.FILES[kind][1]).validate(data)


def test_compare_rows_and_results_lines_validate_one_by_one():
    rows = _fixture("compare")["rows"]
    lines = _log_lines()
    assert rows and lines
    for row in rows:
        _validator("compare-row.schema.json").validate(row)
    for line in lines:
        _validator("compare-results-line.schema.json").validate(line)
        results.validate("compare-results-line", line, source="log")


@pytest.mark.parametrize("kind", sorted(FILES))
def test_schema_1_files_load_through_the_structs(kind):
    data = results.load(kind, FIXTURES / FILES[kind])
    assert data["schema"] == SCHEMA


# Fields added after schema 1's first files, with the default an old file loads as: per record,
# the keys that identify it and what it gained.
ADDED_SINCE = (
    ({"name", "source", "input_shape"}, {"inputs": []}),  # ModelSpec.inputs (typed inputs)
    ({"name", "source", "input_shape"}, {"factory": None}),  # ModelSpec.factory (FILE.py:FACTORY)
    ({"pass_name", "config", "mkldnn"}, {"wait_policy": None}),  # RunSpec.wait_policy
    ({"ceilings", "headroom", "overhead_efficiency"}, {"warnings": []}),  # Roofline.warnings
    ({"pass_name", "config", "mkldnn"}, {"threads_why": None}),  # RunSpec.threads_why
    # RunResult.phases and .shared_with (passes sharing a worker process)
    ({"spec", "status", "wall_s"}, {"phases": {}, "shared_with": []}),
    ({"spec", "status", "wall_s"}, {"wait": None}),  # RunResult.wait (the wait decision)
    # RunSpec.companions, RunResult.companions (the checks inside the timing processes)
    ({"pass_name", "config", "mkldnn"}, {"companions": []}),
    ({"spec", "status", "wall_s"}, {"companions": None}),
    # CompareRow: what its workers ran with (oneDNN, allowed CPUs, cores, wait policy)
    ({"machine", "build", "metric", "key"}, {"onednn": None, "affinity": None,
                                             "physical_cores": None, "wait_policy": None}),
)


def _with_added(d):
    """`d` as today's records write it: every model dict gains the fields added since."""
    if isinstance(d, dict):
        out = {k: _with_added(v) for k, v in d.items()}
        for keys, added in ADDED_SINCE:
            if keys <= d.keys():
                out = {**out, **{k: v for k, v in added.items() if k not in d}}
        return out
    if isinstance(d, list):
        return [_with_added(v) for v in d]
    return d


def test_records_inside_round_trip_exactly():
    acc = _fixture("accuracy")
    # A file from before the one statistics record is converted once, then round-trips.
    once = AccuracyReport.from_dict(acc).to_dict()
    assert AccuracyReport.from_dict(once).to_dict() == once
    assert [c["samples_ms"] for c in once["configs"]] == \
        [c["latency"]["samples_ms"] for c in acc["configs"]]
    for line in _log_lines():
        for r in line["results"]:
            assert RunResult.from_dict(r).to_dict() == _with_added(r)


@pytest.mark.parametrize(("kind", "where", "value", "message"), [
    ("profile", ("runs", 0, "wall_s"), "slow",
     "Expected `float`, got `str` - at `$.runs[0].wall_s`"),
    ("profile", ("environment", "logical_cpus"), "2",
     "Expected `int`, got `str` - at `$.environment.logical_cpus`"),
    ("fusion", ("groups", 0, "members"), "conv0",
     "Expected `array`, got `str` - at `$.groups[0].members`"),
    ("accuracy", ("configs", 0, "ok"), "yes", "Expected `bool`, got `str` - at `$.configs[0].ok`"),
    ("compare", ("rows", 0, "batch_size"), 1.5,
     "Expected `int`, got `float` - at `$.rows[0].batch_size`"),
])
def test_a_wrong_type_is_refused_naming_the_field(kind, where, value, message):
    data = _fixture(kind)
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(ResultFileError) as err:
        results.validate(kind, data, source="bad.json")
    assert str(err.value) == f"bad.json: not an mxprof {kind} result: {message}"


def test_a_renamed_field_is_refused_naming_it():
    data = _fixture("profile")
    data["runs"][0]["wall_seconds"] = data["runs"][0].pop("wall_s")
    with pytest.raises(ResultFileError, match=r"unknown field `wall_seconds` - at `\$.runs\[0\]`"):
        results.validate("profile", data, source="bad.json")
    data = _fixture("fusion")
    data["group_rows"] = data.pop("groups")
    with pytest.raises(ResultFileError, match="missing required field `groups`"):
        results.validate("fusion", data, source="bad.json")


def test_another_schema_version_is_refused_by_name():
    data = copy.deepcopy(_fixture("accuracy"))
    data["schema"] = SCHEMA + 1
    with pytest.raises(ResultFileError, match=f"schema {SCHEMA + 1}, this mxprof reads schema"):
        results.validate("accuracy", data, source="new.json")


@pytest.mark.parametrize("kind", ["profile", "fusion", "accuracy", "compare"])
def test_load_re_renders_the_schema_1_file(kind, tmp_path):
    out = _mxprof(kind, "--load", str(FIXTURES / FILES[kind]), "--markdown", "r.md",
                  "--json", "r.json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "r.md").read_text().strip()
    again = json.loads((tmp_path / "r.json").read_text())
    _validator(results.FILES[kind][1]).validate(again)
    results.validate(kind, again, source="r.json")


def test_merge_re_renders_the_schema_1_results_log(tmp_path):
    out = _mxprof("merge", str(FIXTURES / "compare-results.jsonl"), "--json", "m.json",
                  "--markdown", "m.md", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    merged = json.loads((tmp_path / "m.json").read_text())
    _validator("compare.schema.json").validate(merged)
    keys = lambda rows: sorted((r["key"], r["metric"]) for r in rows)  # noqa: E731
    assert keys(merged["rows"]) == keys(_fixture("compare")["rows"])


@pytest.mark.parametrize(("kind", "where", "message"), [
    ("profile", ("runs", 0, "wall_s"), "Expected `float`, got `str` - at `$.runs[0].wall_s`"),
    ("fusion", ("gain_ratio", "value"), "Expected `float`, got `str` - at `$.gain_ratio.value`"),
    ("accuracy", ("tolerance", "rtol"), "Expected `float`, got `str` - at `$.tolerance.rtol`"),
    ("compare", ("rows", 0, "latency_ms"),
     "Expected `float | null`, got `str` - at `$.rows[0].latency_ms`"),
])
def test_load_of_a_bad_file_exits_2_naming_the_field(tmp_path, kind, where, message):
    """Before: profile and fusion rendered these files and exited 0; accuracy refused with
    "could not convert string to float: 'slow'", naming no field; compare had no --load."""
    data = _fixture(kind)
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = "slow"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    out = _mxprof(kind, "--load", "bad.json", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert f"bad.json: not an mxprof {kind} result: {message}" in out.stderr
    assert "Traceback" not in out.stderr


def test_records_encode_numpy_values_inside_their_free_form_dicts():
    """Before the hook, msgspec refused a numpy scalar that a worker left in `latency`."""
    import numpy as np

    from mxprof.jobs.profile.spec import RunSpec
    from mxprof.mx.models import ModelSpec

    spec = RunSpec(model=ModelSpec("m", "gluon", (3, 8, 8)), config="mkldnn", mkldnn=True,
                   pass_name="timing")
    r = RunResult(spec=spec, status="ok", wall_s=1.0,
                  latency={"median": np.float32(1.5), "n": np.int64(3),
                           "samples_ms": np.array([1.0, 2.0])})
    assert r.to_dict()["latency"] == {"median": 1.5, "n": 3, "samples_ms": [1.0, 2.0]}
    assert RunResult.from_dict(r.to_dict()).to_dict() == r.to_dict()


def test_the_notebook_loader_validates_too(tmp_path):
    from mxprof.api.report import load
    for kind, name in FILES.items():
        assert load(FIXTURES / name).kind == kind
    data = _fixture("compare")
    data["rows"][0]["mkldnn"] = "no"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"Expected `bool`, got `str` - at `\$.rows\[0\].mkldnn`"):
        load(tmp_path / "bad.json")


ROOFLINE = {"ceilings": {"peak_gflops": {"f32": 40.0}, "bandwidth_gbs": 6.0},
            "layers": [{"layer": "conv0", "layer_op": "Convolution", "ms": 0.2, "flops": None,
                        "efficiency": 0.4, "bound": "compute-bound"}],
            "primitives": [], "headroom": {"primitives_ms": 0.2, "roof_ms": 0.1},
            "overhead_efficiency": 0.1, "method": "m"}
FINDING = {"rule": "threads_idle", "title": "t", "layers": ["conv0"], "evidence": "e", "fix": "f",
           "effect": {"ms_per_iter": 0.1}}


@pytest.mark.parametrize(("section", "value", "message"), [
    ("roofline", {**ROOFLINE, "layers": [{**ROOFLINE["layers"][0], "efficiency": "high"}]},
     "Expected `float | null`, got `str` - at `$.roofline.layers[0].efficiency`"),
    ("findings", [{**FINDING, "layers": "conv0"}],
     "Expected `array`, got `str` - at `$.findings[0].layers`"),
    ("layers", [{"name": "conv0", "op": "Convolution", "ms": "0.2"}],
     "Expected `float | null`, got `str` - at `$.layers[0].ms`"),
])
def test_the_typed_sections_name_their_wrong_field(section, value, message):
    """Before, roofline, findings and layers were typed "JSON object": anything loaded."""
    data = _fixture("profile")
    results.validate("profile", {**data, "roofline": ROOFLINE, "findings": [FINDING]},
                     source="ok.json")
    with pytest.raises(ResultFileError) as err:
        results.validate("profile", {**data, section: value}, source="bad.json")
    assert str(err.value) == f"bad.json: not an mxprof profile result: {message}"


def test_compare_load_refuses_another_kind_and_a_model(tmp_path):
    out = _mxprof("compare", "--load", str(FIXTURES / FILES["profile"]), cwd=tmp_path)
    assert out.returncode == 2 and "not an mxprof compare result" in out.stderr, out.stderr
    out = _mxprof("compare", "resnet18_v1", "--load", str(FIXTURES / FILES["compare"]),
                  cwd=tmp_path)
    assert out.returncode == 2 and "give no MODEL" in out.stderr, out.stderr
    out = _mxprof("compare", "--load", "missing.json", cwd=tmp_path)
    assert out.returncode == 2 and "cannot load missing.json" in out.stderr, out.stderr
