"""The resource-constrained comparison: Table 2 and Fig. 3 / 8 (paper §4.2, App. B.5; SPEC §6).

Jobs (each one Snakemake job, so each measurement runs in a fresh process)
--------------------------------------------------------------------------
- ``train_guide_job``: a dense ``ResNetTail`` of one *role*, trained with cross-entropy and saved:
  the KD / DGKD ``teacher`` and the DGKD teacher ``assistant`` (App. B.5), and the pruning
  ``reference`` network — the latter only when the pruned models start from trained weights
  (``prune_at: trained``, see below). Trained once per (dataset, seed), reused by every student.
- ``train_compress_job``: one single-model method at one parameter budget (``METHODS``):
  ``snip`` / ``grasp`` prune the reference network to the budget and train it with the masks held fixed;
  ``kd`` / ``dgkd`` train a student, its widths scaled to the budget, against the frozen guide(s).
- ``presto_sequential_job``: PRESTO in its ``sequential`` mode (§2.4): the partition is the one the
  Table-1 PRESTO run of the same dataset, K and seed ended with (its ``assignment.npz``, not
  recomputed); the K components are retrained on it one at a time — only component k, its optimiser
  moments and its part S_k on the device — for ``compress.presto_epochs`` epochs, then the gate pi_phi.
  Training the components on a fixed partition this way equals fused training of the same partition
  (``prestorepro.training.sequential``); only the peak device memory differs, which is what Table 2
  measures. The accuracy is therefore that of PRESTO's final partition retrained under the
  compress budget; the Table-1 run's own accuracy is recorded beside it.

Parameter budget (§4.2: "roughly similar (within 5%) number of parameters")
--------------------------------------------------------------------------
The Table-2 budget (point ``table2``) is PRESTO's total at the dataset's K as §4.2 defines it, the K
components (``presto_parameter_count``); the gate pi_phi's own count is recorded beside it. Pruned networks keep exactly that many non-zero parameters
(``prune_to_budget``); students get the proportional widths that come closest to it
(``match_student_widths``, within ``tolerance``). For the trade-off figures the students also run at
``student_sweep_points`` budgets (points ``sweep0``, ``sweep1``, ...) spread evenly over the paper's
range for the dataset (§4.2: ``student_param_range``, keyed by source) or, for a dataset the paper does
not use, over PRESTO's total times ``student_param_scale``; PRESTO sweeps K instead. Budgets are
resolved inside the job from the class count of the embeddings, so nothing is computed at planning time.

Pruning at initialisation (``prune_at``)
----------------------------------------
SNIP and GraSP are pruning-at-initialisation methods (App. B.5: "pruning is done prior to training
... at a variance scaling initialization"), so by default (``prune_at: init``) they score the freshly
initialised reference network and no reference is trained. App. B.5 also says the reference models
"are trained for 300 epochs"; ``prune_at: trained`` follows that reading instead: the reference is
trained (``reference_epochs``) in its own job and scored, pruned and fine-tuned from its trained weights.

Memory protocol (``MemoryLedger``)
----------------------------------
In every job: load the features on the host, run a tiny warm-up step (so lazily loaded kernels and
thread pools are not charged to the first measurement), take the *job baseline*, then measure

1. inference: build the model(s) of the method (seeded initialisation) and predict the test split
   in batches of ``infer_batch_size`` — measured *before* training, on the initialised weights: the
   memory of a forward pass does not depend on the weight values, and measuring first keeps memory
   the allocator retained from training (RSS never shrinks back; CUDA's cache) out of the reading;
2. training: everything the method needs to train — scoring and masked training for SNIP / GraSP
   (the dense reference network is what trains, so it is what occupies memory), loading the frozen
   guide(s) onto the device and distilling for KD / DGKD, component-by-component training and the gate
   for PRESTO. The guides' own training runs in their own jobs and is reported beside (``guides``).

The reported number of a phase is its peak above the job baseline: on CUDA torch's peak allocated
memory (``torch.cuda.max_memory_allocated``; the paper's small numbers, e.g. 58 MiB, exclude the CUDA
context, which NVML's process figure includes — that figure is kept as ``*_peak_abs_mib``); on the CPU
the resident set size, labelled ``cpu_rss`` (host memory, not comparable with the paper's GPU MiB).
"""
from __future__ import annotations

