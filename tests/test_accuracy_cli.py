"""`mxprof accuracy` end to end on a real trained network and real data.

The session fixture trains a small conv net on scikit-learn's digits (real handwritten digits,
shipped with the package), exports it the way users export theirs (symbol + params), and writes
the held-out split as an indexed RecordIO file the way im2rec does. The CLI must then find the
same top-1 with MKL-DNN on and off as the network scored in this process.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from mxprof.jobs.accuracy.datasets import Preprocess, load_arrays, open_dataset
from schema_check import assert_matches_schema

SIDE = 16  # digits are 8x8; upscaled 2x so that two 2x2 poolings leave a 4x4 map
TEST_SIZE = 400


def _digits_pixels():
    from sklearn.datasets import load_digits

    d = load_digits()
    # 0..16 grey levels -> 8-bit pixels, the form an image file stores.
    pixels = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    pixels = np.kron(pixels, np.ones((1, SIDE // 8, SIDE // 8), np.uint8))
    order = np.random.RandomState(0).permutation(len(pixels))
    return pixels[order], d.target[order].astype(np.int64)


def _as_input(pixels: np.ndarray) -> np.ndarray:
    """What `--resize 16 --mean 0 --std 1` makes of a decoded grey PNG: x/255 in 3 channels."""
    x = pixels.astype(np.float32) / 255.0
    return np.repeat(x[:, None], 3, axis=1)


def _train(x, y):
    import mxnet as mx
    from mxnet import autograd, gluon

    mx.random.seed(0)
    rng = np.random.RandomState(0)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Conv2D(16, 3, padding=1, activation="relu"), gluon.nn.MaxPool2D(2),
            gluon.nn.Conv2D(32, 3, padding=1, activation="relu"), gluon.nn.MaxPool2D(2),
            gluon.nn.Flatten(), gluon.nn.Dense(10))
    net.initialize(mx.init.Xavier())
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 3e-3})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for _ in range(8):
        order = rng.permutation(len(x))
        for i in range(0, len(order), 64):
            b = order[i:i + 64]
            with autograd.record():
                loss = loss_fn(net(mx.nd.array(x[b])), mx.nd.array(y[b]))
            loss.backward()
            trainer.step(len(b))
    return net


def _write_rec(prefix, pixels, labels) -> None:
    import cv2
    import mxnet as mx

    rec = mx.recordio.MXIndexedRecordIO(f"{prefix}.idx", f"{prefix}.rec", "w")
    for i, (img, label) in enumerate(zip(pixels, labels)):
        header = mx.recordio.IRHeader(0, float(label), i, 0)
        ok, buf = cv2.imencode(".png", img)  # lossless: the decoded pixels equal these
        assert ok
        rec.write_idx(i, mx.recordio.pack(header, buf.tobytes()))
    rec.close()


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    import mxnet as mx

    warnings.simplefilter("ignore")
    root = tmp_path_factory.mktemp("digits")
    pixels, labels = _digits_pixels()
    train_x, train_y = _as_input(pixels[TEST_SIZE:]), labels[TEST_SIZE:]
    test_pix, test_y = pixels[:TEST_SIZE], labels[:TEST_SIZE]
    net = _train(train_x, train_y)
    scores = net(mx.nd.array(_as_input(test_pix))).asnumpy()
    trained_top1 = float(np.mean(scores.argmax(1) == test_y))
    net.export(str(root / "digits"))
    _write_rec(root / "test", test_pix, test_y)
    return {"root": root, "symbol": str(root / "digits-symbol.json"),
            "params": str(root / "digits-0000.params"), "rec": str(root / "test.rec"),
            "top1": trained_top1, "scores": scores, "labels": test_y}


DIGITS_ARGS = ("--shape", f"3,{SIDE},{SIDE}", "--resize", str(SIDE), "--mean", "0",
               "--std", "1", "--iterations", "5", "--warmup", "1", "--processes", "1")


def test_trained_network_is_a_real_classifier(digits):
    assert digits["top1"] > 0.9


def test_recordio_reader_gives_the_training_inputs(digits):
    """The .rec written above decodes back into exactly the arrays the net was scored on."""
    pre = Preprocess.for_input((3, SIDE, SIDE), resize=SIDE, mean=(0.0,), std=(1.0,))
    x, y = load_arrays(open_dataset(digits["rec"]), pre)
    pixels, labels = _digits_pixels()
    np.testing.assert_array_equal(x, _as_input(pixels[:TEST_SIZE]))
    np.testing.assert_array_equal(y, labels[:TEST_SIZE])


def test_labelled_top1_with_mkldnn_on_and_off_and_int8(digits, cli, tmp_path):
    out = tmp_path / "r.json"
    md = tmp_path / "r.md"
    proc = cli("accuracy", "--symbol", digits["symbol"], "--params", digits["params"],
               "--data", digits["rec"], *DIGITS_ARGS, "--int8", "--calib-mode", "naive,entropy",
               "--calib-size", "64", "--json", str(out), "--markdown", str(md))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert_matches_schema("accuracy", report)
    configs = {c["name"]: c for c in report["configs"]}
    assert list(configs) == ["mkldnn-off", "mkldnn", "mkldnn-fused", "int8-naive",
                             "int8-entropy"]
    assert report["inputs"]["count"] == TEST_SIZE and report["inputs"]["labelled"]
    assert report["weights"] == "user"
    expected_top5 = float(np.mean(np.any(
        np.argsort(-digits["scores"], axis=1)[:, :5] == digits["labels"][:, None], axis=1)))
    for name in ("mkldnn-off", "mkldnn", "mkldnn-fused"):
        assert configs[name]["top1"] == pytest.approx(digits["top1"], abs=1e-12), name
        assert configs[name]["top5"] == pytest.approx(expected_top5, abs=1e-12), name
        assert configs[name]["within_tolerance"] is True
        assert configs[name]["top1_agreement"] == 1.0
        assert configs[name]["max_abs_diff"] < 1e-3
    for name in ("int8-naive", "int8-entropy"):
        c = configs[name]
        assert c["within_tolerance"] is None  # INT8 is judged by agreement, not elementwise
        assert abs(c["top1"] - digits["top1"]) < 0.05
        assert c["max_abs_diff"] > 0  # quantization changes the numbers, the check must see it
        # The one statistics record, in ms, with the 95% interval of its median.
        assert c["latency"]["unit"] == "ms" and c["latency"]["median"] > 0
        assert c["latency"]["ci95_low"] <= c["latency"]["median"] <= c["latency"]["ci95_high"]
    int8 = {row["config"]: row for row in report["int8"]}
    assert int8["int8-naive"]["fp32_config"] == "mkldnn-fused"
    assert int8["int8-naive"]["top1_delta"] == pytest.approx(
        configs["int8-naive"]["top1"] - configs["mkldnn-fused"]["top1"])
    assert int8["int8-naive"]["speedup"] == pytest.approx(
        configs["mkldnn-fused"]["latency"]["median"]
        / configs["int8-naive"]["latency"]["median"])
    pairs = {(p["config"], p["reference"]) for p in report["comparisons"]}
    assert ("mkldnn-fused", "mkldnn") in pairs and ("int8-naive", "mkldnn-fused") in pairs
    assert report["environment"]["mxnet"]["version"] == "1.9.1"
    assert report["environment"]["onednn_version"].startswith("v")
    assert "MXNet 1.9.1" in proc.stdout and "int8-naive" in proc.stdout
    text = md.read_text()
    assert "| network | parameters | top-1 mkldnn-off |" in text
    assert f"{digits['top1']:.8f}" in text
    # A saved report shows again without running anything.
    again = cli("accuracy", "--load", str(out))
    assert again.returncode == 0, again.stderr
    assert "int8-entropy" in again.stdout


def test_image_folder_gives_the_same_top1(digits, cli, tmp_path):
    import cv2

    pixels, labels = _digits_pixels()
    for i, (img, label) in enumerate(zip(pixels[:TEST_SIZE], labels[:TEST_SIZE])):
        folder = tmp_path / "digits" / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i:04d}.png"), img)
    out = tmp_path / "r.json"
    proc = cli("accuracy", "--symbol", digits["symbol"], "--params", digits["params"],
               "--data", str(tmp_path / "digits"), *DIGITS_ARGS, "--configs", "mkldnn-off",
               "--cpus", "0", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    (ref,) = report["configs"]
    assert ref["top1"] == pytest.approx(digits["top1"], abs=1e-12)
    # --cpus pins the worker before MXNet loads; one CPU means one OpenMP thread.
    assert report["environment"]["binding"]["cpus"] == "0"
    assert report["environment"]["threads"] == 1
    assert "bound to CPUs 0" in proc.stdout


def test_random_zoo_model_equivalence(cli, tmp_path):
    out = tmp_path / "r.json"
    proc = cli("accuracy", "mobilenet0.25", "--shape", "3,64,64", "--num-inputs", "8",
               "--batch-size", "8", "--iterations", "3", "--warmup", "1", "--fast",
               "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert_matches_schema("accuracy", report)
    assert report["weights"] == "random"
    # --fast: 2 timing processes per configuration, the second rounds interleaved after the
    # first (before: one process per configuration, ratios without run-to-run noise).
    assert report["timing"]["processes"] == 2
    assert "2 processes per configuration, each 1 warm-up then 3 forward calls" in proc.stdout
    done = [line.split("done ")[1].split(":")[0] for line in proc.stderr.splitlines()
            if "] done " in line]
    assert done == ["mkldnn-off", "mkldnn", "mkldnn-fused",
                    "mkldnn-off #2", "mkldnn #2", "mkldnn-fused #2"]
    for c in report["configs"]:
        assert c["latency"]["processes"] == 2 and c["latency"]["n_per_process"] == [3, 3]
        assert len(c["samples_ms"]) == 6
    for row in report["speedups"]:
        assert row["reference"] == "mkldnn-off" and "(2 vs 2 processes" in row["ratio"]["method"]
    assert any("meaningless" in n for n in report["notes"])
    assert "meaningless" in proc.stdout
    configs = {c["name"]: c for c in report["configs"]}
    for name in ("mkldnn", "mkldnn-fused"):
        c = configs[name]
        assert c["top1"] is None and c["top5"] is None  # no labels
        assert c["top1_agreement"] == 1.0
        assert c["within_tolerance"] is True
        assert c["max_abs_diff"] < 1e-3
        assert c["max_rel_diff"] >= 0
    assert report["param_count"] > 400_000


def test_crashed_configuration_is_a_failed_row(digits, cli, tmp_path):
    out = tmp_path / "r.json"
    proc = cli("accuracy", "--symbol", digits["symbol"], "--params", digits["params"],
               "--shape", f"3,{SIDE},{SIDE}", "--num-inputs", "4", "--no-timing",
               "--configs", "mkldnn", "--json", str(out),
               env={"MXPROF_TEST_FAULT": "crash-before@mkldnn"})
    assert proc.returncode == 1
    report = json.loads(out.read_text())
    configs = {c["name"]: c for c in report["configs"]}
    assert not configs["mkldnn"]["ok"] and "SIGABRT" in configs["mkldnn"]["error"]
    assert configs["mkldnn-off"]["ok"]  # the reference still ran and was reported
    assert "mkldnn failed: worker killed by signal SIGABRT" in proc.stdout


def test_labelled_accuracy_survives_a_crashed_reference(digits, cli, tmp_path):
    """Labels come from any configuration that ran: a failed reference is a row with its
    message, the others keep their top-1/top-5."""
    out = tmp_path / "r.json"
    proc = cli("accuracy", "--symbol", digits["symbol"], "--params", digits["params"],
               "--data", digits["rec"], *DIGITS_ARGS, "--no-timing",
               "--configs", "mkldnn", "--json", str(out),
               env={"MXPROF_TEST_FAULT": "crash-before@mkldnn-off"})
    assert proc.returncode == 1, proc.stderr
    report = json.loads(out.read_text())
    configs = {c["name"]: c for c in report["configs"]}
    assert not configs["mkldnn-off"]["ok"] and "SIGABRT" in configs["mkldnn-off"]["error"]
    assert report["inputs"]["labelled"]
    assert configs["mkldnn"]["top1"] == pytest.approx(digits["top1"], abs=1e-12)
    assert configs["mkldnn"]["top5"] is not None


def test_quick_equivalence_api(digits):
    from mxprof.jobs.accuracy.execute import equivalence_summary, quick_equivalence

    model = {"name": "digits", "source": "symbol", "input_shape": [3, SIDE, SIDE],
             "symbol_path": digits["symbol"], "params_path": digits["params"]}
    report = quick_equivalence(model, num_inputs=4)
    assert [c.name for c in report.configs] == ["mkldnn-off", "mkldnn", "mkldnn-fused"]
    assert all(c.ok and c.latency is None for c in report.configs)
    lines = equivalence_summary(report)
    assert len(lines) == 2 and all("within tolerance" in ln for ln in lines)
    assert "over 4 inputs" in lines[0]


def test_missing_index_is_a_usage_error(digits, cli, tmp_path):
    rec = tmp_path / "noidx.rec"
    rec.write_bytes(Path(digits["rec"]).read_bytes())
    proc = cli("accuracy", "--symbol", digits["symbol"], "--params", digits["params"],
               "--data", str(rec), *DIGITS_ARGS)
    assert proc.returncode == 2
    assert "noidx.idx: index file missing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_corrupt_recordio_is_a_usage_error(digits, cli, tmp_path):
    data = bytearray(Path(digits["rec"]).read_bytes())
    data[0:4] = b"JUNK"
    (tmp_path / "bad.rec").write_bytes(bytes(data))
    (tmp_path / "bad.idx").write_text(Path(digits["rec"]).with_suffix(".idx").read_text())
    proc = cli("accuracy", "--symbol", digits["symbol"], "--params", digits["params"],
               "--data", str(tmp_path / "bad.rec"), *DIGITS_ARGS)
    assert proc.returncode == 2
    assert "corrupt record at byte 0" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (("resnet18_v7",), "unknown model 'resnet18_v7'"),
    (("resnet18_v1", "--calib-mode", "minmax", "--int8"), "--calib-mode minmax"),
    (("resnet18_v1", "--configs", "mkldnn,cudnn"), "unknown configuration(s) cudnn"),
    (("resnet18_v1", "--data", "/nonexistent/val.rec"), "/nonexistent/val.rec"),
    (("--load", "/nonexistent/r.json"), "cannot load /nonexistent/r.json"),
    (("resnet18_v1", "--cpus", "4096"), "CPU 4096 not online"),
])
def test_bad_input_exits_2_with_a_clear_message(cli, args, message):
    proc = cli("accuracy", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
