"""The selector interface: invariants every strategy keeps, gradient proxies, the reselection schedule."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from prestorepro.coreset import SELECTORS, SelectionSchedule, last_layer_gradients
from prestorepro.coreset.gradmatch import gradmatch_pb_batches
from prestorepro.coreset.pbcs import PbcsOptions

# options that keep each strategy quick on the tiny data below
FAST_OPTIONS = {
    "random": {},
    "craig": {},
    "gradmatch": {},
    "pbcs": {"options": PbcsOptions(outer_steps=5, num_masks=3)},
}


def _data(seed=0, n=90, c=3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 2.0 * np.eye(c)[labels]
    return last_layer_gradients(torch.tensor(logits), labels), labels


def test_every_registered_selector_is_covered():
    assert SELECTORS.names() == sorted(FAST_OPTIONS)


@pytest.mark.parametrize("name", sorted(FAST_OPTIONS))
@pytest.mark.parametrize("budget", [0, 1, 9, 27, 90])
def test_selector_invariants(name, budget):
    grads, labels = _data()
    select = SELECTORS.get(name)
    idx, w = select(budget, grads=grads, labels=labels, rng=np.random.default_rng(7), **FAST_OPTIONS[name])
    assert idx.dtype == np.int64 and w.dtype == np.float64 and idx.shape == w.shape
    assert idx.size <= budget
    assert np.all((idx >= 0) & (idx < labels.size)) and np.unique(idx).size == idx.size
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    if name in ("random", "craig", "pbcs"):
        assert idx.size == budget  # these always fill the budget
    again = select(budget, grads=torch.tensor(grads), labels=torch.tensor(labels), rng=np.random.default_rng(7),
                   **FAST_OPTIONS[name])
    np.testing.assert_array_equal(again[0], idx)  # torch input, same seed: same subset
    np.testing.assert_array_equal(again[1], w)


@pytest.mark.parametrize("name", ["random", "craig", "pbcs"])
def test_randomised_selectors_depend_on_the_seed(name):
    grads, labels = _data(1)
    options = dict(FAST_OPTIONS[name], **({"greedy": "stochastic"} if name == "craig" else {}))
    picks = {tuple(SELECTORS.get(name)(20, grads=grads, labels=labels, rng=np.random.default_rng(s), **options)[0])
             for s in range(5)}
    assert len(picks) > 1


@pytest.mark.parametrize("budget", [0, 3, 9, 27, 90])
def test_gradmatch_pb_batches_keep_the_budget_and_depend_on_the_seed(budget):
    # GRAD-MATCH-PB selects whole mini-batches (prestorepro.coreset.gradmatch), so it is not a point selector
    grads, labels = _data(1)
    picks = set()
    for s in range(5):
        batches, w = gradmatch_pb_batches(budget, grads=grads, labels=labels, rng=np.random.default_rng(s),
                                          batch_size=4)
        flat = np.concatenate(batches) if batches else np.empty(0, np.int64)
        assert flat.size <= budget and np.unique(flat).size == flat.size
        assert np.all((flat >= 0) & (flat < labels.size))
        assert len(w) == len(batches) and np.all(np.isfinite(w)) and np.all(np.asarray(w) >= 0)
        picks.add(tuple(flat))
    assert (len(picks) > 1) == (budget >= 4)  # a budget below one batch selects nothing, whatever the seed


def test_unknown_selector_lists_valid_names():
    with pytest.raises(KeyError, match="craig, gradmatch, pbcs, random"):
        SELECTORS.get("glister")


def test_bad_inputs_are_reported():
    grads, labels = _data()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"budget must lie in \[0, 90\]"):
        SELECTORS.get("craig")(91, grads=grads, labels=labels, rng=rng)
    with pytest.raises(ValueError, match="rows but labels has"):
        SELECTORS.get("craig")(5, grads=grads[:-1], labels=labels, rng=rng)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        SELECTORS.get("random")(5, grads=grads, labels=labels, rng=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        SELECTORS.get("craig")(5, grads=np.full_like(grads, np.nan), labels=labels, rng=rng)
    with pytest.raises(TypeError, match="unexpected keyword"):
        SELECTORS.get("craig")(5, grads=grads, labels=labels, rng=rng, lam=0.5)


def test_random_is_uniform():
    labels = np.zeros(20, dtype=np.int64)
    counts = np.zeros(20)
    reps = 4000
    for s in range(reps):
        idx, w = SELECTORS.get("random")(5, labels=labels, rng=np.random.default_rng(s))
        counts[idx] += 1
        assert np.all(w == 1.0)
    # each point is in the subset with probability 1/4: binomial sd sqrt(4000 * 3/16) ~ 27
    assert np.abs(counts - reps / 4).max() < 5 * np.sqrt(reps * 3 / 16)


def test_last_layer_gradients_equal_autograd():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 4, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 3, 1, 1, 2, 0, 3])
    F.cross_entropy(logits, labels, reduction="sum").backward()
    np.testing.assert_allclose(last_layer_gradients(logits, labels), logits.grad.numpy(), atol=1e-14)
    # with embeddings: the gradient of the last linear layer [bias | weight rows]
    emb = torch.randn(7, 3, generator=g, dtype=torch.float64)
    head = torch.nn.Linear(3, 4).double()
    per_point = []
    for i in range(7):
        head.zero_grad()
        F.cross_entropy(head(emb[i:i + 1]), labels[i:i + 1]).backward()
        per_point.append(torch.cat([head.bias.grad, head.weight.grad.reshape(-1)]))
    with torch.no_grad():
        got = last_layer_gradients(head(emb), labels, embeddings=emb)
    np.testing.assert_allclose(got, torch.stack(per_point).numpy(), atol=1e-14)
    # golden: equal logits, label 0 -> [1/2 - 1, 1/2]
    np.testing.assert_allclose(last_layer_gradients(torch.zeros(1, 2), [0]), [[-0.5, 0.5]])
    assert last_layer_gradients(torch.zeros(2, 3, dtype=torch.float32), [0, 1]).dtype == np.float32


def test_selection_schedule_golden():
    plain = SelectionSchedule(epochs=10, interval=3)
    assert plain.warm_epochs == 0
    assert plain.selection_epochs() == [0, 3, 6, 9]
    assert [plain.reselects(e) for e in range(10)] == [e % 3 == 0 for e in range(10)]
    assert plain.trained_epochs == 10 and not any(plain.skips(e) for e in range(10))
    # GRAD-MATCH §4, T = 300, kappa = 1/2, 10 % subsets: T_s = kappa T = 150 subset epochs and
    # T_f = T_s k / n = 15 full-data epochs: 165 trained epochs, not 15 + 285
    warm = SelectionSchedule(epochs=300, interval=20, kappa=0.5, fraction=0.1)
    assert (warm.warm_epochs, warm.select_after, warm.subset_epochs, warm.trained_epochs) == (15, 150, 150, 165)
    assert warm.uses_full_data(14) and not warm.uses_full_data(15)
    assert [e for e in range(300) if warm.skips(e)] == list(range(15, 150))  # CORDS skips them
    assert warm.selection_epochs()[:3] == [150, 170, 190] and warm.selection_epochs()[-1] == 290
    assert not warm.reselects(15) and warm.reselects(150) and not warm.reselects(160)
    # T = 10: T_s = 5, T_f = round(0.5) = 0 (Python's round, as CORDS); 5 subset epochs from epoch 5
    short = SelectionSchedule(epochs=10, interval=20, kappa=0.5, fraction=0.1)
    assert (short.warm_epochs, short.select_after, short.trained_epochs) == (0, 5, 5)
    assert [e for e in range(10) if short.skips(e)] == [0, 1, 2, 3, 4] and short.selection_epochs() == [5]
    # T = 10 at 30 %: T_f = round(1.5) = 2
    assert SelectionSchedule(epochs=10, interval=2, kappa=0.5, fraction=0.3).warm_epochs == 2
    # an odd T: int(kappa T) = 3 (CORDS), 4 subset epochs
    odd = SelectionSchedule(epochs=7, interval=2, kappa=0.5, fraction=0.3)
    assert (odd.select_after, odd.warm_epochs, odd.subset_epochs) == (3, 1, 4) and odd.selection_epochs() == [3, 5]
    with pytest.raises(ValueError, match="kappa"):
        SelectionSchedule(epochs=10, interval=2, kappa=1.5)
