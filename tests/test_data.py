"""edgecnn.data: real Fashion-MNIST files, digits, image folders, the batched adapt path (no TensorFlow)."""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

from edgecnn import data
from edgecnn.errors import EdgecnnError
from edgecnn.preprocess import PreprocessSpec, adapt_batch, adapt_image

SHAPES = Path(__file__).resolve().parent / "data" / "images" / "shapes"
ONE_CLASS = Path(__file__).resolve().parent / "data" / "images" / "one_class"
HAVE_FASHION = data.find_fashion_mnist() is not None
needs_fashion = pytest.mark.skipif(not HAVE_FASHION, reason="Fashion-MNIST idx files not installed "
                                   "(apt-get install dataset-fashion-mnist)")


# ---- Fashion-MNIST ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fashion() -> data.Dataset:
    return data.load_dataset("fashion_mnist", seed=0)


@needs_fashion
def test_fashion_mnist_native_splits(fashion):
    assert fashion.labels[0] == "T-shirt/top" and fashion.labels[9] == "Ankle boot"
    assert fashion.x_train.shape == (54000, 28, 28, 1) and fashion.x_train.dtype == np.uint8
    assert fashion.x_val.shape == (6000, 28, 28, 1)
    assert fashion.x_test.shape == (10000, 28, 28, 1)
    for y in (fashion.y_train, fashion.y_val, fashion.y_test):
        assert y.dtype == np.int64 and y.min() == 0 and y.max() == 9
    # Stratified validation split: 600 of each class; the official test set has 1000 of each.
    assert np.bincount(fashion.y_val).tolist() == [600] * 10
    assert np.bincount(fashion.y_test).tolist() == [1000] * 10
    # Real images, not zeros: the mean intensity of Fashion-MNIST is about 73/255.
    assert 60 < fashion.x_test.mean() < 85
    # Train and validation are disjoint parts of the official 60k: no image in both (as bytes).
    train_keys = {row.tobytes() for row in fashion.x_train[:2000]}
    assert not any(row.tobytes() in train_keys for row in fashion.x_val[:2000])


@needs_fashion
def test_fashion_mnist_split_is_deterministic_by_seed(fashion):
    again = data.load_dataset("fashion_mnist", seed=0, limit=500)
    other = data.load_dataset("fashion_mnist", seed=1, limit=500)
    same = data.load_dataset("fashion_mnist", seed=0, limit=500)
    assert again.x_train.shape == (500, 28, 28, 1) and again.x_val.shape == (100, 28, 28, 1)
    assert again.x_test.shape == (100, 28, 28, 1)
    assert np.array_equal(again.x_train, same.x_train) and np.array_equal(again.y_test, same.y_test)
    assert not np.array_equal(again.x_train, other.x_train)
    assert again.source_info["limit"] == 500 and again.source_info["seed"] == 0


@needs_fashion
def test_fashion_mnist_adapted_to_spec_pads_28_to_32(fashion):
    spec = PreprocessSpec(32, 32, 3, resize="pad")
    ds = data.load_dataset("fashion_mnist", spec, limit=50)
    assert ds.x_train.shape == (50, 32, 32, 3) and ds.x_train.dtype == np.uint8
    native = data.load_dataset("fashion_mnist", limit=50)
    # Pad = 2-pixel black border, original pixels in the middle, grey repeated to 3 channels.
    assert np.array_equal(ds.x_train[:, 2:30, 2:30, 0], native.x_train[..., 0])
    assert np.array_equal(ds.x_train[..., 0], ds.x_train[..., 2])
    assert ds.x_train[:, :2].max() == 0 and ds.x_train[:, :, 30:].max() == 0
    assert ds.source_info["resize"] == "pad" and ds.source_info["adapted_to"] == [32, 32, 3]


def _write_idx(path: Path, array: np.ndarray, magic_dtype: int = 0x08) -> None:
    header = bytes([0, 0, magic_dtype, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def _fake_fashion(folder: Path, n_train: int = 40, n_test: int = 20) -> None:
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True, exist_ok=True)
    _write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    _write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(n_train) % 10)
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n_test) % 10)


def test_edgecnn_data_env_is_searched_first(tmp_path, monkeypatch):
    _fake_fashion(tmp_path / "fashion-mnist")
    monkeypatch.setenv("EDGECNN_DATA", str(tmp_path))
    assert data.find_fashion_mnist() == tmp_path / "fashion-mnist"
    ds = data.load_dataset("fashion_mnist", val_fraction=0.25)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (30, 10, 20)
    assert ds.source_info["path"] == str(tmp_path / "fashion-mnist")


