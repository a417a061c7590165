"""Bring-your-own npz in the MedMNIST layout (SPEC §1): loading and every validation error."""
from __future__ import annotations

import numpy as np
import pytest
from fixtures.datafiles import medmnist_arrays

from prestorepro.data import DataError, download_dataset, prepare_dataset

SIZES = {"train": 12, "val": 6, "test": 6}


def _write(tmp_path, arrays, name="mine.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.fixture
def arrays():
    return medmnist_arrays(SIZES, 3, np.random.default_rng(0), channels=1)


def test_grayscale_npz_is_replicated_to_three_channels(tmp_path, arrays):
    path = _write(tmp_path, arrays)
    assert download_dataset("npz", tmp_path, allow_download=False, path=path) == [path]
    p = prepare_dataset("npz", tmp_path, seed=0, path=path)
    assert p.num_classes == 3  # inferred: 1 + largest label
    for split in ("train", "val", "test"):
        x, y = p.split(split)
        assert x.shape == (SIZES[split], 28, 28, 3) and x.dtype == np.uint8
        for c in range(3):
            np.testing.assert_array_equal(x[..., c], arrays[f"{split}_images"])
        np.testing.assert_array_equal(y, arrays[f"{split}_labels"][:, 0].astype(np.int64))
    assert p.meta["class_counts"] == {"train": [4, 4, 4], "val": [2, 2, 2], "test": [2, 2, 2]}
    assert p.meta["sources"][0]["path"] == str(path)


def test_single_channel_axis_and_flat_labels_are_accepted(tmp_path, arrays):
    arrays = {k: (v[..., None] if k.endswith("images") else v[:, 0].astype(np.int32)) for k, v in arrays.items()}
    p = prepare_dataset("npz", tmp_path, seed=0, path=_write(tmp_path, arrays), num_classes=5)
    assert p.num_classes == 5 and p.train_x.shape == (12, 28, 28, 3) and p.train_y.dtype == np.int64


def _broken(arrays, key, value=None, drop=False):
    out = dict(arrays)
    if drop:
        del out[key]
    else:
        out[key] = value
    return out


@pytest.mark.parametrize(
    "change,expected",
    [
        (lambda a: _broken(a, "val_labels", drop=True), r"lacks key\(s\) val_labels"),
        (lambda a: _broken(a, "test_labels", a["test_labels"][:-1]), "test_images holds 6 images but test_labels holds 5"),
        (lambda a: _broken(a, "train_labels", a["train_labels"].astype(np.int64) - 1), "train_labels has negative labels"),
        (lambda a: _broken(a, "val_images", a["val_images"].astype(np.float32) / 255), "val_images has dtype float32"),
        (lambda a: _broken(a, "train_images", np.zeros((12, 28, 28, 2), np.uint8)), r"train_images has shape \(12, 28, 28, 2\)"),
        (lambda a: _broken(a, "train_labels", a["train_labels"].astype(np.float64)), "train_labels has dtype float64"),
        (lambda a: _broken(a, "test_labels", np.zeros((6, 4), np.uint8)), r"test_labels has shape \(6, 4\)"),
        (lambda a: _broken(a, "val_images", np.zeros((6, 32, 32), np.uint8)), r"val_images has images of size \(32, 32\)"),
        (lambda a: _broken(a, "test_images", np.zeros((0, 28, 28), np.uint8)), "test_images holds no images"),
        # labels must be 0..C-1, every class in train: one stray test label, gapped labels, a single class
        (lambda a: _broken(a, "test_labels", np.array([0, 1, 2, 0, 1, 1000])),
         r"largest label 1000 implies C = 1001 and class\(es\) 3, 4, 5, .* \(998 in all\) have no training example "
         r"\(labels 1000 occur only in val/test\)"),
        (lambda a: {**a, **{f"{s}_labels": a[f"{s}_labels"] * 100 for s in ("train", "val", "test")}},
         r"largest label 200 implies C = 201 and class\(es\) 1, 2, 3"),
        (lambda a: {**a, **{f"{s}_labels": np.zeros_like(a[f"{s}_labels"]) for s in ("train", "val", "test")}},
         "every label is 0, a single class"),
        (lambda a: _broken(a, "val_labels", np.array([0, 1, 2, 3, 0, 1])), r"class\(es\) 3 have no training example"),
        (lambda a: {**a, **{f"{s}_images": a[f"{s}_images"][:, :2, :2] for s in ("train", "val", "test")}},
         r"images are 2 x 2 pixels, below 8 x 8"),
    ],
)
def test_npz_validation_names_the_key_and_the_fix(tmp_path, arrays, change, expected):
    path = _write(tmp_path, change(arrays))
    with pytest.raises(DataError, match=expected) as err:
        download_dataset("npz", tmp_path, path=path)
    assert str(path) in str(err.value)
    with pytest.raises(DataError, match=expected):
        prepare_dataset("npz", tmp_path, 0, path=path)


def test_labels_out_of_range_for_given_num_classes(tmp_path, arrays):
    path = _write(tmp_path, arrays)
    with pytest.raises(DataError, match="train_labels has label 2 but the dataset has 2 classes"):
        prepare_dataset("npz", tmp_path, 0, path=path, num_classes=2)


def test_missing_path_and_unreadable_files(tmp_path, arrays):
    with pytest.raises(DataError, match="pass path="):
        prepare_dataset("npz", tmp_path, 0)
    with pytest.raises(DataError, match="does not exist"):
        prepare_dataset("npz", tmp_path, 0, path=tmp_path / "nope.npz")
    good = _write(tmp_path, arrays)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated") as err:
        prepare_dataset("npz", tmp_path, 0, path=cut)
    assert str(cut) in str(err.value)
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, **dict(arrays, train_labels=np.array([{"a": 1}] * 12, dtype=object)))
    with pytest.raises(DataError, match="Python objects"):
        prepare_dataset("npz", tmp_path, 0, path=pickled)


