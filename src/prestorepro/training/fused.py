"""Training K components at once on their own parts (PRESTO's Train(), Algorithm 1 line 12).

Every component k runs its own epochs over its own part S_k — a fresh permutation of S_k drawn from
its own generator, cut into batches of ``batch_size`` with a smaller last batch — exactly as if it
were trained alone. The K batch streams are stacked into one (B, K, ...) tensor and pushed through
the fused module in one go; rows past the end of a component's batch are masked out of the loss,
the batch-norm statistics and the optimiser step. Fused training therefore equals K separate runs
(tests/test_fused.py) while costing about one model's kernel launches per step.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from prestorepro.models.fused import FusedModule
from prestorepro.models.fused_layers import is_channels_last
from prestorepro.progress import progress
from prestorepro.registry import Registry
from prestorepro.training.masked_adam import MaskedAdam



@dataclass(frozen=True)
class Loss:
    """What the trainers need of a component's loss: per-row values (out (B, K, C), y (B, K) -> (B, K)),
    the class probabilities the gate may read, the predicted labels, and whether the component is a binary
    one with a single signed score and labels in {-1, +1} (its probabilities are then (1 - p, p))."""

    per_sample: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    probabilities: Callable[[torch.Tensor], torch.Tensor]
    labels: Callable[[torch.Tensor], torch.Tensor]
    binary: bool = False


def _ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    b, k, c = out.shape
    return F.cross_entropy(out.reshape(b * k, c), y.reshape(-1), reduction="none").view(b, k)


def _svm_probabilities(out: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(out[..., 0])
    return torch.stack([1 - p, p], dim=-1)


LOSSES: Registry[Loss] = Registry("loss")
LOSSES.register("ce")(Loss(per_sample=_ce, probabilities=lambda out: torch.softmax(out, dim=-1),
                           labels=lambda out: out.argmax(-1)))
# a linear SVM, y in {-1, +1} (paper App. C)
LOSSES.register("hinge")(Loss(per_sample=lambda out, y: F.relu(1.0 - y.to(out.dtype) * out[..., 0]),
                              probabilities=_svm_probabilities,
                              labels=lambda out: torch.where(out[..., 0] >= 0, 1, -1), binary=True))
# logistic regression on the same signed score, y in {-1, +1}: -log sigmoid(y s), the negative log-likelihood
# of p(y | x) = sigmoid(y s) (the mixture of experts' linear experts on the synthetic data)
LOSSES.register("logistic")(Loss(per_sample=lambda out, y: F.softplus(-y.to(out.dtype) * out[..., 0]),
                                 probabilities=_svm_probabilities,
                                 labels=lambda out: torch.where(out[..., 0] >= 0, 1, -1), binary=True))


def _loss(name: str) -> Loss:
    try:
        return LOSSES.get(name)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None


def per_sample_loss(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """out (B, K, C), y (B,) or (B, K) -> (B, K) loss of every row under every component."""
    if y.dim() == 1:
        y = y.unsqueeze(1).expand(-1, out.shape[1])
    return _loss(loss).per_sample(out, y)


def epoch_batches(assignment: torch.Tensor, k: int, batch_size: int,
                  generators: Sequence[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch for every component: indices (T, B, K) and row mask (T, B, K).

    Component k's rows are a permutation of its part drawn from ``generators[k]``; T is the largest
    number of batches any component needs.
    """
    parts = [torch.nonzero(assignment.cpu() == j, as_tuple=True)[0] for j in range(k)]
    steps = max(1, max(math.ceil(len(p) / batch_size) for p in parts))
    idx = torch.zeros(steps * batch_size, k, dtype=torch.long)
    mask = torch.zeros(steps * batch_size, k, dtype=torch.bool)
    for j, part in enumerate(parts):
        perm = part[torch.randperm(len(part), generator=generators[j])]
        idx[: len(perm), j] = perm
        mask[: len(perm), j] = True
    return idx.view(steps, batch_size, k), mask.view(steps, batch_size, k)


def training_layout(x: torch.Tensor) -> torch.Tensor:
    """``x`` in the memory layout the fused trainer is fastest with on its device: image-shaped
    features (N, C, H, W) on the CPU channels-last, anything else as it is. Same values and shape.

    On the CPU oneDNN reorders an NCHW batch into its blocked layout before the input convolution,
    forward and again backward; a channels-last batch goes straight in, so gathering each step's rows
    from channels-last features saves those reorders (measured: benchmarks/RESULTS.md, target 1).
    Converting costs one pass over the features, so a caller converts once and trains on the result
    for all its rounds; the result is a second copy of ``x`` unless the caller drops the first.
    """
    if x.dim() == 4 and x.device.type == "cpu":
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _capture_default() -> bool:
    """CUDA graphs are used on CUDA devices unless ``PRESTOREPRO_CUDA_GRAPHS=0`` (an escape hatch for a
    GPU or driver where capture misbehaves; the eager step computes the same numbers)."""
    return os.environ.get("PRESTOREPRO_CUDA_GRAPHS", "1") != "0"


