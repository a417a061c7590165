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
from prestorepro.presto.combiner import (Combiner, CombinerSchedule, authors_scores, combiner_inputs, new_combiner,
                                        train_combiner)
from prestorepro.presto.objective import centre_distances, modular_upper_bound, presto_objective, singleton_objective
from prestorepro.presto.settings import PrestoSettings
from prestorepro.checkpoint import matching_checkpoint
from prestorepro.presto.resume import restore_training_state, run_key, training_state
from prestorepro.training.masked_adam import MaskedAdam
from prestorepro.training.fused import (ComponentTraining, loss_matrix, per_sample_loss, train_components,
                                       training_layout)
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


@dataclass(frozen=True)
class PrestoStreams:
    """The random streams of a run: ``generators[k]`` draws component k's batch order; ``combiner_generator``
    (needed by the authors' score, ``settings.reassign``) the combiner's initial weights and batch order."""

    generators: Sequence[torch.Generator]
    combiner_generator: torch.Generator | None = None


@dataclass(frozen=True)
class RunHooks:
    """What a run reports to and where it persists: ``log`` takes its per-round lines; ``on_round(r, model,
    assignment)`` is called after each round's training (before keep/reject) and its dict joins the round's
    history entry; with ``checkpoint_path`` the full state is written atomically after every round, and a run
    that finds a checkpoint resumes from it; ``label`` names the run in the log and in errors."""

    log: Callable[[str], None] = lambda msg: None
    checkpoint_path: str | Path | None = None
    label: str = "presto"
    on_round: Callable[[int, FusedModule, torch.Tensor], dict] | None = None


def run_presto(model: FusedModule, x: torch.Tensor, y: torch.Tensor, init_assignment: np.ndarray | torch.Tensor,
               settings: PrestoSettings, streams: PrestoStreams, *, hooks: RunHooks = RunHooks(),
               compute_device: torch.device | None = None) -> PrestoResult:
    """Run Algorithm 1 on features ``x`` (N, ...) and labels ``y`` (N,), both on the model's device.

    ``streams``: the components' batch orders and, for the authors' score, the combiner's stream. ``hooks``:
    the log, the per-round callback, the checkpoint and the label (``RunHooks``); a run resumed from its
    checkpoint gives the result of an uninterrupted run (CPU). On return ``model`` holds the kept
    components. With ``compute_device`` the run is in its sequential mode (§2.4): model, x and y stay on the
    host and each component trains (and computes its losses) alone on that device; without it the K
    components train fused where x is. Raises FloatingPointError (naming the label and the round) on a
    non-finite objective.
    """
    run = _Run(model, x, y, settings, streams, hooks, compute_device)
    run.resume(init_assignment)
    run.estimate_singletons()
    if compute_device is None:  # once for all rounds: the fused trainer's fastest layout (channels-last on the CPU)
        run.x = training_layout(run.x)
    for r in range(run.start_round, settings.rounds + 1):
        train_seconds = run.train(r)  # line 12: Train() every component on its part, warm-started
        L, objective = run.losses(r)  # steps 2-3: L[i, k] and G of Eq. 1 / Eq. 4
        extra = hooks.on_round(r, model, run.assignment) if hooks.on_round is not None else {}
        accepted = run.keep_or_revert(objective[0], L)  # App. A.3
        M, combiner_info = run.propose(r)  # step 4: Eq. 8's bound (or the authors' score, or Learn-MLR's L)
        proposal = run.solve(M)  # step 5: the next partition, within the size bounds
        moves = run.record(r, objective, accepted, proposal, {"train_seconds": train_seconds, **combiner_info, **extra})
        if moves == 0:
            # the kept partition is a fixed point of the assignment step: every later round would
            # train the same partition from the same state
            run.stop_reason = "partition stable"
            run.save(r, finished=True)
            break
        run.assignment = proposal
        run.save(r)
    return run.result()