def test_k_and_leeway_of_a_bring_your_own_file_are_checked_when_it_is_prepared(tmp_path, arrays):
    # 12 training points cannot make K = 20 parts: refused by the prepare job with the config check's
    # message, before anything is written (embedding and training never start)
    import logging

    from prestorepro.config import ConfigError
    from prestorepro.jobs.data import prepare_data
    from prestorepro.jobs.specs import PrepareJob

    path = _write(tmp_path, arrays)
    ds = {"source": "npz", "path": str(path), "cut": "layer1", "k": 20, "init": "kmeans_pp", "leeway": 0,
          "epsilon": 0.0}
    out = tmp_path / "prepared" / "prepared.npz"
    with pytest.raises(ConfigError, match=r"config key datasets\.mine\.leeway / datasets\.mine\.k: K=20 parts "
                                          r"requested for only N=12"):
        prepare_data(PrepareJob(dataset_config=ds, data_root=str(tmp_path), split_seed=0, synthetic_n=0,
                                out_npz=str(out), dataset="mine"), logging.getLogger("t"))
    assert not out.exists() and not out.with_suffix(".meta.json").exists()
    prepare_data(PrepareJob(dataset_config=dict(ds, k=3, leeway=1), data_root=str(tmp_path), split_seed=0,
                            synthetic_n=0, out_npz=str(out), dataset="mine"), logging.getLogger("t"))
    assert out.exists()


def test_a_folder_or_a_link_to_a_text_file_given_as_the_npz_path_is_named_for_what_it_is(tmp_path):
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(DataError, match=r"folder\.npz is a folder, not a file"):
        prepare_dataset("npz", tmp_path, 0, path=tmp_path / "folder.npz")
    (tmp_path / "notes.txt").write_text("labels are in the other file\n")
    (tmp_path / "link.npz").symlink_to(tmp_path / "notes.txt")
    with pytest.raises(DataError, match=r"link\.npz -> .*notes\.txt is not an npz \(zip\) file: it starts with b'labe'"):
        prepare_dataset("npz", tmp_path, 0, path=tmp_path / "link.npz")


