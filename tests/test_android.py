"""The Android demo: its Java core and resources (android_demo/test.sh) and the Python side of the golden data.

test.sh compiles android_demo/core with javac, runs its JUnit 5 tests (the cross-language golden test among
them) and links the app's manifest and resources with aapt2. The tests here also make sure the committed
golden files are still what edgecnn.preprocess and the interpreter produce, so neither side drifts.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "android_demo"
GOLDEN = DEMO / "core" / "src" / "test" / "resources" / "golden"

needs_javac = pytest.mark.skipif(shutil.which("javac") is None,
                                 reason="javac not installed (apt-get install default-jdk-headless junit5)")


def _golden_tool():
    spec = importlib.util.spec_from_file_location("make_android_golden", ROOT / "tools" / "make_android_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _test_sh(*steps: str, demo: Path = DEMO, build: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(demo / "test.sh"), *steps], capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin:/usr/local/bin", "ANDROID_DEMO_BUILD": str(build)})


@needs_javac
def test_test_sh_passes(tmp_path):
    result = _test_sh(build=tmp_path / "build")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "test.sh: all checks passed" in result.stdout
    found = int(re.search(r"\[\s+(\d+) tests found", result.stdout).group(1))
    assert found >= 50
    assert re.search(r"\[\s+0 tests failed", result.stdout)
    assert re.search(rf"\[\s+{found} tests successful", result.stdout), "every test ran and passed (none skipped)"
    assert (tmp_path / "build" / "app-resources.apk").stat().st_size > 1000


def _copy_demo(tmp_path: Path) -> Path:
    copy = tmp_path / "android_demo"
    shutil.copytree(DEMO, copy, ignore=shutil.ignore_patterns("build", ".gradle"))
    return copy


@needs_javac
def test_test_sh_fails_on_a_changed_golden_byte(tmp_path):
    copy = _copy_demo(tmp_path)
    victim = copy / "core/src/test/resources/golden/inputs/fmnist_4_rgb_53x37__bilinear_rgb_u8_ties.bin"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0x01
    victim.write_bytes(bytes(data))
    result = _test_sh("core", demo=copy, build=tmp_path / "build")
    assert result.returncode != 0
    assert "fmnist_4_rgb_53x37__bilinear_rgb_u8_ties.bin: byte 100" in result.stdout


@needs_javac
def test_test_sh_fails_on_a_broken_resource(tmp_path):
    copy = _copy_demo(tmp_path)
    layout = copy / "app/src/main/res/layout/activity_main.xml"
    layout.write_text(layout.read_text().replace("@string/pick_image", "@string/no_such_string", 1))
    result = _test_sh("app", demo=copy, build=tmp_path / "build")
    assert result.returncode != 0
    assert "no_such_string" in result.stderr


@needs_javac
def test_test_sh_fails_on_a_broken_manifest(tmp_path):
    copy = _copy_demo(tmp_path)
    manifest = copy / "app/src/main/AndroidManifest.xml"
    manifest.write_text(manifest.read_text().replace("@style/AppTheme", "@style/NoSuchTheme"))
    result = _test_sh("app", demo=copy, build=tmp_path / "build")
    assert result.returncode != 0
    assert "NoSuchTheme" in result.stderr


def test_golden_inputs_are_what_edgecnn_preprocess_gives():
    """Regenerate every input tensor from the committed PNGs with edgecnn.preprocess: same bytes."""
    tool = _golden_tool()
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    assert manifest["specs"] == json.loads(json.dumps(tool.SPECS))
    assert len(manifest["inputs"]) == len(tool.SPECS) * 10
    for entry in manifest["inputs"]:
        x = tool.input_tensor(GOLDEN / entry["image"], manifest["specs"][entry["spec"]])
        assert str(x.dtype) == entry["dtype"] and list(x.shape) == entry["shape"]
        assert x.tobytes() == (GOLDEN / entry["file"]).read_bytes(), entry["file"]


def test_golden_exif_images_give_the_upright_images_tensors():
    """Each image stored sideways with an EXIF tag holds another golden image's pixels turned by hand
    (np.rot90 / transpose, not Pillow): read with its tag applied, it must give that image's tensors exactly."""
    from PIL import Image

    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    tags = manifest["exif_orientation"]
    assert sorted(tags.values()) == [5, 6, 8]
    for image, tag in tags.items():
        with Image.open(GOLDEN / image) as im:
            assert im.getexif().get(0x0112) == tag
        upright = image.replace(f"_exif{tag}", "")
        for entry in (e for e in manifest["inputs"] if e["image"] == image):
            twin = entry["file"].replace(f"_exif{tag}", "")
            assert (GOLDEN / entry["file"]).read_bytes() == (GOLDEN / twin).read_bytes(), (entry["file"], upright)


