"""Data stage (SPEC §1): the real on-disk formats, checksums, downloads and splits, on tiny files."""
from __future__ import annotations

import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from fixtures.datafiles import (
    CIFAR_NAMES,
    CIFAR_TARBALL,
    make_cifar10_tarball,
    make_medmnist_npz,
    make_svhn_mats,
    md5_of,
)
from torchvision.datasets import utils as tv_utils

from prestorepro.data import DATASETS, DataError, download_dataset, prepare_dataset
from prestorepro.io import sha256_file

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to download fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(tv_utils, "download_url", refuse)
    monkeypatch.setattr("urllib.request.urlopen", refuse)


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    path, expected = make_cifar10_tarball(root / "cifar10", 10, 3, np.random.default_rng(0))
    return root, path, expected, {CIFAR_TARBALL: md5_of(path)}


@pytest.fixture(scope="module")
def svhn(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    paths, expected = make_svhn_mats(root / "svhn", 10, 3, np.random.default_rng(1))
    return root, paths, expected, {p.name: md5_of(p) for p in paths}


def _as_lookup(x: np.ndarray, y: np.ndarray) -> dict[bytes, int]:
    return {img.tobytes(): int(lab) for img, lab in zip(x, y)}


def test_registry_holds_the_spec_datasets():
    assert DATASETS.names() == sorted(["cifar10", "svhn", "pathmnist", "dermamnist", "digits", "synthetic", "npz", "standin"])


def test_unknown_dataset_and_option_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="valid names are: cifar10"):
        prepare_dataset("cifar100", tmp_path, 0)
    with pytest.raises(DataError, match="unknown bogus"):
        prepare_dataset("digits", tmp_path, 0, bogus=1)


# ----------------------------------------------------------------------------- CIFAR-10


def test_cifar10_loads_official_tarball_with_stratified_val(cifar, no_network):
    root, path, expected, checksums = cifar
    assert download_dataset("cifar10", root, allow_download=False, checksums=checksums) == [path]
    p = prepare_dataset("cifar10", root, seed=3, checksums=checksums)
    assert p.train_x.shape == (90, 32, 32, 3) and p.val_x.shape == (10, 32, 32, 3)
    assert p.test_x.dtype == np.uint8 and p.train_y.dtype == np.int64 and p.num_classes == 10
    # Official test set untouched and in order; pixels in NHWC exactly as written (channel-major rows).
    np.testing.assert_array_equal(p.test_x, expected["test_x"])
    np.testing.assert_array_equal(p.test_y, expected["test_y"])
    # Train + val is the official train set: every image once, with its own label.
    truth = _as_lookup(expected["train_x"], expected["train_y"])
    got = _as_lookup(np.concatenate([p.train_x, p.val_x]), np.concatenate([p.train_y, p.val_y]))
    assert got == truth
    # Stratified 10%: one image per class in val.
    assert p.meta["class_counts"]["val"] == [1] * 10 and p.meta["class_counts"]["train"] == [9] * 10
    assert p.meta["split_sizes"] == {"train": 90, "val": 10, "test": 30}
    assert p.meta["label_names"] == CIFAR_NAMES
    assert p.meta["image_shape"] == [32, 32, 3] and p.meta["name"] == "cifar10"
    assert p.meta["sources"][0]["sha256"] == sha256_file(path)


def test_cifar10_val_split_is_seeded(cifar, no_network):
    root, _, _, checksums = cifar
    a = prepare_dataset("cifar10", root, seed=0, checksums=checksums)
    b = prepare_dataset("cifar10", root, seed=0, checksums=checksums)
    c = prepare_dataset("cifar10", root, seed=1, checksums=checksums)
    np.testing.assert_array_equal(a.val_x, b.val_x)
    np.testing.assert_array_equal(a.train_y, b.train_y)
    assert not np.array_equal(a.val_x, c.val_x)


