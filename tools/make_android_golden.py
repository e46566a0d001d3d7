"""Write the cross-language golden files that the Android demo's Java core is tested against (TF-free).

    python tools/make_android_golden.py           # (re)writes android_demo/core/src/test/resources/golden/
    python tools/make_android_golden.py --check   # compare with the committed files; exit 1 on any difference

For a few real images (Fashion-MNIST test images, plus resized and colourised versions of some, saved as
lossless PNG in grey and RGB; three of them stored sideways with an EXIF Orientation tag, as phones save
portrait photos) and several preprocess variants (pad/nearest/bilinear, 1 and 3 channels,
float32/int8/uint8 inputs, one built to hit rint's half-to-even ties), it records the exact input tensor
bytes that ``edgecnn.preprocess`` produces (``load_image`` → ``adapt_image`` → ``to_model_input``). For the
tiny real models in ``tests/data`` (float32 and full int8) it records the interpreter's raw output for each
image and the top-3 (dequantised scores, ties in index order). ``manifest.json`` lists it all.

The Java core (``GoldenTest``) must produce byte-identical input tensors from the same PNGs and the same
top-3 from the recorded outputs; ``tests/test_android.py`` checks that this script still reproduces the
committed files, so neither side can drift unnoticed.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "android_demo" / "core" / "src" / "test" / "resources" / "golden"
MODELS = ROOT / "tests" / "data"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
          "Ankle boot"]
# Test-set indices: one image of several classes.
FASHION_INDICES = (0, 1, 2, 8)

if str(ROOT) not in sys.path:  # run as a script from a clean clone
    sys.path.insert(0, str(ROOT))

from edgecnn.preprocess import PreprocessSpec, adapt_image, load_image, to_model_input  # noqa: E402

# The preprocess variants. "model_*" match the tiny models in tests/data (int8's quantisation is the model's).
SPECS: dict[str, dict[str, Any]] = {
    "model_float32": {"height": 28, "width": 28, "channels": 1, "resize": "pad", "scale": 1 / 255,
                      "offset": 0.0, "input_dtype": "float32"},
    "model_int8": {"height": 28, "width": 28, "channels": 1, "resize": "pad", "scale": 1 / 255, "offset": 0.0,
                   "input_dtype": "int8",
                   "input_quantization": {"scale": 0.003921568859368563, "zero_point": -128}},
    "nearest_rgb_f32": {"height": 24, "width": 24, "channels": 3, "resize": "nearest", "scale": 1 / 127.5,
                        "offset": -1.0, "input_dtype": "float32"},
    "bilinear_rgb_u8_ties": {"height": 32, "width": 32, "channels": 3, "resize": "bilinear", "scale": 1.0,
                             "offset": 0.5, "input_dtype": "uint8",
                             "input_quantization": {"scale": 1.0, "zero_point": 3}},
    "bilinear_grey_i8": {"height": 20, "width": 20, "channels": 1, "resize": "bilinear", "scale": 1 / 255,
                         "offset": 0.0, "input_dtype": "int8",
                         "input_quantization": {"scale": 0.00390625, "zero_point": -128}},
    "pad_rgb_f32": {"height": 16, "width": 16, "channels": 3, "resize": "pad", "scale": 0.017, "offset": -0.4,
                    "input_dtype": "float32"},
    "nearest_grey_u8": {"height": 40, "width": 30, "channels": 1, "resize": "nearest", "scale": 1 / 255,
                        "offset": 0.0, "input_dtype": "uint8",
                        "input_quantization": {"scale": 0.0035, "zero_point": 10}},
}
MODEL_RUNS = {"tiny_cnn_float32": "model_float32", "tiny_cnn_int8": "model_int8"}
# Images stored sideways with an EXIF Orientation tag (as phone cameras save portrait photos): each holds the
# pixels of another golden image turned so that, shown by its tag, it is that image again. Both sides must
# apply the tag (Pillow's exif_transpose; the app's PixelImage.orient), so the tensors equal the upright one's.
EXIF_IMAGES = {"fmnist_4_rgb_53x37_exif6.png": ("fmnist_4_rgb_53x37.png", 6),
               "fmnist_3_grey_45x63_exif5.png": ("fmnist_3_grey_45x63.png", 5),
               "fmnist_5_rgb_17x20_exif8.png": ("fmnist_5_rgb_17x20.png", 8)}
EXIF_ORIENTATION_TAG = 0x0112


def _stored_for(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels that a viewer shows as ``upright`` under this EXIF orientation (5, 6 or 8)."""
    if orientation == 6:  # shown turned 90 degrees clockwise, so stored turned counter-clockwise
        return np.rot90(upright, 1)
    if orientation == 8:  # shown turned counter-clockwise
        return np.rot90(upright, -1)
    if orientation == 5:  # transposed, its own inverse
        return upright.swapaxes(0, 1)
    raise ValueError(f"no golden image with orientation {orientation}")


def _idx(name: str) -> np.ndarray:
    """One idx file of Fashion-MNIST, found and validated as `edgecnn train` finds it (Debian's package here)."""
    from edgecnn.data import find_fashion_mnist, read_idx

    folder = find_fashion_mnist()
    if folder is None:
        raise SystemExit("Fashion-MNIST not found: apt-get install dataset-fashion-mnist (or set EDGECNN_DATA)")
    return read_idx(folder / name)


