"""`edgecnn export android`: model + labels.txt + preprocess.json into the Android app's assets/models/NAME/ (TF-free)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.export import export_android, find_model_in_run, installed_models, resolve_model
from edgecnn.preprocess import PreprocessSpec

DATA = Path(__file__).resolve().parent / "data"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _model_dir(tmp_path: Path, variant: str = "int8", *, spec: PreprocessSpec | None = None,
               labels: list[str] | None = None) -> Path:
    """A folder as `edgecnn convert` leaves one: model, preprocess.json (float32 view), labels.txt."""
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(DATA / f"tiny_cnn_{variant}.tflite", folder / f"tiny_cnn_{variant}.tflite")
    (spec or PreprocessSpec(28, 28, 1)).save(folder / "preprocess.json")
    (folder / "labels.txt").write_text("".join(f"{n}\n" for n in (labels or LABELS)))
    return folder


NAME = "tiny_cnn_int8"  # the default name: the .tflite file name without .tflite
FILES = ["labels.txt", "model.tflite", "preprocess.json"]


def _old_assets(tmp_path: Path, name: str = NAME) -> Path:
    assets = tmp_path / "assets"
    (assets / "models" / name).mkdir(parents=True)
    for file in FILES:
        (assets / "models" / name / file).write_text(f"old {file}")
    return assets


def _assert_untouched(assets: Path, name: str = NAME) -> None:
    assert [p.name for p in (assets / "models").iterdir()] == [name], "no stray staging or backup folders"
    assert sorted(p.name for p in (assets / "models" / name).iterdir()) == FILES
    for file in FILES:
        assert (assets / "models" / name / file).read_text() == f"old {file}"


def test_int8_model_exported_with_its_own_quantisation(tmp_path):
    folder = _model_dir(tmp_path, "int8")
    assets = _old_assets(tmp_path)
    result = export_android(folder / "tiny_cnn_int8.tflite", assets)
    out = assets / "models" / NAME
    assert result["folder"] == str(out) and result["name"] == NAME and result["models"] == [NAME]
    assert (out / "model.tflite").read_bytes() == (DATA / "tiny_cnn_int8.tflite").read_bytes()
    assert (out / "labels.txt").read_text().splitlines() == LABELS
    spec = json.loads((out / "preprocess.json").read_text())
    # The sidecar said float32; the asset says what the model takes, with the model's scale and zero point.
    assert spec["input_dtype"] == "int8"
    assert spec["input_quantization"] == {"scale": pytest.approx(1 / 255, rel=1e-6), "zero_point": -128}
    assert (spec["height"], spec["width"], spec["channels"], spec["resize"]) == (28, 28, 1, "pad")
    assert spec["labels"] == "labels.txt"
    assert result["input"] == "28x28x1 int8" and result["labels"] == 10 and result["bytes"] == 5488
    assert [p.name for p in (assets / "models").iterdir()] == [NAME]
    assert sorted(p.name for p in out.iterdir()) == FILES
    umask = os.umask(0)
    os.umask(umask)
    for file in FILES:  # ordinary files and folder, not 0600/0700 temporaries
        assert (out / file).stat().st_mode & 0o777 == 0o666 & ~umask
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask


def test_float32_model_has_no_input_quantisation(tmp_path):
    folder = _model_dir(tmp_path, "float32", spec=PreprocessSpec(28, 28, 1, resize="bilinear", input_dtype="int8",
                                                                 input_quantization={"scale": 0.5, "zero_point": 3}))
    export_android(folder / "tiny_cnn_float32.tflite", tmp_path / "assets")
    spec = json.loads((tmp_path / "assets" / "models" / "tiny_cnn_float32" / "preprocess.json").read_text())
    assert spec["input_dtype"] == "float32" and "input_quantization" not in spec
    assert spec["resize"] == "bilinear"


def test_cli_exports_and_reports(tmp_path, cli):
    folder = _model_dir(tmp_path, "int8")
    result = cli("export", "android", str(folder / "tiny_cnn_int8.tflite"), "--assets", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr
    assert "input 28x28x1 int8, 10 labels) as 'tiny_cnn_int8'" in result.stdout
    assert "Models in the app: tiny_cnn_int8" in result.stdout
    assert (tmp_path / "a" / "models" / NAME / "model.tflite").stat().st_size == 5488


def _run_folder(root: Path, name: str = "tiny_cnn", variants: tuple[str, ...] = ("float32", "int8")) -> Path:
    run = root / name
    (run / "tflite").mkdir(parents=True)
    (run / "model.keras").write_bytes(b"k")
    (run / "metrics.json").write_text("{}")
    (run / "config.json").write_text(json.dumps({"model": name}))
    PreprocessSpec(28, 28, 1).save(run / "preprocess.json")
    (run / "labels.txt").write_text("\n".join(LABELS) + "\n")
    for v in variants:
        shutil.copyfile(DATA / f"tiny_cnn_{v}.tflite", run / "tflite" / f"{name}_{v}.tflite")
    return run


def test_model_name_and_run_folder_resolve_to_a_tflite(tmp_path):
    runs = tmp_path / "runs"
    run = _run_folder(runs)
    shutil.copyfile(DATA / "tiny_cnn_int8.tflite", run / "tflite" / "tiny_cnn_int8_edgetpu.tflite")
    assert resolve_model("tiny_cnn", runs_root=runs) == run / "tflite" / "tiny_cnn_int8.tflite"  # int8 preferred
    assert resolve_model(run, variant="float32") == run / "tflite" / "tiny_cnn_float32.tflite"
    with pytest.raises(UsageError, match="no .tflite matches --variant float16"):
        find_model_in_run(run, "float16")
    # Sidecars one folder up (runs/x/preprocess.json for runs/x/tflite/m.tflite) are found.
    result = export_android("tiny_cnn", tmp_path / "assets", runs_root=runs)
    assert result["model"].endswith("tiny_cnn_int8.tflite")


def test_cli_name_errors(tmp_path, cli):
    runs = tmp_path / "runs"
    empty = _run_folder(runs, "bare", variants=())
    result = cli("export", "android", "nosuch", "--runs", str(runs), "--assets", str(tmp_path / "a"))
    assert result.returncode == 2 and "Error: nosuch: not a .tflite file, a run folder or a model" in result.stderr
    result = cli("export", "android", str(empty), "--assets", str(tmp_path / "a"))
    assert result.returncode == 1 and "no .tflite file in this run folder" in result.stderr
    _run_folder(runs, "two", variants=())
    for name in ("first.tflite", "second.tflite"):  # no variant suffix to prefer one by
        shutil.copyfile(DATA / "tiny_cnn_float32.tflite", runs / "two" / "tflite" / name)
    result = cli("export", "android", "two", "--runs", str(runs), "--assets", str(tmp_path / "a"))
    assert result.returncode == 2 and "choose one with --variant" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "a").exists()


def test_missing_tflite(tmp_path, cli):
    result = cli("export", "android", str(tmp_path / "gone.tflite"), "--assets", str(tmp_path / "a"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {tmp_path / 'gone.tflite'}: no such file"


def test_missing_preprocess_json_changes_nothing(tmp_path, cli):
    folder = _model_dir(tmp_path)
    (folder / "preprocess.json").unlink()
    assets = _old_assets(tmp_path)
    result = cli("export", "android", str(folder / "tiny_cnn_int8.tflite"), "--assets", str(assets))
    assert result.returncode == 1
    assert "no preprocess.json beside" in result.stderr and "--preprocess FILE" in result.stderr
    _assert_untouched(assets)
    # Given explicitly, it works.
    spec = tmp_path / "elsewhere.json"
    PreprocessSpec(28, 28, 1).save(spec)
    export_android(folder / "tiny_cnn_int8.tflite", assets, preprocess=spec)
    assert json.loads((assets / "models" / NAME / "preprocess.json").read_text())["input_dtype"] == "int8"


def test_missing_labels(tmp_path):
    folder = _model_dir(tmp_path)
    (folder / "labels.txt").unlink()
    with pytest.raises(EdgecnnError, match="no labels.txt beside .* pass --labels FILE"):
        export_android(folder / "tiny_cnn_int8.tflite", tmp_path / "a")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"this is not a model at all", "not a .tflite model"),
    (None, "corrupt .tflite file"),  # a real model cut in half
])
def test_corrupt_model_changes_nothing(tmp_path, content, message):
    folder = _model_dir(tmp_path)
    model = folder / "tiny_cnn_int8.tflite"
    model.write_bytes(content if content is not None else model.read_bytes()[:2000])
    assets = _old_assets(tmp_path)
    with pytest.raises(EdgecnnError, match=message):
        export_android(model, assets)
    _assert_untouched(assets)


def test_model_the_runtime_cannot_run(tmp_path):
    folder = _model_dir(tmp_path, "int8")
    shutil.copyfile(DATA / "tiny_cnn_custom_op.tflite", folder / "custom.tflite")
    assets = _old_assets(tmp_path)
    with pytest.raises(EdgecnnError, match="EdgecnnNoSuchOp"):
        export_android(folder / "custom.tflite", assets)
    _assert_untouched(assets)


def test_contract_mismatches(tmp_path):
    folder = _model_dir(tmp_path, spec=PreprocessSpec(32, 32, 3))
    with pytest.raises(EdgecnnError, match="describes 32x32x3 input, the model takes 28x28x1"):
        export_android(folder / "tiny_cnn_int8.tflite", tmp_path / "a")
    folder = _model_dir(tmp_path, labels=LABELS[:9])
    with pytest.raises(EdgecnnError, match="has 10 outputs but .*labels.txt has 9 labels"):
        export_android(folder / "tiny_cnn_int8.tflite", tmp_path / "a")
    (folder / "preprocess.json").write_text('{"height": "x", "width": 28, "channels": 1}')
    with pytest.raises(EdgecnnError, match="not a valid preprocess.json"):
        export_android(folder / "tiny_cnn_int8.tflite", tmp_path / "a")
    assert not (tmp_path / "a").exists()


def test_assets_must_be_a_folder(tmp_path):
    folder = _model_dir(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(EdgecnnError, match="not a folder"):
        export_android(folder / "tiny_cnn_int8.tflite", tmp_path / "file")


def test_help_names_the_sources(cli):
    result = cli("export", "android", "--help")
    assert result.returncode == 0
    assert "NAME|RUN_DIR|MODEL.tflite" in result.stdout and "--assets" in result.stdout
    top = cli("--help")
    assert "export" in top.stdout


def test_models_side_by_side(tmp_path, cli):
    folder = _model_dir(tmp_path, "int8")
    shutil.copyfile(DATA / "tiny_cnn_float32.tflite", folder / "tiny_cnn_float32.tflite")
    assets = tmp_path / "assets"
    export_android(folder / "tiny_cnn_int8.tflite", assets)
    result = cli("export", "android", str(folder / "tiny_cnn_float32.tflite"), "--name", "fashion-f32",
                 "--assets", str(assets))
    assert result.returncode == 0, result.stderr
    assert "Models in the app: fashion-f32, tiny_cnn_int8" in result.stdout
    assert installed_models(assets) == ["fashion-f32", "tiny_cnn_int8"]
    f32 = json.loads((assets / "models" / "fashion-f32" / "preprocess.json").read_text())
    assert f32["input_dtype"] == "float32"
    # Exporting a name again replaces that model only.
    before = (assets / "models" / "fashion-f32" / "model.tflite").read_bytes()
    export_android(folder / "tiny_cnn_float32.tflite", assets, name=NAME)
    assert (assets / "models" / NAME / "model.tflite").read_bytes() == (DATA / "tiny_cnn_float32.tflite").read_bytes()
    assert (assets / "models" / "fashion-f32" / "model.tflite").read_bytes() == before
    assert sorted(p.name for p in (assets / "models").iterdir()) == ["fashion-f32", NAME]


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a/b", "", "x" * 65, "spa ce", "ü"])
def test_bad_names_are_refused(tmp_path, cli, name):
    folder = _model_dir(tmp_path)
    result = cli("export", "android", str(folder / "tiny_cnn_int8.tflite"), "--name", name,
                 "--assets", str(tmp_path / "a"))
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("Error: --name") and "Traceback" not in result.stderr
    assert not (tmp_path / "a").exists()


def test_legacy_layout_is_pointed_out(tmp_path, cli):
    folder = _model_dir(tmp_path)
    assets = tmp_path / "a"
    assets.mkdir()
    (assets / "model.tflite").write_bytes(b"old")
    result = cli("export", "android", str(folder / "tiny_cnn_int8.tflite"), "--assets", str(assets))
    assert result.returncode == 0, result.stderr
    assert "model.tflite directly in" in result.stdout and "no longer read" in result.stdout


# ---- the set is swapped whole: failures injected at each step -------------------------------------

def test_failure_while_writing_the_set_leaves_the_old_one(tmp_path, monkeypatch):
    folder = _model_dir(tmp_path)
    assets = _old_assets(tmp_path)
    real_write_text = Path.write_text

    def disk_full_on_preprocess(self, *args, **kwargs):
        if self.name == "preprocess.json" and self.parent.name.endswith(".part"):
            raise OSError(28, "No space left on device")
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full_on_preprocess)
    with pytest.raises(EdgecnnError, match="cannot write to .*No space left on device"):
        export_android(folder / "tiny_cnn_int8.tflite", assets)
    monkeypatch.undo()
    _assert_untouched(assets)


def test_failure_between_the_renames_restores_the_old_set(tmp_path, monkeypatch):
    """The old folder has been renamed aside when renaming the new one in fails: the old one comes back."""
    import edgecnn.export as export

    folder = _model_dir(tmp_path)
    assets = _old_assets(tmp_path)
    calls = []
    real_rename = os.rename

    def fail_second_rename(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real_rename(src, dst)

    monkeypatch.setattr(export.os, "rename", fail_second_rename)
    with pytest.raises(EdgecnnError, match="Input/output error"):
        export_android(folder / "tiny_cnn_int8.tflite", assets)
    monkeypatch.undo()
    # 1: old set aside, 2: staged set in (failed), 3: old set back.
    assert calls[0][0] == NAME and calls[0][1].endswith(".old")
    assert calls[1][0].endswith(".part") and calls[1][1] == NAME
    assert calls[2] == (calls[0][1], NAME)
    _assert_untouched(assets)
    # And with nothing injected the same export goes through.
    export_android(folder / "tiny_cnn_int8.tflite", assets)
    assert (assets / "models" / NAME / "model.tflite").read_bytes() == (DATA / "tiny_cnn_int8.tflite").read_bytes()


def test_export_killed_between_the_renames_is_recovered_next_time(tmp_path):
    """What a killed export leaves: the old set aside as .NAME.*.old, a staged .part, no models/NAME."""
    folder = _model_dir(tmp_path)
    assets = _old_assets(tmp_path)
    models = assets / "models"
    os.rename(models / NAME, models / f".{NAME}.dead.old")
    (models / f".{NAME}.x.part").mkdir()
    (models / f".{NAME}.x.part" / "model.tflite").write_text("half")
    # The next export of that name puts the old set back, swaps in the new one and removes the leftovers.
    export_android(folder / "tiny_cnn_int8.tflite", assets)
    assert [p.name for p in models.iterdir()] == [NAME]
    assert (models / NAME / "model.tflite").read_bytes() == (DATA / "tiny_cnn_int8.tflite").read_bytes()
