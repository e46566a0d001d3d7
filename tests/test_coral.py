"""edgecnn.targets.coral: the static Edge TPU report on real converted models, the compiler-log parser on
log text in edgetpu_compiler's own format, and compile_for_edgetpu's handling of the compiler.

edgetpu_compiler cannot be installed here (Coral's apt repository is unreachable), so the compile tests put a
*fake* `edgetpu_compiler` script on PATH that prints such a log and writes the output file: they test our
handling of the compiler (arguments, atomic output, parsing, failures, timeout), not the compiler itself.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgecnn.errors import EdgecnnError
from edgecnn.targets import coral

DATA = Path(__file__).resolve().parent / "data"

# ---- compiler output, in the format edgetpu_compiler 16 prints with -s (numbers are ours) ------------------
LOG_FULL = """\
Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 655 ms.

Input model: mobilenet_v2_int8.tflite
Input size: 2.71MiB
Output model: mobilenet_v2_int8_edgetpu.tflite
Output size: 2.98MiB
On-chip memory used for caching model parameters: 2.83MiB
On-chip memory remaining for caching model parameters: 4.21MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 70
Operation log: mobilenet_v2_int8_edgetpu.log

Operator                       Count      Status

PAD                            4          Mapped to Edge TPU
CONV_2D                        36         Mapped to Edge TPU
DEPTHWISE_CONV_2D              17         Mapped to Edge TPU
ADD                            10         Mapped to Edge TPU
MEAN                           1          Mapped to Edge TPU
FULLY_CONNECTED                1          Mapped to Edge TPU
SOFTMAX                        1          Mapped to Edge TPU
Compilation child process completed within timeout period.
Compilation succeeded! 
"""

LOG_PARTIAL = """\
Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 1021 ms.

Input model: mobilenet_v3_small_int8.tflite
Input size: 1.52MiB
Output model: mobilenet_v3_small_int8_edgetpu.tflite
Output size: 1.31MiB
On-chip memory used for caching model parameters: 48.25KiB
On-chip memory remaining for caching model parameters: 7.06MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 120
Operation log: mobilenet_v3_small_int8_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage of the model will instead run on the CPU, which is slower. If possible, consider updating your model to use only operations supported by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 3
Number of operations that will run on CPU: 117

Operator                       Count      Status

QUANTIZE                       1          Operation is otherwise supported, but not mapped due to some unspecified limitation
CONV_2D                        1          Mapped to Edge TPU
CONV_2D                        33         More than one subgraph is not supported
HARD_SWISH                     1          Operation not supported
HARD_SWISH                     18         More than one subgraph is not supported
DEPTHWISE_CONV_2D              2          Mapped to Edge TPU
DEPTHWISE_CONV_2D              9          More than one subgraph is not supported
MUL                            26         More than one subgraph is not supported
ADD                            16         More than one subgraph is not supported
MEAN                           10         More than one subgraph is not supported
DEQUANTIZE                     1          Operation is working on an unsupported data type
RESHAPE                        2          Tensor has unsupported rank (up to 3 innermost dimensions mapped)
Compilation child process completed within timeout period.
Compilation succeeded! 
"""

LOG_INVALID = """\
Edge TPU Compiler version 16.0.384591198
Invalid model: tiny_cnn_float32.tflite
Model not quantized
"""

LOG_INTERNAL_ERROR = """\
Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.
Internal compiler error. Aborting! 
Compilation child process completed within timeout period.
Compilation failed! 
"""

# the *_edgetpu.log file the compiler writes next to its output (no summary numbers)
LOG_FILE = """\
Edge TPU Compiler version 16.0.384591198
Input: tiny_cnn_int8.tflite
Output: tiny_cnn_int8_edgetpu.tflite

Operator                       Count      Status

