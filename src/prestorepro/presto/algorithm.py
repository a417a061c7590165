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
The run stops early only when the partition is stable (a kept round whose proposal moves no point);
otherwise it runs every round, so a snapshot of round r is always the partition trained in round r.

Learn-MLR (Pal et al. 2022, adapted in App. B.4) is the same loop with a random initial partition,
no size constraint (each point goes to its lowest-loss component), epsilon 0 and every round kept.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from prestorepro.io import fingerprint, load_torch, save_torch
from prestorepro.models.fused import FusedModule
from prestorepro.presto.assignment import limit_moves_unconstrained, size_bounds, solve_assignment_bounded
from prestorepro.training.fused import MaskedAdam, loss_matrix, per_sample_loss, train_components
from prestorepro.training.sequential import component_outputs_sequential, train_components_sequential

SINGLETON_MODES = ("current", "trained")
TRAIN_MODES = ("fused", "sequential")
KEEP_RULES = ("decreased", "every")


@dataclass
class PrestoSettings:
    k: int
    rounds: int = 30            # "Iterations" of Algorithm 1 (App. B.3: 30)
    epochs: int = 10            # Train() epochs per round (App. B.3: 10)
    batch_size: int = 256
    lr: float = 0.01            # Adam (App. B.3)
    lam: float = 1e-4           # L2 coefficient lambda (App. B.3)
    alpha: float = 1.0          # alpha_G of Eq. 8; never given in the paper
    epsilon: float = 3e-3       # weight of the distance term (App. B.3)
    leeway: int | None = 0      # None: no size constraint (Learn-MLR)
    singleton: str = "current"  # how G({(i,k)}) is estimated
    singleton_steps: int = 5
    singleton_lr: float = 0.01
    keep: str = "decreased"     # "decreased": keep a round only if G decreased (App. A.3); "every"
    max_moves: float = 1.0      # fraction of N that may change part per round; 1.0: the whole base (§3.2)
    loss: str = "ce"
    mode: str = "fused"         # "sequential": one component and its part on the device at a time (§2.4)

    def __post_init__(self):
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.singleton not in SINGLETON_MODES:
            raise ValueError(f"singleton must be one of {', '.join(SINGLETON_MODES)}, got {self.singleton!r}")
        if self.mode not in TRAIN_MODES:
            raise ValueError(f"mode must be one of {', '.join(TRAIN_MODES)}, got {self.mode!r}")
        if self.keep not in KEEP_RULES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_RULES)}, got {self.keep!r}")
        if not 0 < self.max_moves <= 1:
            raise ValueError(f"max_moves must be a fraction of N in (0, 1], got {self.max_moves}")
        if self.rounds < 1 or self.epochs < 1:
            raise ValueError(f"rounds and epochs must be >= 1, got {self.rounds} and {self.epochs}")


@dataclass
class PrestoResult:
    assignment: np.ndarray           # (N,) the kept partition the returned components were trained on
    history: list[dict]
    objective: float
    rounds_run: int
    stop_reason: str
    seconds: dict = field(default_factory=dict)
    assignments_per_round: np.ndarray | None = None  # (R, N) the partition trained on in each round


def presto_objective(L: torch.Tensor, assignment: torch.Tensor, sq_norms: torch.Tensor,
                     lam: float) -> tuple[float, float, float]:
    """G of Eq. 1 / Eq. 4 for the partition ``assignment`` (N,): (G, data term, regulariser term).

    Each instance i in S_k contributes L[i, k] + lam ||theta_k||^2, so the regulariser is weighted by
    the part sizes: G = sum_i L[i, a_i] + lam * sum_k |S_k| ||theta_k||^2 (``sq_norms``: ||theta_k||^2, (K,)).
    """
    sizes = torch.bincount(assignment, minlength=L.shape[1]).to(torch.float64)
    data = float(L.gather(1, assignment[:, None]).double().sum())
    reg = lam * float((sizes * sq_norms.detach().double().to(sizes.device)).sum())
    return data + reg, data, reg


