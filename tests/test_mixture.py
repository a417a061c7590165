"""The mixture of experts (SPEC §5b): its likelihood and gradient against a brute-force computation on a few
points, the load-balancing term and the predictions' golden values, hard EM's E step, and the trainer's
invariants (the likelihood falls, a resumed run equals an uninterrupted one)."""
import math

import numpy as np
import pytest
import torch

from prestorepro.mixture.objective import (balance_penalty, expert_log_likelihood, mixture_nll,
                                           mixture_probabilities, responsibilities)
from prestorepro.mixture.training import (MixtureHooks, MixtureSettings, gate_partition, responsible_experts,
                                          train_mixture)
from prestorepro.models.fused import FusedLinearSVM
from prestorepro.presto.gate import new_gate
from prestorepro.streams import generator


def _brute_force_nll(gate_logits, out, y):
    """-log sum_k g_k p_k(y | x) written out with plain probabilities, point by point (float64)."""
    total = []
    for i in range(gate_logits.shape[0]):
        g = [math.exp(a) for a in gate_logits[i].tolist()]
        g = [v / sum(g) for v in g]
        lik = 0.0
        for k in range(out.shape[1]):
            e = [math.exp(v) for v in out[i, k].tolist()]
            lik += g[k] * e[int(y[i])] / sum(e)
        total.append(-math.log(lik))
    return total


def test_the_mixture_likelihood_and_its_gradient_agree_with_brute_force():
    g = torch.Generator().manual_seed(0)
    gate_logits = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    out = torch.randn(5, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 1, 1, 2])
    nll = mixture_nll(gate_logits, expert_log_likelihood(out, y, "ce"))
    assert nll.tolist() == pytest.approx(_brute_force_nll(gate_logits.detach(), out.detach(), y), rel=1e-12)
    nll.sum().backward()
    # the gradient of the naive formula, by autograd on softmax probabilities (no log-sum-exp)
    a2, o2 = gate_logits.detach().clone().requires_grad_(), out.detach().clone().requires_grad_()
    naive = -(torch.softmax(a2, 1) * torch.softmax(o2, 2)[torch.arange(5), :, y]).sum(1).log()
    naive.sum().backward()
    torch.testing.assert_close(gate_logits.grad, a2.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.grad, o2.grad, rtol=1e-12, atol=1e-12)
    # d NLL / d a_k = g_k - h_k: the gate is pulled towards the posterior responsibilities
    h = responsibilities(gate_logits.detach(), expert_log_likelihood(out.detach(), y, "ce"))
    torch.testing.assert_close(gate_logits.grad, torch.softmax(gate_logits.detach(), 1) - h, rtol=1e-12, atol=1e-12)


def test_golden_values_on_one_point():
    # two experts, equal gate; expert 0 gives the true class probability 1/2, expert 1 gives 1/4
    gate_logits = torch.zeros(1, 2, dtype=torch.float64)
    out = torch.log(torch.tensor([[[0.5, 0.5, 0.0 + 1e-300], [0.25, 0.75, 1e-300]]], dtype=torch.float64))
    y = torch.tensor([0])
    ll = expert_log_likelihood(out, y, "ce")
    assert mixture_nll(gate_logits, ll).item() == pytest.approx(-math.log(0.5 * 0.5 + 0.5 * 0.25))
    assert responsibilities(gate_logits, ll)[0].tolist() == pytest.approx([2 / 3, 1 / 3])
    # the mixture's class probabilities: the gate-weighted mean of the experts'
    assert mixture_probabilities(gate_logits, out, "ce")[0, :2].tolist() == pytest.approx([0.375, 0.625])
    # logistic experts: p(y | x) = sigmoid(y s)
    s = torch.tensor([[[2.0], [-1.0]]], dtype=torch.float64)
    ll = expert_log_likelihood(s, torch.tensor([1]), "logistic")
    assert ll[0].tolist() == pytest.approx([math.log(1 / (1 + math.exp(-2))), math.log(1 / (1 + math.exp(1)))])
    assert mixture_probabilities(torch.tensor([[0.0, 100.0]], dtype=torch.float64), s, "logistic")[0].tolist() == \
        pytest.approx([1 - 1 / (1 + math.exp(1)), 1 / (1 + math.exp(1))])


def test_the_balance_term_is_zero_when_even_and_k_minus_one_when_one_expert_takes_all():
    assert balance_penalty(torch.zeros(8, 4)).item() == pytest.approx(0.0, abs=1e-12)
    one = torch.full((8, 4), -1e4)
    one[:, 2] = 0.0
    assert balance_penalty(one).item() == pytest.approx(3.0)
    half = torch.tensor([[0.0, -1e4], [-1e4, 0.0]])  # each row to one expert, the batch spread evenly
    assert balance_penalty(half).item() == pytest.approx(0.0, abs=1e-9)


