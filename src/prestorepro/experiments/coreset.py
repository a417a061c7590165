"""Coreset baselines (SPEC §7): one model of the component architecture trained on a weighted subset.

A run trains ``ResNetTail`` (SPEC §3) with stage widths scaled until its parameter count matches
PRESTO's total (K components + gate pi_phi) within 5% (``model_widths``), on the frozen embeddings,
for ``epochs`` epochs with Adam and the weighted mean cross-entropy sum_i w_i ce_i / sum_i w_i of
every mini-batch (plus l2 * ||theta||^2, the objective of ``prestorepro.training.single``).

Methods (``CORESET_METHODS``; each names its selector in ``prestorepro.coreset.SELECTORS``):

==============  ============  ==============================================  =========  ====
method          selector      selector input                                  reselects  warm
==============  ============  ==============================================  =========  ====
full            --            --                                              --         --
random          random        labels                                          every R    no
random_warm     random        labels                                          every R    yes
craig           craig         p_i - y_i (logit gradients)                     every R    no
gradmatch       gradmatch     full last-layer gradients [p - y | (p - y) e]   every R    no
gradmatch_warm  gradmatch     full last-layer gradients                       every R    yes
gradmatch_pb    gradmatch_pb  full last-layer gradients, trainer's batches    every R    no
pbcs            pbcs          pooled, standardised embeddings                 once       no
==============  ============  ==============================================  =========  ====

- Random reselects every R epochs as CORDS's adaptive ``RandomDataLoader`` does, so Random and the
  adaptive methods differ only in *which* points they pick, not in how often the subset changes.
- Warm variants train the first T_f = ceil(kappa T k / n) epochs on the full data (GRAD-MATCH §4,
  ``SelectionSchedule``) and keep T epochs in total; their first selection comes after the warm start.
- CRAIG uses the logit gradients p_i - y_i (CRAIG §3.4, SPEC §7). GRAD-MATCH's per-gradient
  approximation matches each class's own bias entry and weight row, so it gets the whole last layer,
  with the penultimate embeddings e_i of the current model (GRAD-MATCH §4 "last-layer gradients").
  The gradient proxies come from one forward pass of the training set through the current model in
  eval mode (no batch-norm statistics are updated by selection), vectorised over points.
- PBCS (Zhou et al. 2022) is a one-shot method: s is learnt before training with a convex inner
  problem (multinomial logistic regression) on frozen features -- the cut-point feature maps
  averaged over space and standardised on the training split (SPEC §7: "with frozen features and a
  linear head the inner problem is convex"). Its outer loss is on the training set (PBCS Eq. 4,
  data summarisation) or, with ``pbcs.outer: val``, the validation set. Its Adam learning rate is
  chosen on validation: every rate in ``pbcs.lr`` runs, and the subset whose logistic-regression fit
  has the lowest validation cross-entropy is kept (all candidates count as selection time).

Reselection loop. Epochs are numbered 0..T-1; at a selection epoch the subset is selected (timed:
the proxy forward pass plus the selector), then the epoch trains on it. One Adam optimiser lives
through the whole run, so its moments carry across selection periods as in CORDS's trainer (one
optimiser, the data loader swapping subsets). Batches: a fresh ``randperm`` of the active subset
from the run's torch generator every epoch, cut into ``batch_size`` batches (last one smaller), as
``train_single`` does, except that a last batch of one point joins the previous one (batch norm
cannot normalise one value per channel at the last 1x1 stage). Selected points with weight 0 are
dropped before training (they add nothing to the loss, and a batch of only such points would divide
0 by 0). The learning rate follows a per-epoch cosine schedule to 0 over the T epochs (GRAD-MATCH
§5, ``lr_schedule``). Randomness: the initial parameters come from the seed alone (every method of
a seed starts from the same model), batch order from a torch generator seeded with it, selection
from a numpy generator seeded with (seed, fraction).

Timing: ``selection`` is the sum over selections of proxy + selector time, ``training`` the sum of
epoch times (warm epochs included), both synchronised on CUDA; their ratio says whether selection is
cheap next to the training it saves. Peak memory: ``MemoryProbe`` around the whole run (selection
and training).

Checkpoints: with ``checkpoint_path`` the state (model, optimiser, generators, current subset,
history, timings) is written atomically after every epoch; a run that finds it resumes, and on the
CPU ends with exactly the parameters of an uninterrupted run. A finished run stores its result
there, so a job killed later (another fraction) does not redo it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from prestorepro.compress.distill import match_student_widths
from prestorepro.models.parameters import tail_parameter_count
from prestorepro.compress.memory import MemoryProbe
from prestorepro.coreset import SELECTORS, SelectionSchedule, class_gradient_sums, last_layer_gradients
from prestorepro.coreset.pbcs import fit_inner, outer_losses
from prestorepro.features import Features
from prestorepro.io import fingerprint, load_torch, save_torch, write_json
from prestorepro.models.resnet_tail import ResNetTail, count_parameters
from prestorepro.registry import Registry
from prestorepro.training.single import evaluate

Log = Callable[[str], Any]


# ----------------------------------------------------------------------------------------------
# data and model


def presto_parameter_total(cut: str, widths, num_classes: int, k: int) -> int:
    """PRESTO's parameters as §4.2 counts them: sum_k dim(theta_k) over the K components (SPEC §3)."""
    return k * tail_parameter_count(cut, widths, num_classes)


