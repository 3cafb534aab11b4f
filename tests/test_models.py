"""Model registry: names, input shapes, closest-name errors, exact parameter counts, weights."""

from __future__ import annotations

import json
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

from mxprof.mx import models, parameters

# Parameter counts of the reference accuracy table (all 34; sources in the fixture; every
# row is checked in test_reference_params.py).
REFERENCE_PARAMS = {row["alias"]: row["parameters"] for row in json.loads(
    (Path(__file__).parent / "fixtures" / "reference_params.json").read_text())["networks"]}


def test_gluon_names_match_mxnet_zoo():
    from mxnet.gluon.model_zoo import vision
    for name in models.GLUON_VISION_MODELS:
        vision.get_model(name)  # raises for a name MXNet does not know
    assert len(models.GLUON_VISION_MODELS) == 34


@pytest.mark.parametrize(("name", "shape"), [
    ("resnet50_v1", (3, 224, 224)),
    ("inceptionv3", (3, 299, 299)),
    ("ssd_512_resnet50_v1_voc", (3, 512, 512)),
    ("ssd_300_vgg16_atrous_voc", (3, 300, 300)),
    ("yolo3_darknet53_coco", (3, 416, 416)),
    ("faster_rcnn_resnet50_v1b_voc", (3, 600, 800)),
    ("monodepth2_resnet18_kitti_mono_640x192", (3, 192, 640)),
])
def test_default_input_shape(name, shape):
    assert models.default_input_shape(name) == shape


def test_shape_override_and_parsing():
    assert models.parse_shape("1,3,112,112") == (3, 112, 112)
    assert models.parse_shape("3x64x64") == (3, 64, 64)
    assert models.resolve("resnet18_v1", shape=(3, 64, 64)).input_shape == (3, 64, 64)
    for bad in ("a,b,c", "1,3,0,224", "", "0"):
        with pytest.raises(ValueError, match="bad shape"):
            models.parse_shape(bad)


def test_one_number_shapes_and_the_models_rank():
    # Regression: `--shape 100` (a noise vector, a sequence length) used to be rejected.
    assert models.parse_shape("100") == (100,)
    assert models.parse_shape("4,50") == (4, 50)
    assert models.resolve("gnmt", shape=models.parse_shape("100")).inputs[0].shape == (100,)
    assert models.resolve("gnmt", shape=(4, 50)).inputs[0].shape == (50,)  # batch first
    with pytest.raises(ValueError, match="bad shape 3,224: resnet18_v1 takes 3 size"):
        models.resolve("resnet18_v1", shape=models.parse_shape("3,224"))
    with pytest.raises(ValueError, match="dcgan's noise takes 3 size"):
        models.resolve("dcgan", shape=(100,))


def test_unknown_name_suggests_closest():
    with pytest.raises(models.UnknownModel) as err:
        models.resolve("resnet50v1")
    assert "resnet50_v1" in err.value.suggestions
    assert "did you mean" in str(err.value)
    # The Gluon names are in GluonCV's list too: each is suggested once.
    assert len(set(err.value.suggestions)) == len(err.value.suggestions)


def test_gluoncv_name_resolves_and_builds_offline():
    spec = models.resolve("ssd_512_mobilenet1.0_voc")
    assert spec.source == "gluoncv" and spec.input_shape == (3, 512, 512)
    net = models.build(spec)  # pretrained_base=False: no download attempted
    assert parameters.count_parameters(net, (3, 128, 128)) > 1_000_000


def test_load_random_weights_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MXNET_HOME", str(tmp_path))  # empty store: nothing pretrained
    loaded = models.load(models.resolve("mobilenet0.25", shape=(3, 64, 64)))
    assert loaded.weights == "random" and loaded.weights_path is None
    out = loaded.block(mx.nd.ones((2, 3, 64, 64)))
    assert out.shape == (2, 1000) and np.isfinite(out.asnumpy()).all()
    assert loaded.param_count == parameters.count_parameters(
        models.build(loaded.spec), loaded.spec.input_shape)


def test_local_pretrained_file_is_used(tmp_path, monkeypatch):
    from mxnet.gluon.model_zoo import model_store
    monkeypatch.setenv("MXNET_HOME", str(tmp_path))
    spec = models.resolve("mobilenet0.25", shape=(3, 32, 32))
    net = models.build(spec)
    net.initialize(mx.init.Normal(0.5))
    net(mx.nd.zeros((1, 3, 32, 32)))
    path = tmp_path / "models" / f"mobilenet0.25-{model_store.short_hash('mobilenet0.25')}.params"
    path.parent.mkdir()
    net.save_parameters(str(path))
    loaded = models.load(spec)
    assert loaded.weights == "pretrained" and loaded.weights_path == str(path)
    x = mx.nd.ones((1, 3, 32, 32))
    np.testing.assert_allclose(loaded.block(x).asnumpy(), net(x).asnumpy(), rtol=1e-4, atol=1e-5)


