"""The Android demo: its Java core and resources (android_demo/test.sh) and the Python side of the golden data.

test.sh compiles android_demo/core with javac, runs its JUnit 5 tests (the cross-language golden test among
them) and links the app's manifest and resources with aapt2. The tests here also make sure the committed
golden files are still what edgecnn.preprocess and the interpreter produce, so neither side drifts.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "android_demo"
GOLDEN = DEMO / "core" / "src" / "test" / "resources" / "golden"

# CI (.ci/run) sets EDGECNN_REQUIRE_ALL=1: a missing JDK or kotlinc must fail the run there, not skip.
REQUIRE_ALL = os.environ.get("EDGECNN_REQUIRE_ALL") == "1"


def _need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        message = f"{tool} not installed (apt-get install {package})"
        if REQUIRE_ALL:
            pytest.fail(f"{message}, and EDGECNN_REQUIRE_ALL=1 forbids skipping")
        pytest.skip(message)


@pytest.fixture
def javac() -> None:
    _need("javac", "default-jdk-headless junit5")


@pytest.fixture
def kotlinc() -> None:
    _need("kotlinc", "kotlin")


def _golden_tool():
    spec = importlib.util.spec_from_file_location("make_android_golden", ROOT / "tools" / "make_android_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _test_sh(*steps: str, demo: Path = DEMO, build: Path, path: str = "/usr/bin:/bin:/usr/local/bin",
             require_all: bool = REQUIRE_ALL) -> subprocess.CompletedProcess:
    env = {"PATH": path, "ANDROID_DEMO_BUILD": str(build)}
    if require_all:
        env["EDGECNN_REQUIRE_ALL"] = "1"
    return subprocess.run(["bash", str(demo / "test.sh"), *steps], capture_output=True, text=True, timeout=600,
                          env=env)


def test_test_sh_passes(tmp_path, javac, kotlinc):
    """All three steps (about 70 s on an idle 2-core machine, half of it the kotlinc type check)."""
    result = _test_sh(build=tmp_path / "build")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "test.sh: all checks passed" in result.stdout
    assert "== app: kotlinc type check" in result.stdout and "SKIPPING" not in result.stdout
    assert (tmp_path / "build" / "kotlin" / "io" / "edgecnn" / "demo" / "Pictures.class").stat().st_size > 0
    found = int(re.search(r"\[\s+(\d+) tests found", result.stdout).group(1))
    assert found >= 50
    assert re.search(r"\[\s+0 tests failed", result.stdout)
    assert re.search(rf"\[\s+{found} tests successful", result.stdout), "every test ran and passed (none skipped)"
    assert (tmp_path / "build" / "app-resources.apk").stat().st_size > 1000


def _copy_demo(tmp_path: Path) -> Path:
    copy = tmp_path / "android_demo"
    shutil.copytree(DEMO, copy, ignore=shutil.ignore_patterns("build", ".gradle"))
    return copy


def test_test_sh_fails_on_a_changed_golden_byte(tmp_path, javac):
    copy = _copy_demo(tmp_path)
    victim = copy / "core/src/test/resources/golden/inputs/fmnist_4_rgb_53x37__bilinear_rgb_u8_ties.bin"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0x01
    victim.write_bytes(bytes(data))
    result = _test_sh("core", demo=copy, build=tmp_path / "build")
    assert result.returncode != 0
    assert "fmnist_4_rgb_53x37__bilinear_rgb_u8_ties.bin: byte 100" in result.stdout


def test_test_sh_fails_on_a_broken_resource(tmp_path, javac):
    copy = _copy_demo(tmp_path)
    layout = copy / "app/src/main/res/layout/activity_main.xml"
    layout.write_text(layout.read_text().replace("@string/pick_image", "@string/no_such_string", 1))
    result = _test_sh("app", demo=copy, build=tmp_path / "build")
    assert result.returncode != 0
    assert "no_such_string" in result.stderr


def test_test_sh_fails_on_a_broken_manifest(tmp_path, javac):
    copy = _copy_demo(tmp_path)
    manifest = copy / "app/src/main/AndroidManifest.xml"
    manifest.write_text(manifest.read_text().replace("@style/AppTheme", "@style/NoSuchTheme"))
    result = _test_sh("app", demo=copy, build=tmp_path / "build")
    assert result.returncode != 0
    assert "NoSuchTheme" in result.stderr


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the one occurrence of ``old``; returns its 1-based line number (for kotlinc's error location)."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} should occur once in {path.name}"
    path.write_text(text.replace(old, new))
    return text[:text.index(old)].count("\n") + 1


def test_kotlin_type_check_catches_what_gradle_would_refuse(tmp_path, javac, kotlinc):
    """One kotlinc run (about 40 s) over an app with three mistakes in different places; each must be reported
    at its line, so each alone fails test.sh: an unknown member, a nullable passed where the real library
    (activity 1.9's GetContent delivers Uri?) needs non-null, and an argument of the wrong type."""
    copy = _copy_demo(tmp_path)
    src = copy / "app/src/main/java/io/edgecnn/demo"
    unknown = _edit(src / "MainActivity.kt", "liveButton.isEnabled = false", "liveButton.isEnabld = false")
    nullable = _edit(src / "MainActivity.kt", "if (uri != null) classifyPicked(uri)", "classifyPicked(uri)")
    wrong_type = _edit(src / "ModelEngine.kt", "val nnapi = NnApiDelegate()", "val nnapi = NnApiDelegate(threads)")
    result = _test_sh("kotlin", demo=copy, build=tmp_path / "build")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert re.search(rf"MainActivity\.kt:{unknown}:\d+: error: unresolved reference: isEnabld", out), out[-3000:]
    assert re.search(rf"MainActivity\.kt:{nullable}:\d+: error: type mismatch: inferred type is Uri\? but Uri was "
                     "expected", out), out[-3000:]
    assert re.search(rf"ModelEngine\.kt:{wrong_type}:\d+: error: type mismatch: inferred type is Int but "
                     r"NnApiDelegate\.Options!? was expected", out), out[-3000:]
    assert len(re.findall(r"\.kt:\d+:\d+: error:", out)) == 3, "exactly the three mistakes, nothing else"
    assert "all checks passed" not in out


def test_test_sh_refuses_to_skip_kotlin_when_required(tmp_path):
    """With EDGECNN_REQUIRE_ALL=1 and no kotlinc on PATH, test.sh fails at once instead of skipping the step."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("javac", "java", "aapt2", "bash", "dirname", "find", "sort", "sed", "grep", "rm", "mkdir"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = _test_sh(build=tmp_path / "build", path=str(bin_dir), require_all=True)
    assert result.returncode == 2
    assert "kotlinc not installed and EDGECNN_REQUIRE_ALL=1" in result.stderr


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
        message = "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
        if REQUIRE_ALL:
            pytest.fail(f"{message}, and EDGECNN_REQUIRE_ALL=1 forbids skipping")
        pytest.skip(message)
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


# Gradle's published SHA-256 of gradle-wrapper.jar per release (gradle-<version>-wrapper.jar.sha256 on Gradle's
# distribution server, the list gradle/actions' wrapper validation checks against): 8.7 and 8.8 ship one jar.
GRADLE_WRAPPER_JAR_SHA256 = {"8.7": "cb0da6751c2b753a16ac168bb354870ebb1e162e9083f116729cec9c781156b8",
                             "8.8": "cb0da6751c2b753a16ac168bb354870ebb1e162e9083f116729cec9c781156b8"}


def test_gradle_wrapper_is_gradles_own():
    """The committed wrapper jar is the genuine one of the version gradle-wrapper.properties names."""
    props = (DEMO / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    version = re.search(r"distributionUrl=.*/gradle-([0-9.]+)-bin\.zip", props).group(1)
    jar = (DEMO / "gradle" / "wrapper" / "gradle-wrapper.jar").read_bytes()
    assert hashlib.sha256(jar).hexdigest() == GRADLE_WRAPPER_JAR_SHA256[version]
    assert re.search(r"^distributionSha256Sum=[0-9a-f]{64}$", props, re.M), "the download is checked too"
    gradlew = DEMO / "gradlew"
    assert os.access(gradlew, os.X_OK) and gradlew.read_text().startswith("#!/bin/sh")
    assert "gradle-wrapper.jar" in gradlew.read_text()
    assert b"\r\n" in (DEMO / "gradlew.bat").read_bytes() and b"\r\n" not in gradlew.read_bytes()
