"""The mixture of experts on App. C's synthetic data (SPEC §5b, §8), beside PRESTO: K linear experts
s_k(x) = w_k.x + b_k (logistic, or App. C's hinge loss as an unnormalised likelihood; ``table1.moe``'s
``synthetic_expert``) and a softmax gate on the 2-d point, trained jointly on the mixture likelihood
(``prestorepro.mixture``) with the synthetic section's budget (rounds x epochs epochs, Adam, batch, lambda).

Does it recover the true partition where PRESTO does not? Every round records the partition the gate
induces (argmax_k g_k(x), where a point is routed), its Err_S against the true components, the training
accuracy of that routing and the experts' lines, so the synthetic table and a Fig. 6-style figure read it
as they read PRESTO's run."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from prestorepro.data import Prepared
from prestorepro.metrics import err_s
from prestorepro.mixture.objective import mixture_probabilities
from prestorepro.mixture.training import MixtureHooks, MixtureSettings, gate_partition, train_mixture
from prestorepro.models.fused import FusedLinearSVM
from prestorepro.partitioners.base import fit_partition
from prestorepro.presto.gate import mixture_predict, new_gate
from prestorepro.streams import component_generators, gate_generator, generator, seeded


def run_synthetic_mixture(data: Prepared, cfg: Mapping, options: Mapping, seed: int, device: torch.device,
                          log=lambda m: None, checkpoint_path=None, *, label: str = "synthetic moe") -> tuple[dict, dict]:
    """``cfg``: the ``synthetic`` section (budget, K); ``options``: ``table1.moe``. Returns (metrics, arrays)
    shaped as PRESTO's synthetic run's (``synthetic.run``): ``final``, ``history``; the arrays for Fig. 6."""
    k = cfg["k"]
    loss = options["synthetic_expert"]
    s = MixtureSettings.from_config(cfg, options, loss=loss)
    dtype = torch.get_default_dtype()
    x = torch.from_numpy(data.train_x.astype(np.float32)).to(device=device, dtype=dtype)
    y = torch.from_numpy(data.train_y.astype(np.int64)).to(device)
    xt = torch.from_numpy(data.test_x.astype(np.float32)).to(device=device, dtype=dtype)
    groups, yn = data.train_group, data.train_y
    model = seeded(seed, lambda: FusedLinearSVM(k, x.shape[1])).to(device)
    gate = new_gate(k, 2, x.shape[1], "features", gate_generator(seed).initial_seed()).to(device)

    def on_round(r, m, g, parts):
        split, norm = err_s(parts, groups)
        pred = mixture_predict(m, x, parts, loss)
        return {"accuracy": float((pred == yn).mean()), "err_s": split, "err_s_normalised": norm,
                "w": m.linear.weight.detach().cpu().numpy()[:, 0, :].tolist(),
                "b": m.linear.bias.detach().cpu().numpy()[:, 0].tolist()}

    initial = None
    if s.training == "hard_em":
        initial = fit_partition("random", data.train_x, k, seed).labels
        generators = component_generators(seed, k) + [gate_generator(seed)]
    else:
        generators = [generator(seed, "moe")]
    res = train_mixture(model, gate, x, y, s, generators, initial=initial,
                        hooks=MixtureHooks(log=log, checkpoint_path=checkpoint_path, label=label, on_round=on_round))
    final_split, final_norm = err_s(res.assignment, groups)
    first = res.assignments_per_round[0]
    init_split, init_norm = err_s(first if initial is None else initial, groups)
    with torch.no_grad():
        gate.eval()
        test_routes = gate_partition(gate, xt)
        test_mixture = mixture_probabilities(gate(xt), model(xt), loss).argmax(1).cpu().numpy()
    labels = np.array([-1, 1])  # the binary classes' order in mixture_probabilities: (1 - p, p) for y = -1, +1
    final = {"train_accuracy_assigned": float((mixture_predict(model, x, res.assignment, loss) == yn).mean()),
             "test_accuracy_gated": float((mixture_predict(model, xt, test_routes, loss) == data.test_y).mean()),
             "test_accuracy_mixture": float((labels[test_mixture] == data.test_y).mean()),
             "err_s": final_split, "err_s_normalised": final_norm,
             "initial_err_s": init_split, "initial_err_s_normalised": init_norm,
             "rounds_run": res.rounds_run, "stop_reason": res.stop_reason,
             "training": s.training, "expert": loss, "balance": s.balance}
    log(f"[{label}] Err_S {final_split} ({final_norm:.4f}), gated test accuracy {final['test_accuracy_gated']:.4f}, "
        f"mixture test accuracy {final['test_accuracy_mixture']:.4f}")
    metrics = {"final": final, "history": res.history, "seconds": res.seconds}
    arrays = {"x": data.train_x, "y": data.train_y, "group": groups,
              "initial": (first if initial is None else initial).astype(np.int16),
              "per_round": res.assignments_per_round, "final": res.assignment.astype(np.int16)}
    return metrics, arrays
