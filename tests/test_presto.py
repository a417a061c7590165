"""PRESTO's Algorithm 1 (SPEC §4): invariants, golden values, determinism and resume."""
import itertools

import numpy as np
import pytest
import torch

from prestorepro.data import make_synthetic
from prestorepro.metrics import err_s
from prestorepro.models.fused import FusedLinearSVM
from prestorepro.presto.algorithm import (
    PrestoStreams,
    RunHooks,
    centre_distances,
    modular_upper_bound,
    presto_objective,
    run_presto,
    singleton_objective,
)
from prestorepro.presto.assignment import size_bounds
from prestorepro.presto.gate import GateInput, GateSchedule, gate_routes, mixture_predict, train_gate
from presto_defaults import presto_settings


def _svm_problem(n=400, seed=0):
    x, y, g = make_synthetic(n, np.random.default_rng(seed))
    return torch.tensor(x), torch.tensor(y), g


def _run(n=400, rounds=6, leeway=10, seed=0, ckpt=None, **kw):
    x, y, g = _svm_problem(n)
    a0 = np.random.default_rng(seed).permutation(np.arange(n) % 4)
    torch.manual_seed(seed)
    model = FusedLinearSVM(4, 2)
    s = presto_settings(k=4, rounds=rounds, epochs=2, batch_size=32, lr=0.05, lam=1e-3, epsilon=3e-3,
                        leeway=leeway, loss="hinge", **kw)
    gens = [torch.Generator().manual_seed(100 + j) for j in range(4)]
    res = run_presto(model, x, y, a0, s, PrestoStreams(gens), hooks=RunHooks(checkpoint_path=ckpt))
    return res, model, (x, y, g)


def test_modular_upper_bound_golden():
    L = torch.tensor([[1.0, 2.0], [3.0, 0.5], [0.2, 0.4]])
    a = torch.tensor([0, 1, 1])
    G1 = torch.tensor([[9.0, 8.0], [7.0, 6.0], [5.0, 4.0]])
    M = modular_upper_bound(L, a, 0.5, G1)
    # members: alpha * L; non-members: G1 / alpha
    expected = torch.tensor([[0.5, 16.0], [14.0, 0.25], [10.0, 0.2]])
    torch.testing.assert_close(M, expected)
    D = torch.ones(3, 2)
    torch.testing.assert_close(modular_upper_bound(L, a, 0.5, G1, 0.1, D), expected + 0.1)


def test_centre_distances_brute_force():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(20, 3)))
    a = torch.tensor(rng.integers(0, 3, 20))
    d = centre_distances(x, a, 3)
    for k in range(3):
        c = x[a == k].mean(0)
        torch.testing.assert_close(d[:, k], (x - c).norm(dim=1))


def test_err_s_brute_force():
    rng = np.random.default_rng(1)
    a, g = rng.integers(0, 3, 30), rng.integers(0, 4, 30)
    split = sum(1 for i, j in itertools.combinations(range(30), 2) if g[i] == g[j] and a[i] != a[j])
    same = sum(1 for i, j in itertools.combinations(range(30), 2) if g[i] == g[j])
    assert err_s(a, g) == (split, split / same)
    assert err_s(g, g) == (0, 0.0)


def test_rounds_keep_invariants_and_objective_never_increases():
    res, model, (x, y, g) = _run()
    lo, hi = size_bounds(400, 4, 10)
    kept = [h["objective"] for h in res.history if h["accepted"]]
    assert all(b < a for a, b in zip(kept, kept[1:])), kept
    assert res.objective == pytest.approx(min(kept))
    for h in res.history:
        assert sum(h["part_sizes"]) == 400
    # every partition trained on has each point in exactly one part, sizes in the leeway bounds
    for a in res.assignments_per_round[1:]:
        sizes = np.bincount(a, minlength=4)
        assert sizes.sum() == 400 and sizes.min() >= lo and sizes.max() <= hi
    assert res.assignment.shape == (400,) and set(np.unique(res.assignment)) <= {0, 1, 2, 3}
    assert res.rounds_run == len(res.history) <= 6


def test_objective_matches_hand_computation_of_eq1():
    # Eq. 1: sum_k sum_{i in S_k} [loss(i, k) + lam ||theta_k||^2]; parts of sizes 2 and 1
    L = torch.tensor([[0.5, 9.0], [0.25, 7.0], [3.0, 1.5]])
    a = torch.tensor([0, 0, 1])
    sq = torch.tensor([4.0, 10.0])
    G, data, reg = presto_objective(L, a, sq, 0.1)
    assert data == pytest.approx(0.5 + 0.25 + 1.5)
    assert reg == pytest.approx(0.1 * (2 * 4.0 + 1 * 10.0))
    assert G == pytest.approx((0.5 + 0.4) + (0.25 + 0.4) + (1.5 + 1.0))


