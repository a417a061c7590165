"""Per-point gradient proxies for selection (CRAIG §3.4, GRAD-MATCH §4 "Last-layer gradients").

For cross-entropy on logits z = W e + b, the gradient of point i's loss is

    d loss_i / d b = p_i - y_i            (p_i = softmax(z_i), y_i one-hot)
    d loss_i / d W = (p_i - y_i) e_i^T,

so ``p_i - y_i`` is the standard cheap proxy (the gradient w.r.t. the logits, = w.r.t. the bias).
With the embeddings ``e_i`` it extends to the whole last layer, laid out as
``[bias part (C) | weight part (C x E), row-major]`` -- the layout GRAD-MATCH's per-gradient
approximation slices per class (``per_gradient_columns``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prestorepro.coreset.base import as_numpy, check_labels


@torch.no_grad()
def last_layer_gradients(logits: torch.Tensor, labels: Any, embeddings: torch.Tensor | None = None) -> np.ndarray:
    """``softmax(logits) - onehot(labels)``, shape (N, C); with ``embeddings`` (N, E) the full
    last-layer gradient ``[p - y | (p - y) outer e]``, shape (N, C + C*E). Same dtype as ``logits``."""
    z = torch.as_tensor(logits)
    if z.ndim != 2:
        raise ValueError(f"logits must be (N, C), got shape {tuple(z.shape)}")
    if not torch.is_floating_point(z):
        z = z.double()
    n, c = z.shape
    y = torch.as_tensor(check_labels(labels, n), device=z.device)
    if y.numel() and int(y.max()) >= c:
        raise ValueError(f"label {int(y.max())} is out of range for {c} logit columns")
    g = torch.softmax(z, dim=1)
    g[torch.arange(n, device=z.device), y] -= 1.0
    if embeddings is not None:
        e = torch.as_tensor(embeddings, device=z.device, dtype=z.dtype)
        if e.ndim != 2 or e.shape[0] != n:
            raise ValueError(f"embeddings must be (N={n}, E), got shape {tuple(e.shape)}")
        g = torch.cat([g, (g[:, :, None] * e[:, None, :]).reshape(n, -1)], dim=1)
    return g.cpu().numpy()


def per_gradient_columns(cls: int, num_classes: int, dim: int) -> np.ndarray:
    """Columns of class ``cls``'s own output in a last-layer gradient of width ``dim``.

    GRAD-MATCH §4 "per-gradient approximation": for class c only the c-th bias entry and the c-th
    row of the last weight matrix are matched. ``dim == C`` (logit gradients) gives ``[c]``;
    ``dim == C * (1 + E)`` gives ``[c, C + c*E, ..., C + (c+1)*E - 1]``.
    """
    if dim == num_classes:
        return np.array([cls], dtype=np.int64)
    emb, rest = divmod(dim - num_classes, num_classes)
    if dim < num_classes or rest:
        raise ValueError(
            f"per_gradient=True needs last-layer gradients laid out as [bias (C) | weight (C*E)] "
            f"(width C or C*(1+E)); got width {dim} with C={num_classes} classes. Pass "
            f"per_gradient=False for other gradient proxies, or num_classes= if labels miss classes."
        )
    return np.concatenate([[cls], num_classes + cls * emb + np.arange(emb)]).astype(np.int64)


def class_gradient_sums(grads: Any, labels: Any, num_classes: int) -> np.ndarray:
    """(num_classes, D) per-class gradient sums, e.g. of a validation set, for GRAD-MATCH's ``target=``."""
    g = as_numpy(grads, "grads", np.float64)
    y = check_labels(labels, g.shape[0])
    if y.size and y.max() >= num_classes:
        raise ValueError(f"label {y.max()} is out of range for num_classes={num_classes}")
    out = np.zeros((num_classes, g.shape[1]))
    np.add.at(out, y, g)
    return out