def test_corrupt_idx_files_give_one_line_errors(tmp_path):
    bad_magic = tmp_path / "bad.gz"
    _write_idx(bad_magic, np.zeros((2, 3)), magic_dtype=0x0D)  # 0x0D = float data, not uint8
    with pytest.raises(EdgecnnError, match="bad magic"):
        data.read_idx(bad_magic)
    truncated = tmp_path / "short.gz"
    with gzip.open(truncated, "wb") as fh:
        fh.write(bytes([0, 0, 8, 3]) + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\0" * 100)
    with pytest.raises(EdgecnnError, match="dims"):
        data.read_idx(truncated)
    not_gzip = tmp_path / "garbage.gz"
    not_gzip.write_bytes(b"definitely not gzip data")
    with pytest.raises(EdgecnnError, match="corrupt") as info:
        data.read_idx(not_gzip)
    assert "\n" not in str(info.value)


def test_missing_fashion_mnist_offline_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECNN_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(data, "SYSTEM_DATA_DIRS", [tmp_path / "no-system-copy"])
    monkeypatch.setenv("EDGECNN_OFFLINE", "1")
    with pytest.raises(EdgecnnError) as info:
        data.load_dataset("fashion_mnist")
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message and "EDGECNN_DATA" in message
    assert "\n" not in message


def test_failed_download_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("EDGECNN_DATA", raising=False)
    monkeypatch.delenv("EDGECNN_OFFLINE", raising=False)
    monkeypatch.setattr(data, "SYSTEM_DATA_DIRS", [])

    def offline(url: str, dest: Path) -> None:  # what urllib raises without a network, minus the wait
        raise OSError("network is unreachable")

    monkeypatch.setattr(data, "_fetch", offline)
    with pytest.raises(EdgecnnError, match="download failed .*apt-get install dataset-fashion-mnist"):
        data.load_dataset("fashion_mnist")
    assert "downloading" in capsys.readouterr().err
    target = tmp_path / ".edgecnn" / "datasets" / "fashion-mnist"
    assert list(target.iterdir()) == []  # no half-downloaded files, no staging folder


def test_download_path_validates_and_installs_atomically(tmp_path, monkeypatch):
    """The last-resort download, fed from a local 'mirror' instead of the web."""
    mirror = tmp_path / "mirror"
    _fake_fashion(mirror)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EDGECNN_DATA", raising=False)
    monkeypatch.delenv("EDGECNN_OFFLINE", raising=False)
    monkeypatch.setattr(data, "SYSTEM_DATA_DIRS", [])
    monkeypatch.setattr(data, "_fetch", lambda url, dest: dest.write_bytes((mirror / url.rsplit("/", 1)[1]).read_bytes()))
    ds = data.load_dataset("fashion_mnist")
    target = tmp_path / "home" / ".edgecnn" / "datasets" / "fashion-mnist"
    assert sorted(p.name for p in target.iterdir()) == sorted(data.FASHION_MNIST_FILES.values())
    assert len(ds.x_test) == 20


# ---- digits ----------------------------------------------------------------------------------------

def test_digits_scaled_exactly_and_split_stratified():
    ds = data.load_dataset("digits", seed=0)
    total = len(ds.x_train) + len(ds.x_val) + len(ds.x_test)
    assert total == 1797 and ds.x_train.shape[1:] == (8, 8, 1) and ds.x_train.dtype == np.uint8
    assert 260 <= len(ds.x_test) <= 280 and 260 <= len(ds.x_val) <= 280
    assert set(np.unique(ds.y_test)) == set(range(10))
    from sklearn.datasets import load_digits

    values = np.unique(np.concatenate([ds.x_train.ravel(), ds.x_val.ravel(), ds.x_test.ravel()]))
    expected = np.unique((np.arange(17) * 255 + 8) // 16)
    assert set(values.tolist()) <= set(expected.tolist()) and values.max() == 255 and values.min() == 0
    # Same total pixel mass as sklearn's 0..16 images, mapped value by value.
    raw = load_digits().images.astype(np.int64)
    assert sum(int(x.astype(np.int64).sum()) for x in (ds.x_train, ds.x_val, ds.x_test)) == int(((raw * 255 + 8) // 16).sum())
    again = data.load_dataset("digits", seed=0)
    assert np.array_equal(ds.x_test, again.x_test)
    assert not np.array_equal(ds.y_train, data.load_dataset("digits", seed=5).y_train)


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes `from sklearn.datasets import` fail
    with pytest.raises(EdgecnnError, match=r"\[train\] extra"):
        data.load_dataset("digits")


# ---- image folders ---------------------------------------------------------------------------------

def test_image_folder_loads_skips_broken_and_warns(capsys):
    spec = PreprocessSpec(12, 12, 3, resize="bilinear")
    ds = data.load_dataset(SHAPES, spec, seed=0)
    err = capsys.readouterr().err
    assert "skipped 1 unreadable image" in err and "broken.png" in err
    assert ds.labels == ["circle", "square"] and ds.name == "shapes"
    # 7 circles (6 png + 1 .JPG) and 8 readable squares (6 png + grey + alpha); notes.txt is not an image.
    ys = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    assert np.bincount(ys).tolist() == [7, 8]
    assert set(ds.y_test.tolist()) == {0, 1} and set(ds.y_val.tolist()) == {0, 1}
    assert ds.x_train.shape[1:] == (12, 12, 3) and ds.x_train.dtype == np.uint8
    assert ds.source_info["skipped"] == 1 and ds.source_info["resize"] == "bilinear"
    # Deterministic by seed.
    again = data.load_dataset(SHAPES, spec, seed=0)
    assert np.array_equal(ds.x_train, again.x_train) and np.array_equal(ds.y_test, again.y_test)


def test_image_folder_matches_adapt_image_per_file():
    spec = PreprocessSpec(10, 14, 1, resize="pad")
    ds = data.load_dataset(SHAPES, spec, seed=0)
    from edgecnn.preprocess import load_image

    expected = {adapt_image(load_image(p), spec).tobytes() for p in (SHAPES / "square").glob("s*.png")}
    got = {img.tobytes() for x in (ds.x_train, ds.x_val, ds.x_test) for img in x}
    assert expected <= got


def test_describe_source():
    info = data.describe_source(SHAPES)
    assert info.kind == "folder" and info.channels == 3 and info.size is None
    assert info.labels == ["circle", "square"] and info.default_resize == "bilinear"
    assert data.describe_source("fashion_mnist").default_resize == "pad"
    assert data.describe_source("digits").size == (8, 8)


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "no such folder"),
    (lambda p: (p / "file.png").write_bytes(b"x") and p / "file.png", "not a folder"),
    (lambda p: p, "no class sub-folders"),
    (lambda p: ((p / "a").mkdir(), (p / "b").mkdir(), (p / "a" / "x.txt").write_text("x"), p)[-1],
     "no .jpg/.jpeg/.png images"),
    (lambda p: ONE_CLASS, "only one class"),
])
def test_bad_folders_are_one_line_errors(tmp_path, make, message):
    with pytest.raises(EdgecnnError, match=message) as info:
        data.load_dataset(make(tmp_path), PreprocessSpec(8, 8, 1))
    assert "\n" not in str(info.value)


def test_folder_of_unreadable_images_only(tmp_path, capsys):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(EdgecnnError, match="none of the images could be read"):
        data.load_dataset(tmp_path, PreprocessSpec(8, 8, 1))
    assert "skipped 2 unreadable" in capsys.readouterr().err


# ---- batched adapt is adapt_image, byte for byte ---------------------------------------------------

@pytest.mark.parametrize("resize", ["pad", "bilinear", "nearest"])
@pytest.mark.parametrize("src_shape", [(28, 28, 1), (8, 8, 1), (40, 30, 3), (17, 9, 4), (32, 32, 2)])
@pytest.mark.parametrize("dst", [(32, 32, 1), (32, 32, 3), (12, 20, 3)])
def test_adapt_batch_equals_adapt_image(resize, src_shape, dst):
    rng = np.random.default_rng(sum(src_shape) + sum(dst))
    batch = rng.integers(0, 256, (5, *src_shape), dtype=np.uint8)
    spec = PreprocessSpec(*dst, resize=resize)
    fast = adapt_batch(batch, spec, chunk=2)  # several chunks
    slow = np.stack([adapt_image(img, spec) for img in batch])
    assert fast.dtype == np.uint8 and fast.shape == (5, *dst)
    assert np.array_equal(fast, slow)


def test_adapt_batch_of_nothing_and_of_2d_images():
    spec = PreprocessSpec(4, 4, 1, resize="nearest")
    assert adapt_batch(np.zeros((0, 8, 8), np.uint8), spec).shape == (0, 4, 4, 1)
    grey = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    assert np.array_equal(adapt_batch(grey, spec), np.stack([adapt_image(g, spec) for g in grey]))
    with pytest.raises(EdgecnnError, match="uint8"):
        adapt_batch(grey.astype(np.float32), spec)


# ---- calibration samples ---------------------------------------------------------------------------

def test_calibration_samples_come_from_train_split():
    ds = data.load_dataset("digits", PreprocessSpec(16, 16, 1, resize="nearest"), seed=0)
    cal = data.calibration_samples(ds, 50, seed=1)
    assert cal.shape == (50, 16, 16, 1) and cal.dtype == np.uint8
    train_rows = {img.tobytes() for img in ds.x_train}
    assert all(img.tobytes() in train_rows for img in cal)
    assert np.array_equal(cal, data.calibration_samples(ds, 50, seed=1))
    assert len(data.calibration_samples(ds, 10**6)) == len(ds.x_train)
    with pytest.raises(EdgecnnError):
        data.calibration_samples(ds, 0)