def test_rejected_round_restores_kept_state_and_objective_is_eq1():
    res, model, (x, y, g) = _run(rounds=12)
    best = min(h["objective"] for h in res.history if h["accepted"])
    assert res.objective == pytest.approx(best)
    for h in res.history:
        assert h["objective"] == pytest.approx(h["data_loss"] + h["regulariser"])
    # the returned model is the kept one: Eq. 1 of it on the returned partition is the kept objective
    from prestorepro.training.fused import loss_matrix

    L = loss_matrix(model, x, y, "hinge")
    a = torch.as_tensor(res.assignment).long()
    sizes = torch.bincount(a, minlength=4).double()
    G = float(L.detach().gather(1, a[:, None]).sum()) + 1e-3 * float((sizes * model.sq_norm().detach().double()).sum())
    assert G == pytest.approx(res.objective, rel=1e-5)


def test_run_stops_early_only_when_the_partition_is_stable():
    res, _, _ = _run(rounds=12)
    if res.rounds_run < 12:
        assert res.stop_reason == "partition stable" and res.history[-1]["moves"] == 0
    else:
        assert res.stop_reason == "rounds exhausted"
    assert all(h["moves"] > 0 for h in res.history[:-1])
    # rejected rounds do not end the run: a run with rejections still goes on
    assert res.rounds_run == len(res.assignments_per_round)


def test_bounded_moves_limit_each_round():
    res, _, _ = _run(rounds=5, max_moves=0.05)
    budget = int(0.05 * 400)
    per_round = res.assignments_per_round
    for prev, nxt in zip(per_round, per_round[1:]):
        assert int((prev != nxt).sum()) <= budget
    assert all(h["moves"] <= budget for h in res.history)


def test_determinism_same_seed_same_result():
    r1, m1, _ = _run()
    r2, m2, _ = _run()
    assert np.array_equal(r1.assignment, r2.assignment)
    assert [h["objective"] for h in r1.history] == [h["objective"] for h in r2.history]
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)


def test_resume_from_checkpoint_equals_uninterrupted(tmp_path):
    full, m_full, _ = _run(rounds=5)
    ckpt = tmp_path / "presto.pt"
    part, _, _ = _run(rounds=2, ckpt=ckpt)  # "killed" after round 2 (its checkpoint stays)
    assert ckpt.exists()
    resumed, m_res, _ = _run(rounds=5, ckpt=ckpt)
    assert np.array_equal(resumed.assignment, full.assignment)
    assert [h["objective"] for h in resumed.history] == [h["objective"] for h in full.history]
    for a, b in zip(m_full.parameters(), m_res.parameters()):
        assert torch.equal(a, b)


def test_unconstrained_assignment_is_row_argmin():
    # Learn-MLR: leeway None -> each point to its lowest-cost component, every round kept
    res, _, _ = _run(leeway=None, keep="every", rounds=3)
    assert all(h["accepted"] for h in res.history)


@pytest.mark.parametrize("singleton", ["current", "trained"])
def test_learn_mlr_assigns_every_point_to_the_argmin_of_the_loss_matrix(singleton, monkeypatch):
    # App. B.4: alternating minimisation; presto.singleton (and alpha, lambda) must not change the step
    from prestorepro.table1 import gated as table1
    from prestorepro.presto.algorithm import loss_matrix

    argmins = []

    def on_round(r, model, assignment):
        argmins.append(loss_matrix(model, x, y, "hinge").argmin(1).numpy())
        return {}

    x, y, _ = _svm_problem(300)
    a0 = np.random.default_rng(0).permutation(np.arange(300) % 4)
    torch.manual_seed(0)
    model = FusedLinearSVM(4, 2)
    s = presto_settings(k=4, rounds=4, epochs=2, batch_size=32, lr=0.05, lam=0.05, epsilon=0.0, leeway=None,
                        keep="every", alpha=0.5, singleton=singleton, assign="lowest_loss", loss="hinge")
    res = run_presto(model, x, y, a0, s, PrestoStreams([torch.Generator().manual_seed(100 + j) for j in range(4)]),
                     hooks=RunHooks(on_round=on_round))
    assert res.assignments_per_round.shape[0] >= 2
    for r in range(1, res.assignments_per_round.shape[0]):
        # round r trains the argmin of the loss matrix of round r - 1's components
        np.testing.assert_array_equal(res.assignments_per_round[r], argmins[r - 1])
    # the Table-1 method builds exactly these settings whatever the config says
    seen = {}
    monkeypatch.setattr(table1, "train_alternating", lambda feats, spec, settings, init, **kw: seen.update(s=settings, init=init))
    spec = type("Spec", (), {"k": 3, "presto": {"rounds": 2, "epochs": 1, "batch_size": 8, "lr": 0.01, "lam": 1e-4,
                                                 "alpha": 0.5, "singleton": singleton, "singleton_steps": 5, "singleton_lr": 0.01,
                                                 "keep": "decreased", "max_moves": 0.1, "reassign": "bound",
                                                 "combiner_epochs": 2, "combiner_weight_decay": 1e-4},
                             "dataset": {"epsilon": 0.003, "leeway": 5}})()
    table1.run_learn_mlr(None, spec, log=print)
    got = seen["s"]
    assert (got.assign, got.singleton, got.leeway, got.epsilon, got.keep, got.max_moves, seen["init"]) == (
        "lowest_loss", "current", None, 0.0, "every", 1.0, "random")


