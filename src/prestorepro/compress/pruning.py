"""Pruning at initialisation: SNIP and GraSP (paper §4.2, App. B.5; SPEC §6).

Both score every prunable weight of the reference network (``ResNetTail(cut, (256, 512, 1024), C)``)
on a few mini-batches at initialisation; ``prune_to_budget`` then keeps the globally top-scored
weights so that the pruned network has exactly PRESTO's parameter count. The masks are held fixed
while the pruned network trains (``prestorepro.training.single.train_single(masks=...)``).

Prunable weights are the weights of ``nn.Conv2d`` and ``nn.Linear`` layers, as in the reference
implementations of both methods; batch-norm parameters and biases always stay.

Every criterion returns an *importance*: a dict from parameter name to a tensor of the weight's
shape, where a higher value means "keep". They are registered by name in ``PRUNING_CRITERIA``.
"""
from __future__ import annotations

import copy
from typing import Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from prestorepro.registry import Registry

PRUNING_CRITERIA: Registry = Registry("pruning criterion")


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """Name -> weight of every convolution and linear layer (not batch norm, not biases)."""
    out = {}
    for mod_name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            out[f"{mod_name}.weight" if mod_name else "weight"] = m.weight
    if not out:
        raise ValueError(f"{type(model).__name__} has no convolution or linear weights to prune")
    return out


