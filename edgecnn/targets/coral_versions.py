"""Which TFLite op versions ``edgetpu_compiler`` 16 can read.

The compiler parses a .tflite with the TensorFlow Lite built into it; an op version that TFLite did not have
yet stops the whole compilation ("Didn't find op for builtin opcode 'CONV_2D' version '6' … Registration
failed. Invalid model"), before any op is mapped. Compiler 16.0.384591198 (in google-coral/edgetpu issues
from August 2021 on) behaves like a TFLite of TensorFlow 2.6:

- refused: CONV_2D v6 (first in TFLite 2.9; google-coral/edgetpu#631), QUANTIZE v3 (2.7; #879),
  TRANSPOSE_CONV v4 (#845) and EXP v2 (google-coral/libedgetpu#71), both added after TFLite 2.11;
- the int8 models TensorFlow 2.21 writes for the zoo use CONV_2D v3, DEPTHWISE_CONV_2D v3,
  FULLY_CONNECTED v4, ADD v2, MEAN v2, SOFTMAX v2, MAX_POOL_2D v2, AVERAGE_POOL_2D v2 (read here from the
  files), all versions of TFLite 2.3 or older.

:data:`MAX_VERSION` is each op's newest version whose minimum runtime is 2.6.0 or older in TensorFlow's own
table, ``tensorflow/lite/tools/versioning/runtime_version.cc`` (``FindMinimumRuntimeVersionForOp``); 0 marks
an op TFLite added after 2.6 (the compiler cannot read it at all). Uncertain: the versions first shipped in
2.6 (ADD v4, MUL v5, PAD/PADV2 v4, STRIDED_SLICE v6, ABS v4, REDUCE_PROD v2) — no report shows them
refused or read; they count as read. Ops missing here are not judged.
"""
from __future__ import annotations

COMPILER = "edgetpu_compiler 16"

MAX_VERSION: dict[str, int] = {
    "ABS": 4, "ADD": 4, "ADD_N": 1, "ARG_MAX": 2, "ARG_MIN": 2, "AVERAGE_POOL_2D": 3, "BATCH_MATMUL": 4,
    "BATCH_TO_SPACE_ND": 3, "CAST": 1, "CONCATENATION": 3, "CONV_2D": 5, "CUMSUM": 1, "DEPTHWISE_CONV_2D": 6,
    "DEPTH_TO_SPACE": 2, "DEQUANTIZE": 4, "DIV": 2, "ELU": 1, "EQUAL": 3, "EXP": 1, "EXPAND_DIMS": 1, "FILL": 3,
    "FULLY_CONNECTED": 9, "GATHER": 5, "GATHER_ND": 3, "GREATER": 2, "GREATER_EQUAL": 2, "HARD_SWISH": 1,
    "L2_NORMALIZATION": 2, "LEAKY_RELU": 2, "LESS": 2, "LESS_EQUAL": 2, "LOG": 1, "LOGISTIC": 3, "LOG_SOFTMAX": 2,
    "LSTM": 4, "MAXIMUM": 4, "MAX_POOL_2D": 3, "MEAN": 3, "MINIMUM": 4, "MIRROR_PAD": 2, "MUL": 5, "NEG": 1,
    "NOT_EQUAL": 3, "PACK": 3, "PAD": 4, "PADV2": 4, "POW": 1, "PRELU": 1, "QUANTIZE": 2, "REDUCE_MAX": 3,
    "REDUCE_MIN": 3, "REDUCE_PROD": 2, "RELU": 3, "RELU6": 3, "RELU_N1_TO_1": 1, "RESHAPE": 1, "RESIZE_BILINEAR": 4,
    "RESIZE_NEAREST_NEIGHBOR": 4, "RSQRT": 2, "SHAPE": 1, "SLICE": 5, "SOFTMAX": 3, "SPACE_TO_BATCH_ND": 3,
    "SPACE_TO_DEPTH": 2, "SPLIT": 4, "SPLIT_V": 2, "SQRT": 1, "SQUARE": 1, "SQUARED_DIFFERENCE": 2, "SQUEEZE": 2,
    "STRIDED_SLICE": 6, "SUB": 5, "SUM": 2, "TANH": 3, "TILE": 2, "TRANSPOSE": 5, "TRANSPOSE_CONV": 3,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": 3, "UNPACK": 4, "WHERE": 1, "ZEROS_LIKE": 1,
    # added to TFLite after 2.6
    "GELU": 0, "RELU_0_TO_1": 0, "DYNAMIC_UPDATE_SLICE": 0, "BUCKETIZE": 0, "RANDOM_UNIFORM": 0,
    "RANDOM_STANDARD_NORMAL": 0, "MULTINOMIAL": 0, "UNSORTED_SEGMENT_PROD": 0, "UNSORTED_SEGMENT_MAX": 0,
    "UNSORTED_SEGMENT_MIN": 0, "UNSORTED_SEGMENT_SUM": 0, "ATAN2": 0,
}


def version_problem(op_name: str, version: int) -> str | None:
    """Why the compiler cannot read this op at this version, or None (also None for ops not in the table)."""
    newest = MAX_VERSION.get(op_name)
    if newest is None or version <= newest:
        return None
    if newest == 0:
        return f"{op_name} is newer than the TensorFlow Lite inside {COMPILER}, which cannot read it"
    return (f"{op_name} version {version} is newer than {COMPILER} reads (up to version {newest}): \"Didn't find op "
            f"for builtin opcode '{op_name}' version '{version}'\"")
