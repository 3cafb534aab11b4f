"""Labelled image data for the accuracy check: ImageNet-style RecordIO or a class-per-folder tree.

RecordIO (`.rec` + `.idx`, as written by MXNet's im2rec and `imagenet1k-val.sh`) is read here in
plain Python: the format is a 4-byte magic, a length word, the payload padded to 4 bytes; the
payload is an IRHeader (flag, label, id, id2) followed by `flag` extra float labels and the
encoded image. Reading it without libmxnet lets the parent process check a file before any worker
starts, and gives errors that name the byte offset of a corrupt record.

Preprocessing is the Gluon model zoo's evaluation transform: resize the shorter side to
crop/0.875 (256 for 224) with bilinear interpolation, centre crop, scale to [0, 1], subtract the
mean and divide by the standard deviation per channel (ImageNet mean/std by default), CHW float32.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mxprof.schema import Record

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")

_MAGIC = 0xCED7230A
_IRHEADER = struct.Struct("<IfQQ")  # flag, label, id, id2: mxnet.recordio's IRHeader layout


class DatasetError(ValueError):
    """The data set cannot be read: a user mistake, reported without a traceback."""


class Preprocess(Record, frozen=True):
    """Evaluation transform: shorter side to `resize`, centre crop, normalise, CHW float32."""

    channels: int
    height: int
    width: int
    resize: int
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    @classmethod
    def for_input(cls, shape: tuple[int, ...], resize: int | None = None,
                  mean: tuple[float, ...] | None = None,
                  std: tuple[float, ...] | None = None) -> Preprocess:
        """The model-zoo transform for an input of (C, H, W); resize defaults to crop/0.875."""
        if len(shape) != 3 or shape[0] not in (1, 3):
            raise DatasetError(f"image data needs a (C, H, W) input with C 1 or 3, got {shape}")
        c, h, w = (int(v) for v in shape)
        if resize is None:
            resize = round(min(h, w) / 0.875)
        if resize < min(h, w):
            raise DatasetError(f"--resize {resize} is smaller than the {h}x{w} crop")
        mean = tuple(mean) if mean is not None else (IMAGENET_MEAN if c == 3 else (0.449,))
        std = tuple(std) if std is not None else (IMAGENET_STD if c == 3 else (0.226,))
        for name, values in (("mean", mean), ("std", std)):
            if len(values) not in (1, c):
                raise DatasetError(f"--{name} needs 1 or {c} values, got {len(values)}")
        if any(s <= 0 for s in std):
            raise DatasetError("--std values must be positive")
        return cls(c, h, w, int(resize), mean, std)

    def apply(self, encoded: bytes) -> np.ndarray:
        """Decode one encoded image and return it as a normalised (C, H, W) float32 array."""
        import cv2

        flag = cv2.IMREAD_COLOR if self.channels == 3 else cv2.IMREAD_GRAYSCALE
        img = cv2.imdecode(np.frombuffer(encoded, dtype=np.uint8), flag)
        if img is None:
            raise DatasetError("an image could not be decoded (not a JPEG/PNG/... payload)")
        if self.channels == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        h, w = img.shape[:2]
        # The shorter side becomes `resize`; the longer is truncated, as MXNet's image.resize
        # op (keep_ratio=True) computes it, so crops match the model zoo transform exactly.
        if h <= w:
            new_h, new_w = self.resize, int(w * self.resize / h)
        else:
            new_h, new_w = int(h * self.resize / w), self.resize
        if new_w < self.width or new_h < self.height:  # a non-square crop on an odd aspect
            grow = max(self.width / new_w, self.height / new_h)
            new_h, new_w = max(self.height, int(new_h * grow)), max(self.width, int(new_w * grow))
        if (new_h, new_w) != (h, w):
            img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        top, left = (new_h - self.height) // 2, (new_w - self.width) // 2
        img = img[top:top + self.height, left:left + self.width]
        x = img.astype(np.float32).reshape(self.height, self.width, self.channels) / 255.0
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1))


class RecordDataset:
    """Random access to an indexed RecordIO file: record i -> (encoded image, integer label)."""

    def __init__(self, rec_path: str | os.PathLike):
        self.path = Path(rec_path)
        self.idx_path = self.path.with_suffix(".idx")
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: no such file")
        if not self.idx_path.is_file():
            raise DatasetError(
                f"{self.idx_path}: index file missing; make it with "
                f"`python -m mxnet.tools.im2rec` (or tools/rec2idx.py) next to {self.path.name}")
        self._size = self.path.stat().st_size
        self.offsets = self._read_index()
        self.name = self.path.name

    def _read_index(self) -> list[int]:
        offsets = []
        with open(self.idx_path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.split("\t")
                try:
                    offset = int(parts[1])
                except (IndexError, ValueError):
                    raise DatasetError(f"{self.idx_path}:{lineno}: expected 'key<TAB>offset', "
                                       f"got {line.strip()[:60]!r}") from None
                if not 0 <= offset < self._size:
                    raise DatasetError(f"{self.idx_path}:{lineno}: offset {offset} lies outside "
                                       f"{self.path.name} ({self._size} bytes)")
                offsets.append(offset)
        if not offsets:
            raise DatasetError(f"{self.idx_path}: empty index, no records")
        return offsets

    def __len__(self) -> int:
        return len(self.offsets)

    def read(self, i: int) -> tuple[bytes, int]:
        offset = self.offsets[i]
        with open(self.path, "rb") as f:
            f.seek(offset)
            payload = self._read_payload(f, offset)
        return _split_record(payload, self.path, offset)

    def _read_payload(self, f, offset: int) -> bytes:
        head = f.read(8)
        if len(head) < 8:
            raise DatasetError(f"{self.path}: truncated record at byte {offset}")
        magic, lrecord = struct.unpack("<II", head)
        if magic != _MAGIC:
            raise DatasetError(f"{self.path}: corrupt record at byte {offset} "
                               f"(magic {magic:#010x}, expected {_MAGIC:#010x})")
        if lrecord >> 29:
            raise DatasetError(f"{self.path}: record at byte {offset} is split in parts "
                               "(over 512 MiB); not an image record")
        length = lrecord & ((1 << 29) - 1)
        payload = f.read(length)
        if len(payload) < length:
            raise DatasetError(f"{self.path}: truncated record at byte {offset} "
                               f"({len(payload)} of {length} bytes)")
        return payload

    def check(self) -> None:
        """Read the first and the last record: catches a wrong, truncated or corrupt file cheaply."""
        for i in {0, len(self) - 1}:
            self.read(i)


def _split_record(payload: bytes, path: Path, offset: int) -> tuple[bytes, int]:
    if len(payload) < _IRHEADER.size:
        raise DatasetError(f"{path}: record at byte {offset} is shorter than its header")
    flag, label, _, _ = _IRHEADER.unpack_from(payload)
    body = payload[_IRHEADER.size:]
    if flag > 0:
        # im2rec with several labels per image stores them as `flag` floats before the image.
        if len(body) < 4 * flag:
            raise DatasetError(f"{path}: record at byte {offset} has a truncated label array")
        label = struct.unpack_from("<f", body)[0]
        body = body[4 * flag:]
    return body, int(label)


class FolderDataset:
    """An image tree `root/<class>/<image>`; classes sorted by name give labels 0, 1, ..."""

    def __init__(self, root: str | os.PathLike):
        self.path = Path(root)
        self.name = self.path.name
        self.classes = sorted(p.name for p in self.path.iterdir() if p.is_dir())
        if not self.classes:
            raise DatasetError(f"{self.path}: no class subfolders (expected root/<class>/<image>)")
        self.items: list[tuple[Path, int]] = []
        for label, cls in enumerate(self.classes):
            for p in sorted((self.path / cls).iterdir()):
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                    self.items.append((p, label))
        if not self.items:
            raise DatasetError(f"{self.path}: no images ({', '.join(IMAGE_SUFFIXES)}) "
                               "in its class subfolders")

    def __len__(self) -> int:
        return len(self.items)

    def read(self, i: int) -> tuple[bytes, int]:
        p, label = self.items[i]
        return p.read_bytes(), label

    def check(self) -> None:
        self.read(0)


def open_dataset(path: str | os.PathLike) -> RecordDataset | FolderDataset:
    """Open a `.rec` file (its `.idx` beside it) or an image folder; DatasetError if unusable."""
    p = Path(path)
    if p.is_dir():
        ds: RecordDataset | FolderDataset = FolderDataset(p)
    elif p.suffix == ".idx":
        ds = RecordDataset(p.with_suffix(".rec"))
    elif p.suffix == ".rec" or p.is_file():
        ds = RecordDataset(p)
    else:
        raise DatasetError(f"{p}: no such file or folder")
    ds.check()
    return ds


def iter_batches(dataset, preprocess: Preprocess, batch_size: int,
                 limit: int | None = None, start: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (images (B, C, H, W) float32, labels (B,) int64) over records [start, start+limit)."""
    stop = len(dataset) if limit is None else min(len(dataset), start + limit)
    for first in range(start, stop, batch_size):
        idx = range(first, min(first + batch_size, stop))
        images, labels = [], []
        for i in idx:
            encoded, label = dataset.read(i)
            try:
                images.append(preprocess.apply(encoded))
            except DatasetError as exc:
                raise DatasetError(f"{dataset.name} record {i}: {exc}") from None
            labels.append(label)
        yield np.stack(images), np.asarray(labels, dtype=np.int64)


def load_arrays(dataset, preprocess: Preprocess, limit: int | None = None,
                start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All images in [start, start+limit) as one array, with their labels."""
    parts = list(iter_batches(dataset, preprocess, 256, limit, start))
    if not parts:
        raise DatasetError(f"{dataset.name}: no records in the requested range")
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
