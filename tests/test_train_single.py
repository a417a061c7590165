"""train_single: learning, determinism, exact resume, weighted loss, NaN detection, predict/evaluate."""
import copy
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prestorepro.compress.distill import Distiller
from prestorepro.metrics import classification_metrics
from prestorepro.training.single import Recipe, RunRecord, TrainingSet, predict, train_single


def seeded_mlp(seed: int, d: int = 4, h: int = 8, c: int = 3, bn: bool = True) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    layers = [nn.Linear(d, h)] + ([nn.BatchNorm1d(h)] if bn else []) + [nn.ReLU(), nn.Linear(h, c)]
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):  # every linear parameter from the generator, none from global RNG
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return net


def blobs(n: int = 90, d: int = 4, c: int = 3, seed: int = 0, sep: float = 4.0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % c
    centres = torch.randn(c, d, generator=g) * sep
    return centres[y] + torch.randn(n, d, generator=g), y


def params_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_loss_decreases_and_separable_problem_is_learnt():
    x, y = blobs()
    model = seeded_mlp(0)
    hist = train_single(model, TrainingSet(x, y), recipe=Recipe(15, 16, 0.02), device="cpu",
                        generator=torch.Generator().manual_seed(0))
    assert len(hist["loss"]) == 15 and len(hist["time_s"]) == 15
    assert hist["loss"][-1] < 0.3 * hist["loss"][0]
    m = classification_metrics(y.numpy(), predict(model, x).argmax(1), 3)
    assert m["accuracy"] >= 0.95 and m["macro_f1"] >= 0.95


def test_same_seed_identical_parameters_other_seed_different():
    x, y = blobs()
    base = seeded_mlp(1)
    runs = []
    for seed in (7, 7, 8):
        model = copy.deepcopy(base)
        train_single(model, TrainingSet(x, y), recipe=Recipe(3, 16, 0.01, l2=1e-3), device="cpu",
                     generator=torch.Generator().manual_seed(seed))
        runs.append(params_of(model))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


class Interrupt(Exception):
    pass


def _interrupt_after(epoch: int):
    def log(msg: str) -> None:
        if f"epoch {epoch}/" in msg:
            raise Interrupt(msg)
    return log


@pytest.mark.parametrize("variant", ["plain", "weighted+l2+masks", "dgkd-dropping"])
def test_resume_after_interruption_equals_uninterrupted_run(tmp_path, variant):
    x, y = blobs(n=50)
    base = seeded_mlp(2)
    data, recipe, extra = TrainingSet(x, y), Recipe(4, 8, 0.01), {}
    if variant == "weighted+l2+masks":
        w = torch.linspace(0.2, 2.0, 50)
        mask = torch.ones(8, 4, dtype=torch.bool)
        mask[:, :2] = False
        data, recipe = TrainingSet(x, y, sample_weights=w), Recipe(4, 8, 0.01, l2=1e-3)
        extra = {"masks": {"0.weight": mask}}
    kw = dict(recipe=recipe, device="cpu")

    def make_distill():
        if variant != "dgkd-dropping":
            return {}
        t1, t2 = seeded_mlp(10, bn=False), seeded_mlp(11, bn=False)
        return {"distill": Distiller([t1, t2], T=5.0, a=0.9, drop_prob=0.5,
                                     generator=torch.Generator().manual_seed(3))}

    full = copy.deepcopy(base)
    h_full = train_single(full, data, generator=torch.Generator().manual_seed(5), **kw, **extra, **make_distill())

    ckpt = tmp_path / "run.pt"
    first = copy.deepcopy(base)
    with pytest.raises(Interrupt):
        train_single(first, data, generator=torch.Generator().manual_seed(5),
                     record=RunRecord(log=_interrupt_after(2), checkpoint_path=ckpt), **kw, **extra, **make_distill())
    assert ckpt.exists()
    # a fresh process: other initial weights, a generator in its initial state, a fresh distiller
    resumed = seeded_mlp(99)
    lines = []
    h_res = train_single(resumed, data, generator=torch.Generator().manual_seed(5),
                         record=RunRecord(log=lines.append, checkpoint_path=ckpt), **kw, **extra, **make_distill())
    assert h_res["resumed_from_epoch"] == 2 and "resumed" in lines[0]
    a, b = params_of(full), params_of(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run differs from the uninterrupted one"
    assert h_res["loss"] == h_full["loss"]


def test_checkpoint_from_other_settings_is_ignored_and_the_run_starts_afresh(tmp_path):
    # one resume protocol (prestorepro.checkpoint): never spliced in, said in the log, a fresh run
    x, y = blobs(n=30)
    ckpt = tmp_path / "c.pt"
    train_single(seeded_mlp(0), TrainingSet(x, y), recipe=Recipe(1, 8, 0.01), device="cpu",
                 generator=torch.Generator().manual_seed(0), record=RunRecord(checkpoint_path=ckpt))
    # other settings; then same settings and size, other data (a killed run before the inputs were regenerated)
    for xs, batch in ((x, 16), (x + 1.0, 8)):
        fresh, stale = seeded_mlp(0), seeded_mlp(0)
        train_single(fresh, TrainingSet(xs, y), recipe=Recipe(2, batch, 0.01), device="cpu",
                     generator=torch.Generator().manual_seed(0))
        lines = []
        h = train_single(stale, TrainingSet(xs, y), recipe=Recipe(2, batch, 0.01), device="cpu",
                         generator=torch.Generator().manual_seed(0),
                         record=RunRecord(log=lines.append, checkpoint_path=ckpt))
        assert any("ignoring checkpoint" in line and "starting from epoch 1" in line for line in lines), lines
        assert h["resumed_from_epoch"] == 0 and len(h["loss"]) == 2
        assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), stale.state_dict().values()))


