"""Sequential mode (one component on the device at a time) equals fused training."""
import numpy as np
import torch

from prestorepro.models.fused import FusedResNetTail
from prestorepro.presto.gate import mixture_predict
from prestorepro.training.masked_adam import MaskedAdam
from prestorepro.training.fused import ComponentTraining, component_outputs, train_components
from prestorepro.training.sequential import (
    component_outputs_sequential,
    sequential_predict,
    train_components_sequential,
)


def test_sequential_equals_fused_over_two_rounds():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 64, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (30,), generator=g)
    a1 = torch.randint(0, 3, (30,), generator=g)
    a2 = torch.randint(0, 3, (30,), generator=g)  # a new partition in round 2, warm-started
    fused = FusedResNetTail(3, "layer1", (4, 8, 16), 4).double()
    seq = FusedResNetTail(3, "layer1", (4, 8, 16), 4).double()
    seq.load_state_dict(fused.state_dict())
    opt_f = MaskedAdam(list(fused.parameters()), 3, lr=0.01)
    opt_s = MaskedAdam(list(seq.parameters()), 3, lr=0.01)
    gens_f = [torch.Generator().manual_seed(10 + j) for j in range(3)]
    gens_s = [torch.Generator().manual_seed(10 + j) for j in range(3)]
    for a in (a1, a2):
        train_components(fused, x, y, a, ComponentTraining(epochs=2, batch_size=4, optimizer=opt_f, lam=1e-4,
                                                           generators=gens_f))
        train_components_sequential(seq, x, y, a, ComponentTraining(epochs=2, batch_size=4, optimizer=opt_s, lam=1e-4,
                                                                    generators=gens_s), device=torch.device("cpu"))
    for (n, p), (_, q) in zip(fused.state_dict().items(), seq.state_dict().items()):
        torch.testing.assert_close(p, q, atol=1e-9, rtol=1e-7, msg=n)
    torch.testing.assert_close(component_outputs(fused, x), component_outputs_sequential(seq, x, torch.device("cpu"), 7))
    routes = np.random.default_rng(0).integers(0, 3, 30)
    assert np.array_equal(mixture_predict(fused, x, routes, "ce"), sequential_predict(seq, x, routes, torch.device("cpu")))


def test_presto_sequential_mode_equals_fused_mode():
    from prestorepro.data import make_synthetic
    from prestorepro.models.fused import FusedLinearSVM
    from prestorepro.presto.algorithm import PrestoStreams, run_presto
    from presto_defaults import presto_settings

    x, y, _ = make_synthetic(200, np.random.default_rng(0))
    x, y = torch.tensor(x, dtype=torch.float64), torch.tensor(y)
    a0 = np.random.default_rng(1).permutation(np.arange(200) % 4)
    results = []
    for mode in ("fused", "sequential"):
        torch.manual_seed(0)
        m = FusedLinearSVM(4, 2).double()
        s = presto_settings(k=4, rounds=3, epochs=2, batch_size=16, lr=0.05, lam=1e-3, leeway=5, loss="hinge")
        res = run_presto(m, x, y, a0, s, PrestoStreams([torch.Generator().manual_seed(j) for j in range(4)]),
                         compute_device=torch.device("cpu") if mode == "sequential" else None)
        results.append((res, m))
    (r1, m1), (r2, m2) = results
    assert np.array_equal(r1.assignment, r2.assignment)
    assert np.allclose([h["objective"] for h in r1.history], [h["objective"] for h in r2.history], rtol=1e-9)
    for p, q in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p, q, atol=1e-9, rtol=1e-7)


def test_sequential_training_stops_on_a_non_finite_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, 64, 8, 8, generator=g)
    y = torch.randint(0, 4, (24,), generator=g)
    a = torch.arange(24) % 3
    model = FusedResNetTail(3, "layer1", (4, 8, 16), 4)
    opt = MaskedAdam(list(model.parameters()), 3, lr=0.01)
    gens = [torch.Generator().manual_seed(j) for j in range(3)]
    x[5, 0, 0, 0] = float("nan")  # row 5 belongs to component 2
    try:
        train_components_sequential(model, x, y, a, ComponentTraining(epochs=1, batch_size=4, optimizer=opt, lam=1e-4,
                                                                      generators=gens), device=torch.device("cpu"))
    except FloatingPointError as exc:
        assert str(exc).startswith("component 2: non-finite training loss nan at epoch 1, step ")
    else:
        raise AssertionError("a NaN input trained without an error")