def test_existing_file_with_wrong_checksum_names_expected_and_actual(cifar, no_network):
    root, path, _, checksums = cifar
    official = "c58f30108f718f92721af3b95e74349a"  # the fixture is not the official file
    with pytest.raises(DataError) as err:
        download_dataset("cifar10", root, allow_download=False)
    msg = str(err.value)
    assert official in msg and checksums[CIFAR_TARBALL] in msg
    assert str(path) in msg and "delete it and re-run" in msg.lower() and CIFAR_URL in msg


def test_truncated_tarball_fails_checksum(cifar, tmp_path, no_network):
    _, path, _, checksums = cifar
    (tmp_path / "cifar10").mkdir()
    cut = tmp_path / "cifar10" / CIFAR_TARBALL
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="checksum mismatch") as err:
        prepare_dataset("cifar10", tmp_path, 0, checksums=checksums)
    assert checksums[CIFAR_TARBALL] in str(err.value) and md5_of(cut) in str(err.value)


def test_truncated_tarball_with_matching_checksum_is_reported_as_corrupt(cifar, tmp_path, no_network):
    # A table that lists the md5 of a broken file gets past the checksum; the reader must still refuse it.
    _, path, _, _ = cifar
    (tmp_path / "cifar10").mkdir()
    cut = tmp_path / "cifar10" / CIFAR_TARBALL
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated or corrupt") as err:
        prepare_dataset("cifar10", tmp_path, 0, checksums={CIFAR_TARBALL: md5_of(cut)})
    assert str(cut) in str(err.value)


# ----------------------------------------------------------------------------- downloads


def test_offline_and_missing_names_file_url_and_destination(tmp_path, no_network):
    with pytest.raises(DataError) as err:
        download_dataset("svhn", tmp_path, allow_download=False)
    msg = str(err.value)
    for name in ("train_32x32.mat", "test_32x32.mat"):
        assert name in msg
        assert f"http://ufldl.stanford.edu/housenumbers/{name}" in msg
        assert str(tmp_path / "svhn" / name) in msg


def test_prepare_never_downloads(tmp_path, no_network):
    with pytest.raises(DataError) as err:
        prepare_dataset("cifar10", tmp_path, 0)
    assert CIFAR_TARBALL in str(err.value) and CIFAR_URL in str(err.value)
    assert str(tmp_path / "cifar10" / CIFAR_TARBALL) in str(err.value)


def test_failed_download_names_file_url_and_destination_and_leaves_nothing(tmp_path, monkeypatch):
    def offline(url, root, filename=None, md5=None, max_redirect_hops=3):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tv_utils, "download_url", offline)
    with pytest.raises(DataError) as err:
        download_dataset("cifar10", tmp_path, allow_download=True)
    msg = str(err.value)
    assert CIFAR_TARBALL in msg and CIFAR_URL in msg and str(tmp_path / "cifar10" / CIFAR_TARBALL) in msg
    assert list((tmp_path / "cifar10").iterdir()) == []


def test_download_is_verified_then_reused_without_network(cifar, tmp_path, monkeypatch):
    _, source, _, checksums = cifar
    calls = []

    def fake(url, root, filename=None, md5=None, max_redirect_hops=3):
        calls.append(url)
        shutil.copy(source, Path(root) / filename)

    monkeypatch.setattr(tv_utils, "download_url", fake)
    paths = download_dataset("cifar10", tmp_path, checksums=checksums)
    assert paths == [tmp_path / "cifar10" / CIFAR_TARBALL] and calls == [CIFAR_URL]
    assert md5_of(paths[0]) == checksums[CIFAR_TARBALL]
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir()) == [CIFAR_TARBALL]
    download_dataset("cifar10", tmp_path, checksums=checksums)
    assert calls == [CIFAR_URL]  # second call: the valid file is used, nothing fetched


def test_corrupt_download_is_not_kept(tmp_path, monkeypatch):
    def fake(url, root, filename=None, md5=None, max_redirect_hops=3):
        (Path(root) / filename).write_bytes(b"<html>quota exceeded</html>")

    monkeypatch.setattr(tv_utils, "download_url", fake)
    with pytest.raises(DataError, match="c58f30108f718f92721af3b95e74349a") as err:
        download_dataset("cifar10", tmp_path)
    assert str(tmp_path / "cifar10" / CIFAR_TARBALL) in str(err.value)
    assert list((tmp_path / "cifar10").iterdir()) == []