def modular_upper_bound(marginal: torch.Tensor, assignment: torch.Tensor, alpha: float, G1: torch.Tensor,
                        epsilon: float = 0.0, distance: torch.Tensor | None = None) -> torch.Tensor:
    """Cost matrix of Eq. 8 for the next partition, plus App. B.3's epsilon-distance term.

    For (i, k) in the current partition the cost is alpha * G((i,k) | S minus (i,k)) (``marginal``,
    estimated by i's Eq. 1 term under its trained component); for (i, k) outside it, G({(i,k)}) / alpha.
    """
    member = torch.zeros_like(marginal, dtype=torch.bool)
    member[torch.arange(marginal.shape[0], device=marginal.device), assignment] = True
    M = torch.where(member, alpha * marginal, G1 / alpha)
    if epsilon and distance is not None:
        M = M + epsilon * distance
    return M


@torch.no_grad()
def centre_distances(x_flat: torch.Tensor, assignment: torch.Tensor, k: int) -> torch.Tensor:
    """||x_i - c_k|| with c_k the mean embedding of part k, (N, K). An empty part gets distance 0."""
    centres = torch.zeros(k, x_flat.shape[1], dtype=x_flat.dtype, device=x_flat.device)
    centres.index_add_(0, assignment, x_flat)
    counts = torch.bincount(assignment, minlength=k)
    centres /= counts.clamp(min=1).to(x_flat.dtype)[:, None]
    # ||x||^2 - 2 x.c + ||c||^2: one pass for the norms (vector_norm makes no (N, D) temporary) and one
    # (N, D) x (D, K) product. torch.cdist, and squaring chunks of x, allocate (chunk, D) temporaries
    # and were 6x and 4.6x slower at N=90000 (benchmarks/RESULTS.md, target 2); agrees to ~1e-7 relative
    x_sq = torch.linalg.vector_norm(x_flat, dim=1).square()
    d = (x_sq[:, None] - 2 * (x_flat @ centres.T) + centres.square().sum(1)).clamp_(min=0).sqrt_()
    return d.masked_fill((counts == 0)[None, :], 0.0)


