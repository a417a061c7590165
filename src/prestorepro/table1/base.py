"""What every Table-1 runner shares: the run's spec, the registry the runners put themselves in, the seeded
component stack, the settings of Algorithm 1's training, the initial partition (through the partitioner
registry) and the training of the K components on a fixed partition, checkpointed per round.

A runner is ``run(feats, spec, *, log, checkpoint_path=None) -> dict`` registered under its catalogue key in
``METHODS`` from a module of this package (every module here is imported with the package). It returns the
trained ``model`` (a fused component stack, or the one model), ``assignment`` (the training points' parts;
all 0 for one model), ``test_routes``, ``notes``, ``history``, ``seconds`` (per phase) and ``predictors``:
one entry per predictor of the method's catalogue entry, each with its test and val scores
(``predictors.predictor_entry``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from prestorepro.errors import diverged
from prestorepro.features import Features
from prestorepro.io import fingerprint, save_torch
from prestorepro.checkpoint import matching_checkpoint
from prestorepro.models.fused import FusedResNetTail
from prestorepro.partitioners.base import fit_partition
from prestorepro.partitioners.parts import PartitionOptions
from prestorepro.presto.resume import restore_training_state, run_key, training_state
from prestorepro.presto.settings import PrestoSettings
from prestorepro.registry import Registry
from prestorepro.streams import seeded
from prestorepro.training.fused import ComponentTraining, train_components, training_layout
from prestorepro.training.masked_adam import MaskedAdam

METHODS: Registry[Callable] = Registry("Table-1 method", stage="table1")


@dataclass
class RunSpec:
    method: str
    k: int
    seed: int
    widths: tuple[int, int, int]
    presto: dict          # resolved config["presto"]
    table1: dict          # resolved config["table1"] (its methods' option sections: ``options``)
    dataset: dict         # resolved config["datasets"][name]
    label: str = ""
    other_gates: bool = True  # also train pi_phi on the other inputs (GATE_INPUTS), for the ablation
    # sequential mode (features on the host, one component at a time on this device) with memory measured
    compute_device: torch.device | None = None
    options: dict = field(default_factory=dict)  # the method's own option section (catalogue ``options``)

    @property
    def name(self) -> str:
        """How errors and the log name the run."""
        return self.label or self.method


def component_stack(spec: RunSpec, feats: Features) -> FusedResNetTail:
    """The K components of the run (App. B.2's architecture, widths ``spec.widths``), initialised from the
    run's seed alone, where the features are."""
    return seeded(spec.seed, lambda: FusedResNetTail(spec.k, feats.cut, spec.widths, feats.num_classes)).to(
        feats.train_x.device)


def training_settings(spec: RunSpec, **overrides) -> PrestoSettings:
    """The run's settings: the presto section, the dataset's epsilon and leeway, and what the method fixes."""
    dataset = {"epsilon": spec.dataset["epsilon"], "leeway": spec.dataset["leeway"]}
    dataset.update({key: overrides.pop(key) for key in ("epsilon", "leeway") if key in overrides})
    return PrestoSettings.from_config(spec.presto, spec.presto, k=spec.k, **dataset, **overrides)


def fit_spec_partition(name: str, feats: Features, spec: RunSpec):
    """The partitioner ``name`` (``prestorepro.partitioners``) fitted on the training embeddings with the
    run's K, seed and the table1 section's settings."""
    t = spec.table1
    return fit_partition(name, feats.flat("train"), spec.k, spec.seed, pca_dim=t["pca_dim"],
                         options=PartitionOptions(max_fit_samples=t["max_fit_samples"], leeway=spec.dataset["leeway"],
                                                  n_init=t["n_init"], covariance_type=t["covariance_type"]))


_PARTITIONS: dict[str, tuple[np.ndarray, str]] = {}


def initial_partition(init: str, feats: Features, spec: RunSpec) -> tuple[np.ndarray, str]:
    """The initial partition of PRESTO (Table 5: a dataset's ``init``) or Learn-MLR (``random``): the
    partitioner of that name. A partition is fitted once per process for the same data and arguments (the
    ablation job starts every variant from it)."""
    t = spec.table1
    key = fingerprint(init=init, x=feats.train_x, k=spec.k, seed=spec.seed, pca_dim=t["pca_dim"],
                      max_fit_samples=t["max_fit_samples"], leeway=spec.dataset["leeway"], n_init=t["n_init"],
                      covariance_type=t["covariance_type"])
    if key not in _PARTITIONS:
        res = fit_spec_partition(init, feats, spec)
        _PARTITIONS[key] = (res.labels, res.fit_notes)
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
            info = train_components(model, x, feats.train_y, a, ComponentTraining(
                epochs=settings.epochs, batch_size=settings.batch_size, optimizer=opt, lam=settings.lam,
                generators=generators, desc=f"[{label}] round {r}/{settings.rounds}"))
        except FloatingPointError as exc:
            raise diverged(f"[{label}] round {r}: {exc}") from exc
        seconds += info["train_seconds"]
        log(f"[{label}] round {r}/{settings.rounds}: last batch loss {info['last_loss']:.4f}")
        if checkpoint_path is not None:
            save_torch(checkpoint_path, {**training_state(model, opt, generators), "round": r, "seconds": seconds,
                                         "run_key": key})
    return {"train": seconds}