def test_infeasible_leeway_raises_before_training():
    from prestorepro.presto.assignment import InfeasibleConstraintError

    with pytest.raises(InfeasibleConstraintError, match="leeway"):
        _run(leeway=150)


def test_singleton_trained_matches_manual_gradient_steps():
    torch.manual_seed(0)
    model = FusedLinearSVM(2, 2).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    y = torch.tensor([1, -1, 1, 1, -1])
    s = presto_settings(k=2, lam=1e-2, singleton="trained", singleton_steps=3, singleton_lr=0.1, loss="hinge")
    G1 = singleton_objective(model, x, y, s)
    for k in range(2):
        for i in range(5):
            w = model.linear.weight[k, 0].detach().clone().requires_grad_(True)
            b = model.linear.bias[k].detach().clone().requires_grad_(True)
            for _ in range(3):
                obj = torch.relu(1 - y[i] * (x[i] @ w + b[0])) + 1e-2 * (w.square().sum() + b.square().sum())
                gw, gb = torch.autograd.grad(obj, (w, b))
                w, b = (w - 0.1 * gw).detach().requires_grad_(True), (b - 0.1 * gb).detach().requires_grad_(True)
            obj = torch.relu(1 - y[i] * (x[i] @ w + b[0])) + 1e-2 * (w.square().sum() + b.square().sum())
            assert G1[i, k].item() == pytest.approx(obj.item(), rel=1e-9)


def test_gate_on_x_reproduces_a_linear_partition():
    # §2.2: pi_phi : X -> [K] on the instance x; a partition that is a linear function of x (the
    # largest of three projections) must be learnt to >= 95% agreement
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 2, generator=g)
    directions = torch.tensor([[1.0, 0.0], [-0.5, 0.87], [-0.5, -0.87]])
    part = (x @ directions.T).argmax(1).numpy()
    model = FusedLinearSVM(3, 2)
    gate = train_gate(model, x, part, GateSchedule(epochs=40, lr=0.05, batch_size=50),
                      generator=torch.Generator().manual_seed(1), reads=GateInput(loss="hinge"))
    assert gate.source == "features" and gate.linear.in_features == 2 and gate.linear.out_features == 3
    assert (gate_routes(gate, model, x, "hinge") == part).mean() >= 0.95


def test_gate_on_feature_maps_flattens_x():
    from prestorepro.models.fused import FusedResNetTail

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 64, 4, 4, generator=g)
    part = (x[:, 0].mean((1, 2)) > 0).long().numpy()
    model = FusedResNetTail(2, "layer1", (2, 2, 2), 3)
    gate = train_gate(model, x, part, GateSchedule(epochs=30, lr=0.01, batch_size=16),
                      generator=torch.Generator().manual_seed(1))
    assert gate.linear.in_features == 64 * 4 * 4
    assert (gate_routes(gate, model, x, "ce") == part).mean() >= 0.95


def test_probability_gate_learns_an_informative_routing():
    # the ablation's reading: the gate on the components' class probabilities. Two SVM components with
    # hand-set weights: their class probabilities reveal the sign of x[0], which is the part
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 2, generator=g)
    part = (x[:, 0] > 0).long().numpy()
    model = FusedLinearSVM(2, 2)
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[[-3.0, 0.0]], [[3.0, 0.0]]]))
        model.linear.bias.zero_()
    gate = train_gate(model, x, part, GateSchedule(epochs=40, lr=0.05, batch_size=50),
                      generator=torch.Generator().manual_seed(1), reads=GateInput(source="probabilities", loss="hinge"))
    assert gate.linear.in_features == 4 and gate.linear.out_features == 2
    routes = gate_routes(gate, model, x, "hinge")
    assert (routes == part).mean() > 0.97
    # the mixture takes the routed component's prediction: component 1 says sign(+x0), component 0 sign(-x0)
    pred = mixture_predict(model, x, routes, "hinge")
    expected = np.where(routes == 1, np.sign(x[:, 0].numpy()), np.sign(-x[:, 0].numpy()))
    assert np.array_equal(pred, expected.astype(int))


