"""The gating classifier pi_phi (paper §2.2 "Test time prediction", §4.1, App. B.2; SPEC §3).

pi_phi : X -> [K] is "a fully connected single layer neural network" (§4.1) on the instance x — here
the flattened embedding the components read (the 2-d point on the synthetic data) — with K outputs,
trained with cross-entropy on the pairs (x_i, k) for i in S_k (§2.2) for ``gate_epochs`` epochs with
the components' Adam settings (App. B.3). At test time an instance goes to component k = argmax
pi_phi(x) and takes that component's prediction.

``gate_input = "probabilities"`` is the other reading §2.2 allows (pi_phi on what the components say
rather than on x): the same linear layer on the K components' concatenated class-probability vectors
(K*C inputs). The ablation runs it so that the choice is measured, not assumed.

``compute_device`` (sequential mode, §2.4): the components and x stay on the host; the components run
one at a time on that device, and the gate trains and predicts there on batches streamed from the host.
Without it everything runs where x is.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from prestorepro.models.fused import FusedModule
from prestorepro.models.parameters import GATE_INPUTS, gate_in_features
from prestorepro.streams import seeded
from prestorepro.training.fused import class_probabilities, component_outputs, output_classes, predict_labels
from prestorepro.training.sequential import component_outputs_sequential
from prestorepro.training.single import Recipe, RunRecord, TrainingSet, predict, train_single


class Gate(nn.Module):
    """pi_phi: one linear layer from the gate's inputs to K logits; ``source`` says what it reads."""

    def __init__(self, k: int, in_features: int, source: str = "features"):
        super().__init__()
        if source not in GATE_INPUTS:
            raise ValueError(f"unknown gate input {source!r}; valid: {', '.join(GATE_INPUTS)}")
        self.k, self.source = int(k), source
        self.linear = nn.Linear(int(in_features), self.k)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.linear(inputs)


def outputs(model: FusedModule, x: torch.Tensor, compute_device: torch.device | None = None) -> torch.Tensor:
    """(N, K, C) component outputs: fused where x is, or one component at a time on ``compute_device``."""
    if compute_device is None:
        return component_outputs(model, x)
    return component_outputs_sequential(model, x, compute_device)


def gate_inputs(model: FusedModule, x: torch.Tensor, loss: str, source: str = "features",
                compute_device: torch.device | None = None) -> torch.Tensor:
    """(N, D) inputs of pi_phi: x flattened (a view, no copy), or the (N, K*C) class probabilities."""
    if source == "features":
        return x.reshape(x.shape[0], -1)
    if source == "probabilities":
        probs = class_probabilities(outputs(model, x, compute_device), loss)
        return probs.reshape(probs.shape[0], -1)
    raise ValueError(f"unknown gate input {source!r}; valid: {', '.join(GATE_INPUTS)}")


def new_gate(k: int, num_classes: int, feature_numel: int, source: str, seed: int) -> Gate:
    """A gate with initial weights drawn from ``seed`` alone (torch seeds its global generator
    differently in every process, so nothing here may draw from it)."""
    return seeded(seed, lambda: Gate(k, gate_in_features(source, k, num_classes, feature_numel), source))


@dataclass(frozen=True)
class GateSchedule:
    """How pi_phi trains: ``epochs`` epochs over the pairs (x_i, k), i in S_k, in batches of ``batch_size``,
    with Adam at ``lr`` (App. B.3: the components' Adam settings)."""

    epochs: int
    lr: float
    batch_size: int


@dataclass(frozen=True)
class GateInput:
    """What pi_phi reads: ``source`` (``GATE_INPUTS``), x itself or the K components' class probabilities,
    which the components' ``loss`` defines (an SVM's are (1 - p, p))."""

    source: str = "features"
    loss: str = "ce"


def train_gate(model: FusedModule, x: torch.Tensor, assignment: np.ndarray, schedule: GateSchedule, *,
               generator: torch.Generator, reads: GateInput = GateInput(), log=None,
               compute_device: torch.device | None = None) -> Gate:
    """Train pi_phi on (x_i, k), i in S_k. Its initial weights come from ``generator``'s seed and its
    batch order from ``generator``. With ``compute_device`` its inputs stay on the host and stream to
    that device one batch at a time (the same batches, the same result on the CPU)."""
    epochs, lr, batch_size = schedule.epochs, schedule.lr, schedule.batch_size
    loss, source = reads.loss, reads.source
    inputs = gate_inputs(model, x, loss, source, compute_device)
    classes = output_classes(loss, getattr(model, "num_classes", 2))  # an SVM's probabilities are (1 - p, p)
    device = compute_device if compute_device is not None else x.device
    gate = new_gate(model.k, classes, x[0].numel(), source, generator.initial_seed()).to(device)
    targets = torch.as_tensor(np.asarray(assignment), dtype=torch.long, device=device)
    train_single(gate, TrainingSet(inputs, targets, resident=compute_device is None),
                 recipe=Recipe(epochs, batch_size, lr), device=device, generator=generator,
                 record=RunRecord("gate", log))
    return gate


def mixture_predict(model: FusedModule, x: torch.Tensor, routes: np.ndarray | torch.Tensor, loss: str,
                    compute_device: torch.device | None = None) -> np.ndarray:
    """Prediction of the mixture when instance i is sent to component routes[i]."""
    labels = predict_labels(outputs(model, x, compute_device), loss)  # (N, K)
    r = torch.as_tensor(np.asarray(routes), dtype=torch.long, device=labels.device)
    return labels.gather(1, r[:, None])[:, 0].cpu().numpy()


def gate_routes(gate: Gate, model: FusedModule, x: torch.Tensor, loss: str,
                compute_device: torch.device | None = None) -> np.ndarray:
    """k = argmax pi_phi(x) for every row of ``x``."""
    inputs = gate_inputs(model, x, loss, gate.source, compute_device)
    logits = predict(gate, inputs, device=compute_device if compute_device is not None else x.device)
    return np.asarray(logits).argmax(1)
