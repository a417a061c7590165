"""The combiner (SPEC §3, App. B.2) and the authors' reassignment (their score, their greedy assignment)."""
import numpy as np
import pytest
import torch

from prestorepro.models.fused import FusedResNetTail
from prestorepro.models.parameters import combiner_parameter_count
from prestorepro.presto import algorithm
from prestorepro.presto.algorithm import PrestoSettings, PrestoStreams, RunHooks, centre_distances, run_presto
from prestorepro.presto.assignment import InfeasibleConstraintError
from prestorepro.presto.moves import greedy_capacity_assignment
from prestorepro.presto.combiner import (Combiner, CombinerSchedule, authors_scores, combiner_predict, new_combiner,
                                         train_combiner)
from prestorepro.streams import generator
from presto_defaults import presto_settings


def _authors_loop(scores: np.ndarray, part_size: int) -> np.ndarray:
    """The authors' reassignment loop (presto.py, "Re-assigning bins") transcribed with numpy: N times,
    the argmin over the whole matrix, its row and (once full) its column overwritten with 99999."""
    n, k = scores.shape
    s = scores.copy()
    labels = np.full(n, -1)
    counts = np.zeros(k, dtype=int)
    for _ in range(n):
        i, j = np.unravel_index(np.argmin(s), s.shape)
        labels[i] = j
        s[i, :] = 99999
        counts[j] += 1
        if counts[j] == part_size:
            s[:, j] = 99999
    return labels


@pytest.mark.parametrize("seed", range(6))
def test_greedy_assignment_equals_the_authors_loop(seed):
    rng = np.random.default_rng(seed)
    n, k = 40, 4
    # rounded scores: many ties, broken in row-major order as argmin breaks them
    scores = np.round(rng.normal(size=(n, k)), 1)
    for cap in (10, 12, 40):
        got = greedy_capacity_assignment(scores, cap)
        np.testing.assert_array_equal(got, _authors_loop(scores, cap))
        assert np.bincount(got, minlength=k).max() <= cap and (got >= 0).all()


def test_greedy_assignment_has_a_maximum_only_and_refuses_too_little_room():
    # every point prefers part 0: it fills to the cap, the others take the rest; no minimum size
    scores = np.tile(np.array([0.0, 1.0, 2.0]), (9, 1))
    assert np.bincount(greedy_capacity_assignment(scores, 5), minlength=3).tolist() == [5, 4, 0]
    with pytest.raises(InfeasibleConstraintError, match="cannot hold 9"):
        greedy_capacity_assignment(scores, 2)


def test_authors_score_golden():
    # K = 2 components, C = 2 classes; W is (C, K*C)
    comb = Combiner(2, 2)
    with torch.no_grad():
        comb.linear.weight.copy_(torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]))
    z = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 1.0, 1.0, 0.0]])  # rows: [z_0 | z_1]
    y = torch.tensor([0, 1])
    # row 0, label 0: W[0, 0:2] . (1, 0) = 1; W[0, 2:4] . (0, 1) = 4
    # row 1, label 1: W[1, 0:2] . (2, 1) = 16; W[1, 2:4] . (1, 0) = 7
    torch.testing.assert_close(authors_scores(comb, z, y), torch.tensor([[1.0, 4.0], [16.0, 7.0]]))


def test_combiner_parameters_are_the_formula():
    for k, c in ((4, 10), (3, 7), (6, 9)):
        assert sum(p.numel() for p in Combiner(k, c).parameters()) == combiner_parameter_count(k, c) == (k * c + 1) * c


