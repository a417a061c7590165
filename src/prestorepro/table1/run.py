"""Table 1: PRESTO against partitioning and mixture baselines (paper §4.2, App. B.4; SPEC §5).

Every method trains the same fused K-component model on the same embeddings with the same training
budget (rounds x epochs epochs per component). Methods differ in how the partition is found:

- clustering / mixture baselines: partition fixed up front by the method (on a PCA projection of the
  flattened embeddings);
- PRESTO: Algorithm 1 from the dataset's initial partition;
- Learn-MLR: the same alternating loop from a random partition, no size constraint, epsilon 0, every
  round kept.

Every run is then evaluated under both test-time predictors (SPEC §3), on the same trained components:

- ``router`` (§2.2): each test instance goes to one component, by the clustering's own assignment rule
  for the baselines, by the gate pi_phi (one linear layer on the flattened embedding x, §4.1) for PRESTO
  and Learn-MLR;
- ``combiner`` (App. B.2's additional classifier, the authors' code): one linear layer over the K
  components' concatenated logits, trained on every training point (``presto.combiner``), as the
  authors evaluate PRESTO and their clustering baselines alike.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from prestorepro.catalogue import check_implemented
from prestorepro.errors import diverged
from prestorepro.partitioners.base import PARTITIONERS, fit_partition
from prestorepro.features import Features
from prestorepro.io import fingerprint, save_torch
from prestorepro.models.fused import FusedResNetTail
from prestorepro.checkpoint import matching_checkpoint
from prestorepro.presto.algorithm import PrestoSettings, run_presto
from prestorepro.presto.resume import restore_training_state, run_key, training_state
from prestorepro.models.parameters import GATE_INPUTS
from prestorepro.registry import Registry
from prestorepro.streams import component_generators, generator, seeded
from prestorepro.table1.predictors import (COMBINER_KEYS, _evaluate, _measure, fit_combiner, fit_gate, gate_scores,
                                           predictor_entry)
from prestorepro.training.masked_adam import MaskedAdam
from prestorepro.training.fused import train_components, training_layout

METHODS: Registry[Callable] = Registry("Table-1 method", stage="table1")


@dataclass
class RunSpec:
    method: str
    k: int
    seed: int
    widths: tuple[int, int, int]
    presto: dict          # resolved config["presto"]
    table1: dict          # resolved config["table1"]
    dataset: dict         # resolved config["datasets"][name]
    label: str = ""
    other_gates: bool = True  # also train pi_phi on the other inputs (GATE_INPUTS), for the ablation
    # sequential mode (features on the host, one component at a time on this device) with memory measured
    compute_device: torch.device | None = None


def _model(spec: RunSpec, feats: Features) -> FusedResNetTail:
    return seeded(spec.seed, lambda: FusedResNetTail(spec.k, feats.cut, spec.widths, feats.num_classes)).to(
        feats.train_x.device)


def _settings(spec: RunSpec, **overrides) -> PrestoSettings:
    """The run's settings: the presto section, the dataset's epsilon and leeway, and what the method fixes."""
    dataset = {"epsilon": spec.dataset["epsilon"], "leeway": spec.dataset["leeway"]}
    dataset.update({key: overrides.pop(key) for key in ("epsilon", "leeway") if key in overrides})
    return PrestoSettings.from_config(spec.presto, spec.presto, k=spec.k, **dataset, **overrides)


_PARTITIONS: dict[str, tuple[np.ndarray, str]] = {}


def initial_partition(init: str, feats: Features, spec: RunSpec) -> tuple[np.ndarray, str]:
    """The initial partition of PRESTO (Table 5) or Learn-MLR (random). A clustering is fitted once per
    process for the same data and arguments (the ablation job starts every variant from it)."""
    n = feats.train_x.shape[0]
    if init == "random":
        rng = np.random.default_rng(spec.seed)
        # a random partition with (near-)equal parts, so no component starts empty
        return rng.permutation(np.arange(n) % spec.k), "random equal-size partition"
    args = dict(k=spec.k, seed=spec.seed, pca_dim=spec.table1["pca_dim"], max_fit_samples=spec.table1["max_fit_samples"],
                leeway=spec.dataset["leeway"], n_init=spec.table1["n_init"])
    key = fingerprint(init=init, x=feats.train_x, **args)
    if key not in _PARTITIONS:
        k = args.pop("k")
        res = fit_partition(init, feats.flat("train"), k, args.pop("seed"), **args)
        _PARTITIONS[key] = (res.labels, res.notes)
    labels, notes = _PARTITIONS[key]
    return labels.copy(), notes


def train_fixed_partition(model, feats: Features, assignment: np.ndarray, settings: PrestoSettings,
                          generators, *, log, checkpoint_path: Path | None, label: str = "") -> dict:
    """Train the components on a fixed partition for rounds x epochs epochs, checkpointed per round.

    A checkpoint is resumed only if it was written by this very run (same settings except the number
    of rounds, data, partition, seeds and initial parameters); a stale one is ignored. A non-finite
    loss raises FloatingPointError naming ``label`` and the round.
    """
    dev = feats.train_x.device
    a = torch.as_tensor(assignment, dtype=torch.long, device=dev)
    opt = MaskedAdam(list(model.parameters()), model.k, lr=settings.lr)
    start, seconds = 1, 0.0
    key = run_key(settings, feats.train_x, feats.train_y, a, generators, model) if checkpoint_path else None
    st = matching_checkpoint(checkpoint_path, key, dev, log=log, label=label)
    if st is not None:
        restore_training_state(st, model, opt, generators)
        start, seconds = int(st["round"]) + 1, float(st["seconds"])
        log(f"[{label}] resumed from checkpoint {checkpoint_path} after round {start - 1}")
    x = training_layout(feats.train_x)  # once for all rounds (channels-last on the CPU)
    for r in range(start, settings.rounds + 1):
        try:
            info = train_components(model, x, feats.train_y, a, epochs=settings.epochs,
                                    batch_size=settings.batch_size, optimizer=opt, lam=settings.lam,
                                    generators=generators)
        except FloatingPointError as exc:
            raise diverged(f"[{label}] round {r}: {exc}") from exc
        seconds += info["train_seconds"]
        log(f"[{label}] round {r}/{settings.rounds}: last batch loss {info['last_loss']:.4f}")
        if checkpoint_path is not None:
            save_torch(checkpoint_path, {**training_state(model, opt, generators), "round": r, "seconds": seconds,
                                         "run_key": key})
    return {"train": seconds}


def _partition_method(name: str):
    def run(feats: Features, spec: RunSpec, *, log, checkpoint_path=None) -> dict:
        t0 = time.perf_counter()
        res = fit_partition(name, feats.flat("train"), spec.k, spec.seed, pca_dim=spec.table1["pca_dim"],
                            max_fit_samples=spec.table1["max_fit_samples"], leeway=spec.dataset["leeway"],
                            n_init=spec.table1["n_init"], covariance_type=spec.table1["covariance_type"])
        partition_s = time.perf_counter() - t0
        log(f"{name}: part sizes {np.bincount(res.labels, minlength=spec.k).tolist()} ({partition_s:.1f} s)")
        model = _model(spec, feats)
        seconds = train_fixed_partition(model, feats, res.labels, _settings(spec), component_generators(spec.seed, spec.k),
                                        log=log, checkpoint_path=checkpoint_path, label=spec.label or spec.method)
        seconds["partition"] = partition_s
        routes_test, routes_val = res.route(feats.flat("test")), res.route(feats.flat("val"))
        router = {"predictor": "router: the clustering's own assignment rule", "parameters": 0,
                  **_evaluate(feats, model, routes_test, routes_val)}
        t1 = time.perf_counter()
        combiner = fit_combiner(feats, model, spec.presto, spec.seed, label=spec.label or spec.method, log=log)
        seconds["combiner"] = time.perf_counter() - t1
        return {"assignment": res.labels, "test_routes": routes_test, "model": model, "notes": res.notes,
                "history": [], "seconds": seconds, "combiner": combiner["combiner"],
                "predictors": {"router": predictor_entry(router, ("predictor", "parameters")),
                               "combiner": predictor_entry(combiner, COMBINER_KEYS)}}

    return run


for _name in PARTITIONERS:
    METHODS.register(_name)(_partition_method(_name))


def _gated(feats: Features, spec: RunSpec, settings: PrestoSettings, init: str, *, log, checkpoint_path) -> dict:
    t0 = time.perf_counter()
    a0, init_notes = initial_partition(init, feats, spec)
    init_s = time.perf_counter() - t0
    model = _model(spec, feats)
    label = spec.label or spec.method
    dev = spec.compute_device
    ledger = None
    if dev is not None:
        from prestorepro.compress.ledger import MemoryLedger

        ledger = MemoryLedger(dev)  # the job's baseline: features, model and optimiser state on the host
    primary = spec.presto["gate_input"]
    gate_args = dict(epochs=spec.presto["gate_epochs"], lr=settings.lr, batch_size=settings.batch_size, seed=spec.seed,
                     log=log, compute_device=dev)

    def gate_error(source: str, rounds: int, exc: Exception) -> FloatingPointError:
        return FloatingPointError(f"[{label}] gate ({source}) training after round {rounds}: {exc}")

    with _measure(ledger, "training"):
        res = run_presto(model, feats.train_x, feats.train_y, a0, settings, component_generators(spec.seed, spec.k),
                         log=log, checkpoint_path=checkpoint_path, label=label, compute_device=dev,
                         combiner_generator=generator(spec.seed, "combiner") if settings.score != "bound" else None)
    t1 = time.perf_counter()
    with _measure(ledger, "router_training"):
        try:
            gate = fit_gate(feats, model, res.assignment, source=primary, **gate_args)
        except FloatingPointError as exc:
            raise gate_error(primary, res.rounds_run, exc) from exc
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
        try:
            other = fit_gate(feats, model, res.assignment, source=source, **gate_args)
        except FloatingPointError as exc:
            raise gate_error(source, res.rounds_run, exc) from exc
        gates[source] = gate_scores(feats, model, other, res.assignment, dev)
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
    return _gated(feats, spec, _settings(spec), spec.dataset["init"], log=log, checkpoint_path=checkpoint_path)


@METHODS.register("learn_mlr")
def run_learn_mlr(feats: Features, spec: RunSpec, *, log, checkpoint_path=None) -> dict:
    # App. B.4: random initial partition, no leeway (points go to their lowest-loss component
    # unconstrained), epsilon 0, same optimiser; alternating minimisation keeps every round.
    # Learn-MLR's own definition (App. B.4), not configuration: every point goes to the component with
    # its lowest loss (the argmin of the loss matrix, whatever presto.singleton and alpha say), no size
    # constraint, no distance term, every round kept, the whole base
    settings = _settings(spec, leeway=None, epsilon=0.0, keep="every", alpha=1.0, max_moves=1.0,
                         assign="lowest_loss", singleton="current")
    return _gated(feats, spec, settings, "random", log=log, checkpoint_path=checkpoint_path)


check_implemented("table1", METHODS)


def run_method(feats: Features, spec: RunSpec, *, log=lambda m: None, checkpoint_path=None) -> dict:
    return METHODS.get(spec.method)(feats, spec, log=log, checkpoint_path=checkpoint_path)
