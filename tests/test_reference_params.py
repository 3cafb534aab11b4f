"""The reference accuracy table's '# Parameters' column, all 34 networks: each is built without
weights (symbolic shape inference, nothing allocated) and its count must equal the published
figure. The figures and where each was read are in fixtures/reference_params.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mxprof.mx import models, parameters

TABLE = json.loads((Path(__file__).parent / "fixtures" / "reference_params.json").read_text())
EXPECTED = {row["alias"]: row["parameters"] for row in TABLE["networks"]}


def test_table_has_the_34_networks_the_registry_knows():
    aliases = [row["alias"] for row in TABLE["networks"]]
    assert len(aliases) == len(set(aliases)) == 34
    # A network of the table that the registry lacked would show here by name.
    assert set(aliases) - set(models.GLUON_VISION_MODELS) == set()
    assert set(models.GLUON_VISION_MODELS) - set(aliases) == set()


def test_every_figure_names_a_known_source():
    for row in TABLE["networks"]:
        assert row["sources"], row["alias"]
        for source in row["sources"]:
            assert TABLE["sources"][source]["url"].startswith("https://"), source


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_parameter_count_matches_reference_table(name, expected):
    spec = models.resolve(name)
    assert parameters.count_parameters(models.build(spec), spec.input_shape) == expected


def test_models_command_gives_the_table_counts(cli, tmp_path):
    # The command users run: every Gluon name, counted in one process.
    proc = cli("models", "--source", "gluon", "--json", "-", env={"MXNET_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    got = {r["name"]: r["total_params"] for r in json.loads(proc.stdout)["models"]}
    assert got == EXPECTED