def _two_lines(n=400, seed=0):
    """x in [-1, 1]^2; y = sign(x2) left of x1 = 0, sign(-x2) right of it: two linear experts and a gate on x1
    fit it exactly."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = np.where(x[:, 0] < 0, np.sign(x[:, 1]), -np.sign(x[:, 1])).astype(np.int64)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def _mixture(k=2, seed=0):
    torch.manual_seed(seed)
    return FusedLinearSVM(k, 2), new_gate(k, 2, 2, "features", 77 + seed)


@pytest.mark.parametrize("training", ["soft", "hard_em"])
def test_training_lowers_the_likelihood_and_a_resumed_run_equals_an_uninterrupted_one(training, tmp_path):
    x, y = _two_lines()
    s = MixtureSettings(rounds=6, epochs=3, batch_size=32, lr=0.05, lam=1e-4, training=training, loss="logistic")
    initial = (np.arange(len(x)) % 2) if training == "hard_em" else None

    def gens():
        return ([torch.Generator().manual_seed(j) for j in range(3)] if training == "hard_em"
                else [generator(0, "moe")])

    model, gate = _mixture()
    full = train_mixture(model, gate, x, y, s, gens(), initial=initial)
    nll = [h["train_nll"] for h in full.history]
    assert nll[-1] < nll[0] and np.isfinite(nll).all()
    assert full.assignments_per_round.shape == (full.rounds_run, len(x))
    if training == "soft":
        assert full.rounds_run == 6 and full.stop_reason == "rounds exhausted"
        np.testing.assert_array_equal(full.assignment, gate_partition(gate, x))
    # the same run stopped after 3 rounds and resumed from its checkpoint ends with the same parameters
    ckpt = tmp_path / "moe.pt"
    m2, g2 = _mixture()
    g_first = gens()
    train_mixture(m2, g2, x, y, MixtureSettings(**{**s.__dict__, "rounds": 3}), g_first, initial=initial,
                  hooks=MixtureHooks(checkpoint_path=ckpt))
    m3, g3 = _mixture()
    resumed = train_mixture(m3, g3, x, y, s, gens(), initial=initial, hooks=MixtureHooks(checkpoint_path=ckpt))
    for a, b in zip(list(model.parameters()) + list(gate.parameters()), list(m3.parameters()) + list(g3.parameters())):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [h["train_nll"] for h in resumed.history] == nll
    np.testing.assert_array_equal(resumed.assignment, full.assignment)


def test_hard_em_assigns_each_point_to_its_most_responsible_expert():
    x, y = _two_lines()
    s = MixtureSettings(rounds=4, epochs=2, batch_size=32, lr=0.05, lam=1e-4, training="hard_em", loss="logistic")
    model, gate = _mixture()
    seen = []

    def on_round(r, m, g, parts):
        seen.append(responsible_experts(m, g, x, y, "logistic"))  # the E step the next round takes
        return {}

    res = train_mixture(model, gate, x, y, s, [torch.Generator().manual_seed(j) for j in range(3)],
                        initial=np.arange(len(x)) % 2, hooks=MixtureHooks(on_round=on_round))
    for r in range(1, res.rounds_run):
        np.testing.assert_array_equal(res.assignments_per_round[r], seen[r - 1])
    # brute force on the first points: argmax_k g_k(x) p_k(y | x) from the experts' scores and the gate
    with torch.no_grad():
        sc = model(x[:5])[..., 0]
        p = torch.sigmoid(y[:5, None].float() * sc) * torch.softmax(gate(x[:5]), 1)
    np.testing.assert_array_equal(p.argmax(1).numpy(), responsible_experts(model, gate, x[:5], y[:5], "logistic"))


def test_bad_settings_are_refused_with_the_valid_values():
    with pytest.raises(ValueError, match="training 'em' is not one of soft, hard_em"):
        MixtureSettings(rounds=1, epochs=1, batch_size=1, lr=0.1, lam=0.0, training="em")
    with pytest.raises(ValueError, match="need rounds, epochs, batch_size >= 1"):
        MixtureSettings(rounds=0, epochs=1, batch_size=1, lr=0.1, lam=0.0)
    model, gate = _mixture()
    x, y = _two_lines(20)
    with pytest.raises(ValueError, match="hard EM needs the initial partition"):
        train_mixture(model, gate, x, y, MixtureSettings(rounds=1, epochs=1, batch_size=4, lr=0.1, lam=0.0,
                                                         training="hard_em", loss="logistic"), [torch.Generator()])


def test_hard_em_leaves_an_expert_without_points_as_it_was():
    # every point starts with expert 0: experts 1 and 2 get no batch, keep their weights (no L2 step either) and
    # are recorded with part size 0; the run stops once no point changes its most responsible expert
    x, y = _two_lines()
    s = MixtureSettings(rounds=3, epochs=2, batch_size=32, lr=0.05, lam=1e-4, training="hard_em", loss="logistic")
    model, gate = _mixture(k=3)
    before = [p.detach().clone() for p in model.parameters()]
    res = train_mixture(model, gate, x, y, s, [torch.Generator().manual_seed(j) for j in range(4)],
                        initial=np.zeros(len(x), dtype=np.int64))
    assert res.history[0]["part_sizes"] == [400, 0, 0]
    assert np.isfinite([h["train_nll"] for h in res.history]).all()
    for b, p in zip(before, model.parameters()):
        assert not torch.equal(b[0], p.detach()[0])
        torch.testing.assert_close(p.detach()[1:], b[1:], rtol=0, atol=0)
