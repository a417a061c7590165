"""PRESTO's Algorithm 1 (SPEC §4): invariants, golden values, determinism and resume."""
import itertools

import numpy as np
import pytest
import torch

from prestorepro.data import make_synthetic
from prestorepro.metrics import err_s
from prestorepro.models.fused import FusedLinearSVM
from prestorepro.presto.algorithm import (
    PrestoSettings,
    centre_distances,
    modular_upper_bound,
    run_presto,
    singleton_objective,
)
from prestorepro.presto.assignment import size_bounds
from prestorepro.presto.gate import gate_routes, mixture_predict, train_gate


def _svm_problem(n=400, seed=0):
    x, y, g = make_synthetic(n, np.random.default_rng(seed))
    return torch.tensor(x), torch.tensor(y), g


def _run(n=400, rounds=6, leeway=10, seed=0, ckpt=None, **kw):
    x, y, g = _svm_problem(n)
    a0 = np.random.default_rng(seed).permutation(np.arange(n) % 4)
    torch.manual_seed(seed)
    model = FusedLinearSVM(4, 2)
    s = PrestoSettings(k=4, rounds=rounds, epochs=2, batch_size=32, lr=0.05, lam=1e-3, epsilon=3e-3,
                       leeway=leeway, loss="hinge", **kw)
    gens = [torch.Generator().manual_seed(100 + j) for j in range(4)]
    res = run_presto(model, x, y, a0, s, gens, checkpoint_path=ckpt)
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


def test_rejected_round_restores_kept_state():
    # with patience 1 the first rejection stops the run and the kept (best) state is returned
    res, model, (x, y, g) = _run(rounds=12, patience=1)
    if any(not h["accepted"] for h in res.history):
        assert res.stop_reason.startswith("objective did not decrease")
    best = min(h["objective"] for h in res.history if h["accepted"])
    assert res.objective == pytest.approx(best)
    # the returned model is the kept one: its objective on the returned partition matches
    from prestorepro.training.fused import loss_matrix

    L = loss_matrix(model, x, y, "hinge")
    G = float(L.detach().gather(1, torch.as_tensor(res.assignment)[:, None].long()).sum()) + 1e-3 * float(model.sq_norm().sum().detach())
    assert G == pytest.approx(res.objective, rel=1e-5)


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
    res, _, _ = _run(leeway=None, accept_only_if_decreased=False, rounds=3)
    assert all(h["accepted"] for h in res.history)


def test_infeasible_leeway_raises_before_training():
    from prestorepro.presto.assignment import InfeasibleConstraintError

    with pytest.raises(InfeasibleConstraintError, match="leeway"):
        _run(leeway=150)


def test_singleton_trained_matches_manual_gradient_steps():
    torch.manual_seed(0)
    model = FusedLinearSVM(2, 2).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    y = torch.tensor([1, -1, 1, 1, -1])
    s = PrestoSettings(k=2, lam=1e-2, singleton="trained", singleton_steps=3, singleton_lr=0.1, loss="hinge")
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


def test_gate_learns_an_informative_routing():
    # two SVM components with hand-set weights: their class probabilities reveal the sign of x[0],
    # which is the part; a linear gate on the concatenated probabilities must recover it
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 2, generator=g)
    part = (x[:, 0] > 0).long().numpy()
    model = FusedLinearSVM(2, 2)
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[[-3.0, 0.0]], [[3.0, 0.0]]]))
        model.linear.bias.zero_()
    gate = train_gate(model, x, part, epochs=40, lr=0.05, batch_size=50, generator=torch.Generator().manual_seed(1),
                      loss="hinge")
    assert gate.linear.in_features == 4 and gate.linear.out_features == 2
    routes = gate_routes(gate, model, x, "hinge")
    assert (routes == part).mean() > 0.97
    # the mixture takes the routed component's prediction: component 1 says sign(+x0), component 0 sign(-x0)
    pred = mixture_predict(model, x, routes, "hinge")
    expected = np.where(routes == 1, np.sign(x[:, 0].numpy()), np.sign(-x[:, 0].numpy()))
    assert np.array_equal(pred, expected.astype(int))
