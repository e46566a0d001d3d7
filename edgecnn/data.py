"""Datasets as uint8 NHWC arrays, already adapted to a model's :class:`PreprocessSpec` (NumPy + Pillow only).

Sources (``load_dataset(source, spec)``):

- ``"fashion_mnist"``: the four standard idx ``.gz`` files (Zalando, 70,000 28×28 grey images, 10 classes),
  looked for in ``$EDGECNN_DATA``, ``$EDGECNN_DATA/fashion-mnist``, ``~/.edgecnn/datasets/fashion-mnist`` and
  ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``); downloaded into
  ``~/.edgecnn/datasets/fashion-mnist`` only as a last resort (never when ``EDGECNN_OFFLINE=1``). The official
  60k/10k split is kept; ``val_fraction`` of the 60k training images (stratified, by ``seed``) is validation.
- ``"digits"``: scikit-learn's 1,797 8×8 digits. Their integer 0–16 intensities ``v`` become 0–255 by
  ``pixel = (v * 255 + 8) // 16`` (``v*255/16`` rounded half up), so 0 → 0, 8 → 128, 16 → 255.
  Split 70/15/15, stratified by ``seed``.
- a folder path: one sub-folder per class (sorted names are the labels) of ``.jpg/.jpeg/.png`` files,
  read with :func:`edgecnn.preprocess.load_image`; unreadable files are skipped with a warning. Split
  70/15/15 per class by ``seed`` (each class with ≥2 images keeps at least one test image, ≥3 one
  validation image).

``limit=N`` keeps a seeded random subset: at most N training images and at most ``max(1, N // 5)``
validation and test images each (for quick experiments; it is recorded in ``source_info``).

Images are adapted with :func:`edgecnn.preprocess.adapt_image` (a folder's files, one by one) and
:func:`edgecnn.preprocess.adapt_batch` (arrays of same-sized images: the same bytes, vectorised).
"""
from __future__ import annotations

import gzip
import math
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgecnn.errors import EdgecnnError, MissingExtraError
from edgecnn.preprocess import PreprocessSpec, adapt_batch, adapt_image, load_image

FASHION_MNIST_LABELS = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
# The Keras mirror of Zalando's files (what keras.datasets.fashion_mnist downloads).
FASHION_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SYSTEM_DATA_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
BUILTIN_SOURCES = ("fashion_mnist", "digits")

# How each kind of source is best resized to a model input: small grey sets keep their pixels and get a
# black border (28→32 adds 2 px each side, as LeNet did with MNIST); 8×8 digits and photos are interpolated.
DEFAULT_RESIZE = {"fashion_mnist": "pad", "digits": "bilinear", "folder": "bilinear"}


@dataclass
class Dataset:
    """Train/validation/test splits as uint8 (N, H, W, C) images and int64 labels."""

    name: str
    labels: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source_info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.x_train.shape[1:])  # type: ignore[return-value]

    def summary(self) -> str:
        h, w, c = self.image_shape
        return (f"{self.name}: {len(self.x_train)} train / {len(self.x_val)} val / {len(self.x_test)} test, "
                f"{h}x{w}x{c}, {self.num_classes} classes")


@dataclass(frozen=True)
class SourceInfo:
    """What a source looks like before loading it all: used to choose a model's input defaults."""

    name: str
    kind: str  # "fashion_mnist", "digits" or "folder"
    channels: int
    size: tuple[int, int] | None  # native (height, width) when all images share it
    default_resize: str
    labels: list[str]


# ---- public API --------------------------------------------------------------------------------------

def describe_source(source: str | os.PathLike) -> SourceInfo:
    """Native channels, size and labels of a source, cheaply (image folders: file headers only)."""
    kind = source_kind(source)
    if kind == "fashion_mnist":
        return SourceInfo("fashion_mnist", kind, 1, (28, 28), DEFAULT_RESIZE[kind], list(FASHION_MNIST_LABELS))
    if kind == "digits":
        return SourceInfo("digits", kind, 1, (8, 8), DEFAULT_RESIZE[kind], [str(d) for d in range(10)])
    root, classes = _scan_folder(Path(source))
    channels, sizes = 1, set()
    from PIL import Image

    for files in classes.values():
        for path in files:
            try:
                with Image.open(path) as im:
                    sizes.add((im.size[1], im.size[0]))
                    if im.mode not in ("L", "LA", "I;16", "I", "F", "1"):
                        channels = 3
            except Exception:  # unreadable files are reported (and skipped) by load_dataset
                continue
    size = next(iter(sizes)) if len(sizes) == 1 else None
    return SourceInfo(root.name, kind, channels, size, DEFAULT_RESIZE[kind], sorted(classes))


