"""Put models into the Android demo app: each as its own folder of assets, side by side.

    from edgecnn.export import export_android
    export_android("mobilenet_v2")                              # newest finished run, its int8 .tflite
    export_android("runs/tiny-2", variant="float32")            # a run folder, one of its .tflite files
    export_android("m_int8.tflite", name="mine", assets="android_demo/app/src/main/assets")

The app (``android_demo/``) lists the folders under ``assets/models/`` in its model picker; each holds
``model.tflite``, ``labels.txt`` and ``preprocess.json``. A model goes in under a name (``--name``; by
default its file name without ``.tflite``), and exporting the same name again replaces that model only.
Before anything is written, the three files are checked against each other the way the app checks them:
the model reads and lints as a .tflite (:mod:`edgecnn.safety`), runs once in a child process, takes one
``(1, H, W, C)`` image matching preprocess.json, and has one output per label. The written preprocess.json
carries the model's own input dtype and quantisation (so the app and ``edgecnn predict`` agree).

The set is replaced as a whole: the three files are staged in a hidden folder beside the model's, then the
old folder is renamed aside and the staged one renamed in; if the second rename fails the old folder is
renamed back. A failure at any point leaves the old set or the new one, never a mix. (A process killed
between the two renames leaves the old set in ``models/.NAME.*.old``; the next export of NAME puts it back
before swapping.) Android's build skips names starting with a dot, so a leftover never reaches an APK.

TensorFlow-free.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from edgecnn.errors import EdgecnnError, UsageError

ASSET_MODEL = "model.tflite"
ASSET_LABELS = "labels.txt"
ASSET_PREPROCESS = "preprocess.json"
DEFAULT_ASSETS = Path("android_demo") / "app" / "src" / "main" / "assets"
MODELS_DIR = "models"  # assets/models/<name>/ per model; the app lists this folder
ASSET_FILES = (ASSET_MODEL, ASSET_LABELS, ASSET_PREPROCESS)
# A folder name that is the same on every file system and cannot climb out of models/ or hide (no dot first).
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Preferred variant when a run folder holds several: int8 is the usual phone choice.
VARIANT_PREFERENCE = ("int8", "float16", "dynamic", "float32")


def _variant_of(path: Path) -> str:
    """'int8' for 'tiny_int8.tflite' (the part after the last underscore), else the whole stem."""
    return path.stem.rsplit("_", 1)[-1]


def find_model_in_run(run_dir: Path, variant: str | None = None) -> Path:
    """The .tflite of a run folder to export: ``variant`` if given, else the preferred one, else the only one."""
    candidates = sorted(p for p in run_dir.rglob("*.tflite")
                        if p.is_file() and not p.stem.endswith("_edgetpu"))  # Edge TPU builds do not run on phones
    if not candidates:
        raise EdgecnnError(f"{run_dir}: no .tflite file in this run folder (convert it first: "
                           f"edgecnn convert {run_dir})")
    if variant is not None:
        chosen = [p for p in candidates if _variant_of(p) == variant or p.stem == variant]
        if len(chosen) != 1:
            have = ", ".join(p.name for p in candidates)
            what = "no" if not chosen else "more than one"
            raise UsageError(f"{run_dir}: {what} .tflite matches --variant {variant} (have: {have})")
        return chosen[0]
    if len(candidates) == 1:
        return candidates[0]
    for preferred in VARIANT_PREFERENCE:
        chosen = [p for p in candidates if _variant_of(p) == preferred]
        if len(chosen) == 1:
            return chosen[0]
    raise UsageError(f"{run_dir}: several .tflite files ({', '.join(p.name for p in candidates)}); "
                     "choose one with --variant")


def resolve_model(source: str | os.PathLike, *, variant: str | None = None,
                  runs_root: str | os.PathLike = "runs") -> Path:
    """A model name (newest finished run), a run folder or a .tflite path → the .tflite file to export."""
    from edgecnn.runs import newest_run, run_dirs

    path = Path(source)
    if path.suffix == ".tflite" or path.is_file():
        if not path.exists():
            raise EdgecnnError(f"{path}: no such file")
        if path.is_dir():
            raise EdgecnnError(f"{path}: is a directory, not a .tflite file")
        return path
    if path.is_dir():
        return find_model_in_run(path, variant)
    name = str(source)
    if os.sep in name or "/" in name:
        raise EdgecnnError(f"{name}: no such file or folder")
    run = newest_run(name, runs_root)
    if run is None:
        if run_dirs(name, runs_root):
            raise EdgecnnError(f"no finished run of {name} under {runs_root}/ (an interrupted one can be resumed: "
                               f"edgecnn train {name} --resume)")
        raise UsageError(f"{name}: not a .tflite file, a run folder or a model with a run under {runs_root}/ "
                         f"(train one: edgecnn train {name})")
    return find_model_in_run(run, variant)


def _find_file(model_path: Path, name: str, given: str | os.PathLike | None, what: str) -> Path:
    """An explicitly given file, else ``name`` beside the model as ``edgecnn predict`` finds it."""
    from edgecnn.preprocess import find_beside

    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise EdgecnnError(f"{path}: no such file ({what})")
        return path
    found = find_beside(model_path, name)
    if found is None:
        raise EdgecnnError(f"no {name} beside {model_path} (edgecnn writes it into the run folder); "
                           f"pass --{what} FILE")
    return found


def check_model(model_path: Path, preprocess: Path, labels: Path) -> tuple[Any, list[str], dict[str, Any]]:
    """The app's model contract, checked here: (spec with the model's input dtype/quantisation, labels, info)."""
    from edgecnn.preprocess import PreprocessSpec, read_labels
    from edgecnn.safety import load_checked, run_in_child

    model = load_checked(model_path)  # EdgecnnError for anything that is not a sound .tflite
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise EdgecnnError(f"{model_path}: the app needs one input and one output, the model has "
                           f"{len(model.inputs)} and {len(model.outputs)}")
    inp, out = model.input_tensors[0], model.output_tensors[0]
    shape = tuple(inp.shape)
    if len(shape) != 4 or shape[0] != 1 or shape[3] not in (1, 3):
        raise EdgecnnError(f"{model_path}: input shape {list(shape)} is not one image (1, H, W, 1 or 3)")
    try:
        spec = PreprocessSpec.load(preprocess)
    except (TypeError, ValueError, AttributeError) as exc:  # wrong value types inside valid JSON
        raise EdgecnnError(f"{preprocess}: not a valid preprocess.json ({exc})") from None
    if spec.shape != shape[1:]:
        raise EdgecnnError(f"{preprocess} describes {spec.height}x{spec.width}x{spec.channels} input, "
                           f"the model takes {shape[1]}x{shape[2]}x{shape[3]}")
    for tensor, what in ((inp, "input"), (out, "output")):
        if tensor.dtype not in ("float32", "int8", "uint8"):
            raise EdgecnnError(f"{model_path}: {tensor.dtype} {what}; the app handles float32, int8 and uint8")
        if tensor.dtype != "float32" and not tensor.quantized:
            raise EdgecnnError(f"{model_path}: {tensor.dtype} {what} has no quantisation parameters")
    spec.input_dtype = inp.dtype
    spec.input_quantization = None
    if inp.dtype != "float32":
        spec.input_quantization = {"scale": float(inp.scales[0]), "zero_point": int(inp.zero_points[0])}
    names = read_labels(labels)
    outputs = math.prod(out.shape) if out.shape else 1
    if outputs != len(names):
        raise EdgecnnError(f"{model_path} has {outputs} outputs but {labels} has {len(names)} labels")
    # Files that pass the checks above can still crash the native runtime: try one run in a child process.
    run_in_child("edgecnn.safety:check_runs", {"model_path": str(model_path)}, label=str(model_path))
    info = {"input": f"{shape[1]}x{shape[2]}x{shape[3]} {inp.dtype}", "output": f"{outputs} {out.dtype}",
            "resize": spec.resize}
    return spec, names, info


def model_name(name: str) -> str:
    """``name`` if it can be a model's asset folder, else a UsageError saying what is allowed."""
    if not MODEL_NAME.fullmatch(name):
        raise UsageError(f"--name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                         "or digit")
    return name


def installed_models(assets: str | os.PathLike) -> list[str]:
    """The names of the models in an app's assets (folders under models/ holding a model.tflite), sorted."""
    folder = Path(assets) / MODELS_DIR
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and MODEL_NAME.fullmatch(p.name) and (p / ASSET_MODEL).is_file())


