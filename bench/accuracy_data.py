"""Input pipeline speed of `mxprof accuracy --data`: mxprof.jobs.accuracy.datasets vs MXNet's own reader.

Both read the same indexed RecordIO file of JPEGs (written here with mx.recordio, 375x500 like
typical ImageNet val images) and produce identical normalised 3x224x224 arrays; printed are
images per second for each (best of --rounds), and their ratio. MXNet's path: MXIndexedRecordIO
+ recordio.unpack + mx.image.imdecode + the Gluon model zoo transform (Resize 256 keep ratio,
CenterCrop 224, ToTensor, Normalize), one image at a time, as the zoo's evaluation scripts do.

    PYTHONPATH=src python bench/accuracy_data.py [--images 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def write_rec(prefix: Path, count: int) -> None:
    import cv2
    import mxnet as mx

    rng = np.random.RandomState(0)
    w = mx.recordio.MXIndexedRecordIO(f"{prefix}.idx", f"{prefix}.rec", "w")
    for i in range(count):
        # Smooth noise compresses like a photograph, not like white noise.
        small = rng.randint(0, 256, (24, 32, 3)).astype(np.uint8)
        img = cv2.resize(small, (500, 375), interpolation=cv2.INTER_CUBIC)
        _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        w.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, float(i % 1000), i, 0),
                                        buf.tobytes()))
    w.close()


def run_mxprof(rec: Path) -> tuple[int, np.ndarray]:
    from mxprof.jobs.accuracy.datasets import Preprocess, iter_batches, open_dataset

    pre = Preprocess.for_input((3, 224, 224))
    n, first = 0, None
    for x, _ in iter_batches(open_dataset(rec), pre, 32):
        first = x[0] if first is None else first
        n += len(x)
    return n, first


def run_mxnet(rec: Path) -> tuple[int, np.ndarray]:
    import mxnet as mx
    from mxnet.gluon.data.vision import transforms as T

    t = T.Compose([T.Resize(256, keep_ratio=True), T.CenterCrop(224), T.ToTensor(),
                   T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    r = mx.recordio.MXIndexedRecordIO(str(rec.with_suffix(".idx")), str(rec), "r")
    n, first = 0, None
    for key in r.keys:
        _, payload = mx.recordio.unpack(r.read_idx(key))
        x = t(mx.image.imdecode(payload)).asnumpy()
        first = x if first is None else first
        n += 1
    r.close()
    return n, first


def best_rate(fn, rec: Path, rounds: int) -> tuple[float, np.ndarray]:
    best, first = 0.0, None
    for _ in range(rounds):
        start = time.perf_counter()
        n, first = fn(rec)
        best = max(best, n / (time.perf_counter() - start))
    return best, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "val"
        write_rec(prefix, args.images)
        rec = prefix.with_suffix(".rec")
        ours, a = best_rate(run_mxprof, rec, args.rounds)
        theirs, b = best_rate(run_mxnet, rec, args.rounds)
    diff = float(np.max(np.abs(a - b)))
    print(f"{args.images} JPEG 375x500 -> 3x224x224, best of {args.rounds} rounds, 1 process")
    print(f"mxprof.jobs.accuracy.datasets            {ours:8.1f} images/s")
    print(f"MXNet recordio + transforms {theirs:7.1f} images/s")
    print(f"ratio mxprof/MXNet          {ours / theirs:7.2f}x   (first image max |diff| {diff:.2e})")


if __name__ == "__main__":
    main()