class _Run:
    """One run of Algorithm 1 from round to round: the components and their optimiser, the partition being
    trained, the last kept round, the history and the seconds per phase, and the checkpoint that holds them."""

    def __init__(self, model: FusedModule, x: torch.Tensor, y: torch.Tensor, settings: PrestoSettings,
                 streams: PrestoStreams, hooks: RunHooks, compute_device: torch.device | None):
        k, n = settings.k, x.shape[0]
        if model.k != k:
            raise ValueError(f"model has {model.k} components but settings.k = {k}")
        self.model, self.x, self.y, self.s, self.streams, self.hooks = model, x, y, settings, streams, hooks
        self.compute_device, self.dev = compute_device, x.device
        self.constrained = settings.leeway is not None
        self.lo, self.hi = size_bounds(n, k, settings.leeway) if self.constrained else (0, n)
        self.x_flat = x.reshape(n, -1).to(torch.get_default_dtype()) if settings.epsilon else None
        self.opt = MaskedAdam(list(model.parameters()), k, lr=settings.lr)
        scored_by_combiner = settings.score != "bound"
        if scored_by_combiner and streams.combiner_generator is None:
            raise ValueError(f"[{hooks.label}] reassign {settings.reassign!r} needs a combiner_generator")
        # the streams a checkpoint holds: the components', then the combiner's where the score trains one
        self.checkpointed = list(streams.generators) + ([streams.combiner_generator] if scored_by_combiner else [])
        self.combiner: Combiner | None = None
        self.assignment: torch.Tensor | None = None
        self.history: list[dict] = []
        self.per_round: list[np.ndarray] = []
        self.best: _Snapshot | None = None
        self.G1_fixed = None
        self.start_round, self.stop_reason = 1, "rounds exhausted"
        # score_combiner: the combiner behind the authors' score, trained every round (reassign authors*)
        self.seconds = {"train": 0.0, "loss_matrix": 0.0, "assignment": 0.0, "singleton": 0.0, "score_combiner": 0.0}
        self.ckpt = Path(hooks.checkpoint_path) if hooks.checkpoint_path else None
        self.key = None

    def resume(self, init_assignment: np.ndarray | torch.Tensor) -> None:
        """The start: the initial partition, or the state after the last round that a checkpoint of this very
        run holds. What a checkpoint must agree with to be resumed is everything but the number of rounds (which
        a resumed run may extend): a stale checkpoint of a run with other settings, data, seed or initial
        parameters is never spliced into this one."""
        k, n = self.s.k, self.x.shape[0]
        self.assignment = torch.as_tensor(np.asarray(init_assignment), dtype=torch.long, device=self.dev)
        if self.assignment.shape != (n,) or int(self.assignment.min()) < 0 or int(self.assignment.max()) >= k:
            raise ValueError(f"initial partition must be {n} part indices in 0..{k - 1}")
        if self.ckpt is not None:
            self.key = run_key(self.s, self.x, self.y, self.assignment, self.checkpointed, self.model,
                               self.compute_device is not None)
        state = matching_checkpoint(self.ckpt, self.key, self.dev, log=self.hooks.log, label=self.hooks.label,
                                    start="round 1")
        if state is None:
            return
        restore_training_state(state, self.model, self.opt, self.checkpointed)
        if state.get("combiner") is not None:
            self.combiner = Combiner(k, self.model.num_classes)
            self.combiner.load_state_dict(state["combiner"])
        self.assignment = state["assignment"].to(self.dev)
        self.best = _Snapshot.from_dict(state["best"]) if state["best"] is not None else None
        self.G1_fixed = state["G1"]
        self.history = state["history_json"]
        self.per_round = [a.numpy() for a in state["per_round"]]
        self.start_round = int(state["round"]) + 1
        self.seconds = {k_: float(v) for k_, v in state["seconds"].items()}
        self.hooks.log(f"[{self.hooks.label}] resumed from checkpoint {self.ckpt} after round {self.start_round - 1}")
        if state.get("finished"):
            self.start_round = self.s.rounds + 1
            self.stop_reason = state["stop_reason"]

    def estimate_singletons(self) -> None:
        """G({(i, k)}) of lines 3-8, trained literally once for all rounds (``singleton = "trained"``);
        otherwise each round's bound takes it from the kept components (``_modular_bound``)."""
        if self.s.singleton == "trained" and self.s.assign == "bound" and self.G1_fixed is None:
            t0 = time.perf_counter()
            self.G1_fixed = singleton_objective(self.model, self.x, self.y, self.s)
            self.seconds["singleton"] += time.perf_counter() - t0

    def train(self, r: int) -> float:
        """Line 12: every component trained on its part for ``epochs`` epochs, warm-started (fused, or one at a
        time on ``compute_device``), after recording the partition it trains. Returns the training seconds."""
        self.per_round.append(self.assignment.cpu().numpy().astype(np.int16))
        s = self.s
        training = ComponentTraining(epochs=s.epochs, batch_size=s.batch_size, optimizer=self.opt, lam=s.lam,
                                     generators=self.streams.generators, loss=s.loss,
                                     desc=f"[{self.hooks.label}] round {r}")
        t0 = time.perf_counter()
        try:
            if self.compute_device is not None:
                train_components_sequential(self.model, self.x, self.y, self.assignment, training,
                                            device=self.compute_device)
            else:
                train_components(self.model, self.x, self.y, self.assignment, training)
        except FloatingPointError as exc:
            # the trainers know the epoch and step; the user also needs the run and the round
            raise diverged(f"[{self.hooks.label}] round {r}: {exc}") from exc
        seconds = time.perf_counter() - t0
        self.seconds["train"] += seconds
        return seconds

    def losses(self, r: int) -> tuple[torch.Tensor, tuple[float, float, float]]:
        """Steps 2-3: the loss matrix L[i, k] of every instance under every trained component (one forward pass
        per component) and the objective of the partition trained, (G, data term, regulariser term) of Eq. 1 /
        Eq. 4. Raises FloatingPointError naming the run and the round on a non-finite loss or objective."""
        label = self.hooks.label
        t1 = time.perf_counter()
        try:
            if self.compute_device is not None:
                L = per_sample_loss(component_outputs_sequential(self.model, self.x, self.compute_device), self.y,
                                    self.s.loss)
            else:
                L = loss_matrix(self.model, self.x, self.y, self.s.loss)
            if not bool(torch.isfinite(L).all()):
                raise FloatingPointError(f"{int((~torch.isfinite(L)).sum())} non-finite entries in the loss matrix")
        except FloatingPointError as exc:
            raise diverged(f"[{label}] round {r}: {exc}") from exc
        objective = presto_objective(L, self.assignment, self.model.sq_norm(), self.s.lam)
        self.seconds["loss_matrix"] += time.perf_counter() - t1
        if not np.isfinite(objective[0]):
            raise FloatingPointError(f"[{label}] non-finite objective G={objective[0]} in round {r}")
        return L, objective

    def keep_or_revert(self, G: float, L: torch.Tensor) -> bool:
        """Keep the round (``keep = "every"``, the first round, or G decreased: App. A.3) as the snapshot of
        components, optimiser moments, partition, G and L; otherwise restore the last kept state, whose
        proposal the next round trains again (the batch order has moved on). Returns whether it was kept."""
        accepted = (self.best is None) or self.s.keep == "every" or (G < self.best.G)
        if accepted:
            self.best = _Snapshot(self.model, self.opt, self.assignment, G, L)
        else:
            self.best.restore(self.model, self.opt)
            self.assignment = self.best.assignment.clone()
        return accepted

    def propose(self, r: int) -> tuple[torch.Tensor, dict]:
        """Step 4, from the kept state (``model`` holds the kept components): the cost M[i, k] of instance i in
        part k, Learn-MLR's kept loss matrix, the authors' score or Eq. 8's bound (``settings.reassign``), and
        the combiner's record where the score trained one."""
        t3 = time.perf_counter()
        combiner_info, combiner_s = {}, 0.0
        if self.s.assign == "lowest_loss":
            M = self.best.L  # Learn-MLR: each point's loss under each kept component, nothing else
        elif self.s.score != "bound":
            tc = time.perf_counter()
            M, combiner_info = self._authors_score(r)
            combiner_s = time.perf_counter() - tc
            self.seconds["score_combiner"] += combiner_s
        else:
            M = self._modular_bound()
        self.seconds["assignment"] += time.perf_counter() - t3 - combiner_s
        return M, combiner_info

    def _authors_score(self, r: int) -> tuple[torch.Tensor, dict]:
        """The authors' score: their combiner retrained on the kept components (warm from the last round), its
        weight slice for each point's label dotted with each component's logits (negated for
        ``authors_flipped``), plus epsilon * ||x_i - c_k||; with the combiner's best training loss."""
        s, stream = self.s, self.streams.combiner_generator
        inputs = combiner_inputs(self.model, self.x, self.compute_device)
        if self.combiner is None:
            self.combiner = new_combiner(s.k, self.model.num_classes, stream.initial_seed())
        schedule = CombinerSchedule(epochs=s.combiner_epochs, lr=s.lr, weight_decay=s.combiner_weight_decay,
                                    batch_size=s.batch_size)
        self.combiner, info = train_combiner(self.combiner, inputs, self.y, schedule, generator=stream,
                                             device=self.compute_device or self.dev,
                                             desc=f"[{self.hooks.label}] round {r} combiner")
        score = authors_scores(self.combiner, inputs, self.y.to(inputs.device)).to(self.dev)
        if s.score == "authors_flipped":
            score = -score
        dist = centre_distances(self.x_flat, self.assignment, s.k) if self.x_flat is not None else None
        return (score + s.epsilon * dist if dist is not None else score), {"combiner_loss": info["best_loss"]}

    def _modular_bound(self) -> torch.Tensor:
        """Eq. 8's modular upper bound plus epsilon * ||x_i - c_k||: an instance's marginal gain in its own part
        is its Eq. 1 term under the kept component, L[i, k] + lam ||theta_k||^2; G({(i, k)}) is that term too,
        unless lines 3-8 estimated it (``estimate_singletons``)."""
        with torch.no_grad():
            marginal = self.best.L + self.s.lam * self.model.sq_norm().detach()[None, :].to(self.best.L.dtype)
        G1 = self.G1_fixed if self.G1_fixed is not None else marginal
        dist = centre_distances(self.x_flat, self.assignment, self.s.k) if self.x_flat is not None else None
        return modular_upper_bound(marginal, self.assignment, self.s.alpha, G1, self.s.epsilon, dist)

    def solve(self, M: torch.Tensor) -> torch.Tensor:
        """Step 5: the next partition minimising sum_i M[i, a_i] with at most ``max_moves`` of the N points
        moved: the authors' greedy assignment under the maximum part size (``solver = "greedy"``), the exact
        optimum with every part size in [lo, hi], or without size bounds each point to its cheapest part."""
        t0 = time.perf_counter()
        n = self.x.shape[0]
        budget = n if self.s.max_moves >= 1 else max(1, int(self.s.max_moves * n))
        if self.s.solver == "greedy":
            proposal = greedy_capacity_assignment(M.double().cpu().numpy(), self.hi)
        elif self.constrained:
            proposal = solve_assignment_bounded(M.double().cpu().numpy(), self.assignment.cpu().numpy(), self.lo,
                                                self.hi, budget)
        else:
            proposal = limit_moves_unconstrained(M.double().cpu().numpy(), self.assignment.cpu().numpy(), budget)
        proposal = torch.as_tensor(proposal, device=self.dev)
        self.seconds["assignment"] += time.perf_counter() - t0
        return proposal

    def record(self, r: int, objective: tuple[float, float, float], accepted: bool, proposal: torch.Tensor,
               details: dict) -> int:
        """The round's history entry (``details``: its training seconds, the combiner's record and what
        ``on_round`` adds) and log line. Returns how many points the proposal moves."""
        G, data_loss, reg_term = objective
        moves = int((proposal != self.assignment).sum())
        sizes = torch.bincount(self.assignment, minlength=self.s.k).tolist()
        self.history.append({"round": r, "objective": G, "data_loss": data_loss, "regulariser": reg_term,
                             "accepted": bool(accepted), "best_objective": self.best.G, "part_sizes": sizes,
                             "moves": moves, **details})
        self.hooks.log(f"[{self.hooks.label}] round {r}: G={G:.4f} ({'kept' if accepted else 'rejected'}), "
                       f"parts={sizes}, moves={moves}")
        return moves

    def save(self, r: int, finished: bool = False) -> None:
        """The checkpoint after round ``r`` (with ``checkpoint_path``): all a resumed run needs to go on exactly."""
        if self.ckpt is None:
            return
        save_torch(self.ckpt, {
            **training_state(self.model, self.opt, self.checkpointed), "assignment": self.assignment.cpu(),
            "combiner": None if self.combiner is None else self.combiner.state_dict(),
            "best": self.best.to_dict() if self.best is not None else None, "G1": self.G1_fixed,
            "history_json": self.history, "per_round": [torch.from_numpy(a) for a in self.per_round],
            "round": r, "seconds": self.seconds, "finished": finished,
            "stop_reason": self.stop_reason, "run_key": self.key,
        })

    def result(self) -> PrestoResult:
        """The last kept components (restored into ``model``) and partition, with the run's record."""
        self.best.restore(self.model, self.opt)
        return PrestoResult(
            assignment=self.best.assignment.cpu().numpy(), history=self.history, objective=self.best.G,
            rounds_run=len(self.history), stop_reason=self.stop_reason, seconds=self.seconds,
            assignments_per_round=np.stack(self.per_round) if self.per_round else None,
            size_bounds=(int(self.lo), int(self.hi)) if self.constrained else None,
        )