CONV_2D                        2          Mapped to Edge TPU
DEPTHWISE_CONV_2D              1          Mapped to Edge TPU
MAX_POOL_2D                    1          Mapped to Edge TPU
MEAN                           1          Mapped to Edge TPU
FULLY_CONNECTED                1          Mapped to Edge TPU
SOFTMAX                        1          Mapped to Edge TPU
"""


def test_parse_fully_mapped_log():
    log = coral.parse_compiler_log(LOG_FULL)
    assert log["compiled"] is True and log["error"] is None
    assert log["compiler_version"] == "16.0.384591198"
    assert log["compile_ms"] == 655
    assert log["total_ops"] == 70 and log["edgetpu_subgraphs"] == 1
    # the compiler omits the "Number of operations that will run on …" lines when all ops map
    assert log["edgetpu_ops"] == 70 and log["cpu_ops"] == 0 and log["fully_mapped"] is True
    assert log["on_chip_memory_used"] == "2.83MiB" and log["off_chip_memory_used"] == "0.00B"
    assert [(r["op"], r["count"]) for r in log["ops"]][:3] == [("PAD", 4), ("CONV_2D", 36), ("DEPTHWISE_CONV_2D", 17)]
    assert sum(r["count"] for r in log["ops"]) == 70
    assert all(r["mapped"] for r in log["ops"])


def test_parse_partially_mapped_log():
    log = coral.parse_compiler_log(LOG_PARTIAL)
    assert log["compiled"] is True and log["fully_mapped"] is False
    assert (log["edgetpu_ops"], log["cpu_ops"], log["total_ops"]) == (3, 117, 120)
    rows = {(r["op"], r["status"]): r for r in log["ops"]}
    assert rows[("HARD_SWISH", "Operation not supported")]["count"] == 1
    assert rows[("HARD_SWISH", "More than one subgraph is not supported")]["count"] == 18
    assert rows[("QUANTIZE", "Operation is otherwise supported, but not mapped due to some unspecified "
                             "limitation")]["mapped"] is False
    assert rows[("RESHAPE", coral.BAD_RANK)]["count"] == 2
    assert sum(r["count"] for r in log["ops"] if r["mapped"]) == 3
    assert sum(r["count"] for r in log["ops"]) == 120
    assert len(log["ops"]) == 12


def test_parse_failures():
    invalid = coral.parse_compiler_log(LOG_INVALID)
    assert invalid["compiled"] is False and invalid["error"] == "Invalid model: Model not quantized"
    assert invalid["ops"] == [] and invalid["fully_mapped"] is False
    internal = coral.parse_compiler_log(LOG_INTERNAL_ERROR)
    assert internal["compiled"] is False and internal["error"] == "Internal compiler error. Aborting!"
    empty = coral.parse_compiler_log("")
    assert empty["compiled"] is False and empty["error"] == "no output from edgetpu_compiler"


def test_parse_log_file_format():
    log = coral.parse_compiler_log(LOG_FILE)
    assert [r["op"] for r in log["ops"]] == ["CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "MEAN",
                                             "FULLY_CONNECTED", "SOFTMAX"]
    assert log["total_ops"] == 7 and log["edgetpu_ops"] == 7 and log["cpu_ops"] == 0


# ---- the static report on the committed real models -----------------------------------------------------

def test_int8_model_maps_fully():
    r = coral.compatibility_report(DATA / "tiny_cnn_int8.tflite")
    assert r["edgetpu_compatible"] is True
    assert r["verdict"] == "maps fully to the Edge TPU"
    assert r["cut_at"] is None and r["counts"] == {"total": 7, "mapped": 7, "cpu": 0, "unsupported": 0}
    assert [e["op"] for e in r["ops"]] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MAX_POOL_2D", "MEAN",
                                           "FULLY_CONNECTED", "SOFTMAX"]
    assert all(c["ok"] for c in r["checks"])
    assert any("batch dimension is -1" in w for w in r["warnings"])  # converted from Keras without a fixed batch
    assert {"op": "CONV_2D", "count": 2, "status": coral.MAPPED} in r["table"]
    # int8 weights 72+72+128+160 B, int32 biases (8+8+16+10)×4 B, MEAN's 2 int32 axes: fits on-chip
    assert r["weight_bytes"] == 432 + 168 + 8
    assert not any("on-chip" in w for w in r["warnings"])
    json.dumps(r)  # JSON-ready for `inspect --json`


def test_float_model_does_not_compile_and_cuts_at_the_first_op():
    r = coral.compatibility_report(DATA / "tiny_cnn_float32.tflite")
    assert r["edgetpu_compatible"] is False
    assert r["verdict"].startswith("does not compile: Model not quantized")
    assert r["cut_at"] == 0 and r["cut_op"] == "CONV_2D"
    assert r["cut_reason"].startswith(coral.BAD_DTYPE) and "float32" in r["cut_reason"]
    assert r["counts"]["mapped"] == 0
    checks = {c["rule"]: c["ok"] for c in r["checks"]}
    assert checks["8-bit quantised tensors"] is False and checks["int8/uint8 model input and output"] is False


def test_custom_op_is_not_supported():
    r = coral.compatibility_report(DATA / "tiny_cnn_custom_op.tflite")
    last = r["ops"][-1]
    assert last["op"] == "CUSTOM(EdgecnnNoSuchOp)" and last["status"] == "unsupported"
    assert last["compiler_status"] == coral.NOT_SUPPORTED


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(EdgecnnError, match="no such file"):
        coral.compatibility_report(tmp_path / "nope.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(EdgecnnError):
        coral.compatibility_report(bad)


def test_print_report_renders(capsys):
    from rich.console import Console

    console = Console(width=120, force_terminal=False)
    coral.print_report(coral.compatibility_report(DATA / "tiny_cnn_float32.tflite"), console)
    out = capsys.readouterr().out
    assert "does not compile" in out and "Operation is working on an unsupported data type" in out


# ---- compile_for_edgetpu with no compiler, and with a fake one ---------------------------------------------

def _fake_compiler(folder: Path, log: str, *, exit_code: int = 0, write_output: bool = True,
                   sleep: float = 0) -> Path:
    """An `edgetpu_compiler` stand-in: checks its arguments like the real one, prints `log`, writes outputs."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "edgetpu_compiler"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import os, shutil, sys, time
        args = sys.argv[1:]
        assert "-s" in args, args
        out = args[args.index("-o") + 1]
        model = args[-1]
        assert os.path.isfile(model), model
        time.sleep({sleep})
        stem = os.path.splitext(os.path.basename(model))[0]
        if {write_output!r}:
            shutil.copy(model, os.path.join(out, stem + "_edgetpu.tflite"))
            open(os.path.join(out, stem + "_edgetpu.log"), "w").write({LOG_FILE!r})
        sys.stdout.write({log!r})
        sys.exit({exit_code})
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def test_compile_without_compiler_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = coral.compile_for_edgetpu(DATA / "tiny_cnn_int8.tflite", tmp_path / "out")
    assert result["compiled"] is False and result["compiler"] is None and result["edgetpu_model"] is None
    assert "edgetpu_compiler not found" in result["message"] and "error" not in result
    for needle in ("x86-64", "packages.cloud.google.com/apt", "coral-edgetpu-stable",
                   "apt-get install edgetpu-compiler"):
        assert needle in result["install"]
    assert result["report"]["edgetpu_compatible"] is True  # the model itself is Edge-TPU-ready
    assert not (tmp_path / "out").exists()
    from rich.console import Console

    coral.print_compile_result(result, Console(width=200))
    out = capsys.readouterr().out
    assert "sudo apt-get install edgetpu-compiler" in out and "static prediction: maps fully" in out