def test_exported_symbol_model(tmp_path):
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Conv2D(8, 3, in_channels=3), mx.gluon.nn.Activation("relu"),
            mx.gluon.nn.Dense(4))
    net.initialize()
    net.hybridize()
    x = mx.nd.ones((1, 3, 16, 16))
    ref = net(x)
    net.export(str(tmp_path / "tiny"))
    spec = models.resolve(None, symbol=str(tmp_path / "tiny-symbol.json"),
                          params=str(tmp_path / "tiny-0000.params"), shape=(3, 16, 16))
    assert spec.source == "symbol" and spec.name == "tiny"
    loaded = models.load(spec)
    assert loaded.weights == "user"
    assert loaded.param_count == 8 * 3 * 9 + 8 + 4 * 8 * 14 * 14 + 4
    np.testing.assert_allclose(loaded.block(x).asnumpy(), ref.asnumpy(), rtol=1e-5)


def test_spec_roundtrip():
    spec = models.resolve("inceptionv3")
    assert models.ModelSpec.from_dict(spec.to_dict()) == spec


def test_random_weights_keep_outputs_large_enough_to_compare():
    # MXNet's default Xavier gave random mobilenet0.25 outputs of 1e-17 (every equivalence
    # tolerance passed); the He initialiser keeps them O(0.01-1).
    from mxprof.jobs.accuracy.metrics import MEANINGFUL_SCALE
    spec = models.resolve("mobilenet0.25", shape=(3, 64, 64))
    net = models.load(spec).block
    mx.random.seed(0)
    out = net(mx.nd.random.uniform(shape=(2, 3, 64, 64))).asnumpy()
    assert float(abs(out).max()) > 1e3 * MEANINGFUL_SCALE


def test_spec_roundtrip_keeps_typed_inputs():
    spec = models.resolve("gnmt")
    back = models.ModelSpec.from_dict(spec.to_dict())
    assert back == spec and back.input_specs[0].dtype == "int32"


@pytest.mark.parametrize(("typed", "name"), [
    ("Inception v4", "inceptionv4"), ("inception-v4", "inceptionv4"),
    ("inception-resnet v2", "inceptionresnetv2"), ("Inception-ResNet-v2", "inceptionresnetv2"),
    ("DCGAN", "dcgan"), ("GNMT", "gnmt"), ("gnmt", "gnmt"),
])
def test_reference_spellings_resolve_to_mxprof_zoo(typed, name):
    spec = models.resolve(typed, check_gluoncv=False)
    assert (spec.name, spec.source) == (name, "mxprof")
    assert models.local_pretrained_file(spec.name, spec.source) is None


def test_zoo_shape_override_and_typed_load():
    spec = models.resolve("inceptionv4", shape=(3, 96, 96))
    assert spec.input_shape == (3, 96, 96) and spec.input_specs[0].name == "data"
    small = models.with_inputs(models.resolve("dcgan"), models.resolve("dcgan").inputs)
    assert small == models.resolve("dcgan")


def test_load_feeds_integer_token_ids(monkeypatch):
    # load() resolves shapes with one call: GNMT's input must be int32 ids, not float zeros.
    # A narrow GNMT stands in for the 160 M-parameter default to keep the test fast.
    from mxprof.mx.zoo import ZooEntry, gnmt
    monkeypatch.setattr(ZooEntry, "build", lambda self: gnmt.gnmt(
        hidden_size=4, encoder_layers=2, decoder_layers=1, decode_steps=3))
    loaded = models.load(models.resolve("gnmt", shape=(5,)))
    assert loaded.weights == "random"
    out = loaded.block(mx.nd.ones((2, 5), dtype="int32"))
    assert out.shape == (2, 3)


def test_gluoncv_kwargs_factory_builds_without_download(tmp_path, monkeypatch):
    # fcn_resnet50_voc is declared f(**kwargs) and defaulted to an ImageNet backbone download.
    monkeypatch.setenv("MXNET_HOME", str(tmp_path))
    spec = models.resolve("fcn_resnet50_voc", shape=(3, 64, 64))
    trainable, total = parameters.parameter_counts(models.build(spec), spec.input_specs)
    assert 0 < trainable < total
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_models_command_lists_counts_as_json(cli, tmp_path):
    # The reference table's spellings, two of its accuracy rows, and the four mxprof networks.
    proc = cli("models", "DCGAN", "GNMT", "Inception v4", "inception-resnet v2", "resnet50_v1",
               "squeezenet1.1", "--json", "-", env={"MXNET_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    by_name = {r["name"]: r for r in doc["models"]}
    assert list(by_name) == ["dcgan", "gnmt", "inceptionv4", "inceptionresnetv2", "resnet50_v1",
                             "squeezenet1.1"]
    for name in ("resnet50_v1", "squeezenet1.1"):
        assert by_name[name]["total_params"] == REFERENCE_PARAMS[name]
    assert by_name["dcgan"]["trainable_params"] == 3_576_704
    assert by_name["gnmt"]["inputs"][0] == {"name": "src", "shape": [50], "dtype": "int32",
                                            "distribution": "tokens", "high": 32000}
    assert all(r["pretrained_file"] is None and r["error"] is None for r in doc["models"])


def test_models_command_table_and_errors(cli, tmp_path):
    proc = cli("models", "--source", "mxprof", "--no-count", env={"COLUMNS": "160"})
    assert proc.returncode == 0, proc.stderr
    assert "gnmt" in proc.stdout and "src:N,50:int32 ids<32000" in proc.stdout
    bad = cli("models", "resnet50v1")
    assert bad.returncode == 2 and "did you mean" in bad.stderr
    bad = cli("models", "--source", "torch")
    assert bad.returncode == 2 and "--source takes" in bad.stderr
