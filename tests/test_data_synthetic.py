"""The synthetic degenerate mixture of App. C (Eqs. 35-38, SPEC §8)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from prestorepro.data import make_synthetic, prepare_dataset
from prestorepro.data.synthetic import PRINTED_X1, PRINTED_X2


@pytest.fixture(scope="module", params=[0, 7])
def data(request):
    return make_synthetic(20000, np.random.default_rng(request.param))


def test_labels_components_and_standardisation(data):
    x, y, group = data
    assert x.shape == (20000, 2) and x.dtype == np.float32
    assert y.dtype == np.int64 and set(np.unique(y)) == {-1, 1}
    assert np.bincount(group).tolist() == [5000] * 4
    for k in range(4):
        assert np.sum(y[group == k] == 1) == 2500
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=0), 1, atol=1e-5)


def test_components_lie_in_the_printed_boxes(data):
    x, _, group = data
    for k in range(4):
        xk = x[group == k]
        (lo1, hi1), (lo2, hi2) = PRINTED_X1[k], PRINTED_X2[k]
        assert lo1 - 0.02 <= xk[:, 0].min() and xk[:, 0].max() <= hi1 + 0.02, (k, xk[:, 0].min(), xk[:, 0].max())
        # x2: the curves are our reading of the garbled equations; edges within 0.06 of the print.
        assert abs(xk[:, 1].min() - lo2) <= 0.06 and abs(xk[:, 1].max() - hi2) <= 0.06, (k, xk[:, 1].min(), xk[:, 1].max())
    # The four x1 intervals are contiguous and in order.
    edges = [(x[group == k, 0].min(), x[group == k, 0].max()) for k in range(4)]
    for (_, hi), (lo, _) in zip(edges, edges[1:]):
        assert abs(hi - lo) < 1e-3


def test_each_component_is_linearly_separable_but_the_union_is_not(data):
    x, y, group = data
    for k in range(4):
        svm = LinearSVC(C=10.0).fit(x[group == k], y[group == k])
        assert svm.score(x[group == k], y[group == k]) >= 0.99, k
    assert LinearSVC(C=10.0).fit(x, y).score(x, y) < 0.9


def test_same_rng_seed_same_data_and_rng_is_required():
    a = make_synthetic(400, np.random.default_rng(5))
    b = make_synthetic(400, np.random.default_rng(5))
    c = make_synthetic(400, np.random.default_rng(6))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    with pytest.raises(ValueError, match="explicit rng"):
        make_synthetic(400)
    with pytest.raises(ValueError, match="multiple of 4"):
        make_synthetic(402, np.random.default_rng(0))


def test_prepared_synthetic_split_80_10_10_stratified_by_component(tmp_path):
    p = prepare_dataset("synthetic", tmp_path, seed=1)
    assert p.meta["split_sizes"] == {"train": 16000, "val": 2000, "test": 2000}
    assert p.meta["group_counts"] == {"train": [4000] * 4, "val": [500] * 4, "test": [500] * 4}
    assert p.meta["class_counts"]["val"] == [1000, 1000] and p.meta["label_values"] == [-1, 1]
    assert p.label_kind == "sign" and p.num_classes == 2 and p.has_groups() and p.meta["image_shape"] is None
    assert p.train_x.shape == (16000, 2) and p.test_group.shape == (2000,)
    # Splits are disjoint and cover the data: no point appears twice.
    allx = np.concatenate([p.train_x, p.val_x, p.test_x])
    assert len(np.unique(allx, axis=0)) == 20000
    again = prepare_dataset("synthetic", tmp_path, seed=1)
    other = prepare_dataset("synthetic", tmp_path, seed=2)
    np.testing.assert_array_equal(again.val_x, p.val_x)
    np.testing.assert_array_equal(again.val_group, p.val_group)
    assert not np.array_equal(other.train_x, p.train_x)
    small = prepare_dataset("synthetic", tmp_path, seed=1, n=800)
    assert small.meta["group_counts"]["test"] == [20] * 4


def test_prepare_job_records_the_true_components_boxes_for_the_report(tmp_path):
    # the synthetic table reads S*_k's sizes and boxes from the prepared metadata, never the data
    import logging

    from prestorepro.data import load_prepared
    from prestorepro.io import read_json
    from prestorepro.jobs.data import prepare_data
    from prestorepro.jobs.specs import PrepareJob

    log = logging.getLogger("test")
    for name, cfg, n in (("synthetic", {"source": "synthetic"}, 400), ("digits", {"source": "digits"}, 0)):
        out = tmp_path / name / "prepared.npz"
        prepare_data(PrepareJob(dataset_config=cfg, data_root=str(tmp_path / "data"), split_seed=0, synthetic_n=n,
                                out_npz=str(out), dataset=""), log)
        meta = read_json(out.with_suffix(".meta.json"))
        if name == "digits":
            assert "components" not in meta
            continue
        d = load_prepared(out)
        x = np.concatenate([d.train_x, d.val_x, d.test_x])
        g = np.concatenate([d.train_group, d.val_group, d.test_group])
        assert [c["points"] for c in meta["components"]] == np.bincount(g).tolist() and sum(np.bincount(g)) == 400
        for k, c in enumerate(meta["components"]):
            assert c["x1"] == [float(x[g == k, 0].min()), float(x[g == k, 0].max())]
            assert c["x2"] == [float(x[g == k, 1].min()), float(x[g == k, 1].max())]
