"""Files that declare far more data than they hold: a decompression-bomb PNG in an image folder is skipped
like any unreadable image, and read_idx checks an idx header before it decompresses the data. TF-free."""
from __future__ import annotations

import gzip
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from edgecnn import data
from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec

SHAPES = Path(__file__).resolve().parent / "data" / "images" / "shapes"


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A valid PNG signature and IHDR declaring width x height greyscale pixels, then no image data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_decompression_bomb_image_is_skipped_with_a_warning(tmp_path, capsys):
    folder = tmp_path / "shapes"
    shutil.copytree(SHAPES, folder)
    _png_header_only(folder / "circle" / "bomb.png", 30000, 30000)  # 900 M pixels in 57 bytes
    ds = data.load_dataset(str(folder), PreprocessSpec(12, 12, 3, resize="bilinear"), seed=0)
    err = capsys.readouterr().err
    # the folder already holds one broken file (square/broken.png): the bomb is the second skipped
    assert "skipped 2 unreadable image(s)" in err and "bomb.png" in err
    assert ds.source_info["skipped"] == 2
    ys = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    assert np.bincount(ys).tolist() == [7, 8]  # the readable images, as without the bomb


def test_predict_names_the_too_large_image(tmp_path, cli):
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 30000, 30000)
    model = Path(__file__).resolve().parent / "data" / "tiny_cnn_int8.tflite"
    proc = cli("predict", str(model), str(bomb))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "image too large" in errors[0] and "900000000 pixels" in errors[0], proc.stderr


class _CountingGzip(gzip.GzipFile):
    """gzip.GzipFile that adds up the decompressed bytes handed out."""

    total = 0

    def read(self, size=-1):
        chunk = super().read(size)
        type(self).total += len(chunk)
        return chunk


def _read_counting(path: Path, monkeypatch) -> int:
    _CountingGzip.total = 0
    monkeypatch.setattr(data.gzip, "open", lambda p, mode="rb": _CountingGzip(p, mode))
    with pytest.raises(EdgecnnError) as err:
        data.read_idx(path)
    assert "\n" not in str(err.value)
    return _CountingGzip.total, str(err.value)


def test_read_idx_stops_at_what_the_header_declares(tmp_path, monkeypatch):
    # a valid header for 10x10 bytes, then 64 MiB of zeros (64 KiB compressed)
    bomb = tmp_path / "bomb-idx3-ubyte.gz"
    with gzip.open(bomb, "wb") as fh:
        fh.write(bytes([0, 0, 8, 2]) + (10).to_bytes(4, "big") * 2)
        zeros = bytes(1 << 20)
        for _ in range(64):
            fh.write(zeros)
    assert bomb.stat().st_size < 1 << 20
    read, message = _read_counting(bomb, monkeypatch)
    assert read == 4 + 8 + 100 + 1
    assert message.endswith("idx data is more than 100 bytes, dims [10, 10] need 100")


def test_read_idx_refuses_huge_dims_before_reading_data(tmp_path, monkeypatch):
    huge = tmp_path / "huge-idx3-ubyte.gz"
    with gzip.open(huge, "wb") as fh:
        fh.write(bytes([0, 0, 8, 3]) + (100000).to_bytes(4, "big") + (1000).to_bytes(4, "big") * 2)
        fh.write(bytes(1000))
    read, message = _read_counting(huge, monkeypatch)
    assert read == 4 + 12 and "declare 100000000000 bytes, more than the 4 GiB edgecnn reads" in message


def test_read_idx_still_reads_a_good_file(tmp_path):
    good = tmp_path / "good-idx3-ubyte.gz"
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    with gzip.open(good, "wb") as fh:
        fh.write(bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes())
    np.testing.assert_array_equal(data.read_idx(good), array)