def test_compile_with_fake_compiler(tmp_path, monkeypatch):
    bin_dir = _fake_compiler(tmp_path / "bin", LOG_FULL)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    result = coral.compile_for_edgetpu(DATA / "tiny_cnn_int8.tflite", out)
    assert result["compiled"] is True and "error" not in result
    assert result["message"] == "compiled tiny_cnn_int8_edgetpu.tflite: 70 ops on the Edge TPU, 0 on the CPU"
    assert result["compiler"] == str(bin_dir / "edgetpu_compiler")
    assert result["edgetpu_model"] == str(out / "tiny_cnn_int8_edgetpu.tflite")
    assert Path(result["edgetpu_model"]).read_bytes() == (DATA / "tiny_cnn_int8.tflite").read_bytes()
    assert Path(result["log_path"]).name == "tiny_cnn_int8_edgetpu.log"
    assert result["log"]["compiler_version"] == "16.0.384591198" and result["log"]["fully_mapped"] is True
    assert sorted(p.name for p in out.iterdir()) == ["tiny_cnn_int8_edgetpu.log", "tiny_cnn_int8_edgetpu.tflite"]


def test_compile_result_prints_the_compiler_table(tmp_path, monkeypatch, capsys):
    from rich.console import Console

    bin_dir = _fake_compiler(tmp_path / "bin", LOG_PARTIAL)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = coral.compile_for_edgetpu(DATA / "tiny_cnn_int8.tflite", tmp_path / "out")
    assert result["compiled"] is True and result["log"]["cpu_ops"] == 117
    coral.print_compile_result(result, Console(width=200))
    out = capsys.readouterr().out
    assert "edgetpu_compiler 16.0.384591198" in out and "HARD_SWISH" in out
    assert "3 ops on the Edge TPU, 117 on the CPU" in out


