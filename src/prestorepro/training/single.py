"""Training one model on in-memory features: the shared trainer of the single-model methods.

Used by the resource-constrained comparison (paper §4.2, App. B.5: SNIP / GraSP on the pruned
reference network, KD / DGKD students, their teachers) and by coreset training (SPEC §7, weighted
subsets). PRESTO's own components train fused (``prestorepro.training.fused``); this trainer draws its
batches the same way — a fresh ``randperm`` from the given generator every epoch, cut into batches of
``batch_size`` with a smaller last batch — so a component trained alone on its part sees the same
batches as inside the fused stack.

The features stay resident on the device as one tensor (no DataLoader): a batch is an index into it.
The objective of one step is

    data_loss(batch) + l2 * ||theta||^2

with data_loss the cross-entropy (mean, or the weighted mean sum_i w_i ce_i / sum_i w_i when
``sample_weights`` are given), or the distillation loss of a ``distill`` object
(``prestorepro.compress.distill.Distiller``). One epoch of it is ``train_epoch``: the coreset runs
call it directly on their selected rows.

What a run trains on is a ``TrainingSet``, how it optimises a ``Recipe``, how it reports and resumes a
``RunRecord``; one epoch's rows are an ``EpochData`` and its mini-batches follow a ``Batching``.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from prestorepro.errors import diverged
from prestorepro.checkpoint import matching_checkpoint
from prestorepro.io import fingerprint, save_torch
from prestorepro.progress import progress

LogTarget = Callable[[str], Any] | logging.Logger | None


class DistillObjective(Protocol):
    """What ``train_single`` needs from a distillation method (KD, DGKD)."""

    def guide_logits(self, idx: torch.Tensor, xb: torch.Tensor) -> list[torch.Tensor]:
        """Logits of the teacher(s) for the rows ``idx`` of the training set (features ``xb``)."""

    def loss(self, student_logits: torch.Tensor, guide_logits: Sequence[torch.Tensor],
             yb: torch.Tensor) -> torch.Tensor:
        """Scalar distillation loss of one batch."""


@dataclass(frozen=True)
class Recipe:
    """How ``train_single`` optimises: ``epochs`` epochs of Adam at learning rate ``lr`` on mini-batches of
    ``batch_size`` rows, with the L2 term ``l2 * ||theta||^2`` added to every step's loss."""

    epochs: int
    batch_size: int
    lr: float
    l2: float = 0.0


@dataclass(frozen=True)
class TrainingSet:
    """What ``train_single`` trains on: features ``x`` (N, ...) (numpy or torch; float16 storage is cast per
    batch to the model's dtype), integer labels ``y`` (N,), and optionally ``sample_weights`` (N,), the
    non-negative weights of a weighted coreset (SPEC §7). ``resident=False`` keeps ``x`` where it is (the
    host) and copies one batch at a time to the device instead of moving it there whole."""

    x: Any
    y: Any
    sample_weights: Any = None
    resident: bool = True


@dataclass(frozen=True)
class RunRecord:
    """How a run reports and persists itself: ``desc`` names it in its log lines, progress and errors,
    ``log`` receives the lines, and ``checkpoint_path`` (None: none) is written at every epoch end and
    resumed from."""

    desc: str = "train"
    log: LogTarget = None
    checkpoint_path: str | Path | None = None


@dataclass(frozen=True)
class EpochData:
    """The rows one epoch of ``train_epoch`` trains on: features ``x`` and labels ``y`` of the whole set, ``y``
    on the training device, ``x`` there too or, with ``resident=False``, on the host (one batch copied at
    a time); ``rows`` the rows trained on (all if None), ``weights`` their weights (aligned with ``rows``)
    for the weighted mean cross-entropy, and ``batches`` (positions into ``rows``) fixed mini-batches
    taken as they are (GRAD-MATCH-PB's selected batches)."""

    x: torch.Tensor
    y: torch.Tensor
    rows: torch.Tensor | None = None
    weights: torch.Tensor | None = None
    batches: Sequence[torch.Tensor] | None = None
    resident: bool = True


@dataclass(frozen=True)
class Batching:
    """How an epoch cuts its rows into mini-batches: ``batch_size`` rows each, in the order of a fresh
    ``randperm`` from ``generator``, a last batch under ``min_batch`` rows joining the previous one
    (``batch_bounds``); fixed batches (``EpochData.batches``) are taken in an order drawn from ``generator``."""

    batch_size: int
    generator: torch.Generator
    min_batch: int = 1


