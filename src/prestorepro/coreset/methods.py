"""The coreset methods of the subset-selection stage (``CORESET_METHODS``): how each selects from the
current model's gradients (CRAIG, GRAD-MATCH, GRAD-MATCH-PB), the pooled features (PBCS) or at random.
Whether it reselects every R epochs, warm-starts on the full data and has an option section is its
catalogue entry's (``prestorepro.catalogue``). Design: docs/coreset.md."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from prestorepro.catalogue import Method, method as catalogue_method
from prestorepro.coreset.base import SELECTORS, finish
from prestorepro.coreset.gradients import class_gradient_sums, last_layer_gradients
from prestorepro.coreset.gradmatch import GradMatchOptions, gradmatch_pb_batches
from prestorepro.coreset.pbcs import InnerSolve, PbcsOptions, ValidationSet, fit_inner, outer_losses
from prestorepro.features import Features
from prestorepro.models.resnet_tail import ResNetTail
from prestorepro.registry import Registry


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
    full data); the rest of what the trainer needs of it is its catalogue entry's.

    ``info`` is recorded with the selection; a per-batch method also puts its training batches there,
    as ``info["batches"]``: arrays of positions into ``indices`` (sorted), which the trainer uses as
    they are and does not record."""

    key: str
    select: Callable[[SelectionContext, int, np.random.Generator], tuple[np.ndarray, np.ndarray, dict]] | None

    @property
    def entry(self) -> Method:
        return catalogue_method("coreset", self.key)

    @property
    def reselect(self) -> bool:  # every R epochs (else: once, at the start)
        return self.entry.reselects

    @property
    def warm(self) -> bool:  # GRAD-MATCH §4's warm start on the full data
        return self.entry.warm

    @property
    def options(self) -> str | None:  # the config section of its own options (coreset.<options>)
        return self.entry.options


CORESET_METHODS: Registry[CoresetMethod] = Registry("coreset method", stage="coreset")


def register_coreset_method(key: str, select) -> CoresetMethod:
    """Register ``select`` (None: the full-data run) as coreset method ``key`` of the catalogue."""
    return CORESET_METHODS.register(key)(CoresetMethod(key, select))


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
                                        options=GradMatchOptions(lam=o["lam"], tol=o["tol"], per_class=True,
                                                                 per_gradient=True),
                                        num_classes=ctx.data.num_classes, target=target)
    return idx, w, {}


def _select_gradmatch_pb(ctx: SelectionContext, budget: int, rng: np.random.Generator):
    o = ctx.cfg["gradmatch"]
    target = _validation_class_targets(ctx).sum(axis=0) if o["valid"] else None
    labels = _labels(ctx)
    batches, bw = gradmatch_pb_batches(budget, grads=_last_layer_gradients(ctx), labels=labels, rng=rng,
                                       batch_size=ctx.cfg["batch_size"], lam=o["lam"], tol=o["tol"], target=target)
    if not batches:
        return np.zeros(0, np.int64), np.zeros(0), {"batches": []}
    idx, w = finish(np.concatenate(batches), np.concatenate([np.full(b.size, wb) for b, wb in zip(batches, bw)]),
                    budget, labels.size)
    # §4: "the subset of mini-batches selected directly without any additional shuffling"
    return idx, w, {"batches": [np.searchsorted(idx, b) for b in batches]}


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
    validation = ValidationSet(xva, yva) if o["outer"] == "val" else None
    inner = InnerSolve(l2=o["l2"], max_iter=o["inner_max_iter"], tol=o["inner_tol"])
    candidates = []
    for lr in o["lr"]:
        sub_rng = np.random.default_rng(rng.integers(2 ** 63))  # one stream per candidate, drawn in order
        options = PbcsOptions(outer_steps=o["outer_steps"], num_masks=o["num_masks"], lr=lr, inner=inner,
                              device=str(ctx.device))
        idx, w = SELECTORS.get("pbcs")(budget, labels=ytr, rng=sub_rng, features=xtr, validation=validation,
                                       num_classes=c, options=options)
        # validation loss of the convex model fitted on the subset: PBCS's own yardstick, on held-out data
        # (the inner l2 and iterations, at the solve's default tolerance)
        sel = torch.as_tensor(idx, device=xtr.device)
        theta = fit_inner(xtr[sel], ytr[sel], torch.ones(1, sel.numel(), dtype=torch.bool, device=xtr.device), c,
                          scale=1.0 / max(sel.numel(), 1), solve=InnerSolve(l2=o["l2"], max_iter=o["inner_max_iter"]))
        candidates.append((float(outer_losses(theta, xva, yva)[0]), float(lr), idx, w))
    best = min(candidates, key=lambda t: t[0])  # ties: the earlier rate in the config
    info = {"lr": best[1], "val_loss_by_lr": {str(lr): loss for loss, lr, _, _ in candidates}}
    return best[2], best[3], info


register_coreset_method("full", None)
register_coreset_method("random", _select_random)
register_coreset_method("random_warm", _select_random)
register_coreset_method("craig", _select_craig)
register_coreset_method("gradmatch", _select_gradmatch)
register_coreset_method("gradmatch_warm", _select_gradmatch)
register_coreset_method("gradmatch_pb", _select_gradmatch_pb)
register_coreset_method("pbcs", _select_pbcs)
