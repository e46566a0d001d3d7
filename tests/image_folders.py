"""Image folders (one sub-folder of PNGs per class) cut from Fashion-MNIST, for tests of user data."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def fashion_folder(root: Path, classes: list[int], per_class: int, size: int, *, rgb: bool = True,
                   split: str = "test", offset: int = 0) -> Path:
    """``per_class`` Fashion-MNIST images of each class in ``classes`` (from ``split``, skipping ``offset``
    per class), resized bilinearly to ``size`` px, written as grey or RGB PNGs under ``root/<label>/``."""
    from PIL import Image

    from edgecnn.data import load_dataset

    ds = load_dataset("fashion_mnist", None, seed=0)
    x, y = (ds.x_test, ds.y_test) if split == "test" else (ds.x_train, ds.y_train)
    for c in classes:
        folder = root / ds.labels[c].replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        for i in np.where(y == c)[0][offset:offset + per_class]:
            image = Image.fromarray(x[i][..., 0]).resize((size, size), Image.BILINEAR)
            (image.convert("RGB") if rgb else image).save(folder / f"{i}.png")
    return root