def model_widths(cut: str, component_widths, num_classes: int, k: int) -> tuple[int, int, int]:
    """Stage widths of the one coreset model: the student widths (12, 16, 32) scaled until the
    parameter count is within 5% of PRESTO's total (the same matching as the KD students, §4.2)."""
    return match_student_widths(presto_parameter_total(cut, component_widths, num_classes, k), cut, num_classes)


def build_model(cut: str, widths, num_classes: int, seed: int, device: torch.device | str) -> ResNetTail:
    """The model with its initial parameters from ``seed`` alone (same init for every method)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ResNetTail(cut, widths, num_classes)
    return model.to(device)


# ----------------------------------------------------------------------------------------------
# methods


@dataclass
class SelectionContext:
    """What a method's selection sees: the current model, the data, the settings, a cache."""

    model: nn.Module
    data: Features
    cfg: dict          # the resolved coreset config section
    device: torch.device
    cache: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CoresetMethod:
    """How a method selects (``select(ctx, budget, rng) -> (indices, weights, info)``, or None for
    full data), whether it reselects every R epochs, and whether it warm-starts on the full data."""

    select: Callable[[SelectionContext, int, np.random.Generator], tuple[np.ndarray, np.ndarray, dict]] | None
    reselect: bool = True
    warm: bool = False


CORESET_METHODS: Registry[CoresetMethod] = Registry("coreset method")