def _routing_problem(n=240, k=3, c=4, seed=0):
    """Component 0's logits carry the label; the others are noise: the combiner must learn to read 0."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % c
    z = torch.randn(n, k, c, generator=g)
    z[:, 0] = 4.0 * torch.nn.functional.one_hot(y, c).float() + 0.5 * torch.randn(n, c, generator=g)
    return z.reshape(n, k * c), y


def _train_new(x, y, seed, *, epochs, weight_decay):
    """A new combiner (K = 3, C = 4) drawn from the combiner stream of ``seed``, trained on (x, y) with it."""
    stream = generator(seed, "combiner")
    return train_combiner(new_combiner(3, 4, stream.initial_seed()), x, y,
                          CombinerSchedule(epochs=epochs, lr=0.01, weight_decay=weight_decay, batch_size=32),
                          generator=stream, device=torch.device("cpu"))


def test_train_combiner_learns_to_read_the_informative_component_and_keeps_its_best_epoch():
    x, y = _routing_problem()
    comb, info = _train_new(x, y, 0, epochs=8, weight_decay=1e-4)
    assert (combiner_predict(comb, x) == y.numpy()).mean() > 0.97
    assert info["best_epoch"] == int(np.argmin(info["loss"])) + 1 and info["best_loss"] == min(info["loss"])
    # the same seed gives the same weights; another seed others
    again, _ = _train_new(x, y, 0, epochs=8, weight_decay=1e-4)
    other, _ = _train_new(x, y, 1, epochs=8, weight_decay=1e-4)
    torch.testing.assert_close(comb.linear.weight, again.linear.weight, rtol=0, atol=0)
    assert not torch.equal(comb.linear.weight, other.linear.weight)
    # the weight rows read component 0's slice most
    w = comb.linear.weight.detach().abs().reshape(4, 3, 4).sum((0, 2))
    assert int(w.argmax()) == 0


def test_train_combiner_returns_the_lowest_loss_epoch_not_the_last(monkeypatch):
    from prestorepro.presto import combiner as C

    x, y = _routing_problem(n=60)
    losses = iter([0.9, 0.2, 0.5])  # epoch 2 is the best
    seen = []

    def fake_epoch(model, opt, *a, **kw):
        with torch.no_grad():
            model.linear.weight.add_(1.0)  # every epoch changes the weights
        seen.append(model.linear.weight.detach().clone())
        return next(losses), -1, 2

    monkeypatch.setattr(C, "train_epoch", fake_epoch)
    comb, info = _train_new(x, y, 0, epochs=3, weight_decay=0.0)
    assert info["best_epoch"] == 2
    torch.testing.assert_close(comb.linear.weight, seen[1])


def _image_problem(n=48, seed=0, classes=3):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randn(n, 64, 4, 4, generator=g) + y.view(-1, 1, 1, 1).float()
    return x, y


@pytest.mark.parametrize("reassign,sign", [("authors", 1.0), ("authors_flipped", -1.0), ("authors_exact", 1.0)])
def test_authors_reassignment_scores_with_the_kept_combiner_and_assigns_by_their_rule(monkeypatch, reassign, sign):
    x, y = _image_problem()
    model = FusedResNetTail(3, "layer1", (2, 2, 4), 3)
    settings = presto_settings(k=3, rounds=3, epochs=1, batch_size=8, lr=0.01, lam=1e-4, epsilon=3e-3, leeway=4,
                               keep="every", reassign=reassign, combiner_epochs=2)
    scores, costs = [], []
    real_scores = algorithm.authors_scores
    monkeypatch.setattr(algorithm, "authors_scores", lambda *a: scores.append(real_scores(*a)) or scores[-1])
    for name in ("greedy_capacity_assignment", "solve_assignment_bounded"):
        real = getattr(algorithm, name)
        monkeypatch.setattr(algorithm, name, lambda M, *a, _real=real, **kw: costs.append((M.copy(), a))
                            or _real(M, *a, **kw))
    a0 = np.arange(48) % 3
    res = run_presto(model, x, y, a0, settings,
                     PrestoStreams([torch.Generator().manual_seed(j) for j in range(3)], generator(0, "combiner")))
    assert len(scores) == len(costs) == res.rounds_run
    per_round = res.assignments_per_round.astype(np.int64)
    for r, (S, (M, args)) in enumerate(zip(scores, costs)):
        dist = centre_distances(x.reshape(48, -1).float(), torch.as_tensor(per_round[r]), 3)
        np.testing.assert_allclose(M, (sign * S + 3e-3 * dist).double().numpy(), rtol=1e-6, atol=1e-6)
        if reassign == "authors_exact":  # the size-constrained optimum within [16 - 4, 16 + 4]
            assert args[1:3] == (12, 20)
        else:  # greedy, each part capped at N/K + leeway
            assert args == (20,)
        if r + 1 < len(per_round):
            assert np.bincount(per_round[r + 1], minlength=3).max() <= 20
    assert all("combiner_loss" in h for h in res.history) and res.seconds["score_combiner"] > 0


def test_authors_reassignment_resumes_exactly(tmp_path):
    x, y = _image_problem()
    settings = presto_settings(k=3, rounds=3, epochs=1, batch_size=8, lr=0.01, lam=1e-4, epsilon=3e-3, leeway=4,
                               reassign="authors", combiner_epochs=2)

    def run(rounds, ckpt):
        torch.manual_seed(0)
        model = FusedResNetTail(3, "layer1", (2, 2, 4), 3)
        s = PrestoSettings(**{**settings.__dict__, "rounds": rounds})
        streams = PrestoStreams([torch.Generator().manual_seed(j) for j in range(3)], generator(0, "combiner"))
        return run_presto(model, x, y, np.arange(48) % 3, s, streams, hooks=RunHooks(checkpoint_path=ckpt)), model

    full, m_full = run(3, None)
    ckpt = tmp_path / "ck.pt"
    run(1, ckpt)  # "killed" after round 1
    resumed, m_res = run(3, ckpt)
    assert [h["objective"] for h in resumed.history] == [h["objective"] for h in full.history]
    np.testing.assert_array_equal(resumed.assignment, full.assignment)
    for a, b in zip(m_full.parameters(), m_res.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_settings_refuse_what_the_reassignment_cannot_do():
    with pytest.raises(ValueError, match="cannot bound the moves"):
        presto_settings(k=2, reassign="bound_greedy", max_moves=0.1)
    with pytest.raises(ValueError, match="class\\s+logits"):
        presto_settings(k=2, reassign="authors", loss="hinge")
    with pytest.raises(ValueError, match="reassign must be one of"):
        presto_settings(k=2, reassign="nope")
    with pytest.raises(ValueError, match="combiner_generator"):
        run_presto(FusedResNetTail(2, "layer1", (2, 2, 4), 3), *_image_problem(), np.arange(48) % 2,
                   presto_settings(k=2, rounds=1, epochs=1, leeway=2, reassign="authors"),
                   PrestoStreams([torch.Generator()] * 2))


def test_table1_baseline_is_evaluated_under_both_predictors_on_the_same_components():
    from prestorepro.table1.run import RunSpec, run_method
    from prestorepro.features import Features
    from prestorepro.presto.combiner import combiner_inputs
    from prestorepro.training.fused import component_outputs

    g = torch.Generator().manual_seed(0)
    parts = {}
    for split, m in (("train", 60), ("val", 24), ("test", 24)):
        parts[f"{split}_y"] = torch.arange(m) % 3
        parts[f"{split}_x"] = torch.randn(m, 64, 4, 4, generator=g) + parts[f"{split}_y"].view(-1, 1, 1, 1).float()
    feats = Features(**parts, num_classes=3, cut="layer1")
    presto = {"rounds": 2, "epochs": 1, "batch_size": 8, "lr": 0.01, "lam": 1e-4, "alpha": 1.0, "singleton": "current",
              "singleton_steps": 5, "singleton_lr": 0.01, "keep": "decreased", "max_moves": 1.0, "reassign": "bound", "combiner_epochs": 3,
              "combiner_weight_decay": 1e-4}
    spec = RunSpec(method="equal_kmeans", k=3, seed=0, widths=(2, 2, 4), presto=presto,
                   table1={"pca_dim": 8, "max_fit_samples": 100, "n_init": 1, "covariance_type": "full"},
                   dataset={"leeway": 2, "epsilon": 0.003})
    out = run_method(feats, spec)
    comb, router = out["predictors"]["combiner"], out["predictors"]["router"]
    assert comb["parameters"] == (3 * 3 + 1) * 3 and router["parameters"] == 0
    # the combiner's accuracy is its own prediction over the K trained components' logits
    pred = combiner_predict(out["combiner"], combiner_inputs(out["model"], feats.test_x))
    assert comb["test_accuracy"] == pytest.approx(float((pred == feats.test_y.numpy()).mean()))
    # the router's: each test point predicted by the component its cluster routes it to
    labels = component_outputs(out["model"], feats.test_x).argmax(-1).numpy()
    routed = labels[np.arange(24), out["test_routes"]]
    assert router["test_accuracy"] == pytest.approx(float((routed == feats.test_y.numpy()).mean()))
    assert "own assignment rule" in router["predictor"] and "combiner" in comb["predictor"]
