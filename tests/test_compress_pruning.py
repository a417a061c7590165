"""SNIP / GraSP scores against hand-computed values and an explicit Hessian; exact pruning budgets."""
import numpy as np
import pytest
import torch
from torch import nn

from prestorepro.compress.pruning import (
    PRUNING_CRITERIA,
    apply_masks,
    class_balanced_sample,
    count_kept_parameters,
    count_unprunable,
    empty_layers,
    grasp_scores,
    mask_summary,
    prunable_parameters,
    prune_to_budget,
    snip_scores,
)
from prestorepro.models import ResNetTail, count_parameters
from prestorepro.training.single import Recipe, TrainingSet, train_single


def tiny_net(seed: int = 0, bias: bool = False) -> nn.Sequential:
    """x (3) -> W1 (4x3) -> W2 (2x4) -> logits, float64, weights drawn from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 4, bias=bias), nn.Linear(4, 2, bias=bias)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    return net


def tiny_data(seed: int = 1, n: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randint(2, (n,), generator=g)


def test_snip_scores_equal_hand_computed_connection_sensitivity():
    net = tiny_net()
    x, y = tiny_data()
    W1 = net[0].weight.detach().numpy()
    W2 = net[1].weight.detach().numpy()
    X, Y = x.numpy(), np.eye(2)[y.numpy()]
    # forward h = X W1^T, z = h W2^T; mean CE gradient dL/dz = (softmax(z) - Y) / n
    h = X @ W1.T
    z = h @ W2.T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d = (p - Y) / len(X)
    g2 = d.T @ h
    g1 = (d @ W2).T @ X
    scores = snip_scores(net, x, y)
    assert set(scores) == {"0.weight", "1.weight"}
    np.testing.assert_allclose(scores["0.weight"].numpy(), np.abs(g1 * W1), rtol=1e-10)
    np.testing.assert_allclose(scores["1.weight"].numpy(), np.abs(g2 * W2), rtol=1e-10)
    # two mini-batches: gradients of the two batch means are summed before |g * w|
    s2 = snip_scores(net, x, y, batch_size=3)
    n1 = 3
    g1a = ((p[:n1] - Y[:n1]) / n1 @ W2).T @ X[:n1] + ((p[n1:] - Y[n1:]) / 2 @ W2).T @ X[n1:]
    np.testing.assert_allclose(s2["0.weight"].numpy(), np.abs(g1a * W1), rtol=1e-10)


def _flat_loss(x, y, temperature, shapes):
    def f(theta):
        w1 = theta[: shapes[0].numel()].view(shapes[0])
        w2 = theta[shapes[0].numel():].view(shapes[1])
        return nn.functional.cross_entropy((x @ w1.T @ w2.T) / temperature, y)
    return f


@pytest.mark.parametrize("temperature", [1.0, 200.0])
def test_grasp_scores_equal_explicit_hessian_gradient_product(temperature):
    net = tiny_net(seed=2)
    x, y = tiny_data(seed=3, n=6)
    shapes = [net[0].weight.shape, net[1].weight.shape]
    theta = torch.cat([net[0].weight.detach().reshape(-1), net[1].weight.detach().reshape(-1)])
    f = _flat_loss(x, y, temperature, shapes)
    H = torch.autograd.functional.hessian(f, theta)
    g = torch.autograd.functional.jacobian(f, theta)
    expected = theta * (H @ g)  # importance = -S(-theta) of Wang et al. Eq. 8
    scores = grasp_scores(net, x, y, temperature=temperature)
    got = torch.cat([scores["0.weight"].reshape(-1), scores["1.weight"].reshape(-1)])
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-300)
    # with two mini-batches: g = g_a + g_b, Hg = (H_a + H_b) g
    fa, fb = _flat_loss(x[:4], y[:4], temperature, shapes), _flat_loss(x[4:], y[4:], temperature, shapes)
    Ha, Hb = torch.autograd.functional.hessian(fa, theta), torch.autograd.functional.hessian(fb, theta)
    gab = torch.autograd.functional.jacobian(fa, theta) + torch.autograd.functional.jacobian(fb, theta)
    s2 = grasp_scores(net, x, y, batch_size=4, temperature=temperature)
    got2 = torch.cat([s2["0.weight"].reshape(-1), s2["1.weight"].reshape(-1)])
    torch.testing.assert_close(got2, theta * ((Ha + Hb) @ gab), rtol=1e-9, atol=1e-300)


def test_grasp_keeps_lowest_removal_score():
    """Removing a weight changes ||g||^2 by about -2 theta^T H g (Wang et al. Eq. 7); the weights
    kept are those whose removal would reduce the gradient norm most."""
    net = tiny_net(seed=4)
    x, y = tiny_data(seed=5, n=8)
    scores = grasp_scores(net, x, y, temperature=1.0)
    masks = prune_to_budget(net, scores, target_nonzero_total=5)
    removal = {k: -v for k, v in scores.items()}  # S(-theta) = -theta * Hg of the reference code
    kept_removal = torch.cat([removal[k][masks[k]] for k in masks])
    dropped_removal = torch.cat([removal[k][~masks[k]] for k in masks])
    assert kept_removal.max() < dropped_removal.min()


@pytest.mark.parametrize("criterion", ["snip", "grasp"])
@pytest.mark.parametrize("target", [1, 7, 20])
def test_masks_keep_exactly_the_top_scored_weights(criterion, target):
    net = tiny_net(seed=6)
    x, y = tiny_data(seed=7, n=10)
    scores = PRUNING_CRITERIA.get(criterion)(net, x, y)
    masks = prune_to_budget(net, scores, target)
    assert sum(int(m.sum()) for m in masks.values()) == target  # no biases: nothing unprunable
    flat = torch.cat([scores[k].reshape(-1) for k in masks])
    kept = torch.cat([masks[k].reshape(-1) for k in masks])
    kth = torch.sort(flat, descending=True).values[target - 1]
    assert torch.equal(kept, flat >= kth)  # scores of random weights are distinct


def test_budget_counts_unprunable_biases():
    net = tiny_net(seed=8, bias=True)  # biases 4 + 2 are never pruned
    x, y = tiny_data()
    assert count_unprunable(net) == 6
    masks = prune_to_budget(net, snip_scores(net, x, y), target_nonzero_total=10)
    assert sum(int(m.sum()) for m in masks.values()) == 4
    assert count_kept_parameters(net, masks) == 10
    with pytest.raises(ValueError, match="unprunable"):
        prune_to_budget(net, snip_scores(net, x, y), target_nonzero_total=6)
    with pytest.raises(ValueError, match="unprunable"):
        prune_to_budget(net, snip_scores(net, x, y), target_nonzero_total=6 + 20 + 1)


def test_prunable_weights_are_conv_and_linear_only():
    model = ResNetTail("layer1", (2, 3, 4), 5)
    names = set(prunable_parameters(model))
    assert "fc.weight" in names and "fc.bias" not in names
    assert all(not n.endswith("bias") and ".bn" not in n for n in names)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(names) == len(convs) + 1
    assert count_unprunable(model) == count_parameters(model) - sum(p.numel() for p in prunable_parameters(model).values())


@pytest.mark.parametrize("target,cut,classes", [(54993, "layer1", 9), (82690, "layer2", 10)])
def test_reference_network_pruned_to_presto_count_exactly(target, cut, classes):
    # the reference network (256, 512, 1024) of App. B.5 has tens of millions of weights: build it
    # on the meta device and rank random scores, which is all prune_to_budget needs
    with torch.device("meta"):
        ref = ResNetTail(cut, (256, 512, 1024), classes)
    g = torch.Generator().manual_seed(0)
    scores = {k: torch.rand(p.shape, generator=g) for k, p in prunable_parameters(ref).items()}
    masks = prune_to_budget(ref, scores, target)
    assert count_kept_parameters(ref, masks) == target
    assert sum(int(m.sum()) for m in masks.values()) == target - count_unprunable(ref)


def seeded_tail(cut, widths, classes, seed):
    """ResNetTail with its weights redrawn from a seeded generator (module init uses the global RNG)."""
    model = ResNetTail(cut, widths, classes)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=g)
            elif isinstance(m, nn.Linear):
                bound = m.in_features ** -0.5
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)
    return model


@pytest.mark.parametrize("criterion", ["snip", "grasp"])
def test_pruned_resnet_tail_stays_pruned_through_training(criterion):
    model = seeded_tail("layer1", (4, 4, 8), 3, seed=5)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, 64, 4, 4, generator=g)
    y = torch.arange(24) % 3
    sample = class_balanced_sample(y, 4, torch.Generator().manual_seed(1))
    assert len(sample) == 12 and torch.bincount(y[sample]).tolist() == [4, 4, 4]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scores = PRUNING_CRITERIA.get(criterion)(model, x[sample], y[sample], batch_size=6)
    # scoring works on a copy: the model's weights and BN running statistics are untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    n_prunable = sum(p.numel() for p in prunable_parameters(model).values())
    target = count_unprunable(model) + n_prunable // 2
    masks = prune_to_budget(model, scores, target)
    assert empty_layers(masks) == []
    assert sum(v["kept"] for v in mask_summary(masks).values()) == n_prunable // 2
    apply_masks(model, masks)
    train_single(model, TrainingSet(x, y), recipe=Recipe(2, 8, 0.05), device="cpu",
                 generator=torch.Generator().manual_seed(2), masks=masks)
    params = dict(model.named_parameters())
    for name, m in masks.items():
        assert torch.count_nonzero(params[name][~m]) == 0  # pruned weights exactly 0
    kept_changed = sum(int((params[n][m] != before[n][m]).sum()) for n, m in masks.items())
    # the kept weights did train (not all: on a 1x1 map the 8 outer taps of a 3x3 kernel see only
    # padding and get no gradient, and GraSP keeps some of those, whose score is 0)
    assert kept_changed > 0.5 * (n_prunable // 2)
    assert count_kept_parameters(model, masks) == target


def test_empty_layers_reports_layer_collapse():
    net = tiny_net()
    masks = {"0.weight": torch.ones(4, 3, dtype=torch.bool), "1.weight": torch.zeros(2, 4, dtype=torch.bool)}
    assert empty_layers(masks) == ["1.weight"]
    assert mask_summary(masks) == {"0.weight": {"kept": 12, "total": 12}, "1.weight": {"kept": 0, "total": 8}}
    assert count_kept_parameters(net, masks) == 12


def test_prune_to_budget_rejects_mismatched_or_nonfinite_scores():
    net = tiny_net()
    x, y = tiny_data()
    scores = snip_scores(net, x, y)
    with pytest.raises(ValueError, match="prunable"):
        prune_to_budget(net, {"0.weight": scores["0.weight"]}, 5)
    scores["1.weight"][0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="NaN"):
        prune_to_budget(net, scores, 5)
