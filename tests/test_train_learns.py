"""edgecnn.train learns: a small budget of real Fashion-MNIST images gets a model far above chance."""
from __future__ import annotations

import pytest

from edgecnn import data

pytestmark = [pytest.mark.slow, pytest.mark.tf]

CHANCE = 0.10            # 10 balanced classes
# LeNet-5, 600 images (480 train / 120 test), 8 epochs: 0.67, 0.73 and 0.78 test accuracy with seeds 0-2
# here, 10-21 s each on 2 loaded cores. 0.50 is 4 standard errors below the lowest (n=120) and 15 above
# what a model at chance scores (0.10 +- 0.027).
LEARNED = 0.50


def test_lenet5_reaches_well_above_chance_on_600_real_images(tmp_path):
    pytest.importorskip("tensorflow")
    if data.find_fashion_mnist() is None:
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    from edgecnn.train import train

    result = train("lenet5", "fashion_mnist", epochs=8, batch_size=32, limit=600, seed=0, runs_root=tmp_path,
                   verbose=False)
    from edgecnn.preprocess import PreprocessSpec

    spec = PreprocessSpec.load(result.run_dir / "preprocess.json")
    held_out = len(data.load_dataset("fashion_mnist", spec, seed=0, limit=600).x_test)
    assert held_out >= 100
    assert result.metrics["test_accuracy"] >= LEARNED > 3 * CHANCE, result.metrics