@torch.no_grad()
def logits_and_embeddings(model: ResNetTail, x: torch.Tensor, batch_size: int = 1024
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, C) and penultimate embeddings (N, E) of the current model, eval mode, batched."""
    was_training = model.training
    model.eval()
    dtype = next(model.parameters()).dtype
    logits, embs = [], []
    for s in range(0, x.shape[0], batch_size):
        e = torch.flatten(model.pool(model.stages(x[s:s + batch_size].to(dtype))), 1)
        embs.append(e)
        logits.append(model.fc(e))
    model.train(was_training)
    return torch.cat(logits), torch.cat(embs)


def _logit_gradients(ctx: SelectionContext) -> np.ndarray:
    logits, _ = logits_and_embeddings(ctx.model, ctx.data.train_x)
    return last_layer_gradients(logits, ctx.data.train_y)


def _last_layer_gradients(ctx: SelectionContext, split: str = "train") -> np.ndarray:
    logits, emb = logits_and_embeddings(ctx.model, getattr(ctx.data, f"{split}_x"))
    return last_layer_gradients(logits, getattr(ctx.data, f"{split}_y"), embeddings=emb)


def _validation_class_targets(ctx: SelectionContext) -> np.ndarray:
    """Per-class sums of validation last-layer gradients (GRAD-MATCH Alg. 1, isValid), rescaled by
    n_train_c / n_val_c so the OMP weights keep the scale of the training-gradient target (lambda
    acts on the same scale either way)."""
    c = ctx.data.num_classes
    sums = class_gradient_sums(_last_layer_gradients(ctx, "val"), ctx.data.val_y.cpu().numpy(), c)
    n_tr = np.bincount(ctx.data.train_y.cpu().numpy(), minlength=c)
    n_va = np.bincount(ctx.data.val_y.cpu().numpy(), minlength=c)
    return sums * (n_tr / np.maximum(n_va, 1))[:, None]


def _labels(ctx: SelectionContext) -> np.ndarray:
    return ctx.data.train_y.cpu().numpy()


def _select_random(ctx: SelectionContext, budget: int, rng: np.random.Generator):
    return (*SELECTORS.get("random")(budget, labels=_labels(ctx), rng=rng), {})


def _select_craig(ctx: SelectionContext, budget: int, rng: np.random.Generator):
    o = ctx.cfg["craig"]
    idx, w = SELECTORS.get("craig")(budget, grads=_logit_gradients(ctx), labels=_labels(ctx), rng=rng,
                                    greedy=o["greedy"], epsilon=o["epsilon"])
    return idx, w, {}


def _select_gradmatch(ctx: SelectionContext, budget: int, rng: np.random.Generator):
    o = ctx.cfg["gradmatch"]
    target = _validation_class_targets(ctx) if o["valid"] else None
    idx, w = SELECTORS.get("gradmatch")(budget, grads=_last_layer_gradients(ctx), labels=_labels(ctx), rng=rng,
                                        lam=o["lam"], tol=o["tol"], per_class=True, per_gradient=True,
                                        num_classes=ctx.data.num_classes, target=target)
    return idx, w, {}


def _select_gradmatch_pb(ctx: SelectionContext, budget: int, rng: np.random.Generator):
    o = ctx.cfg["gradmatch"]
    target = _validation_class_targets(ctx).sum(axis=0) if o["valid"] else None
    idx, w = SELECTORS.get("gradmatch_pb")(budget, grads=_last_layer_gradients(ctx), labels=_labels(ctx), rng=rng,
                                           batch_size=ctx.cfg["batch_size"], lam=o["lam"], tol=o["tol"],
                                           target=target)
    return idx, w, {}


def pooled_features(x: torch.Tensor, mean: torch.Tensor | None = None, std: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Feature maps (N, C, H, W) averaged over space, standardised (float64), with the mean and
    std used (the training split's, passed again for the validation split)."""
    p = x.double().mean(dim=(2, 3)) if x.dim() == 4 else x.double().reshape(x.shape[0], -1)
    if mean is None:
        mean, std = p.mean(dim=0), p.std(dim=0).clamp_min(1e-12)
    return (p - mean) / std, mean, std