import contextlib
import gc
import time
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from prestorepro.compress.distill import Distiller, match_student_widths
from prestorepro.models.parameters import tail_parameter_count
from prestorepro.compress.memory import MemoryProbe
from prestorepro.compress.pruning import (
    PRUNING_CRITERIA,
    class_balanced_sample,
    count_kept_parameters,
    empty_layers,
    mask_summary,
    prunable_parameters,
    prune_to_budget,
)
from prestorepro.device import resolve_device
from prestorepro.features import Features
from prestorepro.io import fingerprint, load_torch, read_json, save_torch, write_json
from prestorepro.metrics import classification_metrics
from prestorepro.models.fused import FusedResNetTail
from prestorepro.models.resnet_tail import ResNetTail, count_parameters
from prestorepro.presto.algorithm import matching_checkpoint, restore_training_state, training_state
from prestorepro.presto.gate import Gate, new_gate
from prestorepro.provenance import provenance
from prestorepro.registry import Registry
from prestorepro.training.fused import MaskedAdam, class_probabilities
from prestorepro.training.sequential import component_outputs_sequential, train_components_sequential
from prestorepro.training.single import predict, train_single

LogFn = Callable[[str], None]
METHODS: Registry = Registry("compress method")
GUIDE_ROLES = ("teacher", "assistant", "reference")
PAPER_NAMES = {"grasp": "GraSP", "snip": "SNIP", "kd": "KD", "dgkd": "DGKD", "presto": "PRESTO"}
# Offsets of the batch-order generators (seed * 1000 + offset), so no two trainings of a job share a stream.
_STREAM = {"teacher": 11, "assistant": 12, "reference": 13, "snip": 21, "grasp": 22, "kd": 31, "dgkd": 32,
           "score": 41, "guide_drop": 42, "gate": 77}


# ---------------------------------------------------------------------------------------------
# parameter budgets


def presto_parameter_count(cut: str, widths: Sequence[int], num_classes: int, k: int) -> int:
    """PRESTO's total (§4.2: "the total number parameters used in our approach is sum_k dim(theta_k)"):
    the K components ``ResNetTail(cut, widths, C)``; the gate's own count is reported beside it."""
    return k * tail_parameter_count(cut, widths, num_classes)


def student_targets(source: str, presto_total: int, cfg: Mapping) -> list[int]:
    """The students' sweep budgets: ``student_sweep_points`` values evenly spaced over the paper's
    range for ``source`` (§4.2), or over ``presto_total * student_param_scale`` for other sources."""
    n = int(cfg["student_sweep_points"])
    if n < 1:
        return []
    rng = cfg["student_param_range"].get(source)
    lo, hi = (rng if rng is not None else [presto_total * s for s in cfg["student_param_scale"]])
    if not 0 < lo <= hi:
        raise ValueError(f"student parameter range for {source!r} must satisfy 0 < low <= high, got [{lo}, {hi}]; "
                         "fix compress.student_param_range / student_param_scale")
    values = [(lo + hi) / 2] if n == 1 else np.linspace(lo, hi, n).tolist()
    return [int(round(v)) for v in values]


def resolve_target(point: str, source: str, presto_total: int, cfg: Mapping) -> int:
    """Parameter budget of a point: ``table2`` -> PRESTO's total; ``sweep<i>`` -> i-th student budget."""
    if point == "table2":
        return int(presto_total)
    if point.startswith("sweep") and point[5:].isdigit():
        targets = student_targets(source, presto_total, cfg)
        i = int(point[5:])
        if i >= len(targets):
            raise ValueError(f"sweep point {point!r} does not exist: compress.student_sweep_points gives "
                             f"{len(targets)} point(s) ({targets})")
        return targets[i]
    raise ValueError(f"unknown budget point {point!r}; valid: table2, sweep0, sweep1, ...")


# ---------------------------------------------------------------------------------------------
# memory