# ----------------------------------------------------------------------------- round three: hostile files


def test_a_huge_stray_label_is_named_without_building_every_class(tmp_path, arrays):
    # 2**40 as one val label: C = 2**40 + 1, and set(range(C)) was a MemoryError (or took the host's memory)
    val = arrays["val_labels"].astype(np.int64)
    val[0] = 2 ** 40
    path = _write(tmp_path, dict(arrays, val_labels=val))
    with pytest.raises(DataError, match=r"the largest label 1099511627776 implies C = 1099511627777 and class\(es\) "
                                        r"3, 4, 5, 6, 7, 8, 9, 10, 11, 12, \.\.\. \(1099511627774 in all\) have no "
                                        r"training example \(labels 1099511627776 occur only in val/test\)"):
        prepare_dataset("npz", tmp_path, seed=0, path=path)


def test_uint64_labels_beyond_int64_are_not_called_negative(tmp_path, arrays):
    labels = arrays["train_labels"].astype(np.uint64)
    labels[0] = 2 ** 64 - 1  # wrapped to -1 by the cast to int64: "negative labels (min -1)" before
    path = _write(tmp_path, dict(arrays, train_labels=labels))
    with pytest.raises(DataError, match=r"train_labels has label 18446744073709551615 \(dtype uint64\), beyond any "
                                        r"class index; relabel the classes as 0..C-1"):
        prepare_dataset("npz", tmp_path, seed=0, path=path)


def test_an_npz_that_inflates_past_half_the_memory_is_refused_before_loading(tmp_path, arrays, monkeypatch):
    import prestorepro.data.npz as npz

    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, **dict(arrays, train_images=np.zeros((4000, 28, 28), np.uint8)))  # 3 MB -> 20 kB
    monkeypatch.setattr(npz, "memory_bytes", lambda: 4 * 2 ** 20)  # a 4 MiB machine: half is 2 MiB
    loaded = []
    monkeypatch.setattr(npz.np, "load", lambda *a, **k: loaded.append(a) or pytest.fail("loaded"))
    with pytest.raises(DataError, match=r"bomb.npz holds arrays of 0.0 GiB once inflated \(the file itself is 0.0 "
                                        r"MiB\), more than half of this machine's memory \(0.0 GiB\); nothing was loaded"):
        prepare_dataset("npz", tmp_path, seed=0, path=path)
    assert not loaded


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_device_or_pipe_is_not_called_missing_and_never_read(tmp_path, kind):
    import os

    path = tmp_path / "pipe.npz"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block until a writer comes
    else:
        path = type(path)("/dev/zero")  # reading it never ends
    with pytest.raises(DataError, match=rf"npz path {path} is not a regular file \(a device, pipe or socket\)"):
        prepare_dataset("npz", tmp_path, seed=0, path=path)


def test_an_unreadable_file_is_named_with_the_fix(tmp_path, arrays, monkeypatch):
    path = _write(tmp_path, arrays)
    real_open = open

    def refuse(file, *a, **k):  # root reads any file, so the permission is refused here
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *a, **k)

    monkeypatch.setattr("builtins.open", refuse)
    with pytest.raises(DataError, match=rf"cannot read {path}: permission denied for this user \(Permission denied\); "
                                        rf"make it readable \(chmod u\+r {path}\)"):
        prepare_dataset("npz", tmp_path, seed=0, path=path)


def test_max_train_with_a_one_image_class_names_the_class(tmp_path):
    from prestorepro.jobs.data import _stratified_subsample

    y = np.array([0] * 10 + [1] * 10 + [2])
    with pytest.raises(DataError, match=r"dataset 'mine': cannot subsample its 21 training examples to max_train = 12 "
                                        r"stratified by class .*class\(es\) 2 have a single training example"):
        _stratified_subsample(y, 12, 0, "mine")
    with pytest.raises(DataError, match=r"max_train must keep at least one example of each of the 3 classes: raise "
                                        r"it to at least 3"):
        _stratified_subsample(np.repeat([0, 1, 2], 5), 2, 0, "mine")