def _select_pbcs(ctx: SelectionContext, budget: int, rng: np.random.Generator):
    o = ctx.cfg["pbcs"]
    if "pbcs_features" not in ctx.cache:
        xtr, mean, std = pooled_features(ctx.data.train_x)
        xva, _, _ = pooled_features(ctx.data.val_x, mean, std)
        ctx.cache["pbcs_features"] = (xtr, xva)
    xtr, xva = ctx.cache["pbcs_features"]
    ytr, yva = ctx.data.train_y, ctx.data.val_y
    c = ctx.data.num_classes
    outer = {"val_features": xva, "val_labels": yva} if o["outer"] == "val" else {}
    candidates = []
    for lr in o["lr"]:
        sub_rng = np.random.default_rng(rng.integers(2 ** 63))  # one stream per candidate, drawn in order
        idx, w = SELECTORS.get("pbcs")(budget, labels=ytr, rng=sub_rng, features=xtr, num_classes=c,
                                       outer_steps=o["outer_steps"], num_masks=o["num_masks"], lr=lr, l2=o["l2"],
                                       inner_max_iter=o["inner_max_iter"], inner_tol=o["inner_tol"],
                                       device=str(ctx.device), **outer)
        # validation loss of the convex model fitted on the subset: PBCS's own yardstick, on held-out data
        sel = torch.as_tensor(idx, device=xtr.device)
        theta = fit_inner(xtr[sel], ytr[sel], torch.ones(1, sel.numel(), dtype=torch.bool, device=xtr.device), c,
                          scale=1.0 / max(sel.numel(), 1), l2=o["l2"], max_iter=o["inner_max_iter"])
        candidates.append((float(outer_losses(theta, xva, yva)[0]), float(lr), idx, w))
    best = min(candidates, key=lambda t: t[0])  # ties: the earlier rate in the config
    info = {"lr": best[1], "val_loss_by_lr": {str(lr): loss for loss, lr, _, _ in candidates}}
    return best[2], best[3], info


CORESET_METHODS.register("full")(CoresetMethod(select=None, reselect=False))
CORESET_METHODS.register("random")(CoresetMethod(select=_select_random))
CORESET_METHODS.register("random_warm")(CoresetMethod(select=_select_random, warm=True))
CORESET_METHODS.register("craig")(CoresetMethod(select=_select_craig))
CORESET_METHODS.register("gradmatch")(CoresetMethod(select=_select_gradmatch))
CORESET_METHODS.register("gradmatch_warm")(CoresetMethod(select=_select_gradmatch, warm=True))
CORESET_METHODS.register("gradmatch_pb")(CoresetMethod(select=_select_gradmatch_pb))
CORESET_METHODS.register("pbcs")(CoresetMethod(select=_select_pbcs, reselect=False))


# ----------------------------------------------------------------------------------------------
# training


@dataclass(frozen=True)
class CoresetSpec:
    """One run: ``method`` at subset ``fraction`` (1.0 for full data) with ``seed``; ``cfg`` is the
    resolved coreset config section (epochs, interval, kappa, batch_size, lr, l2, method options)."""

    method: str
    fraction: float
    seed: int
    widths: tuple[int, int, int]
    cfg: dict

    def schedule(self) -> SelectionSchedule | None:
        m = CORESET_METHODS.get(self.method)
        if m.select is None:
            return None
        epochs = int(self.cfg["epochs"])
        return SelectionSchedule(epochs=epochs, interval=int(self.cfg["interval"]) if m.reselect else epochs,
                                 kappa=float(self.cfg["kappa"]) if m.warm else 0.0, fraction=self.fraction)

    def signature(self, n: int) -> dict:
        c = self.cfg
        return {"method": self.method, "fraction": float(self.fraction), "seed": int(self.seed), "n": int(n),
                "widths": list(self.widths),
                **{k: c[k] for k in ("epochs", "interval", "kappa", "batch_size", "lr", "lr_schedule", "l2")},
                # the method options present (a job gets its own method's section only)
                **{k: c[k] for k in ("craig", "gradmatch", "pbcs") if k in c}}


LR_SCHEDULES: Registry[Callable[[torch.optim.Optimizer, int], Any]] = Registry("learning-rate schedule")
# cosine: GRAD-MATCH §5 / CORDS anneal the rate per epoch to 0 over the T epochs, which also makes the
# final model (the one evaluated) settle instead of ending on one noisy Adam step on a small subset.
LR_SCHEDULES.register("cosine")(lambda opt, epochs: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs))
LR_SCHEDULES.register("constant")(lambda opt, epochs: torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0))


