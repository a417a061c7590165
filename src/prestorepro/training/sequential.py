"""Sequential mode: one component and its part on the device at a time (paper §2.4).

The paper's memory argument for PRESTO is that training and inference need only one small component
h_theta_k and its part S_k in device memory at a time — K times less than a model of the same total
size. Here the fused stack, its optimiser state and the data stay on the host; each component is
copied to the device with its part, trained for the round's epochs exactly as the fused trainer would
(same per-component batch order, same masked Adam state), and copied back. The result equals fused
training (tests/test_sequential.py); only the peak device memory differs.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from prestorepro.models.fused import FusedModule
from prestorepro.progress import progress
from prestorepro.training.masked_adam import MaskedAdam
from prestorepro.training.fused import ComponentTraining, train_components


def train_components_sequential(
    model: FusedModule,
    x: torch.Tensor,
    y: torch.Tensor,
    assignment: torch.Tensor,
    training: ComponentTraining,
    *,
    device: torch.device,
) -> dict:
    """Train component k on {i : assignment[i] == k} for k = 0..K-1, one at a time on ``device``, as
    ``train_components`` trains them together (``training``: the same epochs, batches, optimiser and loss).

    ``model``, ``training.optimizer``, ``x``, ``y`` live on the host; only component k, its optimiser moments
    and its part are moved to the device while k trains. ``training.desc`` names the progress of the components
    and of each one's epochs (``prestorepro.progress``; on stderr only for loops of at least 30 s).
    """
    seconds = 0.0
    optimizer = training.optimizer
    a = assignment.cpu()
    for k in progress(range(model.k), desc=training.desc, unit="components", inner=True):
        part = torch.nonzero(a == k, as_tuple=True)[0]
        one = model.like(1).to(dtype=next(model.parameters()).dtype)
        one.load_components([model.component(k)])
        one = one.to(device)
        opt1 = MaskedAdam(list(one.parameters()), 1, lr=optimizer.lr, betas=optimizer.betas, eps=optimizer.eps)
        opt1.load_state_dict({
            "step": optimizer.step[k:k + 1],
            "exp_avg": [m[k:k + 1] for m in optimizer.exp_avg],
            "exp_avg_sq": [v[k:k + 1] for v in optimizer.exp_avg_sq],
        })
        xk, yk = x[part].to(device), y[part].to(device)
        try:
            alone = replace(training, optimizer=opt1, generators=[training.generators[k]],
                            desc=f"{training.desc} component {k + 1}")
            info = train_components(one, xk, yk, torch.zeros(len(part), dtype=torch.long, device=device), alone)
        except FloatingPointError as exc:
            raise FloatingPointError(f"component {k}: {exc}") from exc
        seconds += info["train_seconds"]
        model.set_component(k, one.component(0))
        state = opt1.state_dict()
        with torch.no_grad():
            optimizer.step[k] = state["step"][0].to(optimizer.step.device)
            for dst, src in zip(optimizer.exp_avg, state["exp_avg"]):
                dst[k] = src[0].to(dst.device)
            for dst, src in zip(optimizer.exp_avg_sq, state["exp_avg_sq"]):
                dst[k] = src[0].to(dst.device)
        del one, opt1, xk, yk
    return {"train_seconds": seconds}


@torch.no_grad()
def component_outputs_sequential(model: FusedModule, x: torch.Tensor, device: torch.device,
                                 batch_size: int = 4096) -> torch.Tensor:
    """(N, K, C) outputs with one component on the device at a time, x streamed in batches."""
    outs = []
    for k in range(model.k):
        one = model.like(1).to(dtype=next(model.parameters()).dtype)
        one.load_components([model.component(k)])
        one = one.to(device).eval()
        outs.append(torch.cat([one(x[s:s + batch_size].to(device)).cpu()
                               for s in range(0, x.shape[0], batch_size)]))
        del one
    return torch.cat(outs, dim=1)


def sequential_predict(model: FusedModule, x: torch.Tensor, routes: np.ndarray, device: torch.device,
                       loss: str = "ce") -> np.ndarray:
    """Mixture prediction at test time with one component on the device at a time: component k
    predicts only the instances routed to it."""
    from prestorepro.training.fused import predict_labels

    routes = np.asarray(routes)
    pred = np.zeros(len(routes), dtype=np.int64)
    for k in range(model.k):
        idx = np.nonzero(routes == k)[0]
        if len(idx) == 0:
            continue
        one = model.like(1).to(dtype=next(model.parameters()).dtype)
        one.load_components([model.component(k)])
        one = one.to(device).eval()
        xb = x[torch.as_tensor(idx)]
        out = torch.cat([one(xb[s:s + 4096].to(device)).cpu() for s in range(0, len(idx), 4096)])
        pred[idx] = predict_labels(out, loss)[:, 0].numpy()
        del one
    return pred
