"""The mixture of experts' objective and predictions (Jordan & Jacobs 1994, Eq. 1 there; SPEC §5b).

With gate logits a(x) (B, K) and expert outputs (B, K, C), the negative log-likelihood of a point is

    -log sum_k g_k(x) p_k(y | x),   g = softmax(a),   log p_k(y | x) = -loss_k(x, y),

computed as -logsumexp_k(log_softmax(a)_k - loss_k) so that no probability underflows. ``loss`` is the
components' per-sample loss (``training.fused.LOSSES``): the cross-entropy and the logistic loss are exact
negative log-likelihoods; the hinge loss makes exp(-hinge) an unnormalised likelihood (App. C's SVMs as
experts). The optional load-balancing term is the squared coefficient of variation of the gate's importance
over a batch (Shazeer et al. 2017, Eq. 6), K * sum_k mean_b(g_k)^2 - 1: 0 when the batch is spread evenly,
K - 1 when one expert takes it all.
"""
from __future__ import annotations

import torch

from prestorepro.training.fused import class_probabilities, per_sample_loss


def expert_log_likelihood(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """log p_k(y_i | x_i), (B, K): minus every expert's per-sample loss."""
    return -per_sample_loss(out, y, loss)


def mixture_nll(gate_logits: torch.Tensor, log_likelihood: torch.Tensor) -> torch.Tensor:
    """-log sum_k g_k p_k(y | x) per row, (B,)."""
    return -torch.logsumexp(torch.log_softmax(gate_logits, dim=1) + log_likelihood, dim=1)


def responsibilities(gate_logits: torch.Tensor, log_likelihood: torch.Tensor) -> torch.Tensor:
    """The posterior h_ik = g_k p_k(y_i | x_i) / sum_j g_j p_j(y_i | x_i), (B, K) (the E step's weights)."""
    return torch.softmax(torch.log_softmax(gate_logits, dim=1) + log_likelihood, dim=1)


def balance_penalty(gate_logits: torch.Tensor) -> torch.Tensor:
    """K * sum_k (mean over the batch of g_k)^2 - 1: the squared coefficient of variation of the gate's
    importance (Shazeer et al. 2017)."""
    k = gate_logits.shape[1]
    importance = torch.softmax(gate_logits, dim=1).mean(0)
    return k * importance.square().sum() - 1.0


def mixture_probabilities(gate_logits: torch.Tensor, out: torch.Tensor, loss: str) -> torch.Tensor:
    """p(c | x) = sum_k g_k(x) p_k(c | x), (B, C): the mixture's own prediction is its argmax."""
    return (torch.softmax(gate_logits, dim=1).unsqueeze(-1) * class_probabilities(out, loss)).sum(1)