def test_golden_images_come_from_fashion_mnist():
    from edgecnn.data import find_fashion_mnist

    tool = _golden_tool()
    if find_fashion_mnist() is None:  # where the tool looks, as `edgecnn train` does
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    images = tool.make_images()
    assert sorted(images) == sorted(p.name for p in (GOLDEN / "images").iterdir())
    for name, png in images.items():
        assert png == (GOLDEN / "images" / name).read_bytes(), name


def test_golden_outputs_are_what_the_interpreter_gives():
    """The recorded outputs are the tiny test models' outputs for the recorded inputs (runtime may vary by ±1 LSB)."""
    tool = _golden_tool()
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    labels = (GOLDEN / "labels.txt").read_text().split("\n")[:-1]
    assert labels == tool.LABELS
    import hashlib

    for model in manifest["models"]:
        path = ROOT / model["model_file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == model["sha256"], "test model changed: rerun the tool"
        dtype = np.dtype(model["output"]["dtype"])
        for run in model["runs"]:
            spec = manifest["specs"][model["spec"]]
            x = np.frombuffer((GOLDEN / run["input"]).read_bytes(), np.dtype(spec["input_dtype"]))
            x = x.reshape(1, spec["height"], spec["width"], spec["channels"])
            got, _ = tool.run_model(path, x)
            recorded = np.frombuffer((GOLDEN / run["output"]).read_bytes(), dtype).reshape(got.shape)
            if dtype == np.float32:
                np.testing.assert_allclose(got, recorded, atol=1e-5)
            else:
                assert np.abs(got.astype(np.int32) - recorded.astype(np.int32)).max() <= 1
            quant = (model["output"]["scale"], model["output"]["zero_point"])
            assert tool.top3(recorded, quant) == run["top3"]
            assert tool.top3(got, quant)[0]["index"] == run["top3"][0]["index"]


def test_golden_top3_agrees_with_edgecnn_predict(tmp_path):
    """`edgecnn predict` gives the recorded top-3 for the golden PNGs, ties (int8 outputs) in index order too."""
    from edgecnn.predict import predict
    from edgecnn.preprocess import PreprocessSpec

    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    for model in manifest["models"]:
        folder = tmp_path / model["name"]
        folder.mkdir()
        shutil.copyfile(ROOT / model["model_file"], folder / "model.tflite")
        shutil.copyfile(GOLDEN / "labels.txt", folder / "labels.txt")
        spec = dict(manifest["specs"][model["spec"]], input_dtype="float32")  # predict takes dtype from the model
        spec.pop("input_quantization", None)
        PreprocessSpec.from_json(spec).save(folder / "preprocess.json")
        results = predict(folder / "model.tflite", [GOLDEN / r["image"] for r in model["runs"]], top_k=3)
        for run, result in zip(model["runs"], results):
            assert [p["index"] for p in result["top_k"]] == [t["index"] for t in run["top3"]], run["image"]
            assert [p["label"] for p in result["top_k"]] == [t["label"] for t in run["top3"]]
            np.testing.assert_allclose([p["score"] for p in result["top_k"]], [t["score"] for t in run["top3"]],
                                       atol=1e-6)
    int8 = next(m for m in manifest["models"] if m["output"]["dtype"] == "int8")
    assert any(r["top3"][0]["score"] == r["top3"][1]["score"] for r in int8["runs"]), \
        "the golden set should include a tie in a top-3 (it exercises the tie order)"


def test_shipped_app_assets_fit_together():
    """The models the app ships with pass the same checks `edgecnn export android` makes."""
    from edgecnn.export import check_model, installed_models

    assets = DEMO / "app" / "src" / "main" / "assets"
    assert installed_models(assets) == ["fashion_tiny_float32", "fashion_tiny_int8"]
    assert sorted(p.name for p in (assets / "models").iterdir()) == installed_models(assets), "no leftovers"
    for name, dtype in (("fashion_tiny_float32", "float32"), ("fashion_tiny_int8", "int8")):
        folder = assets / "models" / name
        spec, labels, info = check_model(folder / "model.tflite", folder / "preprocess.json", folder / "labels.txt")
        assert info["input"] == f"28x28x1 {dtype}"
        assert spec.input_quantization == json.loads((folder / "preprocess.json").read_text()).get("input_quantization")
        assert len(labels) == 10
