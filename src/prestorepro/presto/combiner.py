"""The combiner: the test-time predictor that produced the paper's numbers (SPEC §3, App. B.2).

App. B.2: "We train an additional classifier. This classifier is a single layer fully connected feed
forward network that aids in predicting the final class for each instance." The authors' code
(github.com/parthsangani00/PRESTO, ``presto.py``: ``LinearNN(NUM_BINS*num_classes, num_classes)``) runs
all K components on every instance and predicts the class with one linear layer over their
concatenated K x C logits; the paper's parameter totals are exactly the K components plus this layer,
(K*C + 1) * C (``models.parameters.combiner_parameter_count``). It is the other reading of the test-time
predictor beside §2.2's router pi_phi : X -> [K] (``presto.gate``); every Table-1 method is evaluated
under both, on the same trained components.

Training, as App. B.3 ("an Adam optimizer with the Cross-Entropy Loss to train the PRESTO models and
the classifier. The learning rate is set to 0.01 ... The additional classifier is also trained for 10
epochs") and, where the paper is silent, as the authors' ``BTrain_external_classifier``: Adam with
weight decay 1e-4, a one-cycle learning-rate schedule peaking at lr, the components frozen (eval mode),
and the parameters of the epoch with the lowest mean training loss kept. Its inputs, the components'
logits, are computed once (the components do not change while it trains).

``authors_scores`` is the authors' reassignment score built from the combiner's weights (the ablation
factor ``reassign``; ``presto.algorithm``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from prestorepro.errors import diverged
from prestorepro.models.fused import FusedModule
from prestorepro.streams import seeded
from prestorepro.training.fused import component_outputs
from prestorepro.training.sequential import component_outputs_sequential
from prestorepro.training.single import Batching, EpochData, LogTarget, _emit, batch_bounds, train_epoch


class Combiner(nn.Module):
    """One linear layer from the K components' concatenated logits (K*C) to the C classes."""

    def __init__(self, k: int, num_classes: int):
        super().__init__()
        self.k, self.num_classes = int(k), int(num_classes)
        self.linear = nn.Linear(self.k * self.num_classes, self.num_classes)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits``: (N, K*C) or (N, K, C) component outputs -> (N, C) class logits."""
        return self.linear(logits.reshape(logits.shape[0], -1))


def combiner_inputs(model: FusedModule, x: torch.Tensor, compute_device: torch.device | None = None, *,
                    all_components: bool = False, batch_size: int = 4096) -> torch.Tensor:
    """(N, K*C) float32 logits of every component on every row.

    Without ``compute_device``: fused, where x and the model are. With it (sequential mode, x on the
    host; the result on the host): one component at a time on that device, or with ``all_components`` a
    copy of all K components on the device at once and x streamed in batches (test-time prediction)."""
    if compute_device is None:
        out = component_outputs(model, x)
    elif not all_components:
        out = component_outputs_sequential(model, x, compute_device)
    else:
        stack = copy.deepcopy(model).to(compute_device).eval()
        with torch.no_grad():
            out = torch.cat([stack(x[s:s + batch_size].to(compute_device)).cpu()
                             for s in range(0, x.shape[0], batch_size)])
        del stack
    return out.reshape(out.shape[0], -1).to(torch.get_default_dtype())


def new_combiner(k: int, num_classes: int, seed: int) -> Combiner:
    """A combiner with initial weights drawn from ``seed`` alone (never from torch's global generator)."""
    return seeded(seed, lambda: Combiner(k, num_classes))


@dataclass(frozen=True)
class CombinerSchedule:
    """How a combiner trains (App. B.3; the authors' ``BTrain_external_classifier`` where the paper is silent):
    ``epochs`` epochs over every training point in batches of ``batch_size``, Adam with ``weight_decay`` and
    a one-cycle learning rate peaking at ``lr``."""

    epochs: int
    lr: float
    weight_decay: float
    batch_size: int


def train_combiner(combiner: Combiner, inputs: torch.Tensor, y: torch.Tensor, schedule: CombinerSchedule, *,
                   generator: torch.Generator, device: torch.device, log: LogTarget = None, desc: str = "combiner"
                   ) -> tuple[Combiner, dict]:
    """Train ``combiner`` on ``inputs`` (N, K*C) and labels ``y`` (N,), every training point (App. B.3).

    ``combiner``: a new one (``new_combiner`` from ``generator``'s seed), or the last round's, which training
    continues (the authors' reassignment retrains theirs every round from the last round's weights). Batches
    follow ``generator`` (a fresh permutation per epoch). ``inputs`` may stay on the host while
    ``device`` is a GPU: batches are then copied one at a time (sequential mode, §2.4).

    Returns (the combiner holding its lowest-training-loss epoch's parameters, info) with info's
    ``loss`` (mean training loss per epoch), ``best_epoch`` (1-based) and ``best_loss``. Raises
    FloatingPointError naming the epoch of a non-finite loss.
    """
    epochs, lr, weight_decay, batch_size = schedule.epochs, schedule.lr, schedule.weight_decay, schedule.batch_size
    if epochs < 1 or batch_size < 1 or not lr > 0 or weight_decay < 0:
        raise ValueError(f"combiner: need epochs >= 1, batch_size >= 1, lr > 0, weight_decay >= 0; got epochs={epochs}, "
                         f"batch_size={batch_size}, lr={lr}, weight_decay={weight_decay}")
    device = torch.device(device)
    combiner = combiner.to(device)
    resident = inputs.device == device
    y_dev = y.to(device=device, dtype=torch.long)
    n = y_dev.shape[0]
    steps = len(batch_bounds(n, batch_size))
    opt = torch.optim.Adam(combiner.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps)
    best_state, best_loss, best_epoch, losses = None, float("inf"), 0, []
    for epoch in range(epochs):
        loss, bad_step, _ = train_epoch(combiner, opt, EpochData(inputs, y_dev, resident=resident),
                                        batching=Batching(batch_size, generator), scheduler=sched)
        if bad_step >= 0:
            raise diverged(f"{desc}: non-finite training loss at epoch {epoch + 1}, step {bad_step + 1} "
                           f"of {steps} (lr={lr}, batch_size={batch_size})")
        losses.append(loss)
        if loss < best_loss:  # the authors keep the epoch with the lowest training loss
            best_state, best_loss, best_epoch = copy.deepcopy(combiner.state_dict()), loss, epoch + 1
        _emit(log, f"{desc}: epoch {epoch + 1}/{epochs} loss {loss:.6f}")
    combiner.load_state_dict(best_state)
    return combiner.eval(), {"loss": losses, "best_epoch": best_epoch, "best_loss": best_loss}


@torch.no_grad()
def combiner_predict(combiner: Combiner, inputs: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    """Predicted class of every row of ``inputs`` (N, K*C), batches moved to the combiner's device."""
    combiner.eval()
    device = next(combiner.parameters()).device
    out = [combiner(inputs[s:s + batch_size].to(device)).argmax(1).cpu() for s in range(0, inputs.shape[0], batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


@torch.no_grad()
def authors_scores(combiner: Combiner, inputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The authors' reassignment score (``helperFunctionsJoint.BTrain_external_classifier``), (N, K):

        score[i, k] = W[y_i, k*C:(k+1)*C] . z_k(x_i)

    W the combiner's weight (C, K*C), z_k(x_i) component k's logits: how much component k's logits
    push the combiner towards i's true class. It is high when k supports i's label, and the authors
    assign by its argmin (``reassign: authors``); ``authors_flipped`` negates it."""
    k, c = combiner.k, combiner.num_classes
    w = combiner.linear.weight.detach().to(inputs.device, inputs.dtype).reshape(c, k, c)
    z = inputs.reshape(inputs.shape[0], k, c)
    return (w[y.to(inputs.device)] * z).sum(-1)
