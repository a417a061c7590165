"""The synthetic mixture-of-SVMs experiment (paper App. C, Fig. 6; SPEC §8).

K linear SVMs h_k(x) = w_k^T x + b_k with hinge loss are fitted by PRESTO to the App. C data. Every
round records the accuracy of the mixture with each point sent to its assigned component, Err_S (pairs
of points of the same true component split apart) and its normalised value, and the SVM parameters,
so Fig. 6's snapshots can be drawn later without re-training. The algorithm's settings (alpha, the
singleton estimate, the keep rule, the assignment scope, the gate) are the ``presto`` section's; the
budget and the data-specific values (rounds, epochs, lr, lambda, epsilon, leeway, initial partition)
are the ``synthetic`` section's.

To tell a search failure from an objective that prefers another partition, the run also reports Eq. 1
at its optimum for the true partition and for PRESTO's final one (``optimal_objective``): each part's
SVM fitted to convergence, so both partitions are compared on equal terms. ``diagnostics`` adds (config
``synthetic.diagnostics``): the same Eq. 1 plus epsilon * D, with D = sum_i ||x_i - c_{a_i}|| the distance
term the assignment step adds to its costs (App. B.3), over a grid of epsilon, and where the two cross;
and Algorithm 1 started at the true partition, once with the configured Train() budget and once with
Train() run to convergence, round by round.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from prestorepro.partitioners.base import fit_partition
from prestorepro.partitioners.parts import PartitionOptions
from prestorepro.data import Prepared
from prestorepro.metrics import err_s
from prestorepro.models.fused import FusedLinearSVM
from prestorepro.models.parameters import GATE_INPUTS
from prestorepro.presto.algorithm import PrestoSettings, PrestoStreams, RunHooks, run_presto
from prestorepro.presto.gate import GateInput, GateSchedule, gate_routes, mixture_predict, train_gate
from prestorepro.streams import component_generators, gate_generator, seeded


from prestorepro.synthetic.diagnostics import objective_vs_epsilon, optimal_objective, true_start_runs


@dataclass(frozen=True)
class SyntheticRun:
    """One run of PRESTO on the synthetic data: ``cfg`` the ``synthetic`` section, ``algorithm`` the
    ``presto`` section's algorithm keys, the seed, where it checkpoints and how errors name it (``label``).
    ``other_gates``: also train pi_phi on the other inputs (the ablation's gate rows); ``diagnostics``: also
    the objective-vs-epsilon comparison and the runs started at the true partition (``cfg["diagnostics"]``;
    the ablation's variants skip them)."""
    cfg: Mapping
    algorithm: Mapping
    seed: int
    checkpoint_path: str | None = None
    label: str = "synthetic"
    other_gates: bool = True
    diagnostics: bool = True


def run_synthetic(data: Prepared, run: SyntheticRun, device: torch.device, log=lambda m: None) -> tuple[dict, dict]:
    """PRESTO on the synthetic data (``run``). Returns (metrics, arrays): metrics with per-round history;
    arrays for the Fig. 6 snapshots."""
    cfg, algorithm, seed, checkpoint_path, label = run.cfg, run.algorithm, int(run.seed), run.checkpoint_path, run.label
    other_gates, diagnostics = run.other_gates, run.diagnostics
    k = cfg["k"]
    x = torch.from_numpy(data.train_x.astype(np.float32)).to(device=device, dtype=torch.get_default_dtype())
    y = torch.from_numpy(data.train_y.astype(np.int64)).to(device)
    groups = data.train_group
    # the initial partition is the partitioner of that name (a random one, the paper's synthetic start, among them)
    a0 = fit_partition(cfg["init"], data.train_x, k, seed, pca_dim=2,
                       options=PartitionOptions(leeway=cfg["leeway"], n_init=1)).labels
    model = seeded(seed, lambda: FusedLinearSVM(k, x.shape[1])).to(device)
    settings = PrestoSettings.from_config(algorithm, cfg, k=k, epsilon=cfg["epsilon"], leeway=cfg["leeway"],
                                          loss="hinge")
    yn = data.train_y

    def on_round(r, m, assignment):
        a = assignment.cpu().numpy()
        pred = mixture_predict(m, x, a, "hinge")
        split, norm = err_s(a, groups)
        w = m.linear.weight.detach().cpu().numpy()[:, 0, :]
        b = m.linear.bias.detach().cpu().numpy()[:, 0]
        return {"accuracy": float((pred == yn).mean()), "err_s": split, "err_s_normalised": norm,
                "w": w.tolist(), "b": b.tolist()}

    gens = component_generators(seed, k)
    res = run_presto(model, x, y, a0, settings, PrestoStreams(gens),
                     hooks=RunHooks(log=log, checkpoint_path=checkpoint_path, label=label, on_round=on_round))
    xt = torch.from_numpy(data.test_x.astype(np.float32)).to(device=device, dtype=torch.get_default_dtype())
    gated = {}
    sources = [algorithm["gate_input"]] + ([s for s in GATE_INPUTS if s != algorithm["gate_input"]]
                                           if other_gates else [])
    for source in sources:
        gate = train_gate(model, x, res.assignment,
                          GateSchedule(epochs=algorithm["gate_epochs"], lr=cfg["lr"], batch_size=cfg["batch_size"]),
                          generator=gate_generator(seed), reads=GateInput(source=source, loss="hinge"), log=log)
        test_pred = mixture_predict(model, xt, gate_routes(gate, model, xt, "hinge"), "hinge")
        agreement = float((gate_routes(gate, model, x, "hinge") == res.assignment).mean())
        gated[source] = {"test_accuracy_gated": float((test_pred == data.test_y).mean()),
                         "gate_train_agreement": agreement}
    final_split, final_norm = err_s(res.assignment, groups)
    init_split, init_norm = err_s(a0, groups)
    train_pred = mixture_predict(model, x, res.assignment, "hinge")
    same_k = k == len(np.unique(groups))
    # at lam = 0 Eq. 1's optimum is approached (every separable part's hinge loss scaled to 0), not attained
    g_true = optimal_objective(data.train_x, yn, groups, k, cfg["lam"]) if same_k and cfg["lam"] > 0 else None
    g_found = optimal_objective(data.train_x, yn, res.assignment, k, cfg["lam"]) if cfg["lam"] > 0 else None
    log(f"Eq. 1 at its optimum: true partition {g_true}, PRESTO's final partition {g_found}")
    diag = {}
    if diagnostics and same_k and cfg["lam"] > 0:
        d = cfg["diagnostics"]
        true_parts = np.unique(groups, return_inverse=True)[1]
        diag["objective_vs_epsilon"] = objective_vs_epsilon(
            data.train_x, yn, {"true": true_parts, "final": res.assignment}, k, cfg["lam"], d["epsilons"])
        cross = diag["objective_vs_epsilon"]["crossover_epsilon"]
        log(f"G + epsilon * D prefers the true partition above epsilon = {cross}")
        if d["true_start_rounds"] > 0:
            diag["true_start"] = true_start_runs(x, y, groups, settings, seed, d, log=log)
    metrics = {
        "final": {"train_accuracy_assigned": float((train_pred == yn).mean()),
                  "test_accuracy_gated": gated[algorithm["gate_input"]]["test_accuracy_gated"],
                  "gate_train_agreement": gated[algorithm["gate_input"]]["gate_train_agreement"],
                  "err_s": final_split, "err_s_normalised": final_norm,
                  "initial_err_s": init_split, "initial_err_s_normalised": init_norm,
                  "rounds_run": res.rounds_run, "stop_reason": res.stop_reason, "objective": res.objective,
                  "optimal_objective_true_partition": g_true, "optimal_objective_final_partition": g_found},
        "gate_inputs": gated,
        "diagnostics": diag,
        "history": res.history,
        "size_bounds": None if res.size_bounds is None else list(res.size_bounds),
    }
    arrays = {"x": data.train_x, "y": data.train_y, "group": groups, "initial": a0.astype(np.int16),
              "per_round": res.assignments_per_round, "final": res.assignment.astype(np.int16)}
    return metrics, arrays
