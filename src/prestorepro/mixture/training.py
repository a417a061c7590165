"""Training a mixture of experts on the fused K-component stack (SPEC §5b).

``soft`` (Jordan & Jacobs 1994): every step draws a batch of the whole training set, runs all K experts and
the gate on it, and takes one Adam step on the mixture's negative log-likelihood (``objective``), plus
``lam * ||theta_k||^2`` per expert (Eq. 1's L2 term, as PRESTO's components) and the optional load-balancing
term. The experts move with the fused stack's ``MaskedAdam`` (every expert active every step), the gate with
``torch.optim.Adam`` at the same learning rate (or ``gate_lr``).

``hard_em``: the hard-assignment relative of EM and of PRESTO's alternation. Round 1 trains on the initial
partition; every later round first assigns each point to argmax_k g_k(x_i) p_k(y_i | x_i), stopping when the
assignment no longer changes; then each expert trains ``epochs`` epochs on its part (PRESTO's Train(), the
fused trainer) and the gate ``epochs`` epochs on the pairs (x_i, part of i) with cross-entropy.

Both take ``rounds`` rounds of ``epochs`` epochs (PRESTO's budget: every training point passes ``rounds x
epochs`` times through training), are checkpointed after every round and resume only from a checkpoint of
the very run that wrote it (``prestorepro.checkpoint``). A round's record: the mean training negative
log-likelihood, the part sizes of the partition the gate induces (argmax_k g_k(x), the parts a test point
would be routed to), how many points changed part since the last round, the gate's mean confidence
(mean_i max_k g_k(x_i)), its training seconds, and what the caller's ``on_round`` adds.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from prestorepro.checkpoint import matching_checkpoint
from prestorepro.errors import diverged
from prestorepro.io import fingerprint, save_torch
from prestorepro.mixture.objective import balance_penalty, expert_log_likelihood, mixture_nll
from prestorepro.models.fused import FusedModule
from prestorepro.models.fused_layers import is_channels_last
from prestorepro.progress import progress
from prestorepro.training.fused import ComponentTraining, loss_matrix, train_components, training_layout
from prestorepro.training.masked_adam import MaskedAdam
from prestorepro.training.single import Batching, EpochData, batch_bounds, train_epoch

TRAININGS = ("soft", "hard_em")


@dataclass(frozen=True)
class MixtureSettings:
    """How a mixture of experts trains: PRESTO's budget and optimiser (``rounds`` x ``epochs`` epochs, Adam
    at ``lr``, batch ``batch_size``, L2 ``lam`` on every expert) and its own options (``table1.moe``)."""

    rounds: int
    epochs: int
    batch_size: int
    lr: float
    lam: float
    training: str = "soft"
    balance: float = 0.0
    loss: str = "ce"
    gate_lr: float | None = None  # None: lr (the gate trains with the components' Adam settings)

    def __post_init__(self):
        if self.training not in TRAININGS:
            raise ValueError(f"mixture of experts: training {self.training!r} is not one of {', '.join(TRAININGS)}")
        if self.rounds < 1 or self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.lam < 0 \
                or self.balance < 0 or (self.gate_lr is not None and not self.gate_lr > 0):
            raise ValueError(f"mixture of experts: need rounds, epochs, batch_size >= 1, lr > 0, lam >= 0, "
                             f"balance >= 0 and gate_lr > 0 (or None); got {asdict(self)}")

    @classmethod
    def from_config(cls, budget: Mapping, options: Mapping, loss: str = "ce") -> "MixtureSettings":
        """``budget``: a section with rounds, epochs, batch_size, lr and lam (``presto`` or ``synthetic``);
        ``options``: ``table1.moe``."""
        return cls(rounds=int(budget["rounds"]), epochs=int(budget["epochs"]), batch_size=int(budget["batch_size"]),
                   lr=float(budget["lr"]), lam=float(budget["lam"]), training=options["training"],
                   balance=float(options["balance"]), loss=loss,
                   gate_lr=None if options.get("gate_lr") is None else float(options["gate_lr"]))


@dataclass
class MixtureResult:
    assignment: np.ndarray             # (N,) the gate's partition of the training set (hard EM: the last trained)
    history: list[dict]
    seconds: dict
    rounds_run: int
    stop_reason: str
    assignments_per_round: np.ndarray  # (R, N) int16, the partition after each round


OnRound = Callable[[int, FusedModule, torch.nn.Module, np.ndarray], dict]


@dataclass(frozen=True)
class MixtureHooks:
    """How a mixture's training reports and persists: ``log`` takes its per-round lines, ``on_round(r, model,
    gate, parts)`` adds to each round's record, ``checkpoint_path`` (when given) holds the state after every
    round (a run that finds its own checkpoint there resumes from it), ``label`` names the run in the log and
    in errors."""

    log: Callable[[str], None] = lambda m: None
    checkpoint_path: str | Path | None = None
    label: str = "moe"
    on_round: OnRound | None = None


@dataclass(frozen=True)
class _Learners:
    """What a round trains and a checkpoint restores: the experts (``model``), the gate, their optimisers and
    the random streams (``generators``: soft training's batches, or hard EM's per expert and the gate's)."""

    model: FusedModule
    gate: torch.nn.Module
    comp_opt: MaskedAdam
    gate_opt: torch.optim.Optimizer
    generators: Sequence[torch.Generator]


def gate_inputs(x: torch.Tensor) -> torch.Tensor:
    """The gate reads the flattened instance, as pi_phi does (§4.1): (N, D), a view for contiguous x."""
    return x.reshape(x.shape[0], -1)


@torch.no_grad()
def gate_probabilities(gate: torch.nn.Module, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """g(x_i) for every row, (N, K)."""
    gate.eval()
    flat = gate_inputs(x)
    out = torch.cat([torch.softmax(gate(flat[s:s + chunk]), 1) for s in range(0, flat.shape[0], chunk)])
    gate.train()
    return out


def gate_partition(gate: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """argmax_k g_k(x_i) for every row: the part each point is routed to."""
    return gate_probabilities(gate, x).argmax(1).cpu().numpy().astype(np.int64)


@torch.no_grad()
def responsible_experts(model: FusedModule, gate: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                        loss: str) -> np.ndarray:
    """argmax_k g_k(x_i) p_k(y_i | x_i) for every row (the hard E step), experts in eval mode."""
    gate.eval()
    log_lik = -loss_matrix(model, x, y, loss)
    logits = torch.cat([gate(gate_inputs(x)[s:s + 4096]) for s in range(0, x.shape[0], 4096)])
    gate.train()
    return (torch.log_softmax(logits, dim=1) + log_lik).argmax(1).cpu().numpy().astype(np.int64)


def _run_key(s: MixtureSettings, x, y, generators: Sequence[torch.Generator], model, gate, a0) -> str:
    cfg = {k: v for k, v in asdict(s).items() if k != "rounds"}
    return fingerprint(settings=cfg, x=x, y=y, generators=[g.get_state() for g in generators],
                       model=dict(model.state_dict()), gate=dict(gate.state_dict()),
                       assignment=np.zeros(0) if a0 is None else np.asarray(a0))


def train_mixture(model: FusedModule, gate: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, s: MixtureSettings,
                  generators: Sequence[torch.Generator], *, initial: np.ndarray | None = None,
                  hooks: MixtureHooks = MixtureHooks()) -> MixtureResult:
    """Train the experts (``model``, K fused components) and the gate jointly (see the module docstring).

    ``generators``: ``soft`` draws its batches from ``generators[0]``; ``hard_em`` gives expert k's batches
    ``generators[k]`` and the gate's ``generators[K]``. ``initial``: hard EM's first partition (required
    there). ``hooks``: the log, the per-round record's additions, the checkpoint and the run's label. Raises
    FloatingPointError (with the fix) naming the round of a non-finite loss."""
    log, checkpoint_path, label, on_round = hooks.log, hooks.checkpoint_path, hooks.label, hooks.on_round
    k = model.k
    if s.training == "hard_em":
        if initial is None or len(generators) != k + 1:
            raise ValueError("hard EM needs the initial partition and K + 1 generators (one per expert, the gate's)")
    elif not generators:
        raise ValueError("soft training needs a generator for its batches")
    dev = x.device
    comp_opt = MaskedAdam(list(model.parameters()), k, lr=s.lr)
    gate_opt = torch.optim.Adam(gate.parameters(), lr=s.lr if s.gate_lr is None else s.gate_lr)
    learners = _Learners(model, gate, comp_opt, gate_opt, generators)
    key = _run_key(s, x, y, generators, model, gate, initial) if checkpoint_path is not None else None
    history: list[dict] = []
    per_round: list[np.ndarray] = []
    start, seconds = 1, 0.0
    assignment = None if initial is None else np.asarray(initial, dtype=np.int64).copy()
    st = matching_checkpoint(checkpoint_path, key, dev, log=log, label=label)
    if st is not None:
        model.load_state_dict(st["model"])
        gate.load_state_dict(st["gate"])
        comp_opt.load_state_dict(st["comp_opt"])
        gate_opt.load_state_dict(st["gate_opt"])
        for g, state in zip(generators, st["generators"]):
            g.set_state(state.cpu())
        history, per_round = list(st["history"]), [a.numpy() for a in st["per_round"]]
        start, seconds = int(st["round"]) + 1, float(st["seconds"])
        assignment = None if st["assignment"] is None else st["assignment"].numpy()
        log(f"[{label}] resumed from checkpoint {checkpoint_path} after round {start - 1}")
    stop_reason = st["stop_reason"] if st is not None and st["stop_reason"] else "rounds exhausted"
    if st is not None and st["stop_reason"]:
        start = s.rounds + 1  # the run had stopped early: nothing left to train
    layout = training_layout(x)
    for r in range(start, s.rounds + 1):
        t0 = time.perf_counter()
        if s.training == "soft":
            nll = _soft_round(learners, layout, y, s, f"[{label}] round {r}")
            moves = None
        else:
            moves = None
            if r > 1:
                new = responsible_experts(model, gate, x, y, s.loss)
                moves = int((new != assignment).sum())
                if moves == 0:
                    stop_reason = "partition stable"
                    log(f"[{label}] round {r}: no point changes its most responsible expert; stopping")
                    if checkpoint_path is not None:
                        save_torch(checkpoint_path, _state(learners, r - 1, seconds, history, per_round, assignment,
                                                           key, stop_reason))
                    break
                assignment = new
            nll = _hard_round(learners, layout, x, y, assignment, s, f"[{label}] round {r}")
        train_s = time.perf_counter() - t0
        seconds += train_s
        g = gate_probabilities(gate, x)
        parts = g.argmax(1).cpu().numpy().astype(np.int64) if s.training == "soft" else assignment
        if moves is None and per_round:
            moves = int((parts != per_round[-1]).sum())
        per_round.append(parts.astype(np.int16))
        # the gate's confidence, mean_i max_k g_k(x_i): 1/K for a uniform gate, 1 for a saturated one
        rec = {"round": r, "train_nll": nll, "part_sizes": np.bincount(parts, minlength=k).tolist(),
               "moves": moves, "gate_confidence": float(g.max(1).values.mean()), "train_seconds": train_s}
        if on_round is not None:
            rec.update(on_round(r, model, gate, parts))
        history.append(rec)
        log(f"[{label}] round {r}/{s.rounds}: training NLL {nll:.4f}, parts {rec['part_sizes']}, moved {moves}")
        if checkpoint_path is not None:
            save_torch(checkpoint_path, _state(learners, r, seconds, history, per_round, assignment, key, None))
    final = assignment if s.training == "hard_em" else gate_partition(gate, x)
    return MixtureResult(assignment=final, history=history, seconds={"train": seconds}, rounds_run=len(history),
                         stop_reason=stop_reason, assignments_per_round=np.stack(per_round))


def _state(learners: _Learners, r: int, seconds: float, history: list[dict], per_round: list[np.ndarray],
           assignment: np.ndarray | None, key: str | None, stop_reason: str | None) -> dict:
    """A checkpoint after round ``r``; ``stop_reason`` when the run stopped there early."""
    return {"model": learners.model.state_dict(), "gate": learners.gate.state_dict(),
            "comp_opt": learners.comp_opt.state_dict(), "gate_opt": learners.gate_opt.state_dict(),
            "generators": [g.get_state() for g in learners.generators], "round": r,
            "seconds": seconds, "history": history, "per_round": [torch.from_numpy(a) for a in per_round],
            "assignment": None if assignment is None else torch.from_numpy(assignment), "run_key": key,
            "stop_reason": stop_reason}


def _soft_round(learners: _Learners, x, y, s: MixtureSettings, where: str) -> float:
    """``s.epochs`` epochs of gradient steps on the mixture likelihood, batches from ``learners.generators[0]``;
    the last epoch's mean NLL. ``where`` names the run and the round in the progress and in errors."""
    model, gate, comp_opt, gate_opt = learners.model, learners.gate, learners.comp_opt, learners.gate_opt
    generator = learners.generators[0]
    n = x.shape[0]
    nhwc = is_channels_last(x)
    rows_of = x.permute(0, 2, 3, 1) if nhwc else x  # a channels-last batch stays channels-last when gathered
    model.train()
    gate.train()
    nll_mean = float("nan")
    for epoch in progress(range(s.epochs), desc=where, unit="epochs", inner=True):
        perm = torch.randperm(n, generator=generator).to(x.device)
        total = torch.zeros((), dtype=torch.float64, device=x.device)
        for a, b in batch_bounds(n, s.batch_size, min_batch=2):  # batch norm cannot train on one row
            rows = perm[a:b]
            xb = rows_of.index_select(0, rows)
            if nhwc:
                xb = xb.permute(0, 3, 1, 2)
            logits = gate(gate_inputs(xb))
            nll = mixture_nll(logits, expert_log_likelihood(model(xb), y.index_select(0, rows), s.loss)).mean()
            objective = nll + s.balance * balance_penalty(logits) if s.balance else nll
            for p in model.parameters():
                p.grad = None
            gate_opt.zero_grad(set_to_none=True)
            objective.backward()
            comp_opt.update(None, l2=s.lam)
            gate_opt.step()
            total += nll.detach().to(torch.float64) * (b - a)
        nll_mean = float(total) / n  # the epoch's one host synchronisation
        if not np.isfinite(nll_mean):
            raise diverged(f"{where}, epoch {epoch + 1}: non-finite mixture likelihood ({nll_mean})")
    return nll_mean


def _hard_round(learners: _Learners, layout, x, y, assignment: np.ndarray, s: MixtureSettings, where: str) -> float:
    """Each expert ``s.epochs`` epochs on its part, the gate ``s.epochs`` epochs on the assignment; the
    training NLL of the mixture afterwards. ``where`` names the run and the round in the progress and in errors."""
    model, gate, comp_opt, gate_opt = learners.model, learners.gate, learners.comp_opt, learners.gate_opt
    generators = learners.generators
    k = len(generators) - 1
    a = torch.as_tensor(assignment, dtype=torch.long, device=x.device)
    try:
        experts = ComponentTraining(epochs=s.epochs, batch_size=s.batch_size, optimizer=comp_opt, lam=s.lam,
                                    generators=generators[:k], loss=s.loss, desc=f"{where} experts")
        train_components(model, layout, y, a, experts)
    except FloatingPointError as exc:
        raise diverged(f"{where}: {exc}") from exc
    flat = gate_inputs(x)
    for epoch in range(s.epochs):
        _, bad, _ = train_epoch(gate, gate_opt, EpochData(flat, a), batching=Batching(s.batch_size, generators[k]))
        if bad >= 0:
            raise diverged(f"{where}: the gate's loss is non-finite at epoch {epoch + 1}, step {bad + 1}")
    with torch.no_grad():
        gate.eval()
        log_lik = -loss_matrix(model, x, y, s.loss)
        logits = gate(flat)
        gate.train()
        return float(mixture_nll(logits, log_lik).mean())