def singleton_objective(model: FusedModule, x: torch.Tensor, y: torch.Tensor, settings: PrestoSettings,
                        chunk: int = 256) -> torch.Tensor:
    """G({(i, k)}) of Algorithm 1 lines 3-8, estimated literally: component k trained from its initial
    parameters on the single instance i for ``singleton_steps`` gradient steps, vectorised over i with
    torch.func (batch norm in eval mode, as one instance has no batch statistics). (N, K)."""
    from torch.func import functional_call, grad, vmap

    from prestorepro.training.fused import per_sample_loss

    lam, lr, steps = settings.lam, settings.singleton_lr, settings.singleton_steps
    out = torch.empty(x.shape[0], model.k, dtype=x.dtype, device=x.device)
    for k in range(model.k):
        comp = model.component(k).to(x.device).eval()
        params = {n: p.detach() for n, p in comp.named_parameters()}
        buffers = {n: b for n, b in comp.named_buffers()}

        def objective(p, xi, yi):
            logits = functional_call(comp, (p, buffers), (xi.unsqueeze(0),))
            data = per_sample_loss(logits.unsqueeze(1), yi.view(1), settings.loss)[0, 0]
            return data + lam * sum(v.square().sum() for v in p.values())

        step = vmap(grad(objective), in_dims=(0, 0, 0))
        value = vmap(objective, in_dims=(0, 0, 0))
        for s in range(0, x.shape[0], chunk):
            xb, yb = x[s:s + chunk], y[s:s + chunk]
            p = {n: v.unsqueeze(0).expand(len(xb), *v.shape).clone() for n, v in params.items()}
            for _ in range(steps):
                g = step(p, xb, yb)
                p = {n: p[n] - lr * g[n] for n in p}
            with torch.no_grad():
                out[s:s + chunk, k] = value(p, xb, yb)
    return out


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
) -> PrestoResult:
    """Run Algorithm 1 on features ``x`` (N, ...) and labels ``y`` (N,), both on the model's device.

    ``generators[k]`` drives component k's batch order. With ``checkpoint_path`` the full state is
    written atomically after every round, and a run that finds a checkpoint resumes from it; the
    result is then identical to an uninterrupted run (CPU). ``on_round(r, model, assignment)`` is
    called after each round's training (before keep/reject) and its dict joins the round's history
    entry. On return ``model`` holds the kept components. In ``sequential`` mode model, x and y stay
    on the host and each component trains (and computes its losses) alone on ``compute_device``. Raises FloatingPointError (naming ``label`` and the round) on a non-finite objective.
    """
    k, n = settings.k, x.shape[0]
    if model.k != k:
        raise ValueError(f"model has {model.k} components but settings.k = {k}")
    dev = x.device
    constrained = settings.leeway is not None
    lo, hi = size_bounds(n, k, settings.leeway) if constrained else (0, n)
    x_flat = x.reshape(n, -1).float() if settings.epsilon else None
    opt = MaskedAdam(list(model.parameters()), k, lr=settings.lr)

    assignment = torch.as_tensor(np.asarray(init_assignment), dtype=torch.long, device=dev)
    if assignment.shape != (n,) or int(assignment.min()) < 0 or int(assignment.max()) >= k:
        raise ValueError(f"initial partition must be {n} part indices in 0..{k - 1}")
    history: list[dict] = []
    per_round: list[np.ndarray] = []
    best: _Snapshot | None = None
    G1_fixed = None
    start_round, stop_reason = 1, "rounds exhausted"
    seconds = {"train": 0.0, "loss_matrix": 0.0, "assignment": 0.0, "singleton": 0.0}

    ckpt = Path(checkpoint_path) if checkpoint_path else None
    # what a checkpoint must agree with to be resumed (everything but the number of rounds, which a
    # resumed run may extend): a stale checkpoint of a run with other settings, data, seed or initial
    # parameters is never spliced into this one
    key = run_key(settings, x, y, assignment, generators, model) if ckpt is not None else None
    state = matching_checkpoint(ckpt, key, dev, log=log, label=label)
    if state is not None:
        restore_training_state(state, model, opt, generators)
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

    if settings.singleton == "trained" and G1_fixed is None:
        t0 = time.perf_counter()
        G1_fixed = singleton_objective(model, x, y, settings)
        seconds["singleton"] += time.perf_counter() - t0

    def save(round_idx: int, finished: bool = False) -> None:
        if ckpt is None:
            return
        save_torch(ckpt, {
            **training_state(model, opt, generators), "assignment": assignment.cpu(),
            "best": best.to_dict() if best is not None else None, "G1": G1_fixed,
            "history_json": history, "per_round": [torch.from_numpy(a) for a in per_round],
            "round": round_idx, "seconds": seconds, "finished": finished,
            "stop_reason": stop_reason, "run_key": key,
        })

    for r in range(start_round, settings.rounds + 1):
        per_round.append(assignment.cpu().numpy().astype(np.int16))
        t0 = time.perf_counter()
        try:
            if settings.mode == "sequential":
                train_components_sequential(model, x, y, assignment, device=compute_device or dev,
                                            epochs=settings.epochs, batch_size=settings.batch_size, optimizer=opt,
                                            lam=settings.lam, generators=generators, loss=settings.loss)
                t1 = time.perf_counter()
                L = per_sample_loss(component_outputs_sequential(model, x, compute_device or dev), y, settings.loss)
            else:
                train_components(model, x, y, assignment, epochs=settings.epochs, batch_size=settings.batch_size,
                                 optimizer=opt, lam=settings.lam, generators=generators, loss=settings.loss)
                t1 = time.perf_counter()
                L = loss_matrix(model, x, y, settings.loss)
            if not bool(torch.isfinite(L).all()):
                raise FloatingPointError(f"{int((~torch.isfinite(L)).sum())} non-finite entries in the loss matrix")
        except FloatingPointError as exc:
            # the trainers know the epoch and step; the user also needs the run and the round
            raise FloatingPointError(f"[{label}] round {r}: {exc}; lower the learning rate or check the "
                                     f"inputs for NaN/inf") from exc
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
        with torch.no_grad():
            marginal = best.L + settings.lam * model.sq_norm().detach()[None, :].to(best.L.dtype)
        G1 = G1_fixed if G1_fixed is not None else marginal
        dist = centre_distances(x_flat, assignment, k) if x_flat is not None else None
        M = modular_upper_bound(marginal, assignment, settings.alpha, G1, settings.epsilon, dist)
        budget = n if settings.max_moves >= 1 else max(1, int(settings.max_moves * n))
        if constrained:
            proposal = solve_assignment_bounded(M.double().cpu().numpy(), assignment.cpu().numpy(), lo, hi,
                                                budget)
            proposal = torch.as_tensor(proposal, device=dev)
        else:
            proposal = torch.as_tensor(limit_moves_unconstrained(M.double().cpu().numpy(),
                                                                 assignment.cpu().numpy(), budget), device=dev)
        seconds["assignment"] += time.perf_counter() - t3
        moves = int((proposal != assignment).sum())
        sizes = torch.bincount(assignment, minlength=k).tolist()
        entry = {"round": r, "objective": G, "data_loss": data_loss, "regulariser": reg_term,
                 "accepted": bool(accepted), "best_objective": best.G, "part_sizes": sizes, "moves": moves,
                 "train_seconds": t1 - t0, **extra}
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
    )


