"""PRESTO, Algorithm 1 (paper §3.2), as fixed by SPEC §4.

One round r:
  1. train every component k on its part S_k for ``epochs`` epochs, warm-started (line 12);
  2. loss matrix L[i, k] of every instance under every component (one forward pass per component);
  3. objective G of Eq. 1 / Eq. 4, where every instance carries its component's regulariser:
     G = sum_k sum_{i in S_k} [L[i, k] + lam ||theta_k||^2] = sum_i L[i, a_i] + lam sum_k |S_k| ||theta_k||^2.
     With ``keep = "decreased"`` the round is kept only if G decreased (App. A.3); otherwise the last
     kept state is restored and its proposal trained again (the batch order has moved on);
  4. modular upper bound (Eq. 8): M[i, k] = alpha * G((i,k) | S minus (i,k)) for i in S_k and
     G({(i,k)}) / alpha otherwise, plus epsilon * ||x_i - c_k|| (App. B.3, "final selection"). With the
     component's parameters held fixed, an instance's marginal gain in its own part is its Eq. 1 term
     L[i, k] + lam ||theta_k||^2 (exact for an instance the re-fitted theta_k does not depend on);
  5. minimise sum_i M[i, a_i] over the partition-matroid base with every part size in
     [N/K - leeway, N/K + leeway] — an exact transportation problem (``assignment.solve_assignment``).
     §3.2's text minimises the bound over the whole base (``max_moves = 1``); Algorithm 1's lines 19-21
     move one point per round. ``max_moves < 1`` bounds the moves to that fraction of N per round
     (``assignment.solve_assignment_bounded``), the middle ground, for the ablation.
The size bounds hold in every round, not only for the initial partition (App. B.3 states them for the
initialisation; Table 5's leeway would otherwise constrain nothing after round 1).

``settings.reassign`` replaces steps 4-5 by the authors' code's choices, for the ablation: their score
(``combiner.authors_scores``: a combiner over the K components' logits, retrained every round from the
last round's weights, its weight slice for i's label dotted with component k's logits, plus
epsilon * ||x_i - c_k||), with its sign as published or flipped, and their greedy assignment under a
maximum part size only (``assignment.greedy_capacity_assignment``); each can be combined with the other
step of Algorithm 1 (``settings.REASSIGN_RULES``).
The run stops early only when the partition is stable (a kept round whose proposal moves no point);
otherwise it runs every round, so a snapshot of round r is always the partition trained in round r.

Learn-MLR (Pal et al. 2022, adapted in App. B.4) is the same loop with a random initial partition,
no size constraint (each point goes to its lowest-loss component), epsilon 0 and every round kept.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from prestorepro.errors import diverged
from prestorepro.io import save_torch
from prestorepro.models.fused import FusedModule
from prestorepro.presto.assignment import size_bounds
from prestorepro.presto.moves import greedy_capacity_assignment, limit_moves_unconstrained, solve_assignment_bounded
from prestorepro.presto.combiner import Combiner, authors_scores, combiner_inputs, train_combiner
from prestorepro.presto.objective import centre_distances, modular_upper_bound, presto_objective, singleton_objective
from prestorepro.presto.settings import PrestoSettings
from prestorepro.checkpoint import matching_checkpoint
from prestorepro.presto.resume import restore_training_state, run_key, training_state
from prestorepro.training.masked_adam import MaskedAdam
from prestorepro.training.fused import loss_matrix, per_sample_loss, train_components, training_layout
from prestorepro.training.sequential import component_outputs_sequential, train_components_sequential

@dataclass
class PrestoResult:
    assignment: np.ndarray           # (N,) the kept partition the returned components were trained on
    history: list[dict]
    objective: float
    rounds_run: int
    stop_reason: str
    seconds: dict = field(default_factory=dict)
    assignments_per_round: np.ndarray | None = None  # (R, N) the partition trained on in each round
    size_bounds: tuple[int, int] | None = None  # [lo, hi] part sizes (App. B.3), None without a size constraint


class _Snapshot:
    """A kept round: component parameters, optimiser moments, partition, objective, loss matrix."""

    def __init__(self, model: FusedModule, opt: MaskedAdam, assignment: torch.Tensor, G: float, L: torch.Tensor):
        self.model_state = copy.deepcopy(model.state_dict())
        self.opt_state = opt.state_dict()
        self.assignment = assignment.clone()
        self.G = G
        self.L = L.clone()

    def restore(self, model: FusedModule, opt: MaskedAdam) -> None:
        model.load_state_dict(self.model_state)
        opt.load_state_dict(self.opt_state)

    def to_dict(self) -> dict:
        return {"model_state": self.model_state, "opt_state": self.opt_state, "assignment": self.assignment,
                "G": torch.tensor(self.G, dtype=torch.float64), "L": self.L}

    @classmethod
    def from_dict(cls, d: dict) -> "_Snapshot":
        snap = cls.__new__(cls)
        snap.model_state, snap.opt_state = d["model_state"], d["opt_state"]
        snap.assignment, snap.G, snap.L = d["assignment"], float(d["G"]), d["L"]
        return snap


def run_presto(
    model: FusedModule,
    x: torch.Tensor,
    y: torch.Tensor,
    init_assignment: np.ndarray | torch.Tensor,
    settings: PrestoSettings,
    generators: Sequence[torch.Generator],
    *,
    log: Callable[[str], None] = lambda msg: None,
    checkpoint_path: str | Path | None = None,
    label: str = "presto",
    on_round: Callable[[int, FusedModule, torch.Tensor], dict] | None = None,
    compute_device: torch.device | None = None,
    combiner_generator: torch.Generator | None = None,
) -> PrestoResult:
    """Run Algorithm 1 on features ``x`` (N, ...) and labels ``y`` (N,), both on the model's device.

    ``generators[k]`` drives component k's batch order. With ``checkpoint_path`` the full state is
    written atomically after every round, and a run that finds a checkpoint resumes from it; the
    result is then identical to an uninterrupted run (CPU). ``on_round(r, model, assignment)`` is
    called after each round's training (before keep/reject) and its dict joins the round's history
    entry. On return ``model`` holds the kept components. With ``compute_device`` the run is in its
    sequential mode (§2.4): model, x and y stay on the host and each component trains (and computes its
    losses) alone on that device; without it the K components train fused where x is.
    ``combiner_generator`` (needed by the authors' score, ``settings.reassign``) draws the combiner's
    initial weights and batch order. Raises FloatingPointError (naming ``label`` and the round) on a
    non-finite objective.
    """
    k, n = settings.k, x.shape[0]
    if model.k != k:
        raise ValueError(f"model has {model.k} components but settings.k = {k}")
    dev = x.device
    constrained = settings.leeway is not None
    lo, hi = size_bounds(n, k, settings.leeway) if constrained else (0, n)
    x_flat = x.reshape(n, -1).to(torch.get_default_dtype()) if settings.epsilon else None
    opt = MaskedAdam(list(model.parameters()), k, lr=settings.lr)
    scored_by_combiner = settings.score != "bound"
    if scored_by_combiner and combiner_generator is None:
        raise ValueError(f"[{label}] reassign {settings.reassign!r} needs a combiner_generator")
    combiner: Combiner | None = None

    assignment = torch.as_tensor(np.asarray(init_assignment), dtype=torch.long, device=dev)
    if assignment.shape != (n,) or int(assignment.min()) < 0 or int(assignment.max()) >= k:
        raise ValueError(f"initial partition must be {n} part indices in 0..{k - 1}")
    history: list[dict] = []
    per_round: list[np.ndarray] = []
    best: _Snapshot | None = None
    G1_fixed = None
    start_round, stop_reason = 1, "rounds exhausted"
    # score_combiner: the combiner behind the authors' score, trained every round (reassign authors*)
    seconds = {"train": 0.0, "loss_matrix": 0.0, "assignment": 0.0, "singleton": 0.0, "score_combiner": 0.0}

    ckpt = Path(checkpoint_path) if checkpoint_path else None
    # what a checkpoint must agree with to be resumed (everything but the number of rounds, which a
    # resumed run may extend): a stale checkpoint of a run with other settings, data, seed or initial
    # parameters is never spliced into this one
    streams = list(generators) + ([combiner_generator] if scored_by_combiner else [])
    sequential = compute_device is not None
    key = run_key(settings, x, y, assignment, streams, model, sequential) if ckpt is not None else None
    state = matching_checkpoint(ckpt, key, dev, log=log, label=label, start="round 1")
    if state is not None:
        restore_training_state(state, model, opt, streams)
        if state.get("combiner") is not None:
            combiner = Combiner(k, model.num_classes)
            combiner.load_state_dict(state["combiner"])
        assignment = state["assignment"].to(dev)
        best = _Snapshot.from_dict(state["best"]) if state["best"] is not None else None
        G1_fixed = state["G1"]
        history = state["history_json"]
        per_round = [a.numpy() for a in state["per_round"]]
        start_round = int(state["round"]) + 1
        seconds = {k_: float(v) for k_, v in state["seconds"].items()}
        log(f"[{label}] resumed from checkpoint {ckpt} after round {start_round - 1}")
        if state.get("finished"):
            start_round = settings.rounds + 1
            stop_reason = state["stop_reason"]

    if settings.singleton == "trained" and settings.assign == "bound" and G1_fixed is None:
        t0 = time.perf_counter()
        G1_fixed = singleton_objective(model, x, y, settings)
        seconds["singleton"] += time.perf_counter() - t0

    def save(round_idx: int, finished: bool = False) -> None:
        if ckpt is None:
            return
        save_torch(ckpt, {
            **training_state(model, opt, streams), "assignment": assignment.cpu(),
            "combiner": None if combiner is None else combiner.state_dict(),
            "best": best.to_dict() if best is not None else None, "G1": G1_fixed,
            "history_json": history, "per_round": [torch.from_numpy(a) for a in per_round],
            "round": round_idx, "seconds": seconds, "finished": finished,
            "stop_reason": stop_reason, "run_key": key,
        })

    if not sequential:
        # once for all rounds: the fused trainer's fastest layout on this device (channels-last on the CPU)
        x = training_layout(x)
    for r in range(start_round, settings.rounds + 1):
        per_round.append(assignment.cpu().numpy().astype(np.int16))
        t0 = time.perf_counter()
        try:
            if sequential:
                train_components_sequential(model, x, y, assignment, device=compute_device,
                                            epochs=settings.epochs, batch_size=settings.batch_size, optimizer=opt,
                                            lam=settings.lam, generators=generators, loss=settings.loss,
                                            desc=f"[{label}] round {r}")
                t1 = time.perf_counter()
                L = per_sample_loss(component_outputs_sequential(model, x, compute_device), y, settings.loss)
            else:
                train_components(model, x, y, assignment, epochs=settings.epochs, batch_size=settings.batch_size,
                                 optimizer=opt, lam=settings.lam, generators=generators, loss=settings.loss,
                                 desc=f"[{label}] round {r}")
                t1 = time.perf_counter()
                L = loss_matrix(model, x, y, settings.loss)
            if not bool(torch.isfinite(L).all()):
                raise FloatingPointError(f"{int((~torch.isfinite(L)).sum())} non-finite entries in the loss matrix")
        except FloatingPointError as exc:
            # the trainers know the epoch and step; the user also needs the run and the round
            raise diverged(f"[{label}] round {r}: {exc}") from exc
        G, data_loss, reg_term = presto_objective(L, assignment, model.sq_norm(), settings.lam)
        t2 = time.perf_counter()
        seconds["train"] += t1 - t0
        seconds["loss_matrix"] += t2 - t1
        if not np.isfinite(G):
            raise FloatingPointError(f"[{label}] non-finite objective G={G} in round {r}")
        extra = on_round(r, model, assignment) if on_round is not None else {}
        accepted = (best is None) or settings.keep == "every" or (G < best.G)
        if accepted:
            best = _Snapshot(model, opt, assignment, G, L)
        else:
            best.restore(model, opt)
            assignment = best.assignment.clone()
        # propose the next partition from the kept state (``model`` holds the kept components)
        t3 = time.perf_counter()
        combiner_info, combiner_s = {}, 0.0
        if settings.assign == "lowest_loss":
            M = best.L  # Learn-MLR: each point's loss under each kept component, nothing else
        elif scored_by_combiner:
            # the authors' score: their combiner retrained on the kept components (warm from the last
            # round), its weight slice for each point's label dotted with each component's logits
            tc = time.perf_counter()
            inputs = combiner_inputs(model, x, compute_device)
            combiner, info = train_combiner(
                inputs, y, k=k, num_classes=model.num_classes, epochs=settings.combiner_epochs, lr=settings.lr,
                weight_decay=settings.combiner_weight_decay, batch_size=settings.batch_size,
                generator=combiner_generator, device=compute_device or dev, combiner=combiner,
                desc=f"[{label}] round {r} combiner")
            score = authors_scores(combiner, inputs, y.to(inputs.device)).to(dev)
            if settings.score == "authors_flipped":
                score = -score
            dist = centre_distances(x_flat, assignment, k) if x_flat is not None else None
            M = score + settings.epsilon * dist if dist is not None else score
            combiner_info = {"combiner_loss": info["best_loss"]}
            combiner_s = time.perf_counter() - tc
            seconds["score_combiner"] += combiner_s
        else:
            with torch.no_grad():
                marginal = best.L + settings.lam * model.sq_norm().detach()[None, :].to(best.L.dtype)
            G1 = G1_fixed if G1_fixed is not None else marginal
            dist = centre_distances(x_flat, assignment, k) if x_flat is not None else None
            M = modular_upper_bound(marginal, assignment, settings.alpha, G1, settings.epsilon, dist)
        budget = n if settings.max_moves >= 1 else max(1, int(settings.max_moves * n))
        if settings.solver == "greedy":
            proposal = torch.as_tensor(greedy_capacity_assignment(M.double().cpu().numpy(), hi), device=dev)
        elif constrained:
            proposal = solve_assignment_bounded(M.double().cpu().numpy(), assignment.cpu().numpy(), lo, hi,
                                                budget)
            proposal = torch.as_tensor(proposal, device=dev)
        else:
            proposal = torch.as_tensor(limit_moves_unconstrained(M.double().cpu().numpy(),
                                                                 assignment.cpu().numpy(), budget), device=dev)
        seconds["assignment"] += time.perf_counter() - t3 - combiner_s
        moves = int((proposal != assignment).sum())
        sizes = torch.bincount(assignment, minlength=k).tolist()
        entry = {"round": r, "objective": G, "data_loss": data_loss, "regulariser": reg_term,
                 "accepted": bool(accepted), "best_objective": best.G, "part_sizes": sizes, "moves": moves,
                 "train_seconds": t1 - t0, **combiner_info, **extra}
        history.append(entry)
        log(f"[{label}] round {r}: G={G:.4f} ({'kept' if accepted else 'rejected'}), "
            f"parts={sizes}, moves={moves}")
        if moves == 0:
            # the kept partition is a fixed point of the assignment step: every later round would
            # train the same partition from the same state
            stop_reason = "partition stable"
            save(r, finished=True)
            break
        assignment = proposal
        save(r)

    # the components and partition handed back are the last kept ones
    best.restore(model, opt)
    return PrestoResult(
        assignment=best.assignment.cpu().numpy(), history=history, objective=best.G,
        rounds_run=len(history), stop_reason=stop_reason, seconds=seconds,
        assignments_per_round=np.stack(per_round) if per_round else None,
        size_bounds=(int(lo), int(hi)) if constrained else None,
    )
