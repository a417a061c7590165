"""KD / DGKD losses and student width matching (paper §4.2, App. B.5)."""

import math

import pytest
import torch
from torch import nn

from prestorepro.compress.distill import (
    Distiller,
    dgkd_loss,
    draw_guides,
    kd_loss,
    match_student_widths,
    tail_parameter_count,
)
from prestorepro.models import ResNetTail, count_parameters

S = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 1.5]], dtype=torch.float64)
TCH = torch.tensor([[2.0, 0.0, 1.0], [0.5, 0.5, -1.0]], dtype=torch.float64)
Y = torch.tensor([1, 2])


def test_kd_loss_golden_values():
    # Computed by hand with math.exp/log: CE = 0.336986932125757,
    # KL(T=5) = 0.04712096503030758, KL(T=2) = 0.2728293098638146 (batch means).
    assert float(kd_loss(S, TCH, Y, T=5.0, a=0.9)) == pytest.approx(1.0939204063944963, rel=1e-12)
    assert float(kd_loss(S, TCH, Y, T=2.0, a=0.5)) == pytest.approx(0.7141520857905077, rel=1e-12)
    # a = 0 is the plain cross-entropy, a = 1 the pure soft-target term
    assert float(kd_loss(S, TCH, Y, T=5.0, a=0.0)) == pytest.approx(0.336986932125757, rel=1e-12)
    assert float(kd_loss(S, TCH, Y, T=5.0, a=1.0)) == pytest.approx(25 * 0.04712096503030758, rel=1e-12)


def test_kd_loss_gradient_does_not_reach_teacher():
    t = TCH.clone().requires_grad_(True)
    s = S.clone().requires_grad_(True)
    kd_loss(s, t, Y).backward()
    assert t.grad is None and s.grad is not None


def test_dgkd_with_one_guide_equals_kd():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(6, 4, generator=g, dtype=torch.float64)
    t = torch.randn(6, 4, generator=g, dtype=torch.float64)
    y = torch.randint(4, (6,), generator=g)
    assert float(dgkd_loss(s, [t], y, T=5.0, a=0.9)) == pytest.approx(float(kd_loss(s, t, y, 5.0, 0.9)), rel=1e-14)
    # dropping cannot remove the only guide
    gen = torch.Generator().manual_seed(1)
    assert float(dgkd_loss(s, [t], y, 5.0, 0.9, drop_prob=0.9, generator=gen)) == pytest.approx(
        float(kd_loss(s, t, y, 5.0, 0.9)), rel=1e-14)


def test_dgkd_sums_guide_terms_as_son_et_al():
    # Son et al. 2021 §3.2 / their train.py: (1 - lambda) CE + lambda T^2 (KL_teacher + KL_assistant)
    s = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.0]], dtype=torch.float64)
    t1 = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    t2 = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    T, a = 2.0, 0.8

    def softmax(row):
        e = [math.exp(v / T) for v in row]
        return [v / sum(e) for v in e]

    def kl(t, row):  # KL(softmax(t/T) || softmax(s/T)) of one row, by hand
        p, q = softmax(t[row].tolist()), softmax(s[row].tolist())
        return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))

    ce = -sum(math.log(math.exp(s[i, y[i]]) / sum(math.exp(v) for v in s[i].tolist())) for i in range(2)) / 2
    soft = sum((kl(t1, i) + kl(t2, i)) / 2 for i in range(2))  # each guide's batch-mean KL, summed
    expected = (1 - a) * ce + a * T * T * soft
    assert float(dgkd_loss(s, [t1, t2], y, T=T, a=a)) == pytest.approx(expected, rel=1e-12)
    # and so: DGKD with two guides = KD with each, soft parts added, the CE once
    kd1, kd2 = (float(kd_loss(s, t, y, T, a)) for t in (t1, t2))
    assert float(dgkd_loss(s, [t1, t2], y, T=T, a=a)) == pytest.approx(kd1 + kd2 - (1 - a) * ce, rel=1e-12)


