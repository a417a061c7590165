"""The gating classifier pi_phi (paper §2.2 "Test time prediction", §4.1, App. B.2).

pi_phi is one linear layer from the concatenated class-probability vectors of the K components
(K*C inputs) to K outputs, trained with cross-entropy on the pairs (x_i, k) for i in S_k. At test
time an instance goes to component k = argmax pi_phi(x) and takes that component's prediction.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from prestorepro.models.fused import FusedModule
from prestorepro.training.fused import class_probabilities, component_outputs, predict_labels
from prestorepro.training.single import predict, train_single


class Gate(nn.Module):
    def __init__(self, k: int, num_classes: int):
        super().__init__()
        self.k, self.num_classes = k, num_classes
        self.linear = nn.Linear(k * num_classes, k)

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        return self.linear(probs)


def gate_inputs(model: FusedModule, x: torch.Tensor, loss: str) -> torch.Tensor:
    """(N, K*C) concatenated class-probability vectors of the K components."""
    probs = class_probabilities(component_outputs(model, x), loss)
    return probs.reshape(probs.shape[0], -1)


def train_gate(model: FusedModule, x: torch.Tensor, assignment: np.ndarray, *, epochs: int, lr: float,
               batch_size: int, generator: torch.Generator, loss: str = "ce", log=None) -> Gate:
    """Train pi_phi on (x_i, k), i in S_k. Its initial weights are drawn from ``generator``'s seed and its
    batch order from ``generator``: torch seeds the global generator differently in every process, so
    nothing here may draw from it."""
    inputs = gate_inputs(model, x, loss)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator.initial_seed())
        gate = Gate(model.k, inputs.shape[1] // model.k)
    gate = gate.to(x.device)
    targets = torch.as_tensor(assignment, dtype=torch.long, device=x.device)
    train_single(gate, inputs, targets, epochs=epochs, batch_size=batch_size, lr=lr, device=x.device,
                 generator=generator, log=log, desc="gate")
    return gate


def mixture_predict(model: FusedModule, x: torch.Tensor, routes: np.ndarray | torch.Tensor, loss: str) -> np.ndarray:
    """Prediction of the mixture when instance i is sent to component routes[i]."""
    labels = predict_labels(component_outputs(model, x), loss)  # (N, K)
    r = torch.as_tensor(np.asarray(routes), dtype=torch.long, device=labels.device)
    return labels.gather(1, r[:, None])[:, 0].cpu().numpy()


def gate_routes(gate: Gate, model: FusedModule, x: torch.Tensor, loss: str) -> np.ndarray:
    logits = predict(gate, gate_inputs(model, x, loss), device=x.device)
    return np.asarray(logits).argmax(1)
