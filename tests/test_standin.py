"""Stand-in datasets (source: standin) and the rehearsal config built on them."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from prestorepro.config import ConfigError, load_config, validate_config
from prestorepro.config_checks import TRAIN_SIZES
from prestorepro.data import DataError, prepare_dataset
from prestorepro.data.standin import STANDINS, make_standin, standin_sizes
from prestorepro.sizes import PREPARED_SIZES
from snakemake_plan import planned_jobs

ROOT = Path(__file__).resolve().parents[1]

# SPEC §1 / paper Table 4, as prepared: (H, W, C), classes, train / val / test
PAPER = {"cifar10": ((32, 32, 3), 10, (45000, 5000, 10000)), "svhn": ((32, 32, 3), 10, (65932, 7325, 26032)),
         "pathmnist": ((28, 28, 3), 9, (89996, 10004, 7180)), "dermamnist": ((28, 28, 3), 7, (7007, 1003, 2005))}


def test_standins_copy_the_paper_datasets_shapes_classes_and_sizes():
    for like, (image, classes, sizes) in PAPER.items():
        assert STANDINS[like].image == image and STANDINS[like].num_classes == classes
        assert standin_sizes(like) == sizes and TRAIN_SIZES[like] == sizes[0] == PREPARED_SIZES[like][0]
        # the official CIFAR10 / SVHN training sets, before our 10% validation hold-out
        if like in ("cifar10", "svhn"):
            assert sizes[0] + sizes[1] == {"cifar10": 50000, "svhn": 73257}[like]
    assert standin_sizes("cifar10", 0.01) == (450, 50, 100)
    assert standin_sizes("dermamnist", 0.0001) == (14, 14, 14)  # at least two images per class


def test_full_size_stand_in_is_prepared_with_exact_shapes_and_balanced_classes():
    p = prepare_dataset("standin", Path("unused"), 0, like="dermamnist")
    assert (p.train_x.shape, p.val_x.shape, p.test_x.shape) == ((7007, 28, 28, 3), (1003, 28, 28, 3), (2005, 28, 28, 3))
    assert p.train_x.dtype == np.uint8 and p.num_classes == 7
    assert p.meta["split_sizes"] == {"train": 7007, "val": 1003, "test": 2005}
    assert p.meta["class_counts"]["train"] == [1001] * 7  # 7007 = 7 x 1001
    saturated = np.mean((p.train_x == 0) | (p.train_x == 255))
    assert saturated < 0.02 and 110 < p.train_x.mean() < 145, (saturated, p.train_x.mean())  # mid-range, few clipped


def test_stand_ins_are_seeded_and_scaled_ones_share_the_classes():
    a, b, c = make_standin("cifar10", 0, 0.01), make_standin("cifar10", 0, 0.01), make_standin("cifar10", 1, 0.01)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(a[split][0], b[split][0])
        np.testing.assert_array_equal(a[split][1], b[split][1])
    assert not np.array_equal(a["train"][0], c["train"][0])
    # class means of the 1% and 2% stand-ins (same seed) are closer to each other than to other classes
    d = make_standin("cifar10", 0, 0.02)
    mean = lambda s, k: s["train"][0][s["train"][1] == k].astype(np.float64).mean(axis=0)  # noqa: E731
    dist = np.array([[np.abs(mean(a, i) - mean(d, j)).mean() for j in range(10)] for i in range(10)])
    assert (dist.argmin(axis=1) == np.arange(10)).all()


def test_stand_in_classes_are_learnable_but_not_trivial():
    s = make_standin("pathmnist", 3, 0.02)
    x, y = s["train"][0].reshape(len(s["train"][1]), -1).astype(np.float64), s["train"][1]
    xt, yt = s["test"][0].reshape(len(s["test"][1]), -1).astype(np.float64), s["test"][1]
    centres = np.stack([x[y == k].mean(axis=0) for k in range(9)])
    pred = ((xt[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
    acc = (pred == yt).mean()
    assert 2 / 9 < acc < 0.995, acc  # nearest class mean: twice chance or more, below perfect


def test_bad_stand_in_options_are_named():
    with pytest.raises(DataError, match="like: one of cifar10, dermamnist, pathmnist, svhn"):
        prepare_dataset("standin", Path("unused"), 0, like="mnist")
    with pytest.raises(DataError, match=r"scale 1.5 must be in \(0, 1\]"):
        prepare_dataset("standin", Path("unused"), 0, like="svhn", scale=1.5)


@pytest.fixture
def paper():
    return yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())


@pytest.mark.parametrize("mutate, needle", [
    (lambda c: c["datasets"]["svhn"].update(source="standin"), "datasets.svhn.like: a dataset with source standin needs like"),
    (lambda c: c["datasets"]["svhn"].update(like="svhn"), "datasets.svhn.like: like is only used with source standin"),
    (lambda c: c["datasets"]["svhn"].update(scale=0.5), "datasets.svhn.scale: scale is only used with source standin"),
    (lambda c: c["datasets"]["svhn"].update(source="standin", like="svhn", scale=0.01),
     "datasets.svhn.leeway / .*: leeway 3000 allows empty parts for N=659"),
    (lambda c: c["datasets"]["dermamnist"].update(source="standin", like="dermamnist", scale=0.1, leeway=50),
     "coreset.batch_size: GRAD-MATCH-PB selects whole mini-batches of 256 points, but its smallest budget on "
     "dataset dermamnist is 70 points"),
])
def test_stand_in_config_mistakes_are_named(paper, mutate, needle):
    cfg = copy.deepcopy(paper)
    mutate(cfg)
    with pytest.raises(ConfigError, match=needle):
        validate_config(cfg)


def test_rehearsal_is_the_paper_config_with_only_marked_budget_cuts():
    paper_text = (ROOT / "config" / "paper.yaml").read_text().splitlines()
    reh_text = (ROOT / "config" / "rehearsal.yaml").read_text().splitlines()
    paper_cfg, reh = load_config(ROOT / "config" / "paper.yaml"), load_config(ROOT / "config" / "rehearsal.yaml")
    # every changed value line says "rehearsal"; the other lines are config/paper.yaml's
    body = [ln for ln in reh_text if not ln.startswith("#")]
    unmarked = [ln for ln in body if "rehearsal" not in ln and not re.match(r"^\s*like: ", ln)]
    assert all(ln in paper_text for ln in unmarked)
    marked = [ln for ln in body if "rehearsal" in ln]
    assert len(marked) == 25  # results, download, device, seeds, 4 sources, weights, 16 budgets
    assert len(unmarked) == len([ln for ln in paper_text if not ln.startswith("#")]) - len(marked)
    for name, ds in reh["datasets"].items():
        if ds["source"] == "synthetic":
            continue
        assert ds["source"] == "standin" and ds["like"] == name == paper_cfg["datasets"][name]["source"]
        assert {k: v for k, v in ds.items() if k not in ("source", "like")} == \
            {k: v for k, v in paper_cfg["datasets"][name].items() if k != "source"}
    assert reh["seeds"] == [0] and reh["download"] is False and reh["embedding"]["weights"] == "none"
    assert (reh["presto"]["rounds"], reh["presto"]["epochs"], reh["presto"]["gate_epochs"],
            reh["presto"]["combiner_epochs"]) == (2, 1, 1, 1)
    assert reh["compress"]["reference_widths"] == paper_cfg["compress"]["reference_widths"]  # the paper's models


def test_rehearsal_plans_the_paper_dag_for_one_seed(tmp_path):
    one_seed = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    one_seed["seeds"] = [0]
    (tmp_path / "paper1.yaml").write_text(yaml.safe_dump(one_seed))
    paper_jobs = planned_jobs("--configfile", str(tmp_path / "paper1.yaml"), results=tmp_path / "p")
    reh_jobs = planned_jobs("--configfile", "config/rehearsal.yaml", results=tmp_path / "r")
    assert reh_jobs == paper_jobs
    from prestorepro.catalogue import keys

    # every Table-1 method on the four datasets at their K, and PRESTO at the four other K of Fig. 7's sweep
    assert reh_jobs["train_table1"] == 4 * len(keys("table1")) + 4 * 4
    assert reh_jobs["make_paper_tradeoff_figure"] == 2  # Fig. 3 and Fig. 8