def warm_up(device: torch.device, cut: str, num_classes: int, feature_shape: Sequence[int]) -> None:
    """One forward/backward/Adam step and one inference of a width-1 tail on two rows, so that the
    kernels, thread pools and (on CUDA) the context are in place before the job baseline; then
    ``gc.freeze()`` (call once per process, after the inputs are loaded)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        m = ResNetTail(cut, (1, 1, 1), num_classes).to(device)
        x = torch.randn(2, *feature_shape).to(device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    nn.functional.cross_entropy(m(x), torch.zeros(2, dtype=torch.long, device=device)).backward()
    opt.step()
    predict(m, x, device=device)
    del m, x, opt
    gc.collect()
    # Everything alive now (modules, features) stays alive for the whole job: freezing it exempts it
    # from the collections every MemoryProbe starts with, which otherwise scan ~400k objects (0.5 s each).
    gc.freeze()
    _release(device)


def _release(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


class MemoryLedger:
    """Peak memory of the phases of one job, above the job's baseline (see the module docstring).

    >>> ledger = MemoryLedger(device)
    >>> with ledger.measure("inference"): ...
    >>> with ledger.measure("training"): ...
    >>> ledger.summary()["training_mib"]
    """

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        _release(self.device)
        with MemoryProbe(self.device) as probe:
            pass
        self.baseline = probe.result()
        self.phases: dict[str, dict] = {}

    @contextlib.contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        _release(self.device)
        with MemoryProbe(self.device) as probe:
            yield
        self.phases[phase] = probe.result()

    def above_baseline(self, phase: str) -> float:
        r = self.phases[phase]
        if self.device.type == "cuda":
            return r["torch_max_allocated_mib"] - self.baseline["torch_allocated_at_enter_mib"]
        return r["peak_mib"] - self.baseline["baseline_mib"]

    def summary(self) -> dict:
        kind = "cuda_torch_allocated" if self.device.type == "cuda" else "cpu_rss"
        out = {"kind": kind, "probe_kind": self.baseline["kind"], "device": self.baseline["device"],
               "baseline": self.baseline, "phases": self.phases}
        for phase in self.phases:
            out[f"{phase}_mib"] = self.above_baseline(phase)
            out[f"{phase}_peak_abs_mib"] = self.phases[phase]["peak_mib"]
        return out


# ---------------------------------------------------------------------------------------------
# shared pieces


def load_features(features_npz: str | Path, features_json: str | Path, context: str = "") -> Features:
    """The embeddings on the host (float32): every method moves what it needs to the device itself,
    inside its memory measurement."""
    return Features.from_embedding(features_npz, features_json, torch.device("cpu"), context=context)


def seeded_tail(cut: str, widths: Sequence[int], num_classes: int, seed: int) -> ResNetTail:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ResNetTail(cut, widths, num_classes)


def _generator(seed: int, stream: str) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1000 + _STREAM[stream])


def _scores(model: nn.Module, feats: Features, split: str, batch: int, device: torch.device) -> dict:
    logits = predict(model, getattr(feats, f"{split}_x"), batch, device)
    return classification_metrics(getattr(feats, f"{split}_y").numpy(), logits.argmax(1), feats.num_classes)


def _evaluate(model: nn.Module, feats: Features, batch: int, device: torch.device) -> dict:
    out = {}
    for split in ("test", "val"):
        m = _scores(model, feats, split, batch, device)
        out[f"{split}_accuracy"], out[f"{split}_macro_f1"] = m["accuracy"], m["macro_f1"]
    return out


def load_guide(path: str | Path) -> ResNetTail:
    """A trained guide network saved by ``train_guide_job`` (on the host)."""
    st = load_torch(path)
    model = ResNetTail(st["cut"], st["widths"], int(st["num_classes"]))
    model.load_state_dict(st["state_dict"])
    return model.eval()


# ---------------------------------------------------------------------------------------------
# guides: teacher, teacher assistant, pruning reference


def train_guide(feats: Features, role: str, settings: Mapping, seed: int, device: torch.device, *,
                checkpoint_path: str | Path | None = None, log: LogFn = lambda m: None) -> tuple[nn.Module, dict]:
    """Train the dense network of ``role`` (widths ``settings['widths']``) with cross-entropy."""
    if role not in GUIDE_ROLES:
        raise ValueError(f"unknown guide role {role!r}; valid: {', '.join(GUIDE_ROLES)}")
    ledger = MemoryLedger(device)
    with ledger.measure("inference"):
        model = seeded_tail(feats.cut, settings["widths"], feats.num_classes, seed).to(device)
        predict(model, feats.test_x, settings["infer_batch_size"], device)
    with ledger.measure("training"):
        hist = train_single(model, feats.train_x, feats.train_y, epochs=settings["epochs"],
                            batch_size=settings["batch_size"], lr=settings["lr"], l2=settings["l2"], device=device,
                            generator=_generator(seed, role), checkpoint_path=checkpoint_path, log=log, desc=role)
    metrics = {"role": role, "widths": list(settings["widths"]), "num_parameters": count_parameters(model),
               "epochs": settings["epochs"], "loss": hist["loss"], **_evaluate(model, feats, settings["infer_batch_size"], device),
               "memory": ledger.summary()}
    log(f"{role} {tuple(settings['widths'])}: {metrics['num_parameters']} parameters, "
        f"test accuracy {metrics['test_accuracy']:.4f}")
    return model.cpu(), metrics


# ---------------------------------------------------------------------------------------------
# single-model methods


@METHODS.register("snip")
def run_snip(feats, target, settings, seed, device, **kw) -> dict:
    return run_pruned("snip", feats, target, settings, seed, device, **kw)


@METHODS.register("grasp")
def run_grasp(feats, target, settings, seed, device, **kw) -> dict:
    return run_pruned("grasp", feats, target, settings, seed, device, **kw)


def run_pruned(criterion: str, feats: Features, target: int, settings: Mapping, seed: int, device: torch.device, *,
               guides: Mapping[str, str | Path] | None = None, checkpoint_path=None, log: LogFn = lambda m: None) -> dict:
    """SNIP / GraSP (App. B.5): score the reference network, keep the ``target - unprunable``
    top-scored weights (exactly ``target`` non-zero parameters), train with the masks held fixed.

    ``prune_at: init`` scores the seeded initialisation; ``trained`` scores the trained reference
    (``guides['reference']``). The scoring sample is ``score_samples_per_class`` rows of every class
    (GraSP's reference code), cut into batches of ``score_batch_size``.
    """
    widths = settings["reference_widths"]
    ledger = MemoryLedger(device)
    with ledger.measure("inference"):
        model = seeded_tail(feats.cut, widths, feats.num_classes, seed)
        if settings["prune_at"] == "trained":
            if not guides or "reference" not in guides:
                raise ValueError("prune_at: trained needs the trained reference network (guides['reference'])")
            model.load_state_dict(load_guide(guides["reference"]).state_dict())
        model = model.to(device)
        predict(model, feats.test_x, settings["infer_batch_size"], device)
    dense = count_parameters(model)
    t0 = time.perf_counter()
    with ledger.measure("training"):
        sample = class_balanced_sample(feats.train_y, settings["score_samples_per_class"], _generator(seed, "score"))
        extra = {"temperature": settings["grasp_temperature"]} if criterion == "grasp" else {}
        scores = PRUNING_CRITERIA.get(criterion)(model, feats.train_x[sample], feats.train_y[sample],
                                                 batch_size=settings["score_batch_size"], device=device, **extra)
        masks = prune_to_budget(model, scores, target)
        del scores
        score_s = time.perf_counter() - t0
        hist = train_single(model, feats.train_x, feats.train_y, epochs=settings["pruned_epochs"],
                            batch_size=settings["batch_size"], lr=settings["lr_pruned"], l2=settings["l2"],
                            device=device, generator=_generator(seed, criterion), masks=masks,
                            checkpoint_path=checkpoint_path, log=log, desc=criterion)
    kept = count_kept_parameters(model, masks)
    # after training, a kept weight is non-zero (almost surely) and a pruned one exactly zero
    nonzero_weights = sum(int((p != 0).sum()) for p in prunable_parameters(model).values())
    collapsed = empty_layers(masks)
    if collapsed:
        log(f"{criterion}: layer collapse, every weight pruned in {', '.join(collapsed)}")
    prunable_total = sum(int(m.numel()) for m in masks.values())
    notes = (f"{PAPER_NAMES[criterion]}: reference {tuple(widths)} ({dense} parameters) scored at "
             f"{'initialisation' if settings['prune_at'] == 'init' else 'its trained weights'}, "
             f"{kept - (dense - prunable_total)} of {prunable_total} weights kept; trained {settings['pruned_epochs']} "
             f"epochs with the masks fixed, Adam lr {settings['lr_pruned']} (App. B.5: {settings['lr_paper']})")
    return {"num_parameters": kept, "nonzero_weights": nonzero_weights, "dense_parameters": dense,
            "widths": list(widths), "empty_layers": collapsed, "mask_summary": mask_summary(masks),
            "loss": hist["loss"], "seconds": {"scoring": score_s}, "notes": notes,
            **_evaluate(model, feats, settings["infer_batch_size"], device), "memory": ledger.summary()}


def _distilled(method: str, guide_roles: Sequence[str]):
    def run(feats: Features, target: int, settings: Mapping, seed: int, device: torch.device, *,
            guides: Mapping[str, str | Path] | None = None, checkpoint_path=None, log: LogFn = lambda m: None) -> dict:
        missing = [r for r in guide_roles if not guides or r not in guides]
        if missing:
            raise ValueError(f"{method} needs the trained {', '.join(missing)} network(s); got {sorted(guides or {})}")
        widths = match_student_widths(target, feats.cut, feats.num_classes, settings["student_base_widths"],
                                      settings["tolerance"])
        ledger = MemoryLedger(device)
        with ledger.measure("inference"):
            student = seeded_tail(feats.cut, widths, feats.num_classes, seed).to(device)
            predict(student, feats.test_x, settings["infer_batch_size"], device)
        with ledger.measure("training"):
            # The frozen guides sit on the device while the student trains (§4.2: KD "require[s]
            # large initial (teacher) models"); their logits are computed per batch.
            nets = [load_guide(guides[r]).to(device) for r in guide_roles]
            drop = float(settings["dgkd_drop_prob"]) if len(nets) > 1 else 0.0
            distiller = Distiller(nets, T=settings["kd_temperature"], a=settings["kd_alpha"], drop_prob=drop,
                                  generator=_generator(seed, "guide_drop") if drop > 0 else None)
            hist = train_single(student, feats.train_x, feats.train_y, epochs=settings["student_epochs"],
                                batch_size=settings["batch_size"], lr=settings["lr"], l2=settings["l2"], device=device,
                                generator=_generator(seed, method), distill=distiller,
                                checkpoint_path=checkpoint_path, log=log, desc=method)
            del nets, distiller
        n = count_parameters(student)
        notes = (f"{PAPER_NAMES[method]}: student {widths} ({n} parameters) scaled from "
                 f"{tuple(settings['student_base_widths'])}; guides {', '.join(guide_roles)}; T={settings['kd_temperature']}, "
                 f"a={settings['kd_alpha']}" + (f", guide drop probability {drop}" if drop > 0 else "")
                 + f"; {settings['student_epochs']} epochs, Adam lr {settings['lr']}")
        return {"num_parameters": n, "widths": list(widths), "loss": hist["loss"], "notes": notes,
                **_evaluate(student, feats, settings["infer_batch_size"], device), "memory": ledger.summary()}

    run.__name__ = f"run_{method}"
    return run


METHODS.register("kd")(_distilled("kd", ("teacher",)))
METHODS.register("dgkd")(_distilled("dgkd", ("teacher", "assistant")))
GUIDES_OF = {"snip": (), "grasp": (), "kd": ("teacher",), "dgkd": ("teacher", "assistant")}


# ---------------------------------------------------------------------------------------------
# PRESTO, sequential mode


def _gate_inputs(model: FusedResNetTail, x: torch.Tensor, device: torch.device, batch: int, source: str
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N, D) gate inputs on the host: x flattened (§2.2), or the components' class probabilities (then
    also the (N, K, C) component logits, computed one component on the device at a time)."""
    if source == "features":
        return x.reshape(x.shape[0], -1), None
    out = component_outputs_sequential(model, x, device, batch)
    probs = class_probabilities(out, "ce")
    return probs.reshape(probs.shape[0], -1), out


def _mixture_eval(model: FusedResNetTail, gate: Gate, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                  device: torch.device, batch: int) -> tuple[dict, np.ndarray]:
    """Test-time prediction (§2.2): k = argmax pi_phi(x), then component k's argmax — the gate streams
    its inputs in batches, the components run one at a time."""
    inputs, out = _gate_inputs(model, x, device, batch, gate.source)
    routes = predict(gate, inputs, batch, device).argmax(1)
    if out is None:
        out = component_outputs_sequential(model, x, device, batch)
    pred = out.argmax(-1).gather(1, torch.as_tensor(routes)[:, None])[:, 0].numpy()
    return classification_metrics(y.numpy(), pred, num_classes), routes


def run_presto_sequential(feats: Features, assignment: np.ndarray, k: int, widths: Sequence[int], presto: Mapping,
                          settings: Mapping, seed: int, device: torch.device, *, checkpoint_path=None,
                          log: LogFn = lambda m: None) -> tuple[dict, FusedResNetTail, Gate]:
    """Retrain PRESTO's K components on the given partition in sequential mode, then the gate.
    Returns (metrics, the K-component stack on the host, the gate).

    Initialisation as in Table 1 (``FusedResNetTail(K, ...)`` under ``manual_seed(seed)``), batch
    order from generator ``seed * 1000 + k`` per component, Adam lr / lambda / batch size of
    ``presto``; ``settings['presto_epochs']`` epochs per component (Algorithm 1 trains each
    component rounds x epochs epochs, warm-started), in chunks of ``presto['epochs']`` with a
    checkpoint after each chunk. The gate trains ``presto['gate_epochs']`` epochs on (x_i, k), i in S_k,
    reading ``presto['gate_input']`` (the flattened x, §2.2) from the host one batch of
    ``presto['batch_size']`` at a time. Test-time passes use ``infer_batch_size`` like every other method.
    """
    n = feats.train_x.shape[0]
    a = torch.as_tensor(np.asarray(assignment), dtype=torch.long)
    if a.shape != (n,) or int(a.min()) < 0 or int(a.max()) >= k:
        raise ValueError(f"PRESTO partition must hold {n} part indices in 0..{k - 1}, got shape {tuple(a.shape)} "
                         f"and range [{int(a.min())}, {int(a.max())}]; was it written for this dataset and K?")
    batch = settings["infer_batch_size"]
    # The K-component stack and its optimiser state live on the host (only one component is ever on
    # the device), so they are built before the job baseline, like the host-resident features.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FusedResNetTail(k, feats.cut, widths, feats.num_classes)
    opt = MaskedAdam(list(model.parameters()), k, lr=presto["lr"])
    gens = [torch.Generator().manual_seed(seed * 1000 + j) for j in range(k)]
    done = 0
    ckpt = Path(checkpoint_path) if checkpoint_path else None
    # a checkpoint is resumed only if this very run wrote it: same settings (but the epoch total, which
    # a resumed run may extend), data, partition, seed and initial parameters; a stale one, e.g. left
    # by a killed run on other embeddings, is ignored
    key = fingerprint(presto=dict(presto), k=int(k), widths=list(widths),
                      seed=int(seed), x=feats.train_x, y=feats.train_y, assignment=a,
                      model=dict(model.state_dict())) if ckpt is not None else None
    st = matching_checkpoint(ckpt, key, "cpu", log=log, label="presto sequential")
    if st is not None:
        restore_training_state(st, model, opt, gens)
        done = int(st["epochs_done"])
        log(f"presto sequential: resumed from {ckpt} after {done} epochs")
    total_epochs, chunk = int(settings["presto_epochs"]), int(presto["epochs"])
    ledger = MemoryLedger(device)
    source = presto["gate_input"]
    feature_numel = feats.train_x[0].numel()
    with ledger.measure("inference"):
        gate0 = new_gate(k, feats.num_classes, feature_numel, source, seed).to(device)
        _mixture_eval(model, gate0, feats.test_x, feats.test_y, feats.num_classes, device, batch)
        del gate0
    with ledger.measure("training"):
        while done < total_epochs:
            e = min(chunk, total_epochs - done)
            train_components_sequential(model, feats.train_x, feats.train_y, a, device=device, epochs=e,
                                        batch_size=presto["batch_size"], optimizer=opt, lam=presto["lam"],
                                        generators=gens)
            done += e
            log(f"presto sequential: {done}/{total_epochs} epochs per component")
            if ckpt is not None:
                save_torch(ckpt, {**training_state(model, opt, gens), "epochs_done": done, "run_key": key})
        # the gate's inputs stay on the host and stream to the device in training-size batches: training
        # pi_phi should not need more device memory than a training step of one component
        inputs, _ = _gate_inputs(model, feats.train_x, device, presto["batch_size"], source)
        gate = new_gate(k, feats.num_classes, feature_numel, source, seed)
        train_single(gate, inputs, a, epochs=presto["gate_epochs"], batch_size=presto["batch_size"], lr=presto["lr"],
                     device=device, generator=_generator(seed, "gate"), log=log, desc="gate", resident=False)
    out = {}
    for split in ("test", "val"):
        m, routes = _mixture_eval(model, gate, getattr(feats, f"{split}_x"), getattr(feats, f"{split}_y"),
                                  feats.num_classes, device, batch)
        out[f"{split}_accuracy"], out[f"{split}_macro_f1"] = m["accuracy"], m["macro_f1"]
        if split == "test":
            out["test_route_sizes"] = np.bincount(routes, minlength=k).tolist()
    n_params = model.num_parameters_per_component() * k
    metrics = {"num_parameters": n_params, "gate_parameters": count_parameters(gate), "gate_input": source,
               "widths": list(widths), "k": k,
               "part_sizes": torch.bincount(a, minlength=k).tolist(), **out, "memory": ledger.summary()}
    return metrics, model, gate.cpu()


# ---------------------------------------------------------------------------------------------
# jobs (called by workflow/scripts/*compress*.py)


def _finish(metrics: dict, out_metrics: str, checkpoint: str | None, log: LogFn) -> dict:
    write_json(out_metrics, metrics)
    if checkpoint and Path(checkpoint).exists():
        Path(checkpoint).unlink()
    mem = metrics["memory"]
    log(f"{metrics['method']} {metrics['point']} seed {metrics['seed']}: test accuracy {metrics['test_accuracy']:.4f}, "
        f"{metrics['num_parameters']} parameters, memory ({mem['kind']}) training {mem['training_mib']:.1f} MiB, "
        f"inference {mem['inference_mib']:.1f} MiB")
    return metrics


def _header(name: str, dataset_cfg: Mapping, method: str, point: str, seed: int, feats: Features) -> dict:
    return {"dataset_name": name, "source": dataset_cfg["source"], "method": method, "point": point, "seed": int(seed),
            "cut": feats.cut, "num_classes": feats.num_classes, "train_size": int(feats.train_x.shape[0])}


@contextlib.contextmanager
def _named_errors(prefix: str):
    """Non-finite losses raised deep in a trainer name the dataset, method and seed of the job."""
    try:
        yield
    except FloatingPointError as exc:
        raise FloatingPointError(f"{prefix} {exc}") from exc


def train_guide_job(features_npz: str, features_json: str, name: str, dataset_cfg: Mapping, role: str, settings: Mapping,
                    seed: int, device_name: str, out_model: str, out_metrics: str, checkpoint: str | None, log) -> dict:
    device = resolve_device(device_name)
    feats = load_features(features_npz, features_json, context=f"[{name} {role} seed {seed}] before training")
    warm_up(device, feats.cut, feats.num_classes, feats.train_x.shape[1:])
    with _named_errors(f"[{name} {role} seed {seed}]"):
        model, m = train_guide(feats, role, settings, seed, device, checkpoint_path=checkpoint, log=log.info)
    save_torch(out_model, {"state_dict": model.state_dict(), "cut": feats.cut, "widths": list(settings["widths"]),
                           "num_classes": feats.num_classes, "role": role})
    metrics = {**_header(name, dataset_cfg, role, "guide", seed, feats), **m,
               "provenance": provenance({"compress": dict(settings), "dataset": dict(dataset_cfg)}, seed, device)}
    return _finish(metrics, out_metrics, checkpoint, log.info)


def train_compress_job(features_npz: str, features_json: str, name: str, dataset_cfg: Mapping, method: str, point: str,
                       settings: Mapping, presto_widths: Sequence[int], seed: int, device_name: str,
                       guide_models: Mapping[str, str], guide_metrics: Mapping[str, str], out_metrics: str,
                       checkpoint: str | None, log) -> dict:
    """One (dataset, method, budget point, seed) run of SNIP / GraSP / KD / DGKD."""
    device = resolve_device(device_name)
    feats = load_features(features_npz, features_json, context=f"[{name} {method} {point} seed {seed}] before training")
    total = presto_parameter_count(feats.cut, presto_widths, feats.num_classes, dataset_cfg["k"])
    target = resolve_target(point, dataset_cfg["source"], total, settings)
    log.info(f"{method} {point}: budget {target} parameters (PRESTO at K={dataset_cfg['k']}: {total})")
    warm_up(device, feats.cut, feats.num_classes, feats.train_x.shape[1:])
    with _named_errors(f"[{name} {method} {point} seed {seed}]"):
        res = METHODS.get(method)(feats, target, settings, seed, device, guides=guide_models,
                                  checkpoint_path=checkpoint, log=log.info)
    rel = abs(res["num_parameters"] - target) / target
    if rel > settings["tolerance"]:
        raise ValueError(f"{method}: {res['num_parameters']} parameters miss the budget {target} by {rel:.1%} "
                         f"(> compress.tolerance {settings['tolerance']})")
    guides = {}
    for role, path in guide_metrics.items():
        g = read_json(path)
        guides[role] = {"widths": g["widths"], "num_parameters": g["num_parameters"], "test_accuracy": g["test_accuracy"],
                        "epochs": g["epochs"], "training_mib": g["memory"]["training_mib"],
                        "inference_mib": g["memory"]["inference_mib"]}
    metrics = {**_header(name, dataset_cfg, method, point, seed, feats), "target_parameters": target,
               "presto_parameters": total, "parameter_gap": rel, **res, "guides": guides,
               "provenance": provenance({"compress": dict(settings), "dataset": dict(dataset_cfg),
                                         "presto_widths": list(presto_widths)}, seed, device)}
    return _finish(metrics, out_metrics, checkpoint, log.info)


def presto_sequential_job(features_npz: str, features_json: str, assignment_npz: str, table1_metrics: str, name: str,
                          dataset_cfg: Mapping, k: int, widths: Sequence[int], presto: Mapping, settings: Mapping,
                          seed: int, device_name: str, out_metrics: str, checkpoint: str | None, log) -> dict:
    """PRESTO's Table-2 / sweep point at K: the Table-1 partition, retrained in sequential mode."""
    device = resolve_device(device_name)
    feats = load_features(features_npz, features_json, context=f"[{name} presto k{k} seed {seed}] before training")
    with np.load(assignment_npz) as z:
        assignment = z["train_assignment"].astype(np.int64)
    warm_up(device, feats.cut, feats.num_classes, feats.train_x.shape[1:])
    with _named_errors(f"[{name} presto k{k} seed {seed}]"):
        res, _, _ = run_presto_sequential(feats, assignment, int(k), widths, presto, settings, seed, device,
                                          checkpoint_path=checkpoint, log=log.info)
    t1 = read_json(table1_metrics)
    notes = (f"PRESTO, sequential mode: the Table-1 partition (K={k}, seed {seed}) retrained one component at a time "
             f"({settings['presto_epochs']} epochs each), only that component and its part on the device, then the "
             f"gate; memory measured so. The Table-1 (fused) run itself reached test accuracy "
             f"{100 * t1['test_accuracy']:.2f}%")
    metrics = {**_header(name, dataset_cfg, "presto", f"k{k}", seed, feats), **res,
               "target_parameters": res["num_parameters"], "presto_parameters": res["num_parameters"],
               "table1_test_accuracy": t1["test_accuracy"], "notes": notes, "guides": {},
               "provenance": provenance({"compress": dict(settings), "presto": dict(presto), "dataset": dict(dataset_cfg),
                                         "widths": list(widths)}, seed, device)}
    return _finish(metrics, out_metrics, checkpoint, log.info)
