"""Top-k labels of images through a .tflite model, TensorFlow-free.

    from edgecnn.predict import predict
    predict("runs/mobilenet_v2/model_int8.tflite", ["shoe.png"], top_k=3)
    # [{"image": "shoe.png", "top_k": [{"index": 7, "label": "Sneaker", "score": 0.91}, ...]}]

The model's folder supplies ``preprocess.json`` and ``labels.txt`` (found by :func:`edgecnn.preprocess.find_beside`); images go
through exactly the preprocessing of :mod:`edgecnn.preprocess`. The model's own input tensor decides the
input dtype and quantisation (so one preprocess.json serves a float model and its int8 twin); int8/uint8
outputs are dequantised. The interpreter runs in a child process (:mod:`edgecnn.safety`).
"""
from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import numpy as np

from edgecnn.errors import EdgecnnError, UsageError


def load_spec(model: Any, model_path: str | os.PathLike, *, warn: bool = True) -> Any:
    """The model's PreprocessSpec with input dtype/quantisation taken from the model itself."""
    from edgecnn.preprocess import PreprocessSpec, find_beside

    first = model.input_tensors[0]
    shape = tuple(first.shape)
    if len(shape) != 4 or shape[0] != 1 or shape[3] not in (1, 3):
        raise EdgecnnError(f"{model_path}: input shape {list(shape)} is not an image batch of 1 (1, H, W, 1|3)")
    spec_path = find_beside(model_path, "preprocess.json")
    if spec_path is None:
        if warn:
            print(f"Warning: no preprocess.json beside {model_path}; assuming input = pixel/255, padded resize",
                  file=sys.stderr)
        spec = PreprocessSpec(height=shape[1], width=shape[2], channels=shape[3])
    else:
        spec = PreprocessSpec.load(spec_path)
        if spec.shape != shape[1:]:
            raise EdgecnnError(f"{spec_path} describes {spec.height}x{spec.width}x{spec.channels} input, "
                               f"the model takes {shape[1]}x{shape[2]}x{shape[3]}")
    if first.dtype not in ("float32", "int8", "uint8"):
        raise EdgecnnError(f"{model_path}: cannot feed images to a {first.dtype} input")
    spec.input_dtype = first.dtype
    if first.dtype != "float32":
        if not first.quantized:
            raise EdgecnnError(f"{model_path}: {first.dtype} input has no quantisation parameters")
        spec.input_quantization = {"scale": float(first.scales[0]), "zero_point": int(first.zero_points[0])}
    return spec


def image_to_input(image_path: str | os.PathLike, model: Any, model_path: str | os.PathLike,
                   spec: Any | None = None) -> np.ndarray:
    """One image file → the exact (1, H, W, C) tensor the model takes."""
    from edgecnn.preprocess import adapt_image, load_image, to_model_input

    spec = load_spec(model, model_path) if spec is None else _with_model_io(spec, model)
    pixels = adapt_image(load_image(image_path), spec)
    return to_model_input(pixels, spec)[None]


def _with_model_io(spec: Any, model: Any) -> Any:
    first = model.input_tensors[0]
    spec.input_dtype = first.dtype
    if first.dtype != "float32" and first.quantized:
        spec.input_quantization = {"scale": float(first.scales[0]), "zero_point": int(first.zero_points[0])}
    return spec


def predict(model_path: str | os.PathLike, images: list[str | os.PathLike], *, top_k: int = 3,
            delegate: str = "xnnpack", num_threads: int | None = None) -> list[dict[str, Any]]:
    """Top-k (index, label, score) for each image; scores are the dequantised model outputs."""
    from edgecnn.preprocess import labels_beside, read_labels
    from edgecnn.safety import load_checked, run_in_child

    if top_k < 1:
        raise UsageError(f"--top-k must be at least 1, got {top_k}")
    if not images:
        raise UsageError("no image given")
    model = load_checked(model_path)
    if len(model.inputs) != 1:
        raise EdgecnnError(f"{model_path}: predict needs a model with one input, this one has {len(model.inputs)}")
    spec = load_spec(model, model_path)
    batch = np.concatenate([image_to_input(img, model, model_path, spec=spec) for img in images])
    labels_path = labels_beside(model_path, spec)
    labels = read_labels(labels_path) if labels_path else None

    fd, tmp = tempfile.mkstemp(prefix="edgecnn-predict-", suffix=".npy")
    os.close(fd)
    try:
        np.save(tmp, batch)
        outputs = run_in_child("edgecnn.predict:run_batch", {
            "model_path": str(model_path), "batch_npy": tmp, "delegate": delegate, "num_threads": num_threads,
        }, label=str(model_path))
    finally:
        os.unlink(tmp)
    results = []
    for image, scores in zip(images, outputs):
        scores = np.asarray(scores, dtype=np.float64)
        if labels is not None and len(labels) != scores.size:
            raise EdgecnnError(f"{labels_path} has {len(labels)} labels, the model gives {scores.size} scores")
        order = np.argsort(-scores, kind="stable")[:top_k]
        results.append({"image": str(image), "top_k": [
            {"index": int(i), "label": labels[i] if labels else f"class {int(i)}", "score": float(scores[i])}
            for i in order]})
    return results


def run_batch(model_path: str, batch_npy: str, delegate: str = "xnnpack",
              num_threads: int | None = None) -> list[list[float]]:
    """(Child process) invoke the model once per row of the batch; dequantised flat first outputs."""
    from edgecnn.runtime import allocate, explain_runtime_error, make_interpreter

    batch = np.load(batch_npy, allow_pickle=False)
    interp = make_interpreter(model_path, num_threads=num_threads, delegate=delegate)
    allocate(interp, model_path)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    scale, zero_point = out["quantization"]
    results = []
    for row in batch:
        interp.set_tensor(inp["index"], row[None].astype(inp["dtype"], copy=False))
        try:
            interp.invoke()
        except (RuntimeError, ValueError) as exc:
            raise EdgecnnError(f"{model_path}: the runtime failed to run this model: "
                               f"{explain_runtime_error(exc)}") from exc
        y = interp.get_tensor(out["index"]).reshape(-1)
        if y.dtype in (np.int8, np.uint8, np.int16) and scale:
            y = (y.astype(np.float64) - zero_point) * scale
        results.append([float(v) for v in y])
    return results