def export_android(source: str | os.PathLike, assets: str | os.PathLike | None = None, *,
                   name: str | None = None, variant: str | None = None,
                   preprocess: str | os.PathLike | None = None, labels: str | os.PathLike | None = None,
                   runs_root: str | os.PathLike = "runs") -> dict[str, Any]:
    """Copy a model with its labels/preprocess.json into the app's assets as models/NAME/; returns what was written."""
    if assets is None:
        if not DEFAULT_ASSETS.parent.is_dir():
            raise UsageError(f"{DEFAULT_ASSETS.parent} not found (run from the edgecnn repository, "
                             "or pass --assets DIR)")
        assets = DEFAULT_ASSETS
    assets = Path(assets)
    if assets.exists() and not assets.is_dir():
        raise EdgecnnError(f"{assets}: not a folder")
    model_path = resolve_model(source, variant=variant, runs_root=runs_root)
    name = model_name(name if name is not None else model_path.stem)
    spec_path = _find_file(model_path, "preprocess.json", preprocess, "preprocess")
    spec, names, info = check_model(model_path, spec_path,
                                    _find_file(model_path, _labels_name(spec_path), labels, "labels"))
    spec.labels = ASSET_LABELS
    folder = assets / MODELS_DIR / name
    try:
        staged = _stage(folder.parent, name)
        try:
            shutil.copyfile(model_path, staged / ASSET_MODEL)
            (staged / ASSET_LABELS).write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
            (staged / ASSET_PREPROCESS).write_text(json.dumps(spec.to_json(), indent=2) + "\n", encoding="utf-8")
            mode = _file_mode()
            for file in ASSET_FILES:
                os.chmod(staged / file, mode)  # ordinary files, not the 0600 of a private temporary
            _swap_in(staged, folder)
        finally:
            if staged.exists():
                shutil.rmtree(staged, ignore_errors=True)
    except OSError as exc:
        raise EdgecnnError(f"cannot write to {assets}: {exc.strerror or exc}") from exc
    legacy = [f for f in ASSET_FILES if (assets / f).is_file()]
    return {"model": str(model_path), "assets": str(assets), "name": name, "folder": str(folder),
            "files": list(ASSET_FILES), "bytes": model_path.stat().st_size, "labels": len(names),
            "models": installed_models(assets), "legacy_files": legacy, **info}