def test_weighted_loss_and_l2_match_a_hand_written_step():
    """One full-batch epoch = one Adam step on sum_i w_i ce_i / sum_i w_i + l2 ||theta||^2."""
    x, y = blobs(n=12)
    w = torch.tensor([0.0, 1, 2, 3, 0.5, 1, 1, 2, 0.1, 4, 1, 1])
    base = seeded_mlp(3, bn=False)
    model = copy.deepcopy(base)
    hist = train_single(model, TrainingSet(x, y, sample_weights=w), recipe=Recipe(1, 12, 0.05, l2=0.01), device="cpu",
                        generator=torch.Generator().manual_seed(0))
    ref = copy.deepcopy(base)
    opt = torch.optim.Adam(ref.parameters(), lr=0.05)
    data = (w * F.cross_entropy(ref(x), y, reduction="none")).sum() / w.sum()
    (data + 0.01 * sum(p.square().sum() for p in ref.parameters())).backward()
    opt.step()
    got, exp = params_of(model), params_of(ref)
    for k in exp:
        torch.testing.assert_close(got[k], exp[k], rtol=1e-5, atol=1e-6)
    assert hist["loss"][0] == pytest.approx(float(data.detach()), rel=1e-5)


def test_masked_weights_stay_zero():
    x, y = blobs()
    model = seeded_mlp(4)
    mask = torch.rand(8, 4, generator=torch.Generator().manual_seed(1)) > 0.5
    train_single(model, TrainingSet(x, y), recipe=Recipe(3, 16, 0.05, l2=1e-3), device="cpu",
                 generator=torch.Generator().manual_seed(0), masks={"0.weight": mask})
    w = model[0].weight.detach()
    assert torch.count_nonzero(w[~mask]) == 0 and torch.count_nonzero(w[mask]) == int(mask.sum())
    with pytest.raises(ValueError, match="not a parameter"):
        train_single(model, TrainingSet(x, y), recipe=Recipe(1, 16, 0.05), device="cpu",
                     generator=torch.Generator(), masks={"nope.weight": mask})


