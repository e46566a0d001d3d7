"""The exact input preprocessing, recorded in ``preprocess.json`` and reproduced bit for bit elsewhere.

Training, ``predict``, accuracy checks and the Android app all turn a 0–255 image into the model's input
with these steps, in this order (NumPy only, no TensorFlow):

1. **channels**: grey → RGB repeats the grey value; RGB → grey is the integer BT.601 luma
   ``(299*R + 587*G + 114*B + 500) // 1000``; an alpha channel is dropped.
2. **resize** to ``height``×``width``:
   - ``"nearest"``: source index ``(2*i + 1) * src // (2*dst)`` (pixel centres, integer arithmetic);
   - ``"bilinear"``: half-pixel centres, ``s = (i + 0.5) * src/dst - 0.5`` clamped to ``[0, src-1]``,
     interpolated in float64 (x then y), rounded with ``floor(v + 0.5)`` to uint8;
   - ``"pad"``: an image that fits is centred on zeros (top ``(H-h)//2``, left ``(W-w)//2``); one that does
     not is first shrunk by nearest to ``floor(h*f + 0.5)``×``floor(w*f + 0.5)`` with ``f = min(H/h, W/w)``.
3. **scale**: ``x = float32(pixel) * float32(scale) + float32(offset)`` in float32.
4. **quantise** (int8/uint8 inputs): ``q = clip(rint(x / float32(q_scale)) + zero_point)`` (rint: half to even).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgecnn.errors import EdgecnnError

RESIZE_METHODS = ("pad", "bilinear", "nearest")
INPUT_DTYPES = ("float32", "int8", "uint8")


@dataclass
class PreprocessSpec:
    """What ``preprocess.json`` holds. ``input_quantization`` is set for int8/uint8 models."""

    height: int
    width: int
    channels: int
    resize: str = "pad"
    scale: float = 1.0 / 255.0
    offset: float = 0.0
    labels: str = "labels.txt"
    input_dtype: str = "float32"
    input_quantization: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_METHODS:
            raise EdgecnnError(f"preprocess: resize must be one of {', '.join(RESIZE_METHODS)}, got {self.resize!r}")
        if self.channels not in (1, 3):
            raise EdgecnnError(f"preprocess: channels must be 1 or 3, got {self.channels}")
        if self.height < 1 or self.width < 1:
            raise EdgecnnError(f"preprocess: bad size {self.height}x{self.width}")
        if self.input_dtype not in INPUT_DTYPES:
            raise EdgecnnError(f"preprocess: input_dtype must be one of {', '.join(INPUT_DTYPES)}")
        check_labels_name(self.labels)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        if data["input_quantization"] is None:
            data.pop("input_quantization")
        data.update(extra)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PreprocessSpec":
        try:
            known = {k: data[k] for k in ("height", "width", "channels")}
        except (KeyError, TypeError) as exc:
            raise EdgecnnError(f"preprocess.json lacks {exc}") from exc
        for key in ("resize", "scale", "offset", "labels", "input_dtype", "input_quantization"):
            if key in data:
                known[key] = data[key]
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**known, extra=extra)

    @classmethod
    def load(cls, path: str | Path) -> "PreprocessSpec":
        from edgecnn.fileio import read_json

        return cls.from_json(read_json(path))

    def save(self, path: str | Path) -> Path:
        from edgecnn.fileio import write_json

        return write_json(path, self.to_json())

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)


# ---- files beside a model -----------------------------------------------------------------------------

PREPROCESS_FILE = "preprocess.json"
LABELS_FILE = "labels.txt"


def find_beside(model_path: str | Path, name: str) -> Path | None:
    """The one rule for a model's sidecar file (``preprocess.json``, ``labels.txt``), used by every command.

    First ``<stem>.<name>`` (a file of its own), then ``<name>`` in the model's folder, then ``<name>`` one
    folder up (``runs/x/tflite/m.tflite`` → ``runs/x/<name>``, the run folder). None when there is none.
    """
    path = Path(model_path)
    for candidate in (path.with_name(f"{path.stem}.{name}"), path.with_name(name), path.parent.parent / name):
        if candidate.is_file():
            return candidate
    return None


def spec_beside(model_path: str | Path) -> PreprocessSpec:
    """The ``preprocess.json`` found beside ``model_path`` by :func:`find_beside`; an error when there is none."""
    path = find_beside(model_path, PREPROCESS_FILE)
    if path is None:
        raise EdgecnnError(f"no preprocess.json beside {model_path}: pass the preprocessing explicitly")
    return PreprocessSpec.load(path)


def labels_beside(model_path: str | Path, spec: PreprocessSpec | None = None) -> Path | None:
    """The labels file beside ``model_path``: the one ``spec.labels`` names, else ``labels.txt``."""
    named = spec.labels if spec is not None else LABELS_FILE
    return find_beside(model_path, named) or (find_beside(model_path, LABELS_FILE) if named != LABELS_FILE else None)


def check_labels_name(name: Any) -> str:
    """``labels`` names a file beside the model: a bare file name, never a path (``../x``, ``/etc/x``, ``a/b``)."""
    bare = isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\:\0")
    if not bare:
        raise EdgecnnError(f"preprocess: labels must be a file name beside the model such as labels.txt, "
                           f"not a path: {name!r}")
    return name


# ---- 1. channels -------------------------------------------------------------------------------------
# Every step works on one image (H, W, C) or a batch (N, H, W, C): channels are the last axis, rows and
# columns the two before it, so a batch goes through exactly the arithmetic of its images, vectorised.

def convert_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (H, W) or (H, W, C) → uint8 (H, W, channels)."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise EdgecnnError(f"images must be uint8 0–255, got {img.dtype}")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4):
        raise EdgecnnError(f"not an image array: shape {img.shape}")
    return np.ascontiguousarray(_channels(img, channels))


def _channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """Step 1 on the last axis of (..., C) uint8 pixels, C in 1–4."""
    if pixels.shape[-1] in (2, 4):  # grey+alpha or RGBA: drop alpha
        pixels = pixels[..., :-1]
    have = pixels.shape[-1]
    if have == channels:
        return pixels
    if have == 1 and channels == 3:
        return np.repeat(pixels, 3, axis=-1)
    if have == 3 and channels == 1:
        rgb = pixels.astype(np.int32)
        luma = (299 * rgb[..., 0] + 587 * rgb[..., 1] + 114 * rgb[..., 2] + 500) // 1000
        return luma.astype(np.uint8)[..., None]
    raise EdgecnnError(f"cannot turn {have} channels into {channels}")


# ---- 2. resize: (..., H, W, C) → (..., height, width, C) ------------------------------------------------

def _nearest_index(dst: int, src: int) -> np.ndarray:
    i = np.arange(dst, dtype=np.int64)
    return np.minimum((2 * i + 1) * src // (2 * dst), src - 1)


def resize_nearest(img: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = _nearest_index(height, img.shape[-3])
    cols = _nearest_index(width, img.shape[-2])
    return img[..., rows, :, :][..., cols, :]


def _bilinear_weights(dst: int, src: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ratio = src / dst
    pos = (np.arange(dst, dtype=np.float64) + 0.5) * ratio - 0.5
    pos = np.clip(pos, 0.0, src - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, src - 1)
    frac = pos - lo
    return lo, hi, frac


def resize_bilinear(img: np.ndarray, height: int, width: int) -> np.ndarray:
    y0, y1, fy = _bilinear_weights(height, img.shape[-3])
    x0, x1, fx = _bilinear_weights(width, img.shape[-2])
    src = img.astype(np.float64)
    fx_ = fx[:, None]
    top = src[..., y0, :, :][..., x0, :] * (1.0 - fx_) + src[..., y0, :, :][..., x1, :] * fx_
    bottom = src[..., y1, :, :][..., x0, :] * (1.0 - fx_) + src[..., y1, :, :][..., x1, :] * fx_
    fy_ = fy[:, None, None]
    out = top * (1.0 - fy_) + bottom * fy_
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def resize_pad(img: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = img.shape[-3:-1]
    if h > height or w > width:
        f = min(height / h, width / w)
        h, w = max(1, math.floor(h * f + 0.5)), max(1, math.floor(w * f + 0.5))
        h, w = min(h, height), min(w, width)
        img = resize_nearest(img, h, w)
    out = np.zeros((*img.shape[:-3], height, width, img.shape[-1]), dtype=np.uint8)
    top, left = (height - h) // 2, (width - w) // 2
    out[..., top:top + h, left:left + w, :] = img
    return out


_RESIZERS = {"nearest": resize_nearest, "bilinear": resize_bilinear, "pad": resize_pad}


def adapt_image(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Steps 1–2: any uint8 image (H, W[, C]) → uint8 (height, width, channels) of the model."""
    img = convert_channels(image, spec.channels)
    if img.shape[:2] == (spec.height, spec.width):
        return img
    return _RESIZERS[spec.resize](img, spec.height, spec.width)


