"""RecordIO and image-folder reading, and the model-zoo evaluation transform (mxprof.jobs.accuracy.datasets).

Files are written with MXNet's own RecordIO writer (the format im2rec produces) and OpenCV, so
the plain-Python reader is checked against the real thing.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from mxprof.jobs.accuracy.datasets import (
    DatasetError,
    FolderDataset,
    Preprocess,
    RecordDataset,
    iter_batches,
    load_arrays,
    open_dataset,
)


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.RandomState(seed)
    shapes = [(30, 40), (41, 29), (32, 32), (50, 20)]
    return [rng.randint(0, 256, (*shapes[i % 4], 3)).astype(np.uint8) for i in range(n)]


def _png(img_rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img_rgb[:, :, ::-1])
    assert ok
    return buf.tobytes()


@pytest.fixture
def rec(tmp_path):
    """An indexed .rec with 6 PNGs; record 5 carries a label array (im2rec's multi-label form)."""
    import mxnet as mx

    warnings.simplefilter("ignore")
    images = _images(6)
    labels = [3, 0, 7, 1, 2, 9]
    w = mx.recordio.MXIndexedRecordIO(str(tmp_path / "v.idx"), str(tmp_path / "v.rec"), "w")
    for i, (img, label) in enumerate(zip(images, labels)):
        if i == 5:
            header = mx.recordio.IRHeader(2, [float(label), 4.0], i, 0)
        else:
            header = mx.recordio.IRHeader(0, float(label), i, 0)
        w.write_idx(i, mx.recordio.pack(header, _png(img)))
    w.close()
    return tmp_path / "v.rec", images, labels


def test_reads_what_mxnet_wrote(rec):
    path, images, labels = rec
    ds = open_dataset(path)
    assert isinstance(ds, RecordDataset) and len(ds) == 6
    for i in range(6):
        encoded, label = ds.read(i)
        assert label == labels[i]
        decoded = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
        np.testing.assert_array_equal(decoded, images[i])
    assert isinstance(open_dataset(path.with_suffix(".idx")), RecordDataset)


def test_matches_mxnet_recordio_reader(rec):
    import mxnet as mx

    path, _, _ = rec
    ref = mx.recordio.MXIndexedRecordIO(str(path.with_suffix(".idx")), str(path), "r")
    ds = RecordDataset(path)
    for i in ref.keys:
        header, payload = mx.recordio.unpack(ref.read_idx(i))
        label = header.label if np.isscalar(header.label) else header.label[0]
        assert ds.read(i) == (payload, int(label))
    ref.close()


def test_preprocess_equals_the_gluon_model_zoo_transform():
    import mxnet as mx
    from mxnet.gluon.data.vision import transforms as T

    warnings.simplefilter("ignore")
    pipeline = T.Compose([T.Resize(256, keep_ratio=True), T.CenterCrop(224), T.ToTensor(),
                          T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    pre = Preprocess.for_input((3, 224, 224))
    assert pre.resize == 256
    rng = np.random.RandomState(1)
    for h, w in ((300, 400), (375, 500), (500, 333), (256, 256)):
        img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
        expected = pipeline(mx.nd.array(img, dtype="uint8")).asnumpy()
        np.testing.assert_allclose(pre.apply(_png(img)), expected, rtol=0, atol=1e-6)


def test_grayscale_input_and_batches(rec):
    path, _, labels = rec
    pre = Preprocess.for_input((1, 16, 16), resize=20)
    batches = list(iter_batches(open_dataset(path), pre, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 1, 16, 16), (2, 1, 16, 16)]
    assert np.concatenate([b[1] for b in batches]).tolist() == labels
    x, y = load_arrays(open_dataset(path), pre, limit=3, start=2)
    assert x.shape == (3, 1, 16, 16) and y.tolist() == labels[2:5]


def test_missing_index(rec):
    path, _, _ = rec
    path.with_suffix(".idx").unlink()
    with pytest.raises(DatasetError, match=r"v\.idx: index file missing.*im2rec"):
        open_dataset(path)


def test_corrupt_and_truncated_records(rec, tmp_path):
    path, _, _ = rec
    data = path.read_bytes()
    path.write_bytes(b"\0\0\0\0" + data[4:])
    with pytest.raises(DatasetError, match="corrupt record at byte 0"):
        open_dataset(path)
    path.write_bytes(data[:-10])
    with pytest.raises(DatasetError, match="truncated record"):
        open_dataset(path)


def test_bad_index_lines(rec):
    path, _, _ = rec
    idx = path.with_suffix(".idx")
    idx.write_text("0\t0\n1\t99999999\n")
    with pytest.raises(DatasetError, match=r"outside v\.rec"):
        RecordDataset(path)
    idx.write_text("garbage\n")
    with pytest.raises(DatasetError, match=r"v\.idx:1: expected"):
        RecordDataset(path)


def test_undecodable_payload_names_the_record(tmp_path):
    import mxnet as mx

    w = mx.recordio.MXIndexedRecordIO(str(tmp_path / "x.idx"), str(tmp_path / "x.rec"), "w")
    w.write_idx(0, mx.recordio.pack(mx.recordio.IRHeader(0, 1.0, 0, 0), b"not an image"))
    w.close()
    with pytest.raises(DatasetError, match=r"x\.rec record 0: an image could not be decoded"):
        list(iter_batches(open_dataset(tmp_path / "x.rec"), Preprocess.for_input((3, 8, 8)), 2))


def test_image_folder(tmp_path):
    images = _images(5)
    for i, img in enumerate(images):
        cls = tmp_path / ("n02" if i % 2 else "n01")
        cls.mkdir(exist_ok=True)
        cv2.imwrite(str(cls / f"{i}.png"), img[:, :, ::-1])
    (tmp_path / "n01" / "notes.txt").write_text("not an image")
    ds = open_dataset(tmp_path)
    assert isinstance(ds, FolderDataset)
    assert ds.classes == ["n01", "n02"] and len(ds) == 5
    assert sorted(label for _, label in ds.items) == [0, 0, 0, 1, 1]
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images"):
        open_dataset(empty)


def test_bad_preprocess_settings():
    with pytest.raises(DatasetError, match="C 1 or 3"):
        Preprocess.for_input((4, 8, 8))
    with pytest.raises(DatasetError, match="smaller than"):
        Preprocess.for_input((3, 224, 224), resize=200)
    with pytest.raises(DatasetError, match="--mean needs 1 or 3"):
        Preprocess.for_input((3, 8, 8), mean=(0.1, 0.2))
    with pytest.raises(DatasetError, match="no such file"):
        open_dataset("/nonexistent/dir/val.rec")
    p = Preprocess.for_input((3, 299, 299))
    assert p.resize == 342 and Preprocess.from_dict(p.to_dict()) == p
