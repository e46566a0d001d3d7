"""Accuracy of a .tflite model on held-out images, measured through the LiteRT interpreter (no TensorFlow).

This is the number ``edgecnn convert`` reports for every variant: the images go through exactly the
preprocessing recorded in the model's ``preprocess.json`` (:func:`edgecnn.preprocess.to_model_input`: scale,
then quantise for int8/uint8 inputs) and the interpreter's outputs are dequantised before the arg-max, so
what is measured is what a device running the file would get.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec, adapt_image, spec_beside, to_model_input


def _make_interpreter(model: str | Path | bytes, num_threads: int | None):
    try:
        from edgecnn.runtime import make_interpreter
    except ImportError:  # the runtime module is optional for this helper: fall back to LiteRT directly
        make_interpreter = None
    if make_interpreter is not None:
        return make_interpreter(model, num_threads=num_threads)
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, (bytes, bytearray)):
        return Interpreter(model_content=bytes(model), num_threads=num_threads)
    return Interpreter(model_path=str(model), num_threads=num_threads)


def dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """int8/uint8 interpreter output → float32 using the tensor's (scale, zero_point)."""
    if values.dtype in (np.int8, np.uint8, np.int16):
        scale, zero_point = detail.get("quantization", (0.0, 0))
        if scale:
            return (values.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
    return values.astype(np.float32)


def _check_input(spec: PreprocessSpec, detail: dict[str, Any], model: str) -> None:
    want = np.dtype(detail["dtype"]).name
    if want != spec.input_dtype:
        raise EdgecnnError(f"{model}: the model takes {want} input but its preprocess.json says {spec.input_dtype}")
    if want in ("int8", "uint8"):
        scale, zero_point = detail["quantization"]
        quant = spec.input_quantization or {}
        if not np.isclose(float(quant.get("scale", -1)), scale, rtol=1e-6) or int(quant.get("zero_point", -999)) != zero_point:
            raise EdgecnnError(f"{model}: preprocess.json input_quantization {quant} does not match the model's "
                               f"({scale}, {zero_point})")
    shape = tuple(int(v) for v in detail["shape"][1:])
    if shape != spec.shape:
        raise EdgecnnError(f"{model}: the model takes {shape} images but preprocess.json says {spec.shape}")


def predict_tflite(model_path: str | Path | bytes, images_uint8: np.ndarray, spec: PreprocessSpec | None = None, *,
                   batch_size: int = 32, num_threads: int | None = 2) -> tuple[np.ndarray, float]:
    """Dequantised output scores (N, classes) for uint8 images, and the seconds spent in the interpreter."""
    name = "model" if isinstance(model_path, (bytes, bytearray)) else str(model_path)
    if spec is None:
        if isinstance(model_path, (bytes, bytearray)):
            raise EdgecnnError("predict_tflite on model bytes needs an explicit PreprocessSpec")
        spec = spec_beside(model_path)
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise EdgecnnError(f"images must be uint8 (N, H, W[, C]), got {images.dtype} {images.shape}")
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1:] != spec.shape:
        images = np.stack([adapt_image(img, spec) for img in images])

    try:
        interp = _make_interpreter(model_path, num_threads)
    except ValueError as exc:
        raise EdgecnnError(f"{name}: not a loadable .tflite model ({str(exc).splitlines()[0]})") from exc
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    _check_input(spec, inp, name)

    # Run in batches when the model accepts a resized batch dimension, else image by image.
    batch = max(1, int(batch_size))
    try:
        interp.resize_tensor_input(inp["index"], [batch, *spec.shape])
        interp.allocate_tensors()
    except (RuntimeError, ValueError):
        batch = 1
        interp = _make_interpreter(model_path, num_threads)
        interp.allocate_tensors()
    scores: list[np.ndarray] = []
    spent = 0.0
    for start in range(0, len(images), batch):
        chunk = to_model_input(images[start:start + batch], spec)
        n = len(chunk)
        if n < batch:  # pad the last batch; padded rows are dropped below
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - n, axis=0)])
        interp.set_tensor(inp["index"], chunk)
        t0 = time.perf_counter()
        interp.invoke()
        spent += time.perf_counter() - t0
        result = interp.get_tensor(out["index"])
        scores.append(dequantize(result.reshape(batch, -1)[:n], out))
    if not scores:
        return np.zeros((0, 0), np.float32), 0.0
    return np.concatenate(scores), spent


def evaluate_tflite(model_path: str | Path | bytes, images_uint8: np.ndarray, labels: np.ndarray,
                    spec: PreprocessSpec | None = None, *, batch_size: int = 32,
                    num_threads: int | None = 2) -> dict[str, Any]:
    """Top-1 accuracy of a .tflite on labelled uint8 images through the interpreter.

    Returns ``{"accuracy", "predictions" (int64 array), "seconds" (interpreter time), "images"}``.
    ``spec`` defaults to the ``preprocess.json`` beside the model.
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(labels) != len(images_uint8):
        raise EdgecnnError(f"{len(images_uint8)} images but {len(labels)} labels")
    scores, seconds = predict_tflite(model_path, images_uint8, spec, batch_size=batch_size, num_threads=num_threads)
    predictions = scores.argmax(axis=1).astype(np.int64) if len(scores) else np.zeros(0, np.int64)
    accuracy = float(np.mean(predictions == labels)) if len(labels) else float("nan")
    return {"accuracy": accuracy, "predictions": predictions, "seconds": seconds, "images": int(len(labels))}


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of images on which two models make the same top-1 prediction."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.mean(a == b)) if len(a) else float("nan")