def make_images() -> dict[str, bytes]:
    """name → PNG bytes: real test images, and resized/colourised versions to exercise resize and RGB→grey."""
    from PIL import Image

    test = _idx("t10k-images-idx3-ubyte.gz")
    images: dict[str, np.ndarray] = {}
    for i in FASHION_INDICES:
        images[f"fmnist_{i}.png"] = test[i]
    # A bigger grey image (pad shrinks it; bilinear downsamples), non-square.
    images["fmnist_3_grey_45x63.png"] = np.asarray(Image.fromarray(test[3]).resize((45, 63), Image.BILINEAR))
    # Colourised: each channel a different tone curve of the same grey picture.
    for i, size in ((4, (53, 37)), (5, (17, 20))):
        grey = np.asarray(Image.fromarray(test[i]).resize(size, Image.BICUBIC)).astype(np.int32)
        rgb = np.stack([grey, (grey * 3) // 5 + 40, 255 - grey], axis=-1).clip(0, 255).astype(np.uint8)
        images[f"fmnist_{i}_rgb_{size[0]}x{size[1]}.png"] = rgb
    orientations = {}
    for name, (upright, orientation) in EXIF_IMAGES.items():
        images[name] = np.ascontiguousarray(_stored_for(images[upright], orientation))
        orientations[name] = orientation
    out = {}
    for name, arr in images.items():
        buf = io.BytesIO()
        exif = Image.Exif()
        if name in orientations:
            exif[EXIF_ORIENTATION_TAG] = orientations[name]
        # No gamma/ICC chunks: both Pillow and javax.imageio then read the stored samples as they are.
        Image.fromarray(arr, "L" if arr.ndim == 2 else "RGB").save(
            buf, format="PNG", optimize=False, **({"exif": exif.tobytes()} if name in orientations else {}))
        out[name] = buf.getvalue()
    return out


def input_tensor(png: Path, spec: dict[str, Any]) -> np.ndarray:
    """What edgecnn feeds the interpreter for this image: load_image → adapt_image → to_model_input."""
    s = PreprocessSpec.from_json(spec)
    return to_model_input(adapt_image(load_image(png), s), s)[None]


def top3(raw: np.ndarray, quant: tuple[float, int]) -> list[dict[str, Any]]:
    """Dequantised scores (float32), best first, ties in index order."""
    if raw.dtype == np.float32:
        scores = raw.reshape(-1)
    else:
        scores = (raw.reshape(-1).astype(np.int32) - quant[1]).astype(np.float32) * np.float32(quant[0])
    order = np.argsort(-scores, kind="stable")[:3]
    return [{"index": int(i), "label": LABELS[i], "score": float(scores[i])} for i in order]


def run_model(model: Path, x: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The interpreter's output for one input (ai-edge-litert, default delegate) and the output details."""
    from edgecnn.runtime import make_interpreter

    interp = make_interpreter(model, num_threads=1)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    return interp.get_tensor(out["index"]).copy(), out


def build() -> dict[str, bytes]:
    """Every golden file, path relative to the golden folder → bytes (nothing written yet)."""
    files: dict[str, bytes] = {"labels.txt": ("\n".join(LABELS) + "\n").encode()}
    images = make_images()
    files.update({f"images/{n}": b for n, b in images.items()})
    manifest: dict[str, Any] = {
        "about": "written by tools/make_android_golden.py; do not edit by hand",
        "labels": "labels.txt", "specs": SPECS, "inputs": [], "models": [],
        "exif_orientation": {f"images/{n}": o for n, (_, o) in EXIF_IMAGES.items()}}
    tensors: dict[tuple[str, str], np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "image.png"
        for image, data in images.items():
            scratch.write_bytes(data)  # the PNG exactly as committed, read back as the app would
            for spec_name, spec in SPECS.items():
                x = input_tensor(scratch, spec)
                stem = f"{Path(image).stem}__{spec_name}"
                files[f"inputs/{stem}.bin"] = x.tobytes()
                tensors[(image, spec_name)] = x
                manifest["inputs"].append({"image": f"images/{image}", "spec": spec_name,
                                           "file": f"inputs/{stem}.bin", "dtype": str(x.dtype),
                                           "shape": list(x.shape)})
    for model, spec_name in MODEL_RUNS.items():
        path = MODELS / f"{model}.tflite"
        entry: dict[str, Any] = {"name": model, "model_file": f"tests/data/{model}.tflite",
                                 "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "spec": spec_name,
                                 "runs": []}
        for image in images:
            raw, details = run_model(path, tensors[(image, spec_name)])
            scale, zero_point = details["quantization"]
            entry["output"] = {"dtype": str(raw.dtype), "shape": list(raw.shape), "scale": float(scale),
                               "zero_point": int(zero_point)}
            stem = f"{Path(image).stem}__{model}"
            files[f"outputs/{stem}.bin"] = raw.tobytes()
            entry["runs"].append({"image": f"images/{image}", "input": f"inputs/{Path(image).stem}__{spec_name}.bin",
                                  "output": f"outputs/{stem}.bin", "top3": top3(raw, (scale, zero_point))})
        manifest["models"].append(entry)
    files["manifest.json"] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    parser.add_argument("--dest", type=Path, default=GOLDEN)
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        bad = [n for n, b in files.items() if not (args.dest / n).is_file() or (args.dest / n).read_bytes() != b]
        for name in bad:
            print(f"differs: {name}")
        print(f"{len(files) - len(bad)}/{len(files)} golden files reproduced")
        return 1 if bad else 0
    from edgecnn.fileio import write_bytes

    for name, data in files.items():
        write_bytes(args.dest / name, data)
    total = sum(len(b) for b in files.values())
    print(f"wrote {len(files)} files ({total / 1024:.0f} KB) to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
