"""The TF / TF-free boundary declared in edgecnn/layout.py holds (TF-free, about 5 s: one child process).

1. every module of the package is in exactly one of RUNTIME_HALF and TRAINING_HALF;
2. every runtime-half module imports in a fresh process in which TensorFlow, tf_keras, keras and tfmot
   cannot be imported (as on a Pi with the base install);
3. no runtime-half module imports TensorFlow or a training-half module anywhere in its source — also inside
   functions, which importing alone would not catch.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgecnn.layout import RUNTIME_HALF, TRAINING_HALF

PACKAGE = Path(__file__).resolve().parents[1] / "edgecnn"
TF_PACKAGES = ("tensorflow", "tf_keras", "keras", "tensorflow_model_optimization")

# A fresh interpreter whose import system refuses the TensorFlow packages, then imports each module given.
IMPORT_WITHOUT_TF = """
import importlib, importlib.abc, json, sys, traceback
BLOCKED = {blocked!r}

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: runtime half)", name=name)
        return None

sys.meta_path.insert(0, NoTensorFlow())
sys.argv = ["edgecnn", "--help"]  # importing edgecnn.__main__ runs the CLI: `edgecnn --help` (every command)
failed = {{}}
for module in {modules!r}:
    try:
        importlib.import_module(module)
    except SystemExit as exc:
        if exc.code not in (0, None):
            failed[module] = f"SystemExit: {{exc.code}}"
    except BaseException as exc:
        failed[module] = traceback.format_exception_only(type(exc), exc)[-1].strip()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps({{"failed": failed, "loaded": loaded}}))
"""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules_on_disk() -> list[str]:
    return sorted(_module_name(p) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file (relative imports resolved)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from edgecnn import zoo`
    return names


def test_every_module_is_in_exactly_one_half():
    on_disk = set(_modules_on_disk())
    runtime, training = set(RUNTIME_HALF), set(TRAINING_HALF)
    assert len(runtime) == len(RUNTIME_HALF) and len(training) == len(TRAINING_HALF), "a module listed twice"
    assert not runtime & training, f"in both halves: {sorted(runtime & training)}"
    assert sorted(on_disk - runtime - training) == [], "modules in neither list of edgecnn/layout.py"
    assert sorted((runtime | training) - on_disk) == [], "listed in edgecnn/layout.py but not in the package"


def test_runtime_half_imports_with_tensorflow_unimportable():
    code = IMPORT_WITHOUT_TF.format(blocked=TF_PACKAGES, modules=list(RUNTIME_HALF))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"failed": {}, "loaded": []}


def test_the_blocker_does_block():
    """The same child fails for a training-half module: a blocker that blocked nothing would pass test 2."""
    code = IMPORT_WITHOUT_TF.format(blocked=TF_PACKAGES, modules=["edgecnn._tf", "edgecnn.zoo"])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result["failed"]) == {"edgecnn._tf", "edgecnn.zoo"}
    # edgecnn._tf turns the blocked import into its own one-line error naming the extra
    assert all("needs the [train] extra" in line for line in result["failed"].values()), result


@pytest.mark.parametrize("module", [m for m in RUNTIME_HALF if m != "edgecnn"])
def test_runtime_module_names_no_tensorflow_and_no_training_module(module):
    # The package root is left out: create_model/list_models/train/convert are lazy doors into the training
    # half by design (and importing the root is covered by the test above, as every import goes through it).
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    imported = _imports(path)
    tf = sorted(name for name in imported if name.split(".")[0] in TF_PACKAGES)
    training = sorted(name for name in imported if name in TRAINING_HALF)
    assert (tf, training) == ([], []), f"{module} imports the training half"