def run_key(settings: PrestoSettings, x: torch.Tensor, y: torch.Tensor, assignment: torch.Tensor,
            generators: Sequence[torch.Generator], model: FusedModule) -> str:
    """Fingerprint of a run of Algorithm 1, taken before round 1: settings except ``rounds``, the data,
    the initial partition, the generators' seeds and the initial parameters."""
    cfg = {k: v for k, v in asdict(settings).items() if k != "rounds"}
    return fingerprint(settings=cfg, x=x, y=y, assignment=assignment,
                       generators=[g.get_state() for g in generators], model=dict(model.state_dict()))


def matching_checkpoint(path: str | Path | None, key: str | None, device: torch.device | str, *,
                        log: Callable[[str], None], label: str) -> dict | None:
    """The checkpoint at ``path`` if the run with fingerprint ``key`` (``run_key``) wrote it. One of a run
    with other settings, data or seed is ignored, with a log line, and the run starts from round 1."""
    if path is None or not Path(path).exists():
        return None
    state = load_torch(path, map_location=str(device))
    if state.get("run_key") != key:
        log(f"[{label}] ignoring checkpoint {path}: it was written by a run with other settings, data or "
            f"seed; starting from round 1")
        return None
    return state


def training_state(model: FusedModule, opt: MaskedAdam, generators: Sequence[torch.Generator]) -> dict:
    """What a per-round checkpoint must hold to continue training exactly where it stopped."""
    return {"model_state": model.state_dict(), "opt_state": opt.state_dict(),
            "generator_states": [g.get_state() for g in generators]}


def restore_training_state(state: dict, model: FusedModule, opt: MaskedAdam,
                           generators: Sequence[torch.Generator]) -> None:
    model.load_state_dict(state["model_state"])
    opt.load_state_dict(state["opt_state"])
    for g, s in zip(generators, state["generator_states"]):
        g.set_state(s.cpu())


def settings_dict(settings: PrestoSettings) -> dict:
    return asdict(settings)
