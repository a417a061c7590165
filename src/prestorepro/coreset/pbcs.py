"""Probabilistic bilevel coreset selection, PBCS (Zhou et al., ICML 2022; SPEC §7).

Every point i carries a probability s_i in [0, 1]; a coreset is a Bernoulli mask m ~ p(m | s).
The outer objective (Eq. 4) is Phi(s) = E_m[ L(theta*(m)) ], L the mean cross-entropy of the inner
solution on the validation set (or, without one, on the full training set), and the inner problem
(Eq. 5) is

    theta*(m) = argmin_theta (1/K) sum_i m_i CE(x_i, y_i; theta) + (l2 / 2) ||theta||^2,

multinomial logistic regression (with bias) on frozen features -- convex, so "train the inner loop
to convergence" (Alg. 1 line 4) is a well-defined L-BFGS solve. The L2 term (not in the paper) makes
theta*(m) unique and finite when the subset is separable or empty.

Outer gradient (Eq. 6, the policy gradient): grad Phi = E[ L(m) grad_s ln p(m|s) ], with
d/ds_i ln p = m_i / s_i - (1 - m_i) / (1 - s_i). Each outer step samples M masks, solves the M inner
problems as one batched L-BFGS run, and uses the masks' mean loss as baseline:

    g = 1/(M-1) sum_k (L_k - mean_k L) grad_s ln p(m_k | s),

which is unbiased (the 1/(M-1), not 1/M, offsets the baseline's dependence on L_k itself).
s is updated with Adam (lr 2.5, cosine schedule: the paper's App. C; the authors' public script
defaults to lr 0.05) and projected onto
C = {0 <= s <= 1, sum(s) <= K} (App. B, Alg. 2: bisection on the dual variable v of sum(s) <= K,
finished by solving exactly for v on the free set the bisection identified).

Adam's first steps move every s_i by about lr, so at lr 2.5 the projection makes s nearly binary
within ~log2(N / K) steps, after which identical masks give a zero gradient; smaller rates keep
exploring longer (the tests use 0.2). Choose it on validation data.

Points with s_i = 0 are never sampled, so the inner problems only ever see the support of s; the
sparsity that the constraint induces (§3.1) makes the inner solves cheap as s converges.
Final selection: the ``budget`` points of largest s (ties by lower index), each with weight 1 -- the
paper samples a last mask from p(m|s), whose size is random and can exceed the budget; with s
nearly binary at the end (§5.2) the top-K set is what that sample would almost surely be.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from prestorepro.coreset.base import (SELECTORS, Selection, as_numpy, check_budget, check_grads, check_labels,
                                      check_rng, finish)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InnerSolve:
    """The inner problem's L2 weight ``l2`` and its L-BFGS solve: at most ``max_iter`` iterations, stopped
    when the largest gradient entry is below ``tol``."""

    l2: float = 1e-3
    max_iter: int = 100
    tol: float = 1e-7


@dataclass(frozen=True)
class PbcsOptions:
    """PBCS's own settings: ``outer_steps`` Adam steps on s (paper: 500-2000) at learning rate ``lr`` with
    cosine decay (paper: 2.5), ``num_masks`` masks per step (>= 2, for the baseline), the ``inner`` solve,
    and the ``device`` the inner problems are solved on."""

    outer_steps: int = 500
    num_masks: int = 4
    lr: float = 2.5
    inner: InnerSolve = field(default_factory=InnerSolve)
    device: str = "cpu"


@dataclass(frozen=True)
class ValidationSet:
    """The points the outer loss is measured on: ``features`` (N_val, F) and their ``labels`` (N_val,)."""

    features: Any
    labels: Any


def project_capped_simplex(z: np.ndarray, budget: float, *, iters: int = 200) -> np.ndarray:
    """Euclidean projection of ``z`` onto {s : 0 <= s <= 1, sum(s) <= budget} (PBCS App. B, Alg. 2).

    s = clip(z - v, 0, 1) with v = max(0, v1), v1 the root of sum(clip(z - v, 0, 1)) = budget,
    a non-increasing piecewise-linear function of v, found by bisection.
    """
    z = np.asarray(z, dtype=np.float64)
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")

    def total(v: float) -> float:
        return float(np.clip(z - v, 0.0, 1.0).sum())

    if z.size == 0 or total(0.0) <= budget:
        return np.clip(z, 0.0, 1.0)
    lo, hi = 0.0, float(z.max())  # total(lo) > budget >= total(hi) = 0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if total(mid) > budget:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, abs(hi)):
            break
    # exact v: on the bracket the free set F = {0 < z - v < 1} and the capped set U = {z - v >= 1}
    # are fixed, and sum = |U| + sum_F (z - v) = budget is linear in v
    v = 0.5 * (lo + hi)
    shifted = z - v
    free = (shifted > 0.0) & (shifted < 1.0)
    if free.any():
        v_exact = (z[free].sum() + np.count_nonzero(shifted >= 1.0) - budget) / np.count_nonzero(free)
        if lo - 1e-12 <= v_exact <= hi + 1e-12:
            v = v_exact
    return np.clip(z - v, 0.0, 1.0)


def sample_masks(s: np.ndarray, num_masks: int, rng: np.random.Generator) -> np.ndarray:
    """``num_masks`` independent Bernoulli(s) masks, (M, n) bool."""
    return rng.random((num_masks, s.size)) < s[None, :]


def score_function(s: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """grad_s ln p(m | s) = m / s - (1 - m) / (1 - s) for each mask, (M, n).

    Finite for every mask that can be drawn: m_i = 1 needs s_i > 0 and m_i = 0 needs s_i < 1.
    """
    m = masks.astype(bool)
    out = np.empty(m.shape)
    with np.errstate(divide="ignore"):
        np.divide(1.0, np.broadcast_to(s, m.shape), out=out, where=m)
        np.divide(-1.0, np.broadcast_to(1.0 - s, m.shape), out=out, where=~m)
    return out


def policy_gradient(s: np.ndarray, masks: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """The PBCS outer-gradient estimate with the masks' mean loss as baseline (needs M >= 2)."""
    losses = np.asarray(losses, dtype=np.float64)
    m = masks.shape[0]
    if m < 2 or losses.shape != (m,):
        raise ValueError(f"need >= 2 masks and one loss per mask; got {m} masks and losses of shape {losses.shape}")
    centred = losses - losses.mean()
    return centred @ score_function(s, masks) / (m - 1)