def test_guide_dropping_never_drops_all_and_matches_kept_guides():
    gen = torch.Generator().manual_seed(3)
    counts = [0, 0, 0]
    for _ in range(300):
        kept = draw_guides(3, 0.7, gen)
        assert 1 <= len(kept) <= 3 and kept == sorted(set(kept))
        for j in kept:
            counts[j] += 1
    assert all(c > 0 for c in counts)
    # the loss under dropping is the average over exactly the guides drawn with the same generator state
    g = torch.Generator().manual_seed(4)
    s, t1, t2 = (torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(3))
    y = torch.randint(3, (4,), generator=g)
    gen_a, gen_b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    for _ in range(10):
        kept = draw_guides(2, 0.5, gen_b)
        guides = [t1, t2]
        expected = dgkd_loss(s, [guides[j] for j in kept], y, 5.0, 0.9)
        assert float(dgkd_loss(s, guides, y, 5.0, 0.9, drop_prob=0.5, generator=gen_a)) == pytest.approx(
            float(expected), rel=1e-14)


def test_guide_dropping_needs_generator():
    with pytest.raises(ValueError, match="Generator"):
        dgkd_loss(S, [TCH], Y, drop_prob=0.5)
    with pytest.raises(ValueError, match="drop_prob"):
        draw_guides(2, 1.0, torch.Generator())


def test_distiller_module_and_precomputed_guides_agree():
    g = torch.Generator().manual_seed(0)
    teacher = nn.Linear(5, 3).double()
    with torch.no_grad():
        teacher.weight.copy_(torch.randn(3, 5, generator=g))
        teacher.bias.copy_(torch.randn(3, generator=g))
    x = torch.randn(8, 5, generator=g, dtype=torch.float64)
    y = torch.randint(3, (8,), generator=g)
    logits = teacher(x).detach()
    idx = torch.tensor([6, 1, 3])
    student_out = torch.randn(3, 3, generator=g, dtype=torch.float64)
    d_mod = Distiller([teacher], T=5.0, a=0.9)
    d_pre = Distiller([logits], T=5.0, a=0.9)
    l_mod = d_mod.loss(student_out, d_mod.guide_logits(idx, x[idx]), y[idx])
    l_pre = d_pre.loss(student_out, d_pre.guide_logits(idx, x[idx]), y[idx])
    assert float(l_mod) == pytest.approx(float(l_pre), rel=1e-12)
    assert float(l_pre) == pytest.approx(float(kd_loss(student_out, logits[idx], y[idx])), rel=1e-12)


@pytest.mark.parametrize("cut,widths,classes", [
    ("layer1", (12, 16, 32), 9), ("layer2", (12, 16, 32), 10), ("layer1", (3, 5, 7), 7),
    ("layer2", (4, 8, 16), 10), ("layer1", (256, 512, 1024), 10),
])
def test_tail_parameter_count_matches_built_model(cut, widths, classes):
    if widths[-1] > 500:
        # the reference network: count by building it on the meta device (no memory, no init cost)
        with torch.device("meta"):
            model = ResNetTail(cut, widths, classes)
    else:
        model = ResNetTail(cut, widths, classes)
    assert tail_parameter_count(cut, widths, classes) == count_parameters(model)


@pytest.mark.parametrize("target,cut,classes", [
    (82690, "layer2", 10),  # CIFAR10, K = 4
    (54993, "layer1", 9),   # PathMNIST, K = 4
    (41047, "layer1", 7),   # DermaMNIST, K = 3
    (55138, "layer1", 10),  # SVHN, K = 4
])
def test_student_widths_match_paper_targets_within_5_percent(target, cut, classes):
    widths = match_student_widths(target, cut, classes)
    n = count_parameters(ResNetTail(cut, widths, classes))
    assert abs(n - target) / target <= 0.05
    # the closest proportional scaling: neighbours one step smaller/larger in the last width are no closer
    for w3 in (widths[2] - 1, widths[2] + 1):
        s = w3 / 32
        other = tuple(max(1, int(s * b + 0.5)) for b in (12, 16, 32))
        assert abs(tail_parameter_count(cut, other, classes) - target) >= abs(n - target)


def test_student_widths_exact_at_base_and_impossible_target():
    base_count = tail_parameter_count("layer1", (12, 16, 32), 9)
    assert match_student_widths(base_count, "layer1", 9) == (12, 16, 32)
    with pytest.raises(ValueError, match="within 5%"):
        # even widths (1, 1, 1) have more parameters than this
        match_student_widths(100, "layer1", 10)
