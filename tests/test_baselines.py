"""The Table-1 baselines beyond the paper (SPEC §5b) as Table-1 runs: the random partition, the mixture of
experts and one model of PRESTO's size, each evaluated under exactly its catalogue predictors, on tiny
features; the one model's parameter count against the paper's four totals and its gradient steps."""
import math

import numpy as np
import pytest
import torch

from prestorepro import catalogue
from prestorepro.features import Features
from prestorepro.models.parameters import presto_parameter_total, tail_parameter_count
from prestorepro.partitioners.random_partition import RandomRule
from prestorepro.table1.run import RunSpec, run_method
from prestorepro.table1.single_model import one_model_widths
from prestorepro.training.fused import component_outputs

PRESTO = {"rounds": 2, "epochs": 2, "batch_size": 16, "lr": 0.01, "lam": 1e-4, "alpha": 1.0, "singleton": "current",
          "singleton_steps": 5, "singleton_lr": 0.01, "keep": "decreased", "max_moves": 1.0, "reassign": "bound",
          "combiner_epochs": 3, "combiner_weight_decay": 1e-4, "gate_input": "features", "gate_epochs": 2}
TABLE1 = {"pca_dim": 8, "max_fit_samples": 100, "n_init": 1, "covariance_type": "full"}
MOE = {"training": "soft", "balance": 0.0, "synthetic_expert": "logistic"}


@pytest.fixture(scope="module")
def feats():
    g = torch.Generator().manual_seed(0)
    parts = {}
    for split, m in (("train", 96), ("val", 30), ("test", 30)):
        parts[f"{split}_y"] = torch.arange(m) % 3
        parts[f"{split}_x"] = torch.randn(m, 64, 4, 4, generator=g) + parts[f"{split}_y"].view(-1, 1, 1, 1).float()
    return Features(**parts, num_classes=3, cut="layer1")


def _spec(method, **kw):
    return RunSpec(method=method, k=3, seed=0, widths=(2, 2, 4), presto=PRESTO, table1=TABLE1,
                   dataset={"leeway": 2, "epsilon": 0.003, "init": "equal_kmeans"}, **kw)


@pytest.mark.parametrize("source, cut, classes, k, widths, params", [
    # the paper's four totals (components + combiner: 82690 / 54993 / 41047 / 55138), matched within 5 %
    ("cifar10", "layer2", 10, 4, (10, 19, 39), 83524), ("pathmnist", "layer1", 9, 4, (9, 17, 34), 55187),
    ("dermamnist", "layer1", 7, 3, (7, 15, 29), 40705), ("svhn", "layer1", 10, 4, (9, 17, 34), 55222)])
def test_one_model_has_prestos_total_within_five_percent(source, cut, classes, k, widths, params):
    total = presto_parameter_total(cut, (4, 8, 16), classes, k)
    assert total == {"cifar10": 82690, "pathmnist": 54993, "dermamnist": 41047, "svhn": 55138}[source]
    got = one_model_widths(cut, (4, 8, 16), classes, k)
    assert got == widths and tail_parameter_count(cut, got, classes) == params
    assert abs(params - total) / total <= 0.05


def test_one_model_trains_prestos_budget_on_every_point_and_is_measured(feats):
    out = run_method(feats, _spec("single"))
    assert set(out["predictors"]) == set(catalogue.method_predictors("single")) == {"model"}
    total = presto_parameter_total("layer1", (2, 2, 4), 3, 3)
    assert out["presto_parameters"] == total and abs(out["num_parameters"] - total) / total <= 0.05
    assert out["num_parameters"] == sum(p.numel() for p in out["model"].parameters())
    # rounds x epochs epochs over all 96 points at PRESTO's batch 16: 6 steps an epoch, 4 epochs
    assert len(out["loss"]) == 4 and out["gradient_steps"] == 24
    # PRESTO's K components on parts of 32 take 2 steps each an epoch: the same 6 steps together
    assert sum(math.ceil(32 / 16) for _ in range(3)) == out["gradient_steps"] // 4
    model = out["model"].eval()
    with torch.no_grad():
        pred = model(feats.test_x).argmax(1).numpy()
    assert out["predictors"]["model"]["test_accuracy"] == pytest.approx(float((pred == feats.test_y.numpy()).mean()))
    assert out["memory"]["kind"] == "cpu_rss" and out["memory"]["training_mib"] >= 0
    assert (out["assignment"] == 0).all() and len(out["test_routes"]) == 30


def test_random_partition_run_routes_test_points_by_a_seeded_draw(feats):
    out = run_method(feats, _spec("random"))
    assert set(out["predictors"]) == {"combiner", "router"}
    assert sorted(np.bincount(out["assignment"]).tolist()) == [32, 32, 32]
    np.testing.assert_array_equal(out["test_routes"], RandomRule(3, 0).assign(np.zeros((30, 1))))
    labels = component_outputs(out["model"], feats.test_x).argmax(-1).numpy()
    routed = labels[np.arange(30), out["test_routes"]]
    assert out["predictors"]["router"]["test_accuracy"] == pytest.approx(float((routed == feats.test_y.numpy()).mean()))
    assert "seeded uniformly random part" in out["predictors"]["router"]["predictor"]


@pytest.mark.parametrize("training", ["soft", "hard_em"])
def test_mixture_of_experts_run_has_its_three_predictors_on_one_model(feats, training):
    out = run_method(feats, _spec("moe", options=dict(MOE, training=training)))
    assert list(out["predictors"]) == list(catalogue.method_predictors("moe"))
    model, gate = out["model"], out["gate"].eval()
    with torch.no_grad():
        x = feats.test_x
        g = torch.softmax(gate(x.reshape(len(x), -1)), 1)
        p = torch.softmax(component_outputs(model, x), -1)
        mixture = (g.unsqueeze(-1) * p).sum(1).argmax(1).numpy()
        top1 = p.argmax(-1).numpy()[np.arange(30), g.argmax(1).numpy()]
    y = feats.test_y.numpy()
    assert out["predictors"]["mixture"]["test_accuracy"] == pytest.approx(float((mixture == y).mean()))
    assert out["predictors"]["router"]["test_accuracy"] == pytest.approx(float((top1 == y).mean()))
    np.testing.assert_array_equal(out["test_routes"], g.argmax(1).numpy())
    assert out["predictors"]["combiner"]["parameters"] == (3 * 3 + 1) * 3
    assert out["predictors"]["mixture"]["parameters"] == (64 * 16 + 1) * 3  # the gate: one linear layer on x
    assert out["rounds_run"] == 2 or out["stop_reason"] == "partition stable"
    assert training in out["notes"]