def fit_inner(x: torch.Tensor, y: torch.Tensor, masks: torch.Tensor, num_classes: int, *, scale: float,
              solve: InnerSolve, theta0: torch.Tensor | None = None) -> torch.Tensor:
    """theta*(m) for every mask at once: (M, F + 1, C), the last row the bias.

    Minimises sum_k [ scale * sum_i m_ki CE(x_i, y_i; theta_k) + l2/2 ||theta_k||^2 ] with L-BFGS
    (``solve``); the sum is separable over k, so its minimiser is every mask's own minimiser.
    ``solve.tol`` bounds the largest gradient entry at the returned point.
    """
    l2, max_iter, tol = solve.l2, solve.max_iter, solve.tol
    xa = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], dim=1)
    w = masks.to(x.dtype) * scale
    theta = (torch.zeros(masks.shape[0], xa.shape[1], num_classes, dtype=x.dtype, device=x.device)
             if theta0 is None else theta0.detach().clone().expand(masks.shape[0], -1, -1).contiguous())
    theta.requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=0.0,
                            history_size=20, line_search_fn="strong_wolfe")
    yk = y.expand(masks.shape[0], -1)

    def closure():
        opt.zero_grad()
        logits = torch.einsum("nf,kfc->knc", xa, theta)
        ce = F.cross_entropy(logits.reshape(-1, num_classes), yk.reshape(-1), reduction="none")
        loss = (w.reshape(-1) * ce).sum() + 0.5 * l2 * theta.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return theta.detach()