def test_non_finite_loss_raises_with_epoch_and_step():
    x, y = blobs(n=40)
    x[25, 0] = float("nan")  # lands in some batch of the first epoch
    with pytest.raises(FloatingPointError, match=r"epoch 1, step \d+ of 3"):
        train_single(seeded_mlp(5), TrainingSet(x, y), recipe=Recipe(2, 16, 0.01), device="cpu",
                     generator=torch.Generator().manual_seed(0))


def test_no_checkpoint_written_for_a_diverged_epoch(tmp_path):
    x, y = blobs(n=16)
    x[3] = float("inf")
    ckpt = tmp_path / "c.pt"
    with pytest.raises(FloatingPointError):
        train_single(seeded_mlp(5), TrainingSet(x, y), recipe=Recipe(1, 16, 0.01), device="cpu",
                     generator=torch.Generator(), record=RunRecord(checkpoint_path=ckpt))
    assert not ckpt.exists()


def test_distill_and_weights_are_exclusive_and_logger_works(caplog):
    x, y = blobs(n=20)
    with pytest.raises(ValueError, match="cannot be combined"):
        train_single(seeded_mlp(0), TrainingSet(x, y, sample_weights=torch.ones(20)), recipe=Recipe(1, 8, 0.01),
                     device="cpu", generator=torch.Generator(), distill=Distiller([torch.zeros(20, 3)]))
    logger = logging.getLogger("test_train_single")
    with caplog.at_level(logging.INFO, logger="test_train_single"):
        train_single(seeded_mlp(0), TrainingSet(x.numpy(), y.numpy()), recipe=Recipe(2, 8, 0.01), device="cpu",
                     generator=torch.Generator(), record=RunRecord(log=logger))
    assert [r.getMessage().split(" loss")[0] for r in caplog.records] == ["train: epoch 1/2", "train: epoch 2/2"]


def test_distillation_toward_teacher_logits():
    """With a = 1 the student learns only from the teacher: it ends up agreeing with the teacher."""
    x, y = blobs(n=60)
    teacher = seeded_mlp(6, bn=False)
    t_logits = torch.as_tensor(predict(teacher, x))
    wrong = (y + 1) % 3  # labels the teacher never uses: a = 1 must ignore them
    student = seeded_mlp(7, bn=False)
    train_single(student, TrainingSet(x, wrong), recipe=Recipe(40, 20, 0.02), device="cpu",
                 generator=torch.Generator().manual_seed(0), distill=Distiller([t_logits], T=1.0, a=1.0))
    agree = (predict(student, x).argmax(1) == t_logits.argmax(1).numpy()).mean()
    assert agree >= 0.9


def test_predict_matches_forward_in_any_batch_size():
    x, y = blobs(n=33)
    model = seeded_mlp(8).eval()
    with torch.no_grad():
        ref = model(x).numpy()
    out = predict(model, x.numpy(), batch_size=10)
    assert out.dtype == np.float32 and out.shape == (33, 3)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    np.testing.assert_allclose(predict(model, x, batch_size=7), ref, rtol=1e-6)


def test_features_evaluate_gives_every_splits_accuracy_and_macro_f1():
    from prestorepro.features import Features

    t = torch.zeros(4, 2)
    feats = Features(train_x=t, train_y=torch.tensor([0, 1, 2, 2]), val_x=t, val_y=torch.tensor([0, 0, 1, 1]),
                     test_x=t, test_y=torch.tensor([0, 1, 2, 2]), num_classes=3, cut="layer1")
    pred = {"test": np.array([0, 1, 2, 0]), "val": np.array([0, 0, 1, 1])}
    got = feats.evaluate(pred.__getitem__)
    # test: per-class F1 2/3 (class 0: precision 1/2, recall 1), 1, 2/3 (class 2: precision 1, recall 1/2);
    # val: classes 0 and 1 perfect, class 2 never true nor predicted -> F1 0, still averaged in
    assert got == pytest.approx({"test_accuracy": 0.75, "test_macro_f1": (2 / 3 + 1 + 2 / 3) / 3,
                                 "val_accuracy": 1.0, "val_macro_f1": 2 / 3})