def test_synthetic_err_s_falls_from_the_initial_partition():
    # reduced App. C data: PRESTO's last partition splits fewer same-component pairs than the random start
    from prestorepro.data import Prepared
    from prestorepro.synthetic.run import SyntheticRun, run_synthetic

    x, y, g = make_synthetic(2000, np.random.default_rng(0))
    data = Prepared(train_x=x[:1600], train_y=y[:1600], val_x=x[1600:1800], val_y=y[1600:1800], test_x=x[1800:],
                    test_y=y[1800:], num_classes=2, meta={}, train_group=g[:1600], val_group=g[1600:1800], test_group=g[1800:])
    cfg = dict(k=4, rounds=10, epochs=3, batch_size=64, lr=0.01, lam=1e-4, epsilon=3e-3, leeway=0, init="random",
               diagnostics={"true_start_rounds": 1, "converged_epochs": 2, "converged_lr": 0.05,
                            "epsilons": [0.0, 0.03]})
    algo = dict(alpha=1.0, singleton="current", singleton_steps=5, singleton_lr=0.01, keep="decreased", max_moves=1.0,
                gate_input="features", gate_epochs=10, reassign="bound")
    metrics, arrays = run_synthetic(data, SyntheticRun(cfg, algo, 0), torch.device("cpu"))
    f = metrics["final"]
    assert f["err_s_normalised"] < f["initial_err_s_normalised"] - 0.05
    assert arrays["per_round"].shape == (f["rounds_run"], 1600)
    # the diagnostic of Eq. 1 at its optimum is computed for both partitions
    assert f["optimal_objective_true_partition"] > 0 and f["optimal_objective_final_partition"] > 0
    ove = metrics["diagnostics"]["objective_vs_epsilon"]
    assert ove["true"]["G"] == f["optimal_objective_true_partition"] and ove["final"]["G"] == f["optimal_objective_final_partition"]
    assert set(metrics["diagnostics"]["true_start"]) == {"configured", "converged"}


def test_embedded_default_gate_budget_learns_a_partition_that_ten_epochs_do_not():
    # config/config.yaml trains pi_phi longer than App. B.3's 10 epochs because digits has ~1000 training
    # points: 10 epochs in batches of 64 are 170 steps. On features of digits' kind (the images in 4096
    # correlated dimensions plus a little noise) and a partition that is mostly by class with 15 % of the
    # points moved elsewhere (as PRESTO's loss-driven moves leave it), 10 epochs leave the linear gate well
    # short of the partition, and the configured budget learns it (README, Table 1: 90 % -> 98 % on digits).
    from pathlib import Path

    import yaml
    from sklearn.datasets import load_digits

    from prestorepro.models.fused import FusedResNetTail

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())["presto"]
    d = load_digits()
    n = 1079
    g = torch.Generator().manual_seed(0)
    img = torch.tensor(d.data[:n], dtype=torch.float32) / 16
    x = (img @ torch.randn(64, 4096, generator=g) / 8 + 0.1 * torch.randn(n, 4096, generator=g)).view(n, 64, 8, 8)
    rng = np.random.default_rng(0)
    a = np.where(rng.random(n) < 0.15, rng.integers(0, 4, n), d.target[:n] % 4)
    model = FusedResNetTail(4, "layer1", (4, 8, 16), 10)

    def agreement(epochs):
        gate = train_gate(model, x, a, GateSchedule(epochs=epochs, lr=cfg["lr"], batch_size=cfg["batch_size"]),
                          generator=torch.Generator().manual_seed(1))
        return float((gate_routes(gate, model, x, "ce") == a).mean())

    assert cfg["gate_epochs"] == 50
    assert agreement(10) < 0.9  # the paper's 10 epochs, at digits' size
    assert agreement(cfg["gate_epochs"]) >= 0.98


def test_a_one_move_budget_moves_one_point_each_round():
    # Algorithm 1's literal one point per round (max_moves = 1/N): before, the Lagrangian bisection of
    # the bounded assignment jumped from none to two moves, so nothing moved and round 1 reported
    # "partition stable"
    res, _, _ = _run(n=400, rounds=3, max_moves=1 / 400)
    assert [h["moves"] for h in res.history] == [1, 1, 1]
    assert res.stop_reason == "rounds exhausted"
