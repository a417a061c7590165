"""The synthetic mixture-of-SVMs experiment (paper App. C, Fig. 6; SPEC §8).

K linear SVMs h_k(x) = w_k^T x + b_k with hinge loss are fitted by PRESTO to the App. C data. Every
round records the accuracy of the mixture with each point sent to its assigned component, Err_S (pairs
of points of the same true component split apart) and its normalised value, and the SVM parameters,
so Fig. 6's snapshots can be drawn later without re-training.
"""
from __future__ import annotations

import numpy as np
import torch

from prestorepro.baselines.partition import fit_partition
from prestorepro.data import Prepared
from prestorepro.metrics import err_s
from prestorepro.models.fused import FusedLinearSVM
from prestorepro.presto.algorithm import PrestoSettings, run_presto
from prestorepro.presto.gate import gate_routes, mixture_predict, train_gate


def run_synthetic(data: Prepared, cfg: dict, seed: int, device: torch.device, log=lambda m: None,
                  checkpoint_path=None) -> tuple[dict, dict]:
    """Returns (metrics, arrays): metrics with per-round history; arrays for the Fig. 6 snapshots."""
    k = cfg["k"]
    x = torch.from_numpy(data.train_x.astype(np.float32)).to(device)
    y = torch.from_numpy(data.train_y.astype(np.int64)).to(device)
    groups = data.train_group
    if cfg["init"] == "random":
        a0 = np.random.default_rng(seed).permutation(np.arange(len(x)) % k)
    else:
        a0 = fit_partition(cfg["init"], data.train_x, k, seed, pca_dim=2, leeway=cfg["leeway"], n_init=1).labels
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FusedLinearSVM(k, x.shape[1]).to(device)
    settings = PrestoSettings(k=k, rounds=cfg["rounds"], epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                              lr=cfg["lr"], lam=cfg["lam"], epsilon=cfg["epsilon"], leeway=cfg["leeway"],
                              loss="hinge", patience=cfg.get("patience", 3))
    yn = data.train_y

    def on_round(r, m, assignment):
        a = assignment.cpu().numpy()
        pred = mixture_predict(m, x, a, "hinge")
        split, norm = err_s(a, groups)
        w = m.linear.weight.detach().cpu().numpy()[:, 0, :]
        b = m.linear.bias.detach().cpu().numpy()[:, 0]
        return {"accuracy": float((pred == yn).mean()), "err_s": split, "err_s_normalised": norm,
                "w": w.tolist(), "b": b.tolist()}

    gens = [torch.Generator().manual_seed(seed * 1000 + j) for j in range(k)]
    res = run_presto(model, x, y, a0, settings, gens, log=log, checkpoint_path=checkpoint_path,
                     label="synthetic", on_round=on_round)
    gate = train_gate(model, x, res.assignment, epochs=10, lr=cfg["lr"], batch_size=cfg["batch_size"],
                      generator=torch.Generator().manual_seed(seed + 77), loss="hinge", log=log)
    xt = torch.from_numpy(data.test_x.astype(np.float32)).to(device)
    test_pred = mixture_predict(model, xt, gate_routes(gate, model, xt, "hinge"), "hinge")
    final_split, final_norm = err_s(res.assignment, groups)
    init_split, init_norm = err_s(a0, groups)
    train_pred = mixture_predict(model, x, res.assignment, "hinge")
    metrics = {
        "final": {"train_accuracy_assigned": float((train_pred == yn).mean()),
                  "test_accuracy_gated": float((test_pred == data.test_y).mean()),
                  "err_s": final_split, "err_s_normalised": final_norm,
                  "initial_err_s": init_split, "initial_err_s_normalised": init_norm,
                  "rounds_run": res.rounds_run, "stop_reason": res.stop_reason, "objective": res.objective},
        "history": res.history,
    }
    arrays = {"x": data.train_x, "y": data.train_y, "group": groups, "initial": a0.astype(np.int16),
              "per_round": res.assignments_per_round, "final": res.assignment.astype(np.int16)}
    return metrics, arrays
