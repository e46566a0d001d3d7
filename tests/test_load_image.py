"""edgecnn.preprocess.load_image applies the EXIF orientation (TF-free), as the Android demo does.

Expected pixels are written out by hand from the EXIF 2.3 definition of the Orientation tag (which stored
row/column is shown at the top/left), not computed by the code under test or by Pillow.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgecnn.preprocess import load_image

ORIENTATION = 0x0112
A, B, C, D, E, F = 10, 20, 30, 40, 50, 60
STORED = [[A, B, C],
          [D, E, F]]  # 2 rows x 3 columns as written to the file
# What a viewer shows for each tag value (EXIF 2.3, table "Orientation": 0th row / 0th column).
SHOWN = {
    1: [[A, B, C], [D, E, F]],            # top / left: as stored
    2: [[C, B, A], [F, E, D]],            # top / right: mirrored left-right
    3: [[F, E, D], [C, B, A]],            # bottom / right: turned 180 degrees
    4: [[D, E, F], [A, B, C]],            # bottom / left: mirrored top-bottom
    5: [[A, D], [B, E], [C, F]],          # left / top: transposed
    6: [[D, A], [E, B], [F, C]],          # right / top: turned 90 degrees clockwise (a phone held upright)
    7: [[F, C], [E, B], [D, A]],          # right / bottom: transversed
    8: [[C, F], [B, E], [A, D]],          # left / bottom: turned 90 degrees counter-clockwise
}


def _png_with_orientation(path, orientation: int | None, mode: str = "L"):
    im = Image.fromarray(np.array(STORED, dtype=np.uint8), "L").convert(mode)
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    im.save(path, format="PNG", exif=exif.tobytes())
    return path


@pytest.mark.parametrize("orientation", sorted(SHOWN))
def test_exif_orientation_is_applied(tmp_path, orientation):
    got = load_image(_png_with_orientation(tmp_path / "x.png", orientation))
    assert got.dtype == np.uint8
    assert got[:, :, 0].tolist() == SHOWN[orientation]


def test_rgb_turned_keeps_its_channels(tmp_path):
    got = load_image(_png_with_orientation(tmp_path / "x.png", 6, mode="RGB"))
    assert got.shape == (3, 2, 3)
    assert got[:, :, 1].tolist() == SHOWN[6]


@pytest.mark.parametrize("orientation", [None, 0, 9, 65535])
def test_missing_or_unknown_orientation_leaves_pixels_as_stored(tmp_path, orientation):
    got = load_image(_png_with_orientation(tmp_path / "x.png", orientation))
    assert got[:, :, 0].tolist() == STORED


def test_broken_exif_block_reads_as_stored(tmp_path, recwarn):
    path = tmp_path / "x.png"
    Image.fromarray(np.array(STORED, dtype=np.uint8), "L").save(path, format="PNG", exif=b"Exif\x00\x00MM\x00*garbage")
    assert load_image(path)[:, :, 0].tolist() == STORED
    assert not [w for w in recwarn if "EXIF" in str(w.message)], "no Pillow warning reaches the user"