def _emit(log: LogTarget, msg: str) -> None:
    if log is None:
        return
    if isinstance(log, logging.Logger):
        log.info(msg)
    else:
        log(msg)


def _as_device_tensor(a: Any, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    return t.to(device=device, dtype=dtype if dtype is not None else t.dtype)


def _check_masks(model: nn.Module, masks: Mapping[str, torch.Tensor], device: torch.device
                 ) -> list[tuple[nn.Parameter, torch.Tensor]]:
    params = dict(model.named_parameters())
    pairs = []
    for name, m in masks.items():
        if name not in params:
            raise ValueError(f"pruning mask for {name!r}, which is not a parameter of the model; "
                             f"parameters are: {', '.join(params)}")
        if tuple(m.shape) != tuple(params[name].shape):
            raise ValueError(f"pruning mask for {name!r} has shape {tuple(m.shape)}, "
                             f"the parameter has {tuple(params[name].shape)}")
        pairs.append((params[name], m.to(device=device, dtype=params[name].dtype)))
    return pairs


def _run_signature(n: int, batch_size: int, lr: float, l2: float, weighted: bool,
                   distill: bool, masked: bool, data: str) -> dict:
    """What a checkpoint must agree with to be resumed: resuming under other settings or on other data
    (``data``: fingerprint of the inputs and labels) would silently splice two different runs."""
    return {"n": int(n), "batch_size": int(batch_size), "lr": float(lr), "l2": float(l2),
            "weighted": bool(weighted), "distill": bool(distill), "masked": bool(masked), "data": data}


def batch_bounds(n: int, batch_size: int, min_batch: int = 1) -> list[tuple[int, int]]:
    """[start, end) of the batches of an epoch over ``n`` shuffled rows: ``batch_size`` rows each, the
    last one smaller; a last batch under ``min_batch`` rows joins the previous one (batch norm cannot
    train on a batch of one, so the coreset runs, whose subsets have any size, ask for 2)."""
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] < min_batch:
        starts.pop()
    return list(zip(starts, starts[1:] + [n]))


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, data: EpochData, *, batching: Batching,
                l2: float = 0.0, distill: DistillObjective | None = None,
                mask_pairs: Sequence[tuple[nn.Parameter, torch.Tensor]] = (), scheduler=None) -> tuple[float, int, int]:
    """One epoch of Adam steps on the rows ``data.rows`` of (``data.x``, ``data.y``) (all rows if None), in the
    order of a fresh ``randperm`` from ``batching.generator``: the one training step of every single-model
    trainer (``train_single``, the coreset runs).

    ``data.batches`` (positions into the rows) fixes the mini-batches: the epoch takes them as they are, in an
    order drawn from the generator (GRAD-MATCH-PB's selected batches); else the rows are shuffled and cut
    (``Batching``). ``data.weights`` (aligned with the rows) give the weighted mean cross-entropy
    sum_i w_i ce_i / sum_i w_i; ``distill`` its KD / DGKD loss instead; ``mask_pairs`` (parameter, 0/1 mask)
    keep pruned entries at 0 (gradients masked, re-zeroed after each step). ``l2`` adds l2 * ||theta||^2 to
    every step's loss. ``scheduler`` (a learning-rate schedule stepped per batch, e.g. OneCycleLR) steps after
    every optimiser step.

    Returns (mean data loss without the L2 term, index of the first step with a non-finite loss or -1,
    number of steps). The loss sum and the first bad step stay on the device and are read once, at the
    end: a host sync every step would stall small models on a GPU.
    """
    x, y, rows, weights, batches, resident = data.x, data.y, data.rows, data.weights, data.batches, data.resident
    generator = batching.generator
    device = y.device
    params = [p for p in model.parameters() if p.requires_grad]
    param_dtype = params[0].dtype
    n = y.shape[0] if rows is None else rows.numel()
    if batches is None:
        perm = torch.randperm(n, generator=generator, device=generator.device).to(device)
        parts = [perm[s:e] for s, e in batch_bounds(n, batching.batch_size, batching.min_batch)]
    else:
        order = torch.randperm(len(batches), generator=generator, device=generator.device).tolist()
        parts = [batches[j] for j in order]
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    first_bad = torch.full((), -1, device=device, dtype=torch.long)
    model.train()
    for step, b in enumerate(parts):
        idx = b if rows is None else rows[b]
        xb = (x[idx] if resident else x[idx.to(x.device)].to(device)).to(param_dtype)
        yb = y[idx]
        out = model(xb)
        if distill is not None:
            data_loss = distill.loss(out, distill.guide_logits(idx, xb), yb)
        elif weights is not None:
            wb = weights[b]
            data_loss = (wb * F.cross_entropy(out, yb, reduction="none")).sum() / wb.sum()
        else:
            data_loss = F.cross_entropy(out, yb)
        loss = data_loss + l2 * sum(p.square().sum() for p in params) if l2 > 0 else data_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for p, m in mask_pairs:
            if p.grad is not None:
                p.grad.mul_(m)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if mask_pairs:
            # Adam's update of a weight whose gradient was always 0 is 0, but re-zeroing
            # makes "pruned stays pruned" hold exactly whatever the optimiser does.
            with torch.no_grad():
                for p, m in mask_pairs:
                    p.mul_(m)
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()),
                                torch.full_like(first_bad, step), first_bad)
        loss_sum += data_loss.detach().to(torch.float64) * idx.numel()
    bad_step = int(first_bad)  # the one host sync of the epoch
    return float(loss_sum) / sum(p.numel() for p in parts), bad_step, len(parts)