def class_balanced_sample(y: torch.Tensor, samples_per_class: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of up to ``samples_per_class`` random rows of every class (all rows of a smaller
    class), the scoring sample of the reference implementations (GraSP's ``GraSP_fetch_data``)."""
    y = torch.as_tensor(y).cpu()
    picks = []
    for c in torch.unique(y):
        rows = torch.nonzero(y == c, as_tuple=True)[0]
        picks.append(rows[torch.randperm(len(rows), generator=generator)[:samples_per_class]])
    return torch.sort(torch.cat(picks)).values


def _scoring_copy(model: nn.Module, device: torch.device) -> nn.Module:
    # The reference implementations score a deep copy in train mode (batch statistics in BN), so the
    # running statistics of the network that is then trained are not touched by the scoring passes.
    net = copy.deepcopy(model).to(device)
    net.train()
    return net


def _batches(x: torch.Tensor, y: torch.Tensor, batch_size: int | None, net: nn.Module
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    n = x.shape[0]
    if n == 0 or y.shape != (n,):
        raise ValueError(f"scoring needs (N, ...) features and (N,) labels with N > 0; got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    bs = n if batch_size is None else int(batch_size)
    p = next(net.parameters())
    for s in range(0, n, bs):
        yield x[s:s + bs].to(device=p.device, dtype=p.dtype), y[s:s + bs].to(device=p.device, dtype=torch.long)


@PRUNING_CRITERIA.register("snip")
def snip_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int | None = None,
                device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """SNIP connection sensitivity |g ⊙ w| (Lee et al. 2019, Eq. 6), g = dL/dw at initialisation.

    ``x, y`` is the scoring sample, cut into mini-batches of ``batch_size`` whose mean-loss gradients
    are summed. The normalisation of Lee et al. (division by the sum of all scores) is a positive
    constant and leaves the ranking unchanged, so it is omitted.
    """
    device = torch.device(device)
    net = _scoring_copy(model, device)
    names, weights = zip(*prunable_parameters(net).items())
    grads = [torch.zeros_like(w) for w in weights]
    for xb, yb in _batches(torch.as_tensor(x), torch.as_tensor(y), batch_size, net):
        g = torch.autograd.grad(F.cross_entropy(net(xb), yb), weights)
        for acc, gi in zip(grads, g):
            acc += gi
    return {n: (g * w.detach()).abs() for n, g, w in zip(names, grads, weights)}


@PRUNING_CRITERIA.register("grasp")
def grasp_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int | None = None,
                 temperature: float = 200.0, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """GraSP importance theta ⊙ (H g) (Wang et al. 2020, Eq. 8), with the Hessian-gradient product by
    double backpropagation.

    Sign convention. Wang et al. score a weight by S(-theta) = -theta ⊙ Hg, the first-order change of
    the gradient norm ||g||^2 (up to a factor 2) when the weight is removed, and *remove* the weights
    with the largest S: removing them reduces the gradient flow least (or increases it). Their
    reference code (``pruner/GraSP.py``) computes ``-weight * Hg`` and drops the top fraction. Here the
    importance is returned as ``-S = theta ⊙ Hg`` so that every criterion keeps its *highest* scores:
    keeping the k largest theta ⊙ Hg is exactly removing the weights with the largest S.

    As in the reference code: the loss is the cross-entropy of ``logits / temperature`` (T = 200
    there; it keeps the softmax away from saturation at initialisation), g = sum over the mini-batches
    of their mean-loss gradients (without a graph), and Hg = sum over the mini-batches b of H_b g,
    H_b the Hessian of batch b's mean loss with respect to the prunable weights only.
    """
    device = torch.device(device)
    if not temperature > 0:
        raise ValueError(f"GraSP temperature must be positive, got {temperature}")
    net = _scoring_copy(model, device)
    names, weights = zip(*prunable_parameters(net).items())
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    g = [torch.zeros_like(w) for w in weights]
    for xb, yb in _batches(xt, yt, batch_size, net):
        for acc, gi in zip(g, torch.autograd.grad(F.cross_entropy(net(xb) / temperature, yb), weights)):
            acc += gi
    hg = [torch.zeros_like(w) for w in weights]
    for xb, yb in _batches(xt, yt, batch_size, net):
        gf = torch.autograd.grad(F.cross_entropy(net(xb) / temperature, yb), weights, create_graph=True)
        z = sum((gi * fi).sum() for gi, fi in zip(g, gf))  # g held constant: d z / d w = H_b g
        for acc, hi in zip(hg, torch.autograd.grad(z, weights)):
            acc += hi
    return {n: w.detach() * h for n, w, h in zip(names, weights, hg)}


def count_unprunable(model: nn.Module) -> int:
    """Parameters that pruning never removes (batch norm, biases)."""
    total = sum(p.numel() for p in model.parameters())
    return total - sum(p.numel() for p in prunable_parameters(model).values())


def prune_to_budget(model: nn.Module, scores: Mapping[str, torch.Tensor], target_nonzero_total: int
                    ) -> dict[str, torch.Tensor]:
    """Masks keeping the ``target_nonzero_total - count_unprunable(model)`` globally top-scored weights.

    The pruned network then has exactly ``target_nonzero_total`` parameters (kept weights plus the
    unprunable ones), PRESTO's count (paper §4.2: "within 5%"; exact here). Ties at the threshold are
    broken by ``torch.topk`` so the count stays exact. Returns name -> bool mask of the weight's shape.
    """
    prunable = prunable_parameters(model)
    if set(scores) != set(prunable):
        raise ValueError(f"scores cover {sorted(scores)}, the model's prunable weights are {sorted(prunable)}")
    for name, p in prunable.items():
        if tuple(scores[name].shape) != tuple(p.shape):
            raise ValueError(f"score for {name!r} has shape {tuple(scores[name].shape)}, weight has {tuple(p.shape)}")
    n_fixed = count_unprunable(model)
    n_prunable = sum(p.numel() for p in prunable.values())
    keep = int(target_nonzero_total) - n_fixed
    if keep < 1 or keep > n_prunable:
        raise ValueError(
            f"cannot prune {type(model).__name__} to {target_nonzero_total} parameters: it has {n_fixed} "
            f"unprunable parameters (batch norm, biases) and {n_prunable} prunable weights, so the target must "
            f"lie in [{n_fixed + 1}, {n_fixed + n_prunable}]; choose a smaller reference network or a larger budget")
    names = list(prunable)
    flat = torch.cat([scores[nm].detach().reshape(-1).to(torch.get_default_dtype()) for nm in names])
    if not bool(torch.isfinite(flat).all()):
        bad = int((~torch.isfinite(flat)).sum())
        raise FloatingPointError(f"{bad} pruning scores are NaN or inf; check the scoring batch and the initialisation")
    keep_flat = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    keep_flat[torch.topk(flat, keep, sorted=False).indices] = True
    masks, offset = {}, 0
    for nm in names:
        k = prunable[nm].numel()
        masks[nm] = keep_flat[offset:offset + k].view(prunable[nm].shape)
        offset += k
    return masks


def mask_summary(masks: Mapping[str, torch.Tensor]) -> dict[str, dict[str, int]]:
    """Kept / total weights per layer, to be logged: at PRESTO's budget the reference network keeps
    well under 1% of its weights, and a layer with none kept cuts the network (layer collapse, a known
    failure of single-shot pruning at extreme sparsity), which the caller should report."""
    return {n: {"kept": int(m.sum()), "total": int(m.numel())} for n, m in masks.items()}


def empty_layers(masks: Mapping[str, torch.Tensor]) -> list[str]:
    """Layers whose every weight is pruned."""
    return [n for n, m in masks.items() if not bool(m.any())]


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Zero the pruned weights in place."""
    params = dict(model.named_parameters())
    for name, m in masks.items():
        params[name].mul_(m.to(device=params[name].device, dtype=params[name].dtype))


def count_kept_parameters(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> int:
    """Parameters of the pruned network: unpruned weights plus the unprunable parameters."""
    prunable = prunable_parameters(model)
    masked = sum(prunable[n].numel() for n in masks)
    return sum(p.numel() for p in model.parameters()) - masked + sum(int(m.sum()) for m in masks.values())
