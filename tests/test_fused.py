"""Fused K-component training equals training each component alone.

Training comparisons run in float64: Adam's first steps are ~lr*sign(g), so a gradient that is zero
up to float32 rounding (a different but equally valid summation order in a grouped convolution)
would otherwise move a weight by a different ~lr and hide real agreement behind noise.
"""
import pytest
import torch

from prestorepro.models.fused import FusedLinearSVM, FusedResNetTail
from prestorepro.training.masked_adam import MaskedAdam
from prestorepro.training.fused import ComponentTraining, loss_matrix, train_components, training_layout


def _data(n=37, c=64, hw=8, classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, hw, hw, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y


def _gens(k, seed=123):
    return [torch.Generator().manual_seed(seed + j) for j in range(k)]


def test_fused_forward_matches_single_components():
    torch.manual_seed(0)
    fused = FusedResNetTail(3, "layer1", (4, 8, 16), 9)
    comps = [fused.component(j) for j in range(3)]
    x = torch.randn(6, 3, 64, 7, 7)
    fused.train()
    out = fused(x)
    for j, c in enumerate(comps):
        c.train()
        torch.testing.assert_close(out[:, j], c(x[:, j]), atol=1e-5, rtol=1e-5)
    # running statistics were updated exactly as the single models' were
    for j, c in enumerate(comps):
        torch.testing.assert_close(fused.stages[0][0].bn1.running_mean[j], c.stages[0][0].bn1.running_mean)


def test_fused_training_equals_separate_training():
    """Parts of unequal size (smaller last batches, components finishing early) still agree."""
    torch.manual_seed(1)
    x, y = _data()
    assignment = torch.tensor([0] * 20 + [1] * 9 + [2] * 8)[torch.randperm(37, generator=torch.Generator().manual_seed(5))]
    k, epochs, bs = 3, 3, 4
    fused = FusedResNetTail(k, "layer1", (4, 8, 16), 5).double()
    singles = [fused.component(j) for j in range(k)]
    opt = MaskedAdam(list(fused.parameters()), k, lr=0.01)
    train_components(fused, x, y, assignment, ComponentTraining(epochs=epochs, batch_size=bs, optimizer=opt, lam=1e-4,
                                                                generators=_gens(k)))
    for j in range(k):
        one = FusedResNetTail(1, "layer1", (4, 8, 16), 5).double().load_components([singles[j]])
        opt1 = MaskedAdam(list(one.parameters()), 1, lr=0.01)
        part = torch.nonzero(assignment == j, as_tuple=True)[0]
        train_components(one, x[part], y[part], torch.zeros(len(part), dtype=torch.long),
                         ComponentTraining(epochs=epochs, batch_size=bs, optimizer=opt1, lam=1e-4,
                                           generators=[_gens(k)[j]]))
        # the K=1 run indexes its part locally; the permutation of positions is the same draw
        ref = one.component(0).state_dict()
        got = fused.component(j).state_dict()
        for name in ref:
            torch.testing.assert_close(got[name], ref[name], atol=1e-9, rtol=1e-7, msg=name)


def test_training_layout_is_channels_last_for_image_features_on_the_cpu():
    x, _ = _data(n=5)
    xc = training_layout(x)
    assert xc.is_contiguous(memory_format=torch.channels_last) and not xc.is_contiguous()
    assert xc.shape == x.shape and torch.equal(xc, x)
    flat = torch.randn(5, 7)
    assert training_layout(flat) is flat  # not image-shaped: as it is
    assert training_layout(xc) is xc  # already there: no copy


def test_fused_training_on_channels_last_features_equals_training_on_nchw():
    """The gather of channels-last features (rows of (H, W, C)) feeds the same batches: same parameters,
    running statistics and optimiser state as training on the NCHW features, masked steps included."""
    x, y = _data()
    assignment = torch.tensor([0] * 20 + [1] * 9 + [2] * 8)[torch.randperm(37, generator=torch.Generator().manual_seed(5))]
    runs = []
    for feats in (x, training_layout(x)):
        torch.manual_seed(1)
        fused = FusedResNetTail(3, "layer1", (4, 8, 16), 5).double()
        opt = MaskedAdam(list(fused.parameters()), 3, lr=0.01)
        info = train_components(fused, feats, y, assignment, ComponentTraining(epochs=2, batch_size=4, optimizer=opt,
                                                                               lam=1e-4, generators=_gens(3)))
        runs.append((fused.state_dict(), opt._m.clone(), info["last_loss"]))
    (s0, m0, l0), (s1, m1, l1) = runs
    for name in s0:
        torch.testing.assert_close(s1[name], s0[name], atol=1e-10, rtol=1e-8, msg=name)
    torch.testing.assert_close(m1, m0, atol=1e-10, rtol=1e-8)
    assert l1 == pytest.approx(l0, rel=1e-9)
    # training moved the parameters (the comparison is not of two untouched models)
    torch.manual_seed(1)
    untouched = FusedResNetTail(3, "layer1", (4, 8, 16), 5).double().state_dict()
    assert not torch.allclose(s0["fc.weight"], untouched["fc.weight"])


def test_k1_fused_training_equals_standard_torch_loop():
    """With full batches the fused trainer is plain Adam + cross-entropy + L2 on a torchvision-style model."""
    torch.manual_seed(2)
    x, y = _data(n=16)
    fused = FusedResNetTail(1, "layer1", (4, 8, 16), 5).double()
    ref = fused.component(0).double()
    g = _gens(1)[0]
    opt = MaskedAdam(list(fused.parameters()), 1, lr=0.01)
    train_components(fused, x, y, torch.zeros(16, dtype=torch.long),
                     ComponentTraining(epochs=2, batch_size=8, optimizer=opt, lam=1e-3,
                                       generators=[torch.Generator().manual_seed(123)]))
    ref.train()
    torch_opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    for _ in range(2):
        perm = torch.randperm(16, generator=g)
        for s in range(0, 16, 8):
            b = perm[s:s + 8]
            loss = torch.nn.functional.cross_entropy(ref(x[b]), y[b]) + 1e-3 * sum(p.square().sum() for p in ref.parameters())
            torch_opt.zero_grad()
            loss.backward()
            torch_opt.step()
    got = fused.component(0).state_dict()
    for name, t in ref.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        torch.testing.assert_close(got[name], t, atol=1e-9, rtol=1e-7)


def test_inactive_component_does_not_move():
    torch.manual_seed(3)
    x, y = _data(n=12)
    fused = FusedResNetTail(2, "layer1", (4, 8, 16), 5).double()
    before = fused.component(1).state_dict()
    opt = MaskedAdam(list(fused.parameters()), 2, lr=0.01)
    train_components(fused, x, y, torch.zeros(12, dtype=torch.long),
                     ComponentTraining(epochs=2, batch_size=4, optimizer=opt, lam=1e-4, generators=_gens(2)))
    after = fused.component(1).state_dict()
    for name in before:
        assert torch.equal(before[name], after[name]), name
    assert not torch.equal(fused.component(0).state_dict()["fc.weight"], before["fc.weight"])


def test_linear_svm_hinge_training_separates_and_loss_matrix_shape():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=g)
    y = torch.where(x[:, 0] + 0.5 * x[:, 1] > 0, 1, -1)
    torch.manual_seed(0)
    m = FusedLinearSVM(2, 2)
    opt = MaskedAdam(list(m.parameters()), 2, lr=0.05)
    train_components(m, x, y, torch.zeros(200, dtype=torch.long),
                     ComponentTraining(epochs=30, batch_size=32, optimizer=opt, lam=1e-4, generators=_gens(2),
                                       loss="hinge"))
    L = loss_matrix(m, x, y, loss="hinge")
    assert L.shape == (200, 2)
    acc = ((m(x)[:, 0, 0] >= 0).long() * 2 - 1 == y).float().mean()
    assert acc > 0.97


