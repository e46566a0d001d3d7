"""User Keras models with Lambda layers (Python code stored in the file) are refused by `edgecnn convert`
before anything is deserialised; `--trust-model` lets them through."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.tf

# A model whose Lambda layer writes MARKER whenever it is rebuilt — which loading an .h5 or a SavedModel does.
_MAKE = """
import sys
from pathlib import Path
from edgecnn._tf import keras
folder, marker = Path(sys.argv[1]), sys.argv[2]
L = keras.layers
inp = keras.Input((8, 8, 1))
# the path is a constant of the lambda's code (its closure and globals are not saved)
payload = eval(f"lambda t: (open({marker!r}, 'w').write('ran'), t)[1]")
x = L.Conv2D(4, 3)(L.Lambda(payload, name="payload")(inp))
model = keras.Model(inp, L.Dense(10, activation="softmax")(L.GlobalAveragePooling2D()(x)))
model.save(folder / "lambda.h5")
model.save(folder / "lambda_savedmodel", save_format="tf")
model.save(folder / "lambda.keras")
clean = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(10, activation="softmax", name="head")])
clean.save(folder / "clean.h5")
Path(marker).unlink()
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    pytest.importorskip("tensorflow")
    folder = tmp_path_factory.mktemp("trust")
    marker = folder / "payload-ran"
    proc = subprocess.run([sys.executable, "-c", _MAKE, str(folder), str(marker)], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not marker.exists()
    return folder, marker


def test_lambda_layers_are_found_without_loading(models):
    from edgecnn.model_trust import code_layers

    folder, marker = models
    for name in ("lambda.h5", "lambda_savedmodel", "lambda.keras"):
        assert code_layers(folder / name) == ["payload"], name
    assert code_layers(folder / "clean.h5") == []
    assert not marker.exists()


def test_convert_refuses_a_lambda_h5_in_one_line(models, cli, tmp_path):
    folder, marker = models
    out = tmp_path / "out" / "m.tflite"
    proc = cli("convert", str(folder / "lambda.h5"), "--float32", "-o", str(out), timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {folder / 'lambda.h5'}: layer 'payload' is a Lambda layer, and loading it runs Python "
                      "code stored in the file; pass --trust-model only if you trust where the file came from"]
    assert "Traceback" not in proc.stderr
    assert not marker.exists() and not out.exists()


def test_the_same_file_does_run_code_when_loaded(models):
    # the control: without the check, tf_keras runs the stored lambda while loading the .h5
    folder, marker = models
    code = "import sys\nfrom edgecnn._tf import keras\nkeras.models.load_model(sys.argv[1], compile=False)"
    proc = subprocess.run([sys.executable, "-c", code, str(folder / "lambda.h5")], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert marker.read_text() == "ran"
    marker.unlink()
