"""Adam over K stacked components that moves only the components active in a step."""
from __future__ import annotations

from typing import Sequence

import torch


class MaskedAdam:
    """Adam over stacked (K, ...) parameters that updates only the components active in a step.

    Written by hand because ``torch.optim.Adam`` cannot skip part of a tensor: a component whose
    epoch has ended must not move (its moments and step count stay as they are), or fused training
    would drift from training that component alone. The update is torch's Adam formula (no decay);
    ``update(active, l2)`` adds the gradient 2 * l2 * theta_k of the L2 term l2 * ||theta_k||^2.

    All parameters are updated side by side as one (K, P) matrix (P parameters per component), so a
    step costs a dozen tensor operations whatever the number of parameter tensors; ``exp_avg`` and
    ``exp_avg_sq`` are per-parameter views into the moment matrices.
    """

    def __init__(self, params: Sequence[torch.nn.Parameter], k: int, lr: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        self.k, self.lr, self.betas, self.eps = k, lr, betas, eps
        bad = [tuple(p.shape) for p in self.params if p.dim() == 0 or p.shape[0] != k]
        if bad:
            raise ValueError(f"every parameter must be stacked over the {k} components (shape (K, ...)); got {bad}")
        first = self.params[0]
        dev, dtype = first.device, first.dtype
        self.step = torch.zeros(k, dtype=torch.float64, device=dev)
        sizes = [p[0].numel() for p in self.params]
        total = sum(sizes)
        self._m = torch.zeros(k, total, dtype=dtype, device=dev)
        self._v = torch.zeros(k, total, dtype=dtype, device=dev)
        self._p = torch.empty(k, total, dtype=dtype, device=dev)

        def views(flat):
            out, off = [], 0
            for p, n in zip(self.params, sizes):
                out.append(flat[:, off:off + n].view(p.shape))
                off += n
            return out

        self.exp_avg, self.exp_avg_sq, self._p_views = views(self._m), views(self._v), views(self._p)

    @torch.no_grad()
    def update(self, active: torch.Tensor | None, l2: float = 0.0) -> None:
        """One step for the components with ``active[k]`` (bool (K,)); ``None``: all components."""
        grads = [p.grad for p in self.params]
        if any(g is None for g in grads):
            # a parameter without a gradient is not moved (torch.optim.Adam skips it as well)
            return self._update_each(active, l2)
        k, b1, b2 = self.k, *self.betas
        g = torch.cat([g.reshape(k, -1) for g in grads], dim=1)
        p = torch.cat([q.reshape(k, -1) for q in self.params], dim=1, out=self._p)
        if l2:
            g.add_(p, alpha=2.0 * l2)
        self.step += 1.0 if active is None else active.to(self.step.dtype)
        steps = self.step.clamp(min=1)
        bc1 = (1 - b1 ** steps).to(p.dtype).view(k, 1)
        bc2_sqrt = (1 - b2 ** steps).sqrt().to(p.dtype).view(k, 1)
        m, v = self._m, self._v
        if active is None:
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = v.sqrt().div_(bc2_sqrt).add_(self.eps)
            p.sub_((self.lr / bc1) * m / denom)
        else:
            a = active.view(k, 1)
            m.copy_(torch.where(a, m * b1 + g * (1 - b1), m))
            v.copy_(torch.where(a, v * b2 + g * g * (1 - b2), v))
            denom = v.sqrt() / bc2_sqrt + self.eps
            p.sub_(torch.where(a, (self.lr / bc1) * m / denom, torch.zeros_like(p)))
        torch._foreach_copy_(self.params, self._p_views)

    def _update_each(self, active: torch.Tensor | None, l2: float) -> None:
        b1, b2 = self.betas
        if active is None:
            active = torch.ones(self.k, dtype=torch.bool, device=self.step.device)
        self.step += active.to(self.step.dtype)
        steps = self.step.clamp(min=1)
        bc1 = (1 - b1 ** steps).to(self.params[0].dtype)
        bc2_sqrt = (1 - b2 ** steps).sqrt().to(self.params[0].dtype)
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            if p.grad is None:
                continue
            shape = (self.k,) + (1,) * (p.dim() - 1)
            a = active.view(shape)
            g = p.grad + 2.0 * l2 * p if l2 else p.grad
            m.copy_(torch.where(a, m * b1 + g * (1 - b1), m))
            v.copy_(torch.where(a, v * b2 + g * g * (1 - b2), v))
            denom = v.sqrt() / bc2_sqrt.view(shape) + self.eps
            p.sub_(torch.where(a, (self.lr / bc1).view(shape) * m / denom, torch.zeros_like(p)))

    def state_dict(self) -> dict:
        return {"step": self.step.clone(), "exp_avg": [t.clone() for t in self.exp_avg],
                "exp_avg_sq": [t.clone() for t in self.exp_avg_sq]}

    def load_state_dict(self, state: dict) -> None:
        self.step.copy_(state["step"])
        for dst, src in zip(self.exp_avg, state["exp_avg"]):
            dst.copy_(src)
        for dst, src in zip(self.exp_avg_sq, state["exp_avg_sq"]):
            dst.copy_(src)