def source_kind(source: str | os.PathLike) -> str:
    """``fashion_mnist``, ``digits`` or ``folder`` (anything else that is not a built-in name)."""
    text = str(source)
    key = text.strip().lower().replace("-", "_")
    if key in BUILTIN_SOURCES and not Path(text).is_dir():
        return key
    return "folder"


def load_dataset(
    source: str | os.PathLike = "fashion_mnist",
    spec: PreprocessSpec | None = None,
    *,
    seed: int = 0,
    limit: int | None = None,
    val_fraction: float | None = None,
) -> Dataset:
    """Load ``source`` split into train/val/test, adapted to ``spec`` (``None`` keeps the native size).

    ``val_fraction`` defaults to 0.1 of the official training set for Fashion-MNIST and 0.15 of all images
    (with 0.15 test) for digits and folders. Raises :class:`EdgecnnError` with one line for bad sources.
    """
    if limit is not None and limit < 1:
        raise EdgecnnError(f"limit must be at least 1, got {limit}")
    if val_fraction is not None and not 0.0 <= val_fraction < 1.0:
        raise EdgecnnError(f"val_fraction must be in [0, 1), got {val_fraction}")
    kind = source_kind(source)
    if kind == "fashion_mnist":
        ds = _load_fashion_mnist(seed, 0.1 if val_fraction is None else val_fraction)
    elif kind == "digits":
        ds = _load_digits(seed, 0.15 if val_fraction is None else val_fraction)
    else:
        ds = _load_folder(Path(source), seed, 0.15 if val_fraction is None else val_fraction, spec)
    ds.source_info.update({"source": str(source) if kind == "folder" else kind, "kind": kind, "seed": seed,
                           "limit": limit, "default_resize": DEFAULT_RESIZE[kind]})
    if limit is not None:
        ds = _apply_limit(ds, limit, seed)
    if spec is not None and kind != "folder":  # folders are adapted image by image while loading
        ds = adapt_dataset(ds, spec)
    return ds


def adapt_dataset(dataset: Dataset, spec: PreprocessSpec) -> Dataset:
    """The same dataset with every split adapted to ``spec`` (channels + resize, uint8)."""
    info = dict(dataset.source_info, resize=spec.resize, adapted_to=list(spec.shape))
    return replace(
        dataset,
        x_train=adapt_batch(dataset.x_train, spec),
        x_val=adapt_batch(dataset.x_val, spec),
        x_test=adapt_batch(dataset.x_test, spec),
        source_info=info,
    )


def calibration_samples(dataset: Dataset, n: int, seed: int = 0) -> np.ndarray:
    """``n`` training images (fewer if the split is smaller), chosen at random by ``seed``: for int8 calibration."""
    if n < 1:
        raise EdgecnnError(f"need at least 1 calibration sample, got {n}")
    count = len(dataset.x_train)
    if count == 0:
        raise EdgecnnError(f"{dataset.name}: no training images to calibrate with")
    pick = np.random.default_rng(seed).permutation(count)[: min(n, count)]
    return dataset.x_train[np.sort(pick)]


# ---- splitting ---------------------------------------------------------------------------------------