def train_single(model: nn.Module, data: TrainingSet, *, recipe: Recipe, device: torch.device | str,
                 generator: torch.Generator, distill: DistillObjective | None = None,
                 masks: Mapping[str, torch.Tensor] | None = None, record: RunRecord = RunRecord()) -> dict:
    """Train ``model`` in place on ``data`` (x, y) as ``recipe`` says: ``epochs`` epochs with Adam (``lr``).

    ``data.x``: (N, ...) features (numpy or torch; float16 storage is cast per batch to the model's dtype),
    ``data.y``: (N,) integer labels. ``data.sample_weights`` (N,) non-negative weights of a weighted coreset
    (SPEC §7). ``distill`` replaces the cross-entropy by its KD / DGKD loss (App. B.5); it cannot be
    combined with sample weights. ``masks`` maps parameter names to 0/1 tensors of the same shape:
    the pruned entries (0) are zeroed before training, their gradients are masked and they are
    re-zeroed after every optimiser step, so they stay exactly 0 (SNIP / GraSP, App. B.5).

    With ``record.checkpoint_path``, an atomic checkpoint (model, optimiser, generator state, epoch,
    history) is written at every epoch end, and a run that finds one resumes from it; on the CPU
    the resumed run ends with exactly the parameters of an uninterrupted run. ``record.desc`` names the
    run in the lines sent to ``record.log``.

    ``data.resident=False`` keeps ``x`` where it is (the host) and copies one batch at a time to the device,
    in the same batch order: the device then holds the model and one batch, never the whole data set
    (PRESTO's gate in sequential mode, §2.4).

    Returns ``{"loss": [...], "time_s": [...], "epochs": epochs, "resumed_from_epoch": e}`` with the
    mean data loss (without the L2 term) and the wall time of every epoch.
    Raises FloatingPointError naming the epoch and step of the first non-finite loss.
    """
    x, y, sample_weights, resident = data.x, data.y, data.sample_weights, data.resident
    epochs, batch_size, lr, l2 = recipe.epochs, recipe.batch_size, recipe.lr, recipe.l2
    checkpoint_path, log, desc = record.checkpoint_path, record.log, record.desc
    device = torch.device(device)
    if epochs < 0 or batch_size < 1 or not math.isfinite(lr) or lr <= 0 or l2 < 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1, lr > 0, l2 >= 0; got epochs={epochs}, "
                         f"batch_size={batch_size}, lr={lr}, l2={l2}")
    if distill is not None and sample_weights is not None:
        raise ValueError("sample_weights and distill cannot be combined: the KD / DGKD loss is a plain "
                         "batch mean; train a weighted coreset with the cross-entropy instead")
    model.to(device)
    if resident:
        x_dev = _as_device_tensor(x, device)
    else:
        x_dev = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    y_dev = _as_device_tensor(y, device, torch.long)
    n = x_dev.shape[0]
    if n == 0 or y_dev.shape != (n,):
        raise ValueError(f"x must be (N, ...) with N > 0 and y (N,); got x {tuple(x_dev.shape)}, "
                         f"y {tuple(y_dev.shape)}")
    w_dev = None
    if sample_weights is not None:
        w_dev = _as_device_tensor(sample_weights, device, torch.get_default_dtype())
        if w_dev.shape != (n,) or bool((w_dev < 0).any()) or not bool(torch.isfinite(w_dev).all()):
            raise ValueError(f"sample_weights must be {n} finite non-negative numbers; got shape "
                             f"{tuple(w_dev.shape)}, min {float(w_dev.min()):.4g}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters (requires_grad is False everywhere)")
    mask_pairs = _check_masks(model, masks, device) if masks else []
    with torch.no_grad():
        for p, m in mask_pairs:
            p.mul_(m)
    optimizer = torch.optim.Adam(params, lr=lr)
    if generator.device.type not in ("cpu", device.type):
        raise ValueError(f"generator lives on {generator.device}, training on {device}; "
                         "pass a CPU generator or one on the training device")

    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None
    signature = _run_signature(n, batch_size, lr, l2, w_dev is not None, distill is not None, bool(mask_pairs),
                               fingerprint(x=x, y=y) if ckpt is not None else "")
    history: dict[str, Any] = {"loss": [], "time_s": []}
    start_epoch = 0
    key = fingerprint(signature=signature) if ckpt is not None else None
    state = matching_checkpoint(ckpt, key, "cpu", log=lambda m: _emit(log, m), label=desc, start="epoch 1")
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        if distill is not None and hasattr(distill, "load_state_dict"):
            distill.load_state_dict(state.get("distill", {}))
        history = {"loss": list(state["history"]["loss"]), "time_s": list(state["history"]["time_s"])}
        start_epoch = int(state["epoch"])
        _emit(log, f"{desc}: resumed from {ckpt} at epoch {start_epoch}/{epochs}")

    model.train()
    # a bar on a terminal; off one, the epoch lines below are the progress when there is a log, and
    # rate-limited progress lines (prestorepro.progress) go to stderr when there is none
    bar = progress(range(start_epoch, epochs), desc=desc, total=epochs, initial=start_epoch, unit="epochs",
                   lines=log is None, inner=True)
    for epoch in bar:
        t0 = time.perf_counter()
        epoch_loss, bad_step, steps = train_epoch(
            model, optimizer, EpochData(x_dev, y_dev, weights=w_dev, resident=resident),
            batching=Batching(batch_size, generator), l2=l2, distill=distill, mask_pairs=mask_pairs)
        if bad_step >= 0:
            raise diverged(f"{desc}: non-finite training loss at epoch {epoch + 1}, step {bad_step + 1} of {steps} "
                           f"(lr={lr}, batch_size={batch_size})")
        history["loss"].append(epoch_loss)
        history["time_s"].append(time.perf_counter() - t0)
        if ckpt is not None:
            save_torch(ckpt, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(), "epoch": epoch + 1, "run_key": key,
                "history": history,
                "distill": distill.state_dict() if distill is not None and hasattr(distill, "state_dict") else {},
            })
        bar.set_postfix(loss=f"{epoch_loss:.4f}")
        _emit(log, f"{desc}: epoch {epoch + 1}/{epochs} loss {epoch_loss:.6f} "
                   f"time {history['time_s'][-1]:.2f}s")
    bar.close()
    return {**history, "epochs": int(epochs), "resumed_from_epoch": start_epoch}


@torch.no_grad()
def predict(model: nn.Module, x: Any, batch_size: int = 1024, device: torch.device | str = "cpu") -> np.ndarray:
    """Logits (N, C) as float32 numpy, eval mode. Batches move to the device one at a time, so
    inference holds one model and one batch there (the memory the paper's inference panel measures)."""
    device = torch.device(device)
    model.to(device).eval()
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    dtype = next(model.parameters()).dtype
    outs = [model(xt[s:s + batch_size].to(device=device, dtype=dtype)).float().cpu()
            for s in range(0, xt.shape[0], batch_size)]
    if not outs:
        raise ValueError("predict needs at least one row of features")
    return torch.cat(outs).numpy()