def test_compile_failure_leaves_nothing(tmp_path, monkeypatch):
    bin_dir = _fake_compiler(tmp_path / "bin", LOG_INVALID, exit_code=1, write_output=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    result = coral.compile_for_edgetpu(DATA / "tiny_cnn_float32.tflite", out)
    assert result["compiled"] is False and result["returncode"] == 1
    assert result["error"] == "Invalid model: Model not quantized"
    assert list(out.iterdir()) == []


def test_compile_timeout(tmp_path, monkeypatch):
    bin_dir = _fake_compiler(tmp_path / "bin", LOG_FULL, sleep=30)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = coral.compile_for_edgetpu(DATA / "tiny_cnn_int8.tflite", tmp_path / "out", timeout=1)
    assert result["compiled"] is False and "did not finish within 1 s" in result["error"]
    assert list((tmp_path / "out").iterdir()) == []


# ---- op versions the compiler can read (edgecnn/targets/coral_versions.py) ----------------------------------

# As google-coral/edgetpu#631 reports it (TensorFlow 2.9.1 model, compiler 16).
LOG_VERSION = """\
Edge TPU Compiler version 16.0.384591198
ERROR: Didn't find op for builtin opcode 'CONV_2D' version '6'. An older version of this builtin might be supported. Are you using an old TFLite binary with a newer model?

ERROR: Registration failed.

Invalid model: model.tflite
Model could not be parsed
"""


def _with_versions(tmp_path: Path, versions: dict[str, int]) -> Path:
    """tiny_cnn_int8.tflite (maps fully) with some opcodes' versions changed."""
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    obj = fbu.convert_bytearray_to_object(bytearray((DATA / "tiny_cnn_int8.tflite").read_bytes()))
    for code in obj.operatorCodes:
        name = fbu.opcode_to_name(obj, obj.operatorCodes.index(code))
        if name in versions or "*" in versions:
            code.version = versions.get(name, versions.get("*"))
    path = tmp_path / "versions.tflite"
    path.write_bytes(bytes(fbu.convert_object_to_bytearray(obj)))
    return path


def test_op_versions_the_compiler_cannot_read_refuse_the_whole_model(tmp_path):
    assert coral.compatibility_report(DATA / "tiny_cnn_int8.tflite")["verdict"] == "maps fully to the Edge TPU"
    r = coral.compatibility_report(_with_versions(tmp_path, {"*": 99}))
    assert r["edgetpu_compatible"] is False
    assert r["verdict"].startswith("does not compile: op 0 CONV_2D version 99 is newer than edgetpu_compiler 16 "
                                   "reads (up to version 5)")
    assert all(e["compiler_status"] == coral.UNREADABLE_VERSION for e in r["ops"])
    assert not next(c for c in r["checks"] if c["rule"] == "op versions edgetpu_compiler 16 reads")["ok"]


def test_op_version_boundary_follows_the_reported_failures(tmp_path):
    # CONV_2D v6 is refused by compiler 16 (google-coral/edgetpu#631); v5 (TFLite 2.4) is read
    assert coral.compatibility_report(_with_versions(tmp_path, {"CONV_2D": 5}))["edgetpu_compatible"] is True
    r = coral.compatibility_report(_with_versions(tmp_path, {"CONV_2D": 6}))
    assert r["edgetpu_compatible"] is False and "CONV_2D version 6" in r["verdict"]
    from edgecnn.targets.coral_versions import version_problem

    assert version_problem("QUANTIZE", 3) and not version_problem("QUANTIZE", 2)  # google-coral/edgetpu#879
    assert version_problem("TRANSPOSE_CONV", 4) and not version_problem("TRANSPOSE_CONV", 3)  # #845
    assert version_problem("EXP", 2) and version_problem("GELU", 1)  # libedgetpu#71; GELU came in TFLite 2.9


def test_pin_batch_to_one_makes_shapes_static(tmp_path):
    from edgecnn.tflite_file import read_tflite

    original = (DATA / "tiny_cnn_int8.tflite").read_bytes()
    assert read_tflite(original).input_tensors[0].shape_signature[0] == -1
    before = coral.compatibility_report(DATA / "tiny_cnn_int8.tflite")
    assert any("batch dimension is -1" in w for w in before["warnings"])
    pinned = tmp_path / "pinned.tflite"
    pinned.write_bytes(coral.pin_batch_to_one(original))
    model = read_tflite(pinned)
    assert all(t.shape_signature[:1] != (-1,) for t in model.tensors)
    assert [t.shape for t in model.tensors] == [t.shape for t in read_tflite(original).tensors]
    after = coral.compatibility_report(pinned)
    assert not any("batch dimension is -1" in w for w in after["warnings"])
    assert after["verdict"] == before["verdict"] == "maps fully to the Edge TPU"
    # and it still runs
    from edgecnn.safety import run_in_child

    assert run_in_child("edgecnn.safety:check_runs", {"model_path": str(pinned)})["total_ops"] == 7
    assert coral.pin_batch_to_one(pinned.read_bytes()) == pinned.read_bytes()  # nothing left to pin


def test_parse_log_names_the_unreadable_op():
    log = coral.parse_compiler_log(LOG_VERSION)
    assert log["compiled"] is False
    assert log["error"] == ("Invalid model: Model could not be parsed (ERROR: Didn't find op for builtin opcode "
                            "'CONV_2D' version '6')")


# ---- real models made with TensorFlow (child process) ------------------------------------------------------

_MAKE_MODELS = r'''
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
from edgecnn._tf import keras, tf
out = sys.argv[1]
L = keras.layers
rng = np.random.default_rng(0)

def mobilenet_like(leaky=False):
    # batch pinned to 1, like `convert --edgetpu`; the layers MobileNetV2 is built from
    inp = keras.Input((32, 32, 3), batch_size=1)
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    y = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.LeakyReLU(0.1)(y) if leaky else L.ReLU(6.0)(y)
    y = L.Conv2D(16, 1, use_bias=False)(y)
    y = L.BatchNormalization()(y)
    x = L.Add()([x, y])
    x = L.ZeroPadding2D(((0, 1), (0, 1)))(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="valid")(x)
    x = L.ReLU(6.0)(x)
    x = L.Conv2D(32, 1, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(10, activation="softmax")(x))

def convert(model, io_int8):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.random((1, 32, 32, 3), dtype=np.float32)] for _ in range(20))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if io_int8:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()

def small(middle):
    inp = keras.Input((32, 32, 3), batch_size=1)
    x = middle(L.Conv2D(8, 3, strides=2, padding="same")(inp))
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    return keras.Model(inp, L.Dense(10, activation="softmax")(L.GlobalAveragePooling2D()(x)))

m = mobilenet_like()
open(os.path.join(out, "mnet_int8.tflite"), "wb").write(convert(m, True))
# PReLU: alpha per channel (what Coral's table asks for) and per pixel (its limitation)
open(os.path.join(out, "prelu_channel_int8.tflite"), "wb").write(convert(small(L.PReLU(shared_axes=[1, 2])), True))
open(os.path.join(out, "prelu_pixel_int8.tflite"), "wb").write(convert(small(L.PReLU()), True))
open(os.path.join(out, "permute_int8.tflite"), "wb").write(convert(small(L.Permute((2, 1, 3))), True))
open(os.path.join(out, "mnet_int8_float_io.tflite"), "wb").write(convert(m, False))
open(os.path.join(out, "mnet_leaky_int8.tflite"), "wb").write(convert(mobilenet_like(leaky=True), True))
'''


@pytest.fixture(scope="module")
def tf_models(tmp_path_factory):
    pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp("coral_models")
    proc = subprocess.run([sys.executable, "-c", _MAKE_MODELS, str(out)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.mark.slow
@pytest.mark.tf
def test_int8_mobilenet_maps_fully(tf_models):
    r = coral.compatibility_report(tf_models / "mnet_int8.tflite")
    assert r["edgetpu_compatible"] is True, r["verdict"]
    assert r["verdict"] == "maps fully to the Edge TPU"
    ops = [e["op"] for e in r["ops"]]
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "SOFTMAX"):
        assert op in ops
    assert r["counts"]["mapped"] == len(ops)
    assert not any("batch dimension is -1" in w for w in r["warnings"])  # batch pinned to 1


@pytest.mark.slow
@pytest.mark.tf
def test_float_io_conversions_run_on_cpu_without_a_cut(tf_models):
    r = coral.compatibility_report(tf_models / "mnet_int8_float_io.tflite")
    assert r["edgetpu_compatible"] is True and r["cut_at"] is None
    first, last = r["ops"][0], r["ops"][-1]
    assert (first["op"], first["status"]) == ("QUANTIZE", "cpu")
    assert (last["op"], last["status"]) == ("DEQUANTIZE", "cpu")
    assert r["counts"]["cpu"] == 2 and r["counts"]["mapped"] == r["counts"]["total"] - 2
    assert "except 2 float↔int8 conversion(s)" in r["verdict"]
    checks = {c["rule"]: c["ok"] for c in r["checks"]}
    assert checks["int8/uint8 model input and output"] is False and checks["8-bit quantised tensors"] is True


@pytest.mark.slow
@pytest.mark.tf
def test_unmappable_op_mid_graph_is_the_cut_point(tf_models):
    r = coral.compatibility_report(tf_models / "mnet_leaky_int8.tflite")
    assert r["edgetpu_compatible"] is False
    ops = r["ops"]
    cut = next(e for e in ops if e["op"] == "LEAKY_RELU")
    assert r["cut_at"] == cut["index"] > 0 and r["cut_op"] == "LEAKY_RELU"
    assert cut["status"] == "unsupported" and cut["compiler_status"] == coral.NOT_SUPPORTED
    before = [e for e in ops if e["index"] < cut["index"]]
    after = [e for e in ops if e["index"] > cut["index"]]
    assert before and all(e["status"] == "mapped" for e in before)
    assert after and all(e["status"] == "cpu" and e["compiler_status"] == coral.AFTER_CUT for e in after)
    assert r["verdict"].startswith(f"partially: {len(before)} of {len(ops)} ops on the Edge TPU, cut at op "
                                   f"{cut['index']} (LEAKY_RELU)")


def test_inspect_target_coral_cli(cli):
    # `edgecnn inspect --target coral` (the runtime CLI) carries this report under "coral"
    proc = cli("inspect", "--target", "coral", "--json", str(DATA / "tiny_cnn_float32.tflite"), timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)["coral"]
    assert report["edgetpu_compatible"] is False and report["cut_at"] == 0
    assert [e["status"] for e in report["ops"]] == ["unsupported"] * 7


@pytest.mark.slow
@pytest.mark.tf
def test_prelu_alpha_must_be_per_channel(tf_models):
    ok = coral.compatibility_report(tf_models / "prelu_channel_int8.tflite")
    assert "PRELU" in [e["op"] for e in ok["ops"]] and ok["edgetpu_compatible"] is True, ok["verdict"]
    bad = coral.compatibility_report(tf_models / "prelu_pixel_int8.tflite")
    prelu = next(e for e in bad["ops"] if e["op"] == "PRELU")
    assert prelu["status"] == "unsupported" and prelu["compiler_status"] == coral.LIMITATION
    assert "alpha has shape [16, 16, 8]" in prelu["reason"] and bad["cut_op"] == "PRELU"


@pytest.mark.slow
@pytest.mark.tf
def test_transpose_maps_with_compiler_16(tf_models):
    r = coral.compatibility_report(tf_models / "permute_int8.tflite")
    transpose = next(e for e in r["ops"] if e["op"] == "TRANSPOSE")
    assert transpose["status"] == "mapped" and r["edgetpu_compatible"] is True, r["verdict"]
