"""App. C's diagnostics (synthetic.diagnostics): Eq. 1 at its optimum, the distance term, and the runs
started at the true partition."""
import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from prestorepro.data import make_synthetic
from prestorepro.synthetic.diagnostics import distance_term, objective_vs_epsilon, optimal_objective, true_start_runs
from presto_defaults import presto_settings


def _exact_qp(x, y, lam):
    """min over theta = (w, b) of sum_i max(0, 1 - theta . z_i) + c ||theta||^2, z_i = y_i (x_i, 1), c = lam n,
    through its dual, a box-constrained concave quadratic: max sum alpha - ||sum alpha_i z_i||^2 / (4c) over
    0 <= alpha <= 1, solved by L-BFGS-B; theta = sum alpha_i z_i / (2c) and the primal value there is
    returned (strong duality: it equals the dual value at the optimum, which is asserted)."""
    n = len(x)
    z = y[:, None] * np.c_[x, np.ones(n)]
    c = lam * n

    def neg_dual(a):
        v = z.T @ a
        return -(a.sum() - v @ v / (4 * c)), -(1.0 - z @ v / (2 * c))

    res = minimize(neg_dual, np.full(n, 0.5), jac=True, bounds=[(0.0, 1.0)] * n, method="L-BFGS-B",
                   options=dict(ftol=1e-15, gtol=1e-12, maxiter=100000, maxfun=100000))
    theta = z.T @ res.x / (2 * c)
    primal = np.maximum(0.0, 1.0 - z @ theta).sum() + c * theta @ theta
    assert primal == pytest.approx(-res.fun, rel=1e-5)  # no duality gap: both are the optimum
    return primal


@pytest.mark.parametrize("shift,labels", [((3.0, 0.0), "one"), ((1.0, 1.0), "one"), ((0.5, -2.0), "one"),
                                          ((2.0, 1.0), "minus"), ((0.0, 0.0), "two"), ((1.0, 0.5), "two")])
def test_optimal_objective_agrees_with_an_exact_qp_for_one_and_two_labels(shift, labels):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2)) * 0.4 + np.array(shift)
    y = {"one": np.ones(120), "minus": -np.ones(120)}.get(
        labels, np.where(x[:, 0] + 0.3 * rng.normal(size=120) > shift[0], 1.0, -1.0))
    lam = 1e-2
    got = optimal_objective(x, y, np.zeros(120, dtype=int), 1, lam)
    assert got == pytest.approx(_exact_qp(x, y, lam), rel=1e-5)
    if labels in ("one", "minus") and shift != (1.0, 1.0):
        # a one-label part away from the origin costs less than theta = (0, y), lam * n
        assert got < lam * 120 - 1e-3


def test_distance_term_brute_force():
    rng = np.random.default_rng(1)
    x, parts = rng.normal(size=(30, 2)), rng.integers(0, 3, 30)
    want = sum(np.linalg.norm(x[i] - x[parts == parts[i]].mean(0)) for i in range(30))
    assert distance_term(x, parts, 3) == pytest.approx(want, rel=1e-12)


def test_objective_vs_epsilon_finds_where_the_preference_turns():
    rng = np.random.default_rng(2)
    x, y, g = make_synthetic(800, rng)
    true, pure = g, (y > 0).astype(int) + 2 * (x[:, 0] > 0)  # label-pure parts
    out = objective_vs_epsilon(x, y, {"true": true, "final": pure}, 4, 1e-4, [0.0, 0.01, 0.05])
    for name in ("true", "final"):
        r = out[name]
        assert r["G"] == pytest.approx(optimal_objective(x, y, true if name == "true" else pure, 4, 1e-4))
        assert r["G_plus_epsilon_D"] == pytest.approx([r["G"] + e * r["D"] for e in (0.0, 0.01, 0.05)])
    eps = out["crossover_epsilon"]
    # at the crossover both totals are equal; the true partition is preferred beyond it only
    if eps is not None and eps > 0:
        t, f = out["true"], out["final"]
        assert t["G"] + eps * t["D"] == pytest.approx(f["G"] + eps * f["D"], rel=1e-9)
        assert t["G"] + 2 * eps * t["D"] < f["G"] + 2 * eps * f["D"]
        assert t["G"] + 0.5 * eps * t["D"] > f["G"] + 0.5 * eps * f["D"]


def test_true_start_runs_record_err_s_per_round():
    x, y, g = make_synthetic(800, np.random.default_rng(3))
    s = presto_settings(k=4, rounds=9, epochs=1, batch_size=64, lr=0.01, lam=1e-4, epsilon=3e-3, leeway=0, loss="hinge")
    out = true_start_runs(torch.tensor(x), torch.tensor(y), g, s, 0,
                          {"true_start_rounds": 2, "converged_epochs": 3, "converged_lr": 0.05})
    assert set(out) == {"configured", "converged"}
    assert (out["configured"]["epochs"], out["converged"]["epochs"], out["converged"]["lr"]) == (1, 3, 0.05)
    for run in out.values():
        # round 1 trains the true partition itself: Err_S 0 before the first move
        assert run["err_s_normalised_per_round"][0] == 0.0
        assert len(run["moves_per_round"]) == run["rounds_run"] <= 2
        assert 0.0 <= run["final_err_s_normalised"] <= 1.0


def test_synthetic_table_lists_the_diagnostics_in_epsilon_order_with_intervals():
    from prestorepro.report.synthetic import diagnostic_scalars, synthetic_frame

    m = {"diagnostics": {
        "objective_vs_epsilon": {"epsilon": [0.0, 0.03, 0.003],
                                 "true": {"G": 43.0, "D": 12000.0, "G_plus_epsilon_D": [43.0, 403.0, 79.0]},
                                 "final": {"G": 1.3, "D": 15000.0, "G_plus_epsilon_D": [1.3, 451.3, 46.3]},
                                 "crossover_epsilon": 0.0139},
        "true_start": {"configured": {"moves_per_round": [9316, 20], "final_err_s_normalised": 0.59},
                       "converged": {"moves_per_round": [368], "final_err_s_normalised": 0.02}}}}
    d = diagnostic_scalars(m)
    assert d["diag_eps_0.03_final"] == 451.3 and d["diag_crossover_epsilon"] == 0.0139
    assert d["diag_true_start_configured_moves_round1"] == 9316 and d["diag_true_start_converged_err_s"] == 0.02
    # summary.json as summarize_synthetic writes it (here in alphabetical order, as a sorted JSON is)
    summary = {"seeds": 3, **{k: {"mean": v, "std": 0.3} for k, v in sorted(d.items())}}
    df = synthetic_frame(summary, [])
    q = [x for x in df["quantity"] if "epsilon" in x or "S*_k," in x]
    assert q[:6] == [f"Eq. 1 at its optimum + epsilon * D, epsilon = {e}, {p}"
                     for e in ("0", "0.003", "0.03") for p in ("true partition S*_k", "PRESTO's final partition")]
    assert q[6] == "epsilon above which Eq. 1 + epsilon * D prefers the true partition"
    assert q[7:] == ["started at S*_k, configured Train(): final Err_S / pairs",
                     "started at S*_k, configured Train(): points moved in round 1",
                     "started at S*_k, Train() converged: final Err_S / pairs",
                     "started at S*_k, Train() converged: points moved in round 1"]
    # three seeds, std 0.3: the 95 % half-width is t_{0.975, 2} x 0.3 / sqrt(3)
    assert df["ours_ci95"].dropna().iloc[0] == pytest.approx(4.302652729749462 * 0.3 / np.sqrt(3), abs=1e-4)