class _Step:
    """One training step of all K components: gather the step's rows, forward, each component's mean
    loss, backward, masked Adam. The rows and the row mask are read from static buffers (``rows``,
    ``mask``) and the step's objective is written to ``total``, so the step can be recorded as a CUDA
    graph and replayed with new rows: one launch instead of one per kernel of an eager step, whose
    small kernels leave a GPU waiting on the host that launches them (benchmarks/RESULTS.md, "GPU
    check"). One graph per kind of step: every component's batch full (plain batch norm), or some rows
    masked.
    """

    def __init__(self, model: FusedModule, x: torch.Tensor, y: torch.Tensor, optimizer: "MaskedAdam", lam: float,
                 loss: str, batch_size: int):
        self.model, self.x, self.y, self.opt, self.lam, self.loss, self.b = model, x, y, optimizer, lam, loss, batch_size
        self.k = model.k
        self.params = list(model.parameters())
        dev = x.device
        self.rows = torch.zeros(self.k * batch_size, dtype=torch.long, device=dev)
        self.mask = torch.ones(batch_size, self.k, dtype=torch.bool, device=dev)
        self.total = torch.zeros((), dtype=torch.float64, device=dev)
        # channels-last image features (``training_layout``) are gathered as (N, H, W, C) rows, so that the
        # batch stays channels-last; any other input is gathered as it is
        self.nhwc = is_channels_last(x)
        self.x_rows = x.permute(0, 2, 3, 1) if self.nhwc else x
        # one gather buffer for every step: a fresh multi-megabyte batch per step would be new pages
        # from the OS each time (page faults and zeroing cost about as much as the copy itself)
        self.xbuf = torch.empty((self.k * batch_size, *self.x_rows.shape[1:]), dtype=x.dtype, device=dev)
        self.graphs: dict[bool, "torch.cuda.CUDAGraph"] = {}

    def run(self, masked: bool) -> None:
        k, b, x = self.k, self.b, self.x
        # component-major rows, so that component k's inputs x_b[:, k] are one contiguous block
        xb = torch.index_select(self.x_rows, 0, self.rows, out=self.xbuf)
        if self.nhwc:
            xb = xb.permute(0, 3, 1, 2)
        xb = xb.unflatten(0, (k, b)).transpose(0, 1)
        yb = self.y.index_select(0, self.rows).view(k, b).t()
        mf = self.mask.to(x.dtype)
        out = self.model(xb, mf if masked else None)
        per = per_sample_loss(out, yb, self.loss) * mf
        count = mf.sum(0)
        active = count > 0
        data = per.sum(0) / count.clamp(min=1)  # (K,) mean loss over each component's batch
        with torch.no_grad():
            sq = torch.cat([p.reshape(k, -1) for p in self.params], dim=1).square().sum(1)
            self.total.copy_(((data + self.lam * sq) * active.to(data.dtype)).sum())
        for p in self.params:
            p.grad = None
        # the L2 term's gradient is added by the optimiser (``l2=lam``): it is 2 * lam * theta
        (data * active.to(data.dtype)).sum().backward()
        self.opt.update(active if masked else None, l2=self.lam)

    def replay(self, masked: bool) -> None:
        graph = self.graphs.get(masked)
        if graph is None:
            graph = self.graphs[masked] = self._capture(masked)
        graph.replay()

    def _state(self) -> list[torch.Tensor]:
        return [*self.params, *self.model.buffers(), self.opt.step, self.opt._m, self.opt._v]

    def _capture(self, masked: bool) -> "torch.cuda.CUDAGraph":
        # Capture needs a few eager warm-up steps on a side stream (cuDNN and cuBLAS set up their
        # workspaces); they train, so the state they change is put back afterwards, in place, at the
        # addresses the graph reads.
        saved = [t.detach().clone() for t in self._state()]
        side = torch.cuda.Stream(device=self.x.device)
        side.wait_stream(torch.cuda.current_stream(self.x.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                self.run(masked)
        torch.cuda.current_stream(self.x.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.run(masked)
        with torch.no_grad():
            for dst, src in zip(self._state(), saved):
                dst.copy_(src)
        return graph


@dataclass(frozen=True)
class ComponentTraining:
    """How one call trains the K components, beside the model and the data (``train_components``, fused, and
    ``train_components_sequential``, one component at a time): ``epochs`` epochs over each component's part
    in batches of ``batch_size`` rows, component k's batch order drawn from ``generators[k]``, each step of
    ``optimizer`` (masked Adam, its moments carried from call to call) on the mean ``loss`` over the batch plus
    ``lam * ||theta_k||^2`` (Eq. 1's L2 term). ``desc`` names the epochs' progress (``prestorepro.progress``: a
    bar on a terminal; else, when the epochs take at least 30 s in all, a few lines on stderr, the job's log,
    between its per-round lines)."""

    epochs: int
    batch_size: int
    optimizer: MaskedAdam
    lam: float
    generators: Sequence[torch.Generator]
    loss: str = "ce"
    desc: str = "components"


def train_components(
    model: FusedModule,
    x: torch.Tensor,
    y: torch.Tensor,
    assignment: torch.Tensor,
    training: ComponentTraining,
    *,
    on_step: Callable[[int, float], None] | None = None,
    capture: bool | None = None,
) -> dict:
    """Train every component k for ``training.epochs`` epochs on {i : assignment[i] == k}, warm-started.

    The per-component objective is mean loss over the batch + lam * ||theta_k||^2 (Eq. 1's L2 term).
    ``capture``: replay each step as a CUDA graph (default: on CUDA devices, see ``_capture_default``).
    ``on_step(epoch, loss)`` is called after every step (one host synchronisation per step).
    Raises FloatingPointError on a NaN/inf loss.
    """
    model.train()
    k = model.k
    dev = x.device
    if capture is None:
        capture = dev.type == "cuda" and _capture_default()
    if capture and dev.type != "cuda":
        raise ValueError(f"CUDA graph capture needs a CUDA device; the data is on {dev}")
    step = _Step(model, x, y, training.optimizer, training.lam, training.loss, training.batch_size)
    t0 = time.perf_counter()
    # The step totals stay on the device and are checked once per epoch: reading one back every step
    # (``float``, ``.item()``, a Python ``if`` on a tensor) would make the host wait for the GPU at
    # every step. A non-finite loss is still named by its epoch and step; the steps after it in that
    # epoch run on NaNs and are discarded with the raised error.
    last = None
    for epoch in progress(range(training.epochs), desc=training.desc, unit="epochs", inner=True):
        idx, mask = epoch_batches(assignment, k, training.batch_size, training.generators)
        full = mask.all(dim=2).all(dim=1).tolist()  # steps where every component has a whole batch
        idx_km, mask = idx.transpose(1, 2).contiguous().to(dev), mask.to(dev)
        totals = torch.empty(idx.shape[0], dtype=torch.float64, device=dev)
        for t in range(idx.shape[0]):
            step.rows.copy_(idx_km[t].view(-1))
            step.mask.copy_(mask[t])
            if capture:
                step.replay(not full[t])
            else:
                step.run(not full[t])
            totals[t] = step.total
            if on_step is not None:  # a caller that asks for every step's loss pays one sync per step
                on_step(epoch, float(totals[t]))
        finite = torch.isfinite(totals)
        if not bool(finite.all()):  # the epoch's one host synchronisation
            t = int(torch.nonzero(~finite)[0, 0])
            raise FloatingPointError(f"non-finite training loss {float(totals[t])} at epoch {epoch + 1}, step {t + 1}")
        last = totals[-1]
    return {"train_seconds": time.perf_counter() - t0, "last_loss": float(last) if last is not None else float("nan")}


@torch.no_grad()
def component_outputs(model: FusedModule, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Outputs of every component on every row: (N, K, C), eval mode, in chunks.

    Chunks of about a thousand rows keep each layer's maps in the CPU caches; 4096-row chunks
    measured about 30% slower on the CPU (benchmarks/RESULTS.md)."""
    model.eval()
    return torch.cat([model(x[s : s + chunk]) for s in range(0, x.shape[0], chunk)])


@torch.no_grad()
def loss_matrix(model: FusedModule, x: torch.Tensor, y: torch.Tensor, loss: str = "ce",
                chunk: int = 1024) -> torch.Tensor:
    """L[i, k] = loss of instance i under component k (SPEC §4 step 2), (N, K)."""
    model.eval()
    parts = []
    for s in range(0, x.shape[0], chunk):
        parts.append(per_sample_loss(model(x[s : s + chunk]), y[s : s + chunk], loss))
    L = torch.cat(parts)
    if not torch.isfinite(L).all():
        bad = int((~torch.isfinite(L)).sum())
        raise FloatingPointError(f"{bad} non-finite entries in the loss matrix")
    return L


def output_classes(loss: str, num_classes: int) -> int:
    """How many class probabilities a component with ``loss`` gives: 2 for a binary one, else ``num_classes``."""
    return 2 if _loss(loss).binary else int(num_classes)


def class_probabilities(out: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-component class-probability vectors (N, K, C) fed to the gate pi_phi."""
    return _loss(loss).probabilities(out)


def predict_labels(out: torch.Tensor, loss: str) -> torch.Tensor:
    """Predicted label per (row, component): argmax, or sign for the SVM (labels -1/+1)."""
    return _loss(loss).labels(out)
