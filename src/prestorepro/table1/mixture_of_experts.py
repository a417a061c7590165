"""The mixture of experts as a Table-1 method (Jordan & Jacobs 1994; SPEC §5b): K components of the
component architecture and a softmax gate on x (the router's linear layer) trained jointly on the mixture
likelihood, with PRESTO's optimiser and budget (``prestorepro.mixture``; options ``table1.moe``).

Its predictors: its own gate-weighted mixture (``mixture``), top-1 routing by the gate (``router``), and
the combiner over its trained components (``combiner``), all on the same trained model."""
from __future__ import annotations

import time

from prestorepro.features import Features
from prestorepro.mixture.training import MixtureHooks, MixtureSettings, train_mixture
from prestorepro.presto.gate import new_gate
from prestorepro.streams import component_generators, gate_generator, generator
from prestorepro.table1.base import METHODS, RunSpec, component_stack, initial_partition
from prestorepro.table1.predictors import COMBINER_KEYS, fit_combiner, gate_scores, mixture_scores, predictor_entry


@METHODS.register("moe")
def run_mixture_of_experts(feats: Features, spec: RunSpec, *, log, checkpoint_path=None) -> dict:
    s = MixtureSettings.from_config(spec.presto, spec.options)
    model = component_stack(spec, feats)
    gate = new_gate(spec.k, feats.num_classes, feats.train_x[0].numel(), "features",
                    gate_generator(spec.seed).initial_seed()).to(feats.train_x.device)
    notes = [f"mixture of experts trained {s.training}"
             + (f" with load balancing {s.balance:g}" if s.balance else "")
             + (f", gate lr {s.gate_lr:g}" if s.gate_lr is not None else "")
             + f": {s.rounds} rounds x {s.epochs} epochs over all {feats.train_x.shape[0]} training points, "
             f"Adam lr {s.lr:g}, batch {s.batch_size}, L2 {s.lam:g} per expert"]
    initial = None
    if s.training == "hard_em":
        initial, init_notes = initial_partition("random", feats, spec)
        notes.append(f"initial partition: {init_notes}")
        generators = component_generators(spec.seed, spec.k) + [gate_generator(spec.seed)]
    else:
        generators = [generator(spec.seed, "moe")]
    res = train_mixture(model, gate, feats.train_x, feats.train_y, s, generators, initial=initial,
                        hooks=MixtureHooks(log=log, checkpoint_path=checkpoint_path, label=spec.name))
    notes.append(f"stopped: {res.stop_reason}")
    router = {**gate_scores(feats, model, gate, res.assignment), "predictor": "router: top-1 by the gate g(x)",
              "parameters": sum(p.numel() for p in gate.parameters())}
    mixture = mixture_scores(feats, model, gate)
    t0 = time.perf_counter()
    combiner = fit_combiner(feats, model, spec.presto, spec.seed, label=spec.name, log=log)
    seconds = dict(res.seconds, combiner=time.perf_counter() - t0)
    return {"assignment": res.assignment, "test_routes": router["test_routes"], "model": model, "gate": gate,
            "combiner": combiner["combiner"], "notes": "; ".join(notes), "history": res.history,
            "seconds": seconds, "rounds_run": res.rounds_run, "stop_reason": res.stop_reason,
            "predictors": {"combiner": predictor_entry(combiner, COMBINER_KEYS),
                           "router": predictor_entry(router, ("predictor", "parameters", "gate_train_agreement")),
                           "mixture": predictor_entry(mixture, ("predictor", "parameters"))}}