def test_embedded_datasets_need_no_files(tmp_path, no_network):
    assert download_dataset("digits", tmp_path) == []
    assert download_dataset("synthetic", tmp_path, allow_download=False) == []


# ----------------------------------------------------------------------------- SVHN


def test_svhn_mat_files_map_label_10_to_digit_0(svhn, no_network):
    root, paths, expected, checksums = svhn
    assert download_dataset("svhn", root, allow_download=False, checksums=checksums) == paths
    p = prepare_dataset("svhn", root, seed=0, checksums=checksums)
    np.testing.assert_array_equal(p.test_x, expected["test_x"])
    np.testing.assert_array_equal(p.test_y, expected["test_y"])
    assert set(np.unique(p.test_y)) == set(range(10))
    truth = _as_lookup(expected["train_x"], expected["train_y"])
    assert _as_lookup(np.concatenate([p.train_x, p.val_x]), np.concatenate([p.train_y, p.val_y])) == truth
    assert p.meta["class_counts"]["val"] == [1] * 10
    assert [s["file"] for s in p.meta["sources"]] == ["train_32x32.mat", "test_32x32.mat"]
    assert p.train_x.shape[1:] == (32, 32, 3) and p.train_y.dtype == np.int64


def test_svhn_one_file_with_wrong_checksum(svhn, no_network):
    root, paths, _, checksums = svhn
    bad = dict(checksums, **{"test_32x32.mat": "0" * 32})
    with pytest.raises(DataError, match="test_32x32.mat") as err:
        prepare_dataset("svhn", root, 0, checksums=bad)
    assert "0" * 32 in str(err.value) and checksums["test_32x32.mat"] in str(err.value)


# ----------------------------------------------------------------------------- MedMNIST


@pytest.mark.parametrize("flag,num_classes", [("pathmnist", 9), ("dermamnist", 7)])
def test_medmnist_npz_official_splits(tmp_path, no_network, flag, num_classes):
    sizes = {"train": 3 * num_classes, "val": num_classes, "test": 2 * num_classes}
    path, arrays = make_medmnist_npz(tmp_path / flag / f"{flag}.npz", sizes, num_classes, np.random.default_rng(2))
    checksums = {f"{flag}.npz": md5_of(path)}
    p = prepare_dataset(flag, tmp_path, seed=0, checksums=checksums)
    for split in ("train", "val", "test"):
        x, y = p.split(split)
        np.testing.assert_array_equal(x, arrays[f"{split}_images"])
        np.testing.assert_array_equal(y, arrays[f"{split}_labels"][:, 0])
        assert x.shape[1:] == (28, 28, 3) and y.dtype == np.int64 and y.ndim == 1
    assert p.num_classes == num_classes and p.meta["split_sizes"] == sizes
    # Without the fixture's checksum the official md5 (from medmnist.INFO) is enforced.
    import medmnist

    with pytest.raises(DataError, match=medmnist.INFO[flag]["MD5"]):
        prepare_dataset(flag, tmp_path, seed=0)


def test_medmnist_offline_error_uses_medmnist_url(tmp_path, no_network):
    import medmnist

    with pytest.raises(DataError) as err:
        download_dataset("dermamnist", tmp_path, allow_download=False)
    msg = str(err.value)
    assert "dermamnist.npz" in msg and medmnist.INFO["dermamnist"]["url"] in msg
    assert str(tmp_path / "dermamnist" / "dermamnist.npz") in msg


def test_medmnist_labels_beyond_the_official_classes_are_refused(tmp_path, no_network):
    path, _ = make_medmnist_npz(tmp_path / "dermamnist" / "dermamnist.npz",
                                {"train": 9, "val": 9, "test": 9}, 9, np.random.default_rng(3))
    with pytest.raises(DataError, match="train_labels has label 8 but the dataset has 7 classes"):
        prepare_dataset("dermamnist", tmp_path, 0, checksums={"dermamnist.npz": md5_of(path)})