def outer_losses(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Mean cross-entropy of every inner solution (M, F+1, C) on (x, y): (M,) numpy."""
    with torch.no_grad():
        xa = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], dim=1)
        logits = torch.einsum("nf,kfc->knc", xa, theta)
        ce = F.cross_entropy(logits.permute(0, 2, 1), y.expand(theta.shape[0], -1), reduction="none")
        return ce.mean(dim=1).cpu().numpy().astype(np.float64)


def make_outer_objective(x: Any, y: Any, num_classes: int, budget: int, *, validation: ValidationSet | None = None,
                         solve: InnerSolve = InnerSolve(), device: str | torch.device = "cpu",
                         dtype: torch.dtype = torch.float64) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``objective(support, masks) -> (M,)``: L(theta*(m)) for masks over the points ``support``, the outer
    loss on ``validation`` (default: on (x, y)).

    Inner solves are warm-started from the previous call's mean solution.
    """
    xt = torch.as_tensor(as_numpy(x, "features"), dtype=dtype, device=device)
    yt = torch.as_tensor(check_labels(y, xt.shape[0]), device=device)
    if validation is not None:
        vx = torch.as_tensor(as_numpy(validation.features, "val_features"), dtype=dtype, device=device)
        vy = torch.as_tensor(check_labels(validation.labels, vx.shape[0]), device=device)
    else:
        vx, vy = xt, yt
    state: dict[str, torch.Tensor] = {}
    scale = 1.0 / max(budget, 1)

    def objective(support: np.ndarray, masks: np.ndarray) -> np.ndarray:
        idx = torch.as_tensor(support, device=device)
        mt = torch.as_tensor(masks, device=device)
        theta = fit_inner(xt[idx], yt[idx], mt, num_classes, scale=scale, solve=solve, theta0=state.get("theta"))
        state["theta"] = theta.mean(dim=0, keepdim=True)
        return outer_losses(theta, vx, vy)

    return objective


@SELECTORS.register("pbcs")
def select_pbcs(budget: int, *, grads: Any = None, labels: Any, rng: np.random.Generator, features: Any = None,
                validation: ValidationSet | None = None, num_classes: int | None = None,
                options: PbcsOptions = PbcsOptions()) -> Selection:
    """PBCS on ``features`` (N, F) (``grads`` is used as the features when ``features`` is None).

    Outer loss on ``validation`` when given, else on the training data. ``options``: the outer steps, masks
    per step, Adam rate and the inner solve (``PbcsOptions``). Weights are all 1.
    """
    outer_steps, num_masks, lr = options.outer_steps, options.num_masks, options.lr
    y = check_labels(labels)
    x = check_grads(grads if features is None else features, y.size, name="features")
    budget = check_budget(budget, y.size)
    rng = check_rng(rng)
    if num_masks < 2:
        raise ValueError(f"num_masks must be >= 2 (the baseline is the other masks' mean), got {num_masks}")
    if num_classes is None:
        seen = [y] if validation is None else [y, check_labels(validation.labels)]
        num_classes = int(max(int(part.max()) for part in seen)) + 1
    if budget == 0 or budget == y.size:
        return finish(np.arange(budget), np.ones(budget), budget, y.size)
    objective = make_outer_objective(x, y, int(num_classes), budget, validation=validation, solve=options.inner,
                                     device=options.device)
    s = torch.full((y.size,), budget / y.size, dtype=torch.float64)  # Alg. 1 line 1
    s.requires_grad_(True)
    opt = torch.optim.Adam([s], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(outer_steps, 1))
    for step in range(outer_steps):
        s_np = s.detach().numpy()
        support = np.flatnonzero(s_np > 0)
        masks = sample_masks(s_np[support], num_masks, rng)
        losses = objective(support, masks)
        grad = np.zeros(y.size)
        grad[support] = policy_gradient(s_np[support], masks, losses)
        s.grad = torch.from_numpy(grad)
        opt.step()
        sched.step()
        with torch.no_grad():
            s.copy_(torch.from_numpy(project_capped_simplex(s.detach().numpy(), budget)))
        if step % 50 == 0 or step == outer_steps - 1:
            _log.info("pbcs step %d/%d: mean outer loss %.4f, support %d, sum(s) %.1f",
                      step + 1, outer_steps, float(losses.mean()), support.size, float(s.detach().sum()))
    final = s.detach().numpy()
    top = np.argsort(-final, kind="stable")[:budget]
    return finish(top, np.ones(budget), budget, y.size)