def test_nan_loss_raises():
    x, y = _data(n=8)
    x[0] = float("nan")
    fused = FusedResNetTail(1, "layer1", (4, 8, 16), 5).double()
    opt = MaskedAdam(list(fused.parameters()), 1, lr=0.01)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        train_components(fused, x, y, torch.zeros(8, dtype=torch.long),
                         ComponentTraining(epochs=1, batch_size=8, optimizer=opt, lam=0.0, generators=_gens(1)))


def test_cuda_graph_capture_needs_cuda_and_can_be_switched_off(monkeypatch):
    from prestorepro.training.fused import _capture_default

    x = torch.randn(8, 64, 8, 8)
    y = torch.randint(0, 5, (8,))
    fused = FusedResNetTail(1, "layer1", (4, 8, 16), 5)
    opt = MaskedAdam(list(fused.parameters()), 1, lr=0.01)
    with pytest.raises(ValueError, match="CUDA graph capture needs a CUDA device"):
        train_components(fused, x, y, torch.zeros(8, dtype=torch.long),
                         ComponentTraining(epochs=1, batch_size=8, optimizer=opt, lam=0.0, generators=_gens(1)),
                         capture=True)
    assert _capture_default()
    monkeypatch.setenv("PRESTOREPRO_CUDA_GRAPHS", "0")
    assert not _capture_default()


