"""The quantities of one round of Algorithm 1 (paper §3; SPEC §4): the objective G of Eq. 1 / Eq. 4, the
modular upper bound of Eq. 8 with App. B.3's distance term, and the literal G({(i, k)}) of lines 3-8."""
from __future__ import annotations

import torch

from prestorepro.models.fused import FusedModule
from prestorepro.presto.settings import PrestoSettings


def presto_objective(L: torch.Tensor, assignment: torch.Tensor, sq_norms: torch.Tensor,
                     lam: float) -> tuple[float, float, float]:
    """G of Eq. 1 / Eq. 4 for the partition ``assignment`` (N,): (G, data term, regulariser term).

    Each instance i in S_k contributes L[i, k] + lam ||theta_k||^2, so the regulariser is weighted by
    the part sizes: G = sum_i L[i, a_i] + lam * sum_k |S_k| ||theta_k||^2 (``sq_norms``: ||theta_k||^2, (K,)).
    """
    sizes = torch.bincount(assignment, minlength=L.shape[1]).to(torch.float64)
    data = float(L.gather(1, assignment[:, None]).double().sum())
    reg = lam * float((sizes * sq_norms.detach().double().to(sizes.device)).sum())
    return data + reg, data, reg


def modular_upper_bound(marginal: torch.Tensor, assignment: torch.Tensor, alpha: float, G1: torch.Tensor,
                        epsilon: float = 0.0, distance: torch.Tensor | None = None) -> torch.Tensor:
    """Cost matrix of Eq. 8 for the next partition, plus App. B.3's epsilon-distance term.

    For (i, k) in the current partition the cost is alpha * G((i,k) | S minus (i,k)) (``marginal``,
    estimated by i's Eq. 1 term under its trained component); for (i, k) outside it, G({(i,k)}) / alpha.
    """
    member = torch.zeros_like(marginal, dtype=torch.bool)
    member[torch.arange(marginal.shape[0], device=marginal.device), assignment] = True
    M = torch.where(member, alpha * marginal, G1 / alpha)
    if epsilon and distance is not None:
        M = M + epsilon * distance
    return M


@torch.no_grad()
def centre_distances(x_flat: torch.Tensor, assignment: torch.Tensor, k: int) -> torch.Tensor:
    """||x_i - c_k|| with c_k the mean embedding of part k, (N, K). An empty part gets distance 0."""
    centres = torch.zeros(k, x_flat.shape[1], dtype=x_flat.dtype, device=x_flat.device)
    centres.index_add_(0, assignment, x_flat)
    counts = torch.bincount(assignment, minlength=k)
    centres /= counts.clamp(min=1).to(x_flat.dtype)[:, None]
    # ||x||^2 - 2 x.c + ||c||^2: one pass for the norms (vector_norm makes no (N, D) temporary) and one
    # (N, D) x (D, K) product. torch.cdist, and squaring chunks of x, allocate (chunk, D) temporaries
    # and were 6x and 4.6x slower at N=90000 (benchmarks/RESULTS.md, target 2); agrees to ~1e-7 relative
    x_sq = torch.linalg.vector_norm(x_flat, dim=1).square()
    d = (x_sq[:, None] - 2 * (x_flat @ centres.T) + centres.square().sum(1)).clamp_(min=0).sqrt_()
    return d.masked_fill((counts == 0)[None, :], 0.0)


def singleton_objective(model: FusedModule, x: torch.Tensor, y: torch.Tensor, settings: PrestoSettings,
                        chunk: int = 256) -> torch.Tensor:
    """G({(i, k)}) of Algorithm 1 lines 3-8, estimated literally: component k trained from its initial
    parameters on the single instance i for ``singleton_steps`` gradient steps, vectorised over i with
    torch.func (batch norm in eval mode, as one instance has no batch statistics). (N, K)."""
    from torch.func import functional_call, grad, vmap

    from prestorepro.training.fused import per_sample_loss

    lam, lr, steps = settings.lam, settings.singleton_lr, settings.singleton_steps
    out = torch.empty(x.shape[0], model.k, dtype=x.dtype, device=x.device)
    for k in range(model.k):
        comp = model.component(k).to(x.device).eval()
        params = {n: p.detach() for n, p in comp.named_parameters()}
        buffers = {n: b for n, b in comp.named_buffers()}

        def objective(p, xi, yi):
            logits = functional_call(comp, (p, buffers), (xi.unsqueeze(0),))
            data = per_sample_loss(logits.unsqueeze(1), yi.view(1), settings.loss)[0, 0]
            return data + lam * sum(v.square().sum() for v in p.values())

        step = vmap(grad(objective), in_dims=(0, 0, 0))
        value = vmap(objective, in_dims=(0, 0, 0))
        for s in range(0, x.shape[0], chunk):
            xb, yb = x[s:s + chunk], y[s:s + chunk]
            p = {n: v.unsqueeze(0).expand(len(xb), *v.shape).clone() for n, v in params.items()}
            for _ in range(steps):
                g = step(p, xb, yb)
                p = {n: p[n] - lr * g[n] for n in p}
            with torch.no_grad():
                out[s:s + chunk, k] = value(p, xb, yb)
    return out
