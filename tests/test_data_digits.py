"""scikit-learn digits (SPEC §1): 60/20/20 seeded stratified, 8x8 -> 32x32x3 uint8 by bilinear upsampling."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from prestorepro.data import prepare_dataset
from prestorepro.data.datasets import upsample_digits


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return prepare_dataset("digits", tmp_path_factory.mktemp("root"), seed=0)


def test_digits_split_sizes_and_format(digits):
    assert (len(digits.train_y), len(digits.val_y), len(digits.test_y)) == (1079, 359, 359)
    from prestorepro.sizes import PREPARED_SIZES

    assert PREPARED_SIZES["digits"] == (1079, 359, 359)  # what the config check assumes before preparing
    for split in ("train", "val", "test"):
        x, y = digits.split(split)
        assert x.shape[1:] == (32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
        np.testing.assert_array_equal(x[..., 0], x[..., 2])
    assert digits.train_x.max() == 255 and digits.train_x.min() == 0
    assert digits.num_classes == 10


def test_digits_split_is_stratified(digits):
    total = np.bincount(load_digits().target, minlength=10)
    for split, frac in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        counts = np.array(digits.meta["class_counts"][split])
        assert np.all(np.abs(counts - frac * total) <= 1), (split, counts)
    assert sum(sum(c) for c in digits.meta["class_counts"].values()) == 1797


def test_digits_split_is_seeded(digits, tmp_path):
    again = prepare_dataset("digits", tmp_path, seed=0)
    other = prepare_dataset("digits", tmp_path, seed=1)
    np.testing.assert_array_equal(again.val_x, digits.val_x)
    assert not np.array_equal(other.val_x, digits.val_x)


def test_every_image_comes_from_one_digit_with_its_label(digits):
    # Each prepared image is exactly the upsampled version of one source digit, used once, with its label.
    src = load_digits()
    source_of = {img.tobytes(): i for i, img in enumerate(upsample_digits(src.images))}
    assert len(source_of) == 1797
    x = np.concatenate([digits.train_x, digits.val_x, digits.test_x])[..., 0]
    index = np.array([source_of[img.tobytes()] for img in x])
    assert len(np.unique(index)) == 1797
    np.testing.assert_array_equal(np.concatenate([digits.train_y, digits.val_y, digits.test_y]), src.target[index])


def test_bilinear_upsampling_golden_values():
    # A horizontal ramp 0, 2, ..., 14 (of 16). With half-pixel centres, output column j samples the
    # input at s = (j + 0.5) / 4 - 0.5, clamped to [0, 7]; bilinear interpolation of a ramp is the ramp.
    ramp = np.tile(np.arange(8) * 2.0, (8, 1))[None]
    out = upsample_digits(ramp)
    assert out.shape == (1, 32, 32) and out.dtype == np.uint8
    s = np.clip((np.arange(32) + 0.5) / 4 - 0.5, 0, 7)
    np.testing.assert_array_equal(out[0, 5], np.rint(2 * s * 255 / 16).astype(np.uint8))
    np.testing.assert_array_equal(upsample_digits(np.full((2, 8, 8), 16.0)), 255)