@pytest.mark.parametrize("hw, kernel, stride, padding", [
    ((1, 1), 3, 1, 1), ((2, 2), 3, 1, 1), ((2, 2), 3, 2, 1), ((2, 2), 1, 2, 0), ((4, 4), 3, 1, 1),
    ((4, 4), 3, 2, 1), ((4, 4), 1, 2, 0), ((3, 3), 3, 2, 1), ((2, 4), 3, 1, 1)])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_small_map_convolution_is_the_grouped_convolution(hw, kernel, stride, padding, layout):
    # the batched-matmul path (maps of <= SMALL_MAP pixels) against torch's grouped convolution, float64,
    # values and gradients of the input and the weights; a channels-last input gives a channels-last output
    from prestorepro.models.fused_layers import SMALL_MAP, FusedConv2d

    assert hw[0] * hw[1] <= SMALL_MAP
    torch.manual_seed(0)
    k, ci, co = 3, 5, 4
    conv = FusedConv2d(k, ci, co, kernel, stride, padding).double()
    x = torch.randn(7, k * ci, *hw, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_()
    out = conv(x)
    assert out.is_contiguous(memory_format=layout)
    w = conv.weight.reshape(k * co, ci, kernel, kernel)
    ref = torch.nn.functional.conv2d(x, w, stride=stride, padding=padding, groups=k)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    g = torch.randn_like(ref)
    gx, gw = torch.autograd.grad(out, (x, conv.weight), g)
    rx, rw = torch.autograd.grad(ref, (x, conv.weight), g)
    torch.testing.assert_close(gx, rx, rtol=0, atol=1e-12)
    torch.testing.assert_close(gw, rw, rtol=0, atol=1e-12)


def test_wide_small_map_convolution_stays_a_convolution(monkeypatch):
    # 128 -> 128 channels on 4x4 maps would be a 4.2M-entry matrix per component: the grouped kernel runs
    from prestorepro.models.fused_layers import FusedConv2d

    conv = FusedConv2d(2, 128, 128, 3, 1, 1)
    monkeypatch.setattr(FusedConv2d, "_small_map", lambda self, x: pytest.fail("matmul path taken"))
    assert conv(torch.randn(3, 256, 4, 4)).shape == (3, 256, 4, 4)
    narrow = FusedConv2d(2, 16, 16, 3, 1, 1)
    with pytest.raises(pytest.fail.Exception, match="matmul path taken"):
        narrow(torch.randn(3, 32, 4, 4))
