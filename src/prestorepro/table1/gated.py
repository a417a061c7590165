"""PRESTO (Algorithm 1 from the dataset's initial partition) and Learn-MLR (the same alternating loop from a
random partition, no size constraint, epsilon 0, every round kept; App. B.4): the Table-1 methods of kind
``mixture`` that learn their partition by Algorithm 1's loop, then route test points by the gate pi_phi
(router) or combine all K components (combiner).

A PRESTO run with ``RunSpec.compute_device`` set runs Algorithm 1 in its sequential mode (§2.4: x, the
components and their optimiser state on the host, one component and its part on that device at a time,
the gate streamed the same way) and measures its peak memory with ``compress.ledger`` in phases:
``training`` (Algorithm 1), ``router_training`` (the gate) and ``router_inference`` (the gate routes each
test instance, and each component predicts the instances routed to it, one component on the device at a
time), ``combiner_training`` (the components' logits computed one component at a time, the combiner
trained on them streamed) and ``combiner_inference`` (all K components on the device at once, as the
combiner needs every component's logits for every instance; the authors' code holds them so): this one
run is both Table 1's PRESTO and Table 2's, so the two tables print the same accuracy (§4.2).
"""
from __future__ import annotations

import time

from prestorepro.features import Features
from prestorepro.models.parameters import GATE_INPUTS
from prestorepro.presto.algorithm import PrestoSettings, PrestoStreams, RunHooks, run_presto
from prestorepro.presto.gate import GateSchedule
from prestorepro.streams import component_generators, generator
from prestorepro.table1.base import METHODS, RunSpec, component_stack, initial_partition, training_settings
from prestorepro.table1.predictors import (COMBINER_KEYS, _measure, fit_combiner, fit_gate, gate_scores,
                                           predictor_entry)


def train_alternating(feats: Features, spec: RunSpec, settings: PrestoSettings, init: str, *, log,
                      checkpoint_path) -> dict:
    """Algorithm 1's loop with ``settings`` from the partitioner ``init``'s partition, then the gate pi_phi
    (router) and the combiner on the trained components: a Table-1 runner's result with both predictors."""
    t0 = time.perf_counter()
    a0, init_notes = initial_partition(init, feats, spec)
    init_s = time.perf_counter() - t0
    model = component_stack(spec, feats)
    label = spec.name
    dev = spec.compute_device
    ledger = None
    if dev is not None:
        from prestorepro.compress.ledger import MemoryLedger

        ledger = MemoryLedger(dev)  # the job's baseline: features, model and optimiser state on the host
    primary = spec.presto["gate_input"]
    with _measure(ledger, "training"):
        streams = PrestoStreams(component_generators(spec.seed, spec.k),
                                generator(spec.seed, "combiner") if settings.score != "bound" else None)
        res = run_presto(model, feats.train_x, feats.train_y, a0, settings, streams,
                         hooks=RunHooks(log=log, checkpoint_path=checkpoint_path, label=label), compute_device=dev)
    schedule = GateSchedule(epochs=spec.presto["gate_epochs"], lr=settings.lr, batch_size=settings.batch_size)

    def fit(source: str):
        """pi_phi reading ``source`` on the final partition; a non-finite loss names the run, the input and
        the round."""
        try:
            return fit_gate(feats, model, res.assignment, schedule, source=source, seed=spec.seed, log=log,
                            compute_device=dev)
        except FloatingPointError as exc:
            raise FloatingPointError(f"[{label}] gate ({source}) training after round {res.rounds_run}: {exc}") from exc

    t1 = time.perf_counter()
    with _measure(ledger, "router_training"):
        gate = fit(primary)
    gate_s = time.perf_counter() - t1
    main = gate_scores(feats, model, gate, res.assignment, dev, ledger)
    t2 = time.perf_counter()
    combiner = fit_combiner(feats, model, spec.presto, spec.seed, label=label, log=log, compute_device=dev,
                            ledger=ledger)
    combiner_s = time.perf_counter() - t2
    # the other reading of pi_phi's input is trained on the same components and partition for the
    # ablation (a few seconds, no second run of Algorithm 1)
    gates = {primary: main}
    for source in ([s for s in GATE_INPUTS if s != primary] if spec.other_gates else []):
        gates[source] = gate_scores(feats, model, fit(source), res.assignment, dev)
    seconds = dict(res.seconds, initial_partition=init_s, gate=gate_s, combiner=combiner_s)
    router = {"predictor": f"router: the gate pi_phi on {primary}",
              "parameters": sum(p.numel() for p in main["gate"].parameters()), **main}
    out = {"assignment": res.assignment, "test_routes": main["test_routes"], "model": model, "gate": main["gate"],
           "combiner": combiner["combiner"],
           "notes": f"initial partition: {init_notes}; stopped: {res.stop_reason}",
           "history": res.history, "seconds": seconds,
           "objective": res.objective, "rounds_run": res.rounds_run, "stop_reason": res.stop_reason,
           "size_bounds": None if res.size_bounds is None else list(res.size_bounds),
           "predictors": {"router": predictor_entry(router, ("predictor", "parameters", "gate_train_agreement")),
                          "combiner": predictor_entry(combiner, COMBINER_KEYS)},
           "gate_inputs": {src: predictor_entry(g, ("gate_train_agreement",)) for src, g in gates.items()}}
    if ledger is not None:
        out["mode"] = "sequential"
        out["memory"] = ledger.summary()
    return out


@METHODS.register("presto")
def run_presto_method(feats: Features, spec: RunSpec, *, log, checkpoint_path=None) -> dict:
    return train_alternating(feats, spec, training_settings(spec), spec.dataset["init"], log=log, checkpoint_path=checkpoint_path)


@METHODS.register("learn_mlr")
def run_learn_mlr(feats: Features, spec: RunSpec, *, log, checkpoint_path=None) -> dict:
    # App. B.4: random initial partition, no leeway (points go to their lowest-loss component
    # unconstrained), epsilon 0, same optimiser; alternating minimisation keeps every round.
    # Learn-MLR's own definition (App. B.4), not configuration: every point goes to the component with
    # its lowest loss (the argmin of the loss matrix, whatever presto.singleton and alpha say), no size
    # constraint, no distance term, every round kept, the whole base
    settings = training_settings(spec, leeway=None, epsilon=0.0, keep="every", alpha=1.0, max_moves=1.0,
                                 assign="lowest_loss", singleton="current")
    return train_alternating(feats, spec, settings, "random", log=log, checkpoint_path=checkpoint_path)
