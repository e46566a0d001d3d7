"""Flatbuffer edits of a .tflite, TensorFlow-free (runtime half): re-serialise a converted model smaller.

Uses only the flatbuffers package and LiteRT's ``flatbuffer_utils`` (both come with ai-edge-litert), so a
file can be shrunk where only the runtime is installed; :mod:`edgecnn.convert` calls it on every variant.
"""
from __future__ import annotations

import numpy as np


def strip_for_runtime(model_bytes: bytes) -> bytes:
    """Re-serialise a .tflite without what the runtime does not need, storing identical arrays once.

    What takes the bytes of a per-channel int8 model besides the weights is its quantisation parameters:
    every conv weight *and* bias tensor carries one float32 scale and one **int64** zero point per output
    channel (for MobileNetV2 ≈ 420 KB, 10% of the file), and the zero points are all zeros. The format
    requires as many zero points as scales, and XNNPACK needs the per-channel bias parameters (without them
    it takes 12 of 65 ops), so they stay — but a flatbuffer may point many tables at one vector, so each
    distinct array (e.g. "320 zeros") is written once. Also dropped: the signature table and the converter's
    metadata strings (only ``min_runtime_version`` is kept). Tensors, ops, buffers and quantisation values
    are unchanged: the model computes the same bits. Weight buffers stay 16-byte aligned.
    """
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    model = fbu.convert_bytearray_to_object(bytearray(model_bytes))
    model.signatureDefs = []
    if model.metadata:
        keep = [m for m in model.metadata if m.name in (b"min_runtime_version", "min_runtime_version")]
        for index in {m.buffer for m in model.metadata} - {m.buffer for m in keep}:
            model.buffers[index].data = None
        model.metadata = keep
    builder = _SharingBuilder(max(1024, len(model_bytes)))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _sharing_builder_class():
    import flatbuffers

    class SharingBuilder(flatbuffers.Builder):
        """A flatbuffers Builder whose numpy vectors are written once per distinct content."""

        def __init__(self, size: int):
            super().__init__(size)
            self._shared: dict[tuple[str, bytes], int] = {}

        def CreateNumpyVector(self, x):  # noqa: N802 - flatbuffers' name
            x = np.ascontiguousarray(x)
            key = (x.dtype.str, x.tobytes())
            offset = self._shared.get(key)
            if offset is None:
                if x.dtype == np.uint8 and x.size >= 16:
                    # Buffer data (weights): keep the converter's 16-byte alignment for the kernels.
                    self.StartVector(1, x.size, 16)
                    self.head = self.head - x.size
                    self.Bytes[self.head:self.head + x.size] = x.tobytes()
                    self.vectorNumElems = x.size
                    offset = self.EndVector()
                else:
                    offset = super().CreateNumpyVector(x)
                self._shared[key] = offset
            return offset

    return SharingBuilder


def _SharingBuilder(size: int):  # noqa: N802 - a class factory (flatbuffers is imported lazily)
    return _sharing_builder_class()(size)