def adapt_batch(images: np.ndarray, spec: PreprocessSpec, chunk: int = 4096) -> np.ndarray:
    """Steps 1–2 on a batch of same-sized uint8 images (N, H, W[, C]): the bytes of ``adapt_image`` on each.

    Works in chunks so that bilinear resizing (float64) of a large set does not need gigabytes at once.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise EdgecnnError(f"images must be uint8 0–255, got {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[3] not in (1, 2, 3, 4):
        raise EdgecnnError(f"not a batch of images: shape {images.shape}")
    if len(images) == 0:
        return np.zeros((0, *spec.shape), dtype=np.uint8)
    parts = [_adapt_chunk(images[i:i + chunk], spec) for i in range(0, len(images), chunk)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _adapt_chunk(batch: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    batch = _channels(batch, spec.channels)
    if batch.shape[1:3] == (spec.height, spec.width):
        return np.ascontiguousarray(batch)
    return _RESIZERS[spec.resize](batch, spec.height, spec.width)


# ---- 3–4. scale and quantise -----------------------------------------------------------------------

def to_float_input(pixels: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Step 3: uint8 (..., H, W, C) → float32 model input."""
    return pixels.astype(np.float32) * np.float32(spec.scale) + np.float32(spec.offset)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str | np.dtype) -> np.ndarray:
    """Step 4: float32 → int8/uint8 with the model's input quantisation."""
    dtype = np.dtype(dtype)
    info = np.iinfo(dtype)
    q = np.rint(x.astype(np.float32) / np.float32(scale)) + np.float32(zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def to_model_input(pixels: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Steps 3–4: adapted uint8 pixels → the exact tensor fed to the interpreter."""
    x = to_float_input(pixels, spec)
    if spec.input_dtype == "float32":
        return x
    quant = spec.input_quantization or {}
    if "scale" not in quant or "zero_point" not in quant:
        raise EdgecnnError(f"preprocess: {spec.input_dtype} input needs input_quantization scale and zero_point")
    return quantize(x, float(quant["scale"]), int(quant["zero_point"]), spec.input_dtype)


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 (H, W, C) with 1 or 3 channels (Pillow), upright.

    The EXIF orientation tag is applied (``ImageOps.exif_transpose``): a portrait photo stored sideways
    comes out upright, as a phone shows it and as the Android demo classifies it. An unreadable EXIF block
    counts as orientation 1 (the pixels as stored), as Android's ExifInterface does.
    """
    import warnings

    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError as exc:  # pragma: no cover
        raise EdgecnnError("reading images needs Pillow: pip install pillow") from exc
    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.load()
            try:
                with warnings.catch_warnings():  # Pillow warns "Corrupt EXIF data"; it is ignored either way
                    warnings.simplefilter("ignore")
                    im = ImageOps.exif_transpose(opened)
            except (ValueError, SyntaxError, KeyError, TypeError, IndexError):  # a broken EXIF block
                im = opened
            if im.mode in ("L", "LA", "I;16", "I", "F", "1"):
                im = im.convert("L")
            elif im.mode != "RGB":
                im = im.convert("RGB")
            return np.asarray(im, dtype=np.uint8).reshape(im.size[1], im.size[0], -1)
    except FileNotFoundError as exc:
        raise EdgecnnError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise EdgecnnError(f"{path}: is a directory, not an image") from exc
    except Image.DecompressionBombError as exc:  # declares more pixels than Pillow will ever decode
        raise EdgecnnError(f"{path}: image too large ({exc})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise EdgecnnError(f"{path}: not a readable image ({exc.__class__.__name__})") from exc


def read_labels(path: str | Path) -> list[str]:
    path = Path(path)
    try:
        labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgecnnError(f"{path}: cannot read labels ({exc})") from exc
    labels = [label for label in labels if label]
    if not labels:
        raise EdgecnnError(f"{path}: no labels in file")
    return labels
