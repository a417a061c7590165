"""Storing prepared datasets: atomic npz + meta sidecar, and refusal of broken files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures.datafiles import medmnist_arrays

from prestorepro.data import DataError, load_prepared, meta_path, prepare_dataset, write_prepared


@pytest.fixture(scope="module")
def image_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("byo")
    np.savez(folder / "mine.npz", **medmnist_arrays({"train": 10, "val": 5, "test": 5}, 5, np.random.default_rng(0)))
    return prepare_dataset("npz", folder, seed=0, path=folder / "mine.npz")


def test_roundtrip_images(tmp_path, image_data):
    path = tmp_path / "prepared.npz"
    write_prepared(path, image_data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prepared.meta.json", "prepared.npz"]
    with np.load(path) as z:
        assert sorted(z.files) == sorted(
            ["train_x", "train_y", "val_x", "val_y", "test_x", "test_y", "num_classes", "meta_json"]
        )
    back = load_prepared(path)
    for split in ("train", "val", "test"):
        for a, b in zip(back.split(split), image_data.split(split)):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
    assert back.num_classes == 5 and back.train_group is None
    sidecar = json.loads(meta_path(path).read_text())
    assert sidecar == back.meta
    assert sidecar["arrays"]["train_x"]["shape"] == [10, 28, 28, 3]
    assert {k: v for k, v in sidecar.items() if k != "arrays"} | {"num_classes": 5} == json.loads(
        json.dumps(image_data.meta)) | {"num_classes": 5}


def test_roundtrip_synthetic_keeps_groups(tmp_path):
    p = prepare_dataset("synthetic", tmp_path, seed=0, n=400)
    write_prepared(tmp_path / "syn.npz", p)
    back = load_prepared(tmp_path / "syn.npz")
    np.testing.assert_array_equal(back.val_group, p.val_group)
    np.testing.assert_array_equal(back.train_x, p.train_x)
    assert back.label_kind == "sign" and back.meta["group_counts"] == p.meta["group_counts"]


def test_truncated_and_missing_files_raise_data_error(tmp_path, image_data):
    path = tmp_path / "prepared.npz"
    write_prepared(path, image_data)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated or corrupt") as err:
        load_prepared(cut)
    assert str(cut) in str(err.value) and "re-run the prepare step" in str(err.value)
    with pytest.raises(DataError, match="does not exist"):
        load_prepared(tmp_path / "absent.npz")


def _rewrite(path, out, **changes):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    for k in [k for k, v in changes.items() if v is None]:
        del arrays[k]
    np.savez(out, **arrays)
    return out


def test_altered_or_inconsistent_contents_are_refused(tmp_path, image_data):
    path = tmp_path / "prepared.npz"
    write_prepared(path, image_data)
    flipped = image_data.val_x.copy()
    flipped[0, 0, 0, 0] ^= 1
    with pytest.raises(DataError, match="array val_x has sha256"):
        load_prepared(_rewrite(path, tmp_path / "a.npz", val_x=flipped))
    with pytest.raises(DataError, match=r"lacks key\(s\) test_y"):
        load_prepared(_rewrite(path, tmp_path / "b.npz", test_y=None))
    with pytest.raises(DataError, match="train_x has 10 rows but train_y has 9"):
        load_prepared(_rewrite(path, tmp_path / "c.npz", train_y=image_data.train_y[:9]))
    with pytest.raises(DataError, match=r"outside 0..4"):
        load_prepared(_rewrite(path, tmp_path / "d.npz", test_y=image_data.test_y + 5))
    with pytest.raises(DataError, match=r"expected \(N, H, W, 3\) uint8"):
        load_prepared(_rewrite(path, tmp_path / "e.npz", val_x=image_data.val_x.astype(np.float32)))


def test_write_refuses_inconsistent_prepared(tmp_path, image_data):
    from dataclasses import replace

    with pytest.raises(DataError, match="val_y has shape"):
        write_prepared(tmp_path / "x.npz", replace(image_data, val_y=image_data.val_y.astype(np.int32)))
    assert not list(tmp_path.iterdir())