def _stage(models: Path, name: str) -> Path:
    """A new hidden folder beside models/NAME to write the set into (mkdtemp's 0700 widened to the umask)."""
    import tempfile

    models.mkdir(parents=True, exist_ok=True)
    for stale in models.iterdir():  # left by an export that was killed while writing
        if stale.name.startswith(f".{name}.") and stale.name.endswith(".part") and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".part", dir=models))
    os.chmod(staged, 0o777 & ~_umask())
    return staged


def _swap_in(staged: Path, folder: Path) -> None:
    """Put the staged folder at ``folder``: the old one aside, the new one in, the old one back on failure."""
    _recover_interrupted(folder)
    backup = None
    if folder.exists():
        backup = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.old")
        os.rename(folder, backup)
    try:
        os.rename(staged, folder)
    except BaseException:
        if backup is not None:
            os.rename(backup, folder)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def _recover_interrupted(folder: Path) -> None:
    """After a process died between the two renames: the old set back in place, stale copies removed."""
    old = sorted((p for p in folder.parent.iterdir()
                  if p.name.startswith(f".{folder.name}.") and p.name.endswith(".old") and p.is_dir()),
                 key=lambda p: p.stat().st_mtime)
    if old and not folder.exists():
        os.rename(old.pop(), folder)
    for stale in old:
        shutil.rmtree(stale, ignore_errors=True)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _file_mode() -> int:
    """0666 less the umask: the mode an ordinary new file gets."""
    return 0o666 & ~_umask()


def _labels_name(spec_path: Path) -> str:
    """The labels file preprocess.json names (default labels.txt); a bare file name, never a path."""
    from edgecnn.fileio import read_json
    from edgecnn.preprocess import check_labels_name

    data = read_json(spec_path)
    name = data.get("labels", "labels.txt") if isinstance(data, dict) else "labels.txt"
    return check_labels_name(name) if name != "" else "labels.txt"