def _stratified_split(y: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Split indices per class into len(fractions)+1 parts (the last gets the rest), sorted indices.

    Part k of a class with n images gets ``round(n * fractions[k])`` images, but at least one when the class
    has enough images to leave one for every earlier part and for the remainder part.
    """
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n, start = len(idx), 0
        for k, frac in enumerate(fractions):
            take = int(round(n * frac))
            if frac > 0 and take == 0 and n >= k + 2:
                take = 1
            take = min(take, max(0, n - start - 1))  # always leave at least one for the remainder part
            parts[k].append(idx[start:start + take])
            start += take
        parts[-1].append(idx[start:])
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]


def _apply_limit(ds: Dataset, limit: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed + 1)  # independent of the split's generator

    def pick(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(x) <= n:
            return x, y
        keep = np.sort(rng.permutation(len(x))[:n])
        return x[keep], y[keep]

    small = max(1, limit // 5)
    x_train, y_train = pick(ds.x_train, ds.y_train, limit)
    x_val, y_val = pick(ds.x_val, ds.y_val, small)
    x_test, y_test = pick(ds.x_test, ds.y_test, small)
    return replace(ds, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test)


# ---- Fashion-MNIST -----------------------------------------------------------------------------------

def fashion_mnist_dirs() -> list[Path]:
    """Where Fashion-MNIST's idx files are looked for, in order."""
    dirs: list[Path] = []
    env = os.environ.get("EDGECNN_DATA")
    if env:
        dirs += [Path(env), Path(env) / "fashion-mnist"]
    dirs.append(Path.home() / ".edgecnn" / "datasets" / "fashion-mnist")
    dirs += SYSTEM_DATA_DIRS
    return dirs


def find_fashion_mnist() -> Path | None:
    for folder in fashion_mnist_dirs():
        if all((folder / name).is_file() for name in FASHION_MNIST_FILES.values()):
            return folder
    return None


def _load_fashion_mnist(seed: int, val_fraction: float) -> Dataset:
    folder = find_fashion_mnist()
    if folder is None:
        folder = _download_fashion_mnist()
    arrays = {key: read_idx(folder / name) for key, name in FASHION_MNIST_FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise EdgecnnError(f"Fashion-MNIST in {folder}: {split} images {x.shape} and labels {y.shape} do not match")
        if y.size and int(y.max()) >= len(FASHION_MNIST_LABELS):
            raise EdgecnnError(f"Fashion-MNIST in {folder}: label {int(y.max())} out of range")
    y_all = arrays["y_train"].astype(np.int64)
    val_idx, train_idx = _stratified_split(y_all, (val_fraction,), seed)
    x_all = arrays["x_train"][..., None]
    return Dataset(
        name="fashion_mnist", labels=list(FASHION_MNIST_LABELS),
        x_train=x_all[train_idx], y_train=y_all[train_idx],
        x_val=x_all[val_idx], y_val=y_all[val_idx],
        x_test=arrays["x_test"][..., None], y_test=arrays["y_test"].astype(np.int64),
        source_info={"path": str(folder), "split": f"official 60k/10k; {val_fraction:g} of train for validation"},
    )


MAX_IDX_BYTES = 4 << 30  # an idx file declaring more is not a data set edgecnn trains on (Fashion-MNIST: 47 MB)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (optionally gzipped) of uint8 data: magic ``0x0000 08 NDIM``, big-endian dims.

    The header is checked before the data is decompressed, and no more than the dims declare is ever read:
    a gzip bomb behind a valid header costs at most its declared size (capped at :data:`MAX_IDX_BYTES`).
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            magic = fh.read(4)
            if len(magic) < 4 or magic[:3] != b"\0\0\x08" or not 1 <= magic[3] <= 4:
                raise EdgecnnError(f"{path}: not an idx file of uint8 data (bad magic number)")
            head = fh.read(4 * magic[3])
            if len(head) < 4 * magic[3]:
                raise EdgecnnError(f"{path}: truncated idx header")
            dims = [int.from_bytes(head[4 * i: 4 * i + 4], "big") for i in range(magic[3])]
            size = math.prod(dims)
            if size > MAX_IDX_BYTES:
                raise EdgecnnError(f"{path}: idx dims {dims} declare {size} bytes, more than the "
                                   f"{MAX_IDX_BYTES >> 30} GiB edgecnn reads")
            raw = fh.read(size)
            extra = fh.read(1)
    except FileNotFoundError as exc:
        raise EdgecnnError(f"{path}: no such file") from exc
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise EdgecnnError(f"{path}: corrupt or unreadable ({exc}); delete it and fetch it again") from exc
    if len(raw) != size or extra:
        have = f"{len(raw)}" if not extra else f"more than {size}"
        raise EdgecnnError(f"{path}: idx data is {have} bytes, dims {dims} need {size}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(dims)


def _download_fashion_mnist() -> Path:
    """Last resort: fetch the four files from the Keras mirror into ~/.edgecnn/datasets, atomically."""
    looked = ", ".join(str(d) for d in fashion_mnist_dirs())
    how = ("install it with `apt-get install dataset-fashion-mnist` or set EDGECNN_DATA to a folder holding "
           f"the four idx .gz files (looked in {looked})")
    if os.environ.get("EDGECNN_OFFLINE"):
        raise EdgecnnError(f"Fashion-MNIST not found and EDGECNN_OFFLINE is set: {how}")
    target = Path.home() / ".edgecnn" / "datasets" / "fashion-mnist"
    print(f"Fashion-MNIST not found locally; downloading it from {FASHION_MNIST_URL} into {target}",
          file=sys.stderr)
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=target))
    except OSError as exc:
        raise EdgecnnError(f"cannot create {target} ({exc.strerror or exc}): {how}") from exc
    try:
        for name in FASHION_MNIST_FILES.values():
            _fetch(FASHION_MNIST_URL + name, staging / name)
            read_idx(staging / name)  # a bad download fails here, before it can shadow anything
        for name in FASHION_MNIST_FILES.values():
            os.replace(staging / name, target / name)
    except (OSError, EdgecnnError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise EdgecnnError(f"Fashion-MNIST not found and the download failed ({reason}): {how}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _fetch(url: str, dest: Path) -> None:  # pragma: no cover - never run in tests (no network)
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


# ---- digits ------------------------------------------------------------------------------------------

def _load_digits(seed: int, val_fraction: float) -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise MissingExtraError("the digits dataset", "train", "scikit-learn") from exc
    bunch = load_digits()
    v = np.rint(bunch.images).astype(np.int64)  # 0..16, stored as float
    x = ((v * 255 + 8) // 16).astype(np.uint8)[..., None]
    y = bunch.target.astype(np.int64)
    return _split_all(x, y, "digits", [str(d) for d in range(10)], seed, val_fraction,
                      {"path": "sklearn.datasets.load_digits", "scaling": "pixel = (v * 255 + 8) // 16"})


def _split_all(x: np.ndarray, y: np.ndarray, name: str, labels: list[str], seed: int, val_fraction: float,
               info: dict[str, Any]) -> Dataset:
    test_idx, val_idx, train_idx = _stratified_split(y, (0.15, val_fraction), seed)
    info = dict(info, split=f"stratified: 0.15 test, {val_fraction:g} validation, rest train")
    return Dataset(name=name, labels=labels, x_train=x[train_idx], y_train=y[train_idx],
                   x_val=x[val_idx], y_val=y[val_idx], x_test=x[test_idx], y_test=y[test_idx], source_info=info)


# ---- image folders -----------------------------------------------------------------------------------

def _scan_folder(root: Path) -> tuple[Path, dict[str, list[Path]]]:
    """Class name → sorted image files; one-line errors for anything that is not a usable dataset folder."""
    if not root.exists():
        raise EdgecnnError(f"{root}: no such folder (give fashion_mnist, digits or a folder of class sub-folders)")
    if not root.is_dir():
        raise EdgecnnError(f"{root}: not a folder (expected one sub-folder of images per class)")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise EdgecnnError(f"{root}: no class sub-folders (expected {root}/<class>/<image>.jpg)")
    classes = {
        d.name: sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        for d in class_dirs
    }
    empty = [name for name, files in classes.items() if not files]
    classes = {name: files for name, files in classes.items() if files}
    if not classes:
        raise EdgecnnError(f"{root}: no .jpg/.jpeg/.png images in its class sub-folders")
    if len(classes) < 2:
        raise EdgecnnError(f"{root}: only one class with images ({next(iter(classes))}); need at least two")
    if empty:
        print(f"warning: {root}: ignoring class folder(s) without images: {', '.join(empty)}", file=sys.stderr)
    return root, classes


def _load_folder(root: Path, seed: int, val_fraction: float, spec: PreprocessSpec | None) -> Dataset:
    root, classes = _scan_folder(root)
    labels = sorted(classes)
    images: list[np.ndarray] = []
    targets: list[int] = []
    skipped: list[Path] = []
    for label_index, label in enumerate(labels):
        for path in classes[label]:
            try:
                img = load_image(path)
            except EdgecnnError:
                skipped.append(path)
                continue
            images.append(adapt_image(img, spec) if spec is not None else img)
            targets.append(label_index)
    if skipped:
        example = skipped[0].relative_to(root)
        print(f"warning: skipped {len(skipped)} unreadable image(s) in {root} (e.g. {example})", file=sys.stderr)
    if not images:
        raise EdgecnnError(f"{root}: none of the images could be read")
    present = sorted(set(targets))
    if len(present) < 2:
        raise EdgecnnError(f"{root}: only one class has readable images; need at least two")
    if spec is None:
        channels = 3 if any(img.shape[2] == 3 for img in images) else 1
        images = [img if img.shape[2] == channels else adapt_image(img, PreprocessSpec(
            img.shape[0], img.shape[1], channels)) for img in images]
        if len({img.shape for img in images}) != 1:
            raise EdgecnnError(f"{root}: images have different sizes; give a PreprocessSpec to resize them")
    x = np.stack(images)
    y = np.asarray(targets, dtype=np.int64)
    info: dict[str, Any] = {"path": str(root), "skipped": len(skipped), "files": len(images) + len(skipped)}
    if spec is not None:
        info.update(resize=spec.resize, adapted_to=list(spec.shape))
    return _split_all(x, y, root.name, labels, seed, val_fraction, info)