def subset_budget(fraction: float, n: int) -> int:
    """floor(fraction * n) points (CORDS's int(fraction * N)), at least 1."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"subset fraction must lie in (0, 1], got {fraction}")
    return max(1, int(math.floor(fraction * n + 1e-9)))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_epoch(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                 idx: torch.Tensor, w: torch.Tensor | None, batch_size: int, l2: float,
                 generator: torch.Generator) -> float:
    """One epoch over the rows ``idx`` with weights ``w`` (aligned with ``idx``; None = unweighted):
    weighted mean cross-entropy + l2 ||theta||^2, as ``train_single``. Returns the mean data loss."""
    device = x.device
    params = [p for p in model.parameters() if p.requires_grad]
    dtype = params[0].dtype
    n = idx.numel()
    if n < 2:
        raise ValueError(f"cannot train on {n} point(s): batch norm needs at least two per batch; "
                         "raise the subset fraction")
    perm = torch.randperm(n, generator=generator, device=generator.device).to(device)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()  # a last batch of one point joins the previous one (batch norm needs two)
    ends = starts[1:] + [n]
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    model.train()
    for s, e in zip(starts, ends):
        b = perm[s:e]
        rows = idx[b]
        out = model(x[rows].to(dtype))
        if w is None:
            data_loss = F.cross_entropy(out, y[rows])
        else:
            wb = w[b]
            data_loss = (wb * F.cross_entropy(out, y[rows], reduction="none")).sum() / wb.sum()
        loss = data_loss + l2 * sum(p.square().sum() for p in params) if l2 > 0 else data_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += data_loss.detach().to(torch.float64) * b.numel()
    mean = float(loss_sum) / n  # the one host sync of the epoch
    if not math.isfinite(mean):
        raise FloatingPointError(f"non-finite training loss ({mean}) on {n} points (lr, batch size or inputs); "
                                 "lower the learning rate or check the embeddings for NaN/inf")
    return mean


def run_coreset(data: Features, spec: CoresetSpec, *, device: torch.device | str, log: Log = lambda m: None,
                checkpoint_path: str | Path | None = None,
                on_epoch_end: Callable[[int], None] | None = None, dataset_name: str | None = None) -> dict:
    """Train one model on ``spec.method``'s subsets (see the module docstring); returns the metrics.

    ``on_epoch_end(epoch)`` is called after each epoch's checkpoint is written (progress hooks; an
    exception raised there stops the run as a kill would, leaving the checkpoint). Errors name
    ``dataset_name`` (if given), the method, fraction and seed."""
    device = torch.device(device)
    label = " ".join(filter(None, [dataset_name, f"{spec.method} f={spec.fraction:g} seed {spec.seed}"]))
    cfg = spec.cfg
    method = CORESET_METHODS.get(spec.method)
    n = int(data.train_y.numel())
    epochs, batch_size = int(cfg["epochs"]), int(cfg["batch_size"])
    budget = subset_budget(spec.fraction, n)
    schedule = spec.schedule()
    model = build_model(data.cut, spec.widths, data.num_classes, spec.seed, device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=float(cfg["lr"]))
    sched = LR_SCHEDULES.get(cfg["lr_schedule"])(opt, epochs)
    gen = torch.Generator().manual_seed(spec.seed)
    # the selection stream depends on the seed and the fraction, not on the order runs are made in
    rng = np.random.default_rng([int(spec.seed), int(round(spec.fraction * 1_000_000))])
    ctx = SelectionContext(model=model, data=data, cfg=cfg, device=device)
    all_rows = torch.arange(n, device=device)
    subset: tuple[torch.Tensor, torch.Tensor] | None = None
    history: list[dict] = []
    selections: list[dict] = []
    seconds = {"selection": 0.0, "training": 0.0}
    start = 0
    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None
    # the data belong to the signature too: a checkpoint of a killed run on other embeddings of the
    # same size must not be resumed
    signature = dict(spec.signature(n), data=fingerprint(x=data.train_x, y=data.train_y)) if ckpt else spec.signature(n)
    if ckpt is not None and ckpt.exists():
        st = load_torch(ckpt, map_location=str(device))
        if st.get("signature") != signature:
            raise ValueError(f"checkpoint {ckpt} was written by a run with settings {st.get('signature')}, this "
                             f"run has {signature}; delete the checkpoint to start afresh")
        if "result" in st:
            log(f"{spec.method} f={spec.fraction:g} seed {spec.seed}: finished earlier, result from {ckpt}")
            return st["result"]
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["lr_schedule"])
        gen.set_state(st["generator"].cpu())
        rng.bit_generator.state = st["rng"]
        if st["subset_idx"] is not None:
            subset = (st["subset_idx"].to(device), st["subset_w"].to(device))
        history, selections, seconds = list(st["history"]), list(st["selections"]), dict(st["seconds"])
        start = int(st["epoch"])
        log(f"{spec.method} f={spec.fraction:g} seed {spec.seed}: resumed from {ckpt} at epoch {start}/{epochs}")

    with MemoryProbe(device) as probe:
        for epoch in range(start, epochs):
            if schedule is not None and schedule.reselects(epoch):
                _sync(device)
                t0 = time.perf_counter()
                idx, w, info = method.select(ctx, budget, rng)
                _sync(device)
                dt = time.perf_counter() - t0
                keep = w > 0
                if not keep.any():
                    raise RuntimeError(f"{spec.method} selected no point with positive weight at epoch {epoch + 1} "
                                       f"(budget {budget} of {n}); check the method's options")
                subset = (torch.as_tensor(idx[keep], device=device),
                          torch.as_tensor(w[keep], dtype=torch.float32, device=device))
                seconds["selection"] += dt
                selections.append({"epoch": epoch, "selected": int(idx.size), "trained": int(keep.sum()),
                                   "weight_sum": float(w.sum()), "weight_min": float(w[keep].min()),
                                   "weight_max": float(w[keep].max()), "seconds": dt, **info})
                log(f"{spec.method} f={spec.fraction:g}: epoch {epoch + 1} selected {int(keep.sum())}/{budget} "
                    f"points in {dt:.3f}s")
            full_epoch = schedule is None or schedule.uses_full_data(epoch)
            rows, weights = (all_rows, None) if full_epoch else subset
            _sync(device)
            t0 = time.perf_counter()
            try:
                loss = _train_epoch(model, opt, data.train_x, data.train_y, rows, weights, batch_size,
                                    float(cfg["l2"]), gen)
            except FloatingPointError as exc:
                # epochs count from 1 in messages, as in every other stage
                raise FloatingPointError(f"[{label}] epoch {epoch + 1}: {exc}") from exc
            _sync(device)
            dt = time.perf_counter() - t0
            seconds["training"] += dt
            sched.step()
            history.append({"epoch": epoch, "loss": loss, "points": int(rows.numel()), "full_data": full_epoch,
                            "seconds": dt})
            if ckpt is not None:
                save_torch(ckpt, {
                    "signature": signature, "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "lr_schedule": sched.state_dict(), "generator": gen.get_state(), "rng": rng.bit_generator.state, "epoch": epoch + 1,
                    "subset_idx": None if subset is None else subset[0].cpu(),
                    "subset_w": None if subset is None else subset[1].cpu(),
                    "history": history, "selections": selections, "seconds": seconds,
                })
            if on_epoch_end is not None:
                on_epoch_end(epoch)
    test = evaluate(model, data.test_x, data.test_y, data.num_classes, device=device)
    val = evaluate(model, data.val_x, data.val_y, data.num_classes, device=device)
    result = {
        "method": spec.method, "fraction": float(spec.fraction), "budget": budget, "n_train": n,
        "seed": int(spec.seed), "epochs": epochs, "interval": int(cfg["interval"]),
        "warm_epochs": 0 if schedule is None else schedule.warm_epochs,
        "selection_epochs": [] if schedule is None else schedule.selection_epochs(),
        "subset_sizes": [s["trained"] for s in selections],
        "test_accuracy": test["accuracy"], "test_macro_f1": test["macro_f1"],
        "val_accuracy": val["accuracy"], "val_macro_f1": val["macro_f1"],
        "seconds": {"selection": seconds["selection"], "training": seconds["training"],
                    "total": seconds["selection"] + seconds["training"]},
        "selection_training_ratio": seconds["selection"] / seconds["training"] if seconds["training"] > 0 else None,
        "peak_memory": probe.result(), "resumed_from_epoch": start,
        "widths": list(spec.widths), "num_parameters": count_parameters(model),
        "selections": selections, "history": history,
    }
    if ckpt is not None:
        save_torch(ckpt, {"signature": signature, "result": result})
    log(f"{spec.method} f={spec.fraction:g} seed {spec.seed}: test accuracy {test['accuracy']:.4f}, "
        f"selection {seconds['selection']:.2f}s, training {seconds['training']:.2f}s")
    return result


def warm_up(data: Features, widths, device: torch.device | str, batch_size: int) -> None:
    """One throwaway training step and forward pass, so the first timed run of a process does not
    pay one-off costs (kernel selection, allocator growth) that later runs do not."""
    model = build_model(data.cut, widths, data.num_classes, 0, device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rows = torch.arange(min(batch_size, data.train_y.numel()), device=data.train_x.device)
    _train_epoch(model, opt, data.train_x, data.train_y, rows, None, batch_size, 0.0, torch.Generator())
    logits_and_embeddings(model, data.train_x[:batch_size])


# ----------------------------------------------------------------------------------------------
# the workflow job


def train_coreset(features_npz: str, features_json: str, dataset_name: str, dataset_cfg: dict, config: dict,
                  method: str, seed: int, fractions: dict[str, float], out_metrics: list[str],
                  checkpoint_dir: str | None, log) -> list[dict]:
    """Job ``train_coreset``: ``method`` with ``seed`` at every fraction (label -> value, aligned
    with ``out_metrics``); one metrics file per fraction, with provenance.

    ``config`` holds ``coreset``, ``components`` and ``device``. The fractions of one method run in
    one process (one job): at the embedded default's size the interpreter start dominates a job.
    """
    from prestorepro.device import resolve_device
    from prestorepro.provenance import provenance

    if len(fractions) != len(out_metrics):
        raise ValueError(f"{len(fractions)} fractions but {len(out_metrics)} metrics paths; they must align")
    cfg = config["coreset"]
    device = resolve_device(config["device"])
    data = Features.from_embedding(features_npz, features_json, device,
                                   context=f"[{dataset_name} {method} seed {seed}] before training")
    widths = model_widths(data.cut, config["components"]["widths"], data.num_classes, dataset_cfg["k"])
    log.info(f"{dataset_name}: {data.train_y.numel()} training points, model widths {widths} "
             f"(PRESTO total {presto_parameter_total(data.cut, config['components']['widths'], data.num_classes, dataset_cfg['k'])})")
    warm_up(data, widths, device, int(cfg["batch_size"]))
    results = []
    for (label, fraction), out in zip(fractions.items(), out_metrics):
        spec = CoresetSpec(method=method, fraction=float(fraction), seed=int(seed), widths=widths, cfg=cfg)
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"f{label}.pt"
        res = run_coreset(data, spec, device=device, log=log.info, checkpoint_path=ckpt, dataset_name=dataset_name)
        metrics = {"dataset": dataset_name, "source": dataset_cfg["source"], "k": int(dataset_cfg["k"]),
                   "fraction_label": label, **res,
                   "provenance": provenance({"coreset": cfg, "components": config["components"],
                                             "dataset": dataset_cfg}, seed, device)}
        write_json(out, metrics)
        results.append(metrics)
    if checkpoint_dir is not None:
        for label in fractions:
            p = Path(checkpoint_dir) / f"f{label}.pt"
            if p.exists():
                p.unlink()
    return results
