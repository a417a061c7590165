"""One run of the subset-selection stage: the model (``model_widths``: matched to PRESTO's total), its
weighted training on the selected subsets, reselection every R epochs, warm start, checkpoints, and the
metrics (``run_coreset``). Design: docs/coreset.md."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from prestorepro.errors import diverged
from prestorepro.compress.distill import match_student_widths
from prestorepro.compress.memory import MemoryProbe
from prestorepro.coreset.schedule import SelectionSchedule
from prestorepro.coreset.methods import CORESET_METHODS, SelectionContext
from prestorepro.device import synchronize
from prestorepro.features import Features
from prestorepro.checkpoint import matching_checkpoint
from prestorepro.io import fingerprint, save_torch
from prestorepro.models.parameters import presto_parameter_total
from prestorepro.models.resnet_tail import ResNetTail, count_parameters
from prestorepro.progress import progress
from prestorepro.registry import Registry
from prestorepro.streams import seeded
from prestorepro.training.single import Batching, EpochData, predict, train_epoch

Log = Callable[[str], Any]


def model_widths(cut: str, component_widths, num_classes: int, k: int) -> tuple[int, int, int]:
    """Stage widths of the one coreset model: the student widths (12, 16, 32) scaled until the
    parameter count is within 5% of PRESTO's total (the same matching as the KD students, §4.2)."""
    return match_student_widths(presto_parameter_total(cut, component_widths, num_classes, k), cut, num_classes)


def build_model(cut: str, widths, num_classes: int, seed: int, device: torch.device | str) -> ResNetTail:
    """The model with its initial parameters from ``seed`` alone (same init for every method)."""
    return seeded(seed, lambda: ResNetTail(cut, widths, num_classes)).to(device)


@dataclass(frozen=True)
class CoresetSpec:
    """One run: ``method`` at subset ``fraction`` (1.0 for full data) with ``seed``; ``cfg`` is the
    resolved coreset config section (epochs, interval, kappa, batch_size, lr, l2, method options)."""

    method: str
    fraction: float
    seed: int
    widths: tuple[int, int, int]
    cfg: dict

    def schedule(self) -> SelectionSchedule | None:
        m = CORESET_METHODS.get(self.method)
        if m.select is None:
            return None
        epochs = int(self.cfg["epochs"])
        return SelectionSchedule(epochs=epochs, interval=self.interval() if m.reselect else epochs,
                                 kappa=float(self.cfg["kappa"]) if m.warm else 0.0, fraction=self.fraction)

    def interval(self) -> int:
        """R: the method's own reselection interval where its option section sets one (CRAIG's), else
        coreset.interval."""
        section = CORESET_METHODS.get(self.method).options
        own = (self.cfg.get(section) or {}).get("interval") if section else None
        return int(own if own is not None else self.cfg["interval"])

    def signature(self, n: int) -> dict:
        c = self.cfg
        return {"method": self.method, "fraction": float(self.fraction), "seed": int(self.seed), "n": int(n),
                "widths": list(self.widths),
                **{k: c[k] for k in ("epochs", "interval", "kappa", "batch_size", "lr", "lr_schedule", "l2")},
                **{k: c[k] for k in ("optimizer", "momentum", "weight_decay") if k in c},
                # the method options present (a job gets its own method's section only)
                **{k: c[k] for k in ("craig", "gradmatch", "pbcs") if k in c},
                # the epoch layout (full, skipped, subset epochs)
                "layout": None if (s := self.schedule()) is None else [s.warm_epochs, s.select_after]}


LR_SCHEDULES: Registry[Callable[[torch.optim.Optimizer, int], Any]] = Registry("learning-rate schedule")
# cosine: GRAD-MATCH §5 / CORDS anneal the rate per epoch to 0 over the T epochs, which also makes the
# final model (the one evaluated) settle instead of ending on one noisy Adam step on a small subset.
LR_SCHEDULES.register("cosine")(lambda opt, epochs: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs))
LR_SCHEDULES.register("constant")(lambda opt, epochs: torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0))


def make_optimizer(cfg: dict, params) -> torch.optim.Optimizer:
    """Adam (App. B.3, as the PRESTO components) or SGD with momentum (GRAD-MATCH §5), with the
    optimiser's own weight decay (``weight_decay``; the loss's L2 term is ``l2``, applied in the step)."""
    name = cfg.get("optimizer", "adam")
    wd = float(cfg.get("weight_decay", 0.0))
    if name == "adam":
        return torch.optim.Adam(params, lr=float(cfg["lr"]), weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=float(cfg["lr"]), momentum=float(cfg.get("momentum", 0.9)), weight_decay=wd)
    raise ValueError(f"unknown coreset optimizer {name!r}; valid: adam, sgd")


def subset_budget(fraction: float, n: int) -> int:
    """floor(fraction * n) points (CORDS's int(fraction * N)), at least 1."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"subset fraction must lie in (0, 1], got {fraction}")
    return max(1, int(math.floor(fraction * n + 1e-9)))


def run_coreset(data: Features, spec: CoresetSpec, *, device: torch.device | str, log: Log = lambda m: None,
                checkpoint_path: str | Path | None = None,
                on_epoch_end: Callable[[int], None] | None = None, dataset_name: str | None = None) -> dict:
    """Train one model on ``spec.method``'s subsets (see the module docstring); returns the metrics.

    ``on_epoch_end(epoch)`` is called after each epoch's checkpoint is written (progress hooks; an
    exception raised there stops the run as a kill would, leaving the checkpoint). Errors name
    ``dataset_name`` (if given), the method, fraction and seed."""
    device = torch.device(device)
    label = " ".join(filter(None, [dataset_name, f"{spec.method} f={spec.fraction:g} seed {spec.seed}"]))
    cfg = spec.cfg
    method = CORESET_METHODS.get(spec.method)
    n = int(data.train_y.numel())
    epochs, batch_size = int(cfg["epochs"]), int(cfg["batch_size"])
    budget = subset_budget(spec.fraction, n)
    schedule = spec.schedule()
    model = build_model(data.cut, spec.widths, data.num_classes, spec.seed, device)
    opt = make_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])
    sched = LR_SCHEDULES.get(cfg["lr_schedule"])(opt, epochs)
    gen = torch.Generator().manual_seed(spec.seed)
    # the selection stream depends on the seed and the fraction, not on the order runs are made in
    rng = np.random.default_rng([int(spec.seed), int(round(spec.fraction * 1_000_000))])
    ctx = SelectionContext(model=model, data=data, cfg=cfg, device=device)
    all_rows = torch.arange(n, device=device)
    subset: tuple[torch.Tensor, torch.Tensor] | None = None
    history: list[dict] = []
    selections: list[dict] = []
    seconds = {"selection": 0.0, "training": 0.0}
    start = 0
    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None
    # the data belong to the signature too: a checkpoint of a killed run on other embeddings of the
    # same size must not be resumed
    signature = dict(spec.signature(n), data=fingerprint(x=data.train_x, y=data.train_y)) if ckpt else spec.signature(n)
    key = fingerprint(signature=signature) if ckpt is not None else None
    st = matching_checkpoint(ckpt, key, device, log=log, label=label, start="epoch 1")
    if st is not None:
        if "result" in st:
            log(f"{spec.method} f={spec.fraction:g} seed {spec.seed}: finished earlier, result from {ckpt}")
            return st["result"]
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["lr_schedule"])
        gen.set_state(st["generator"].cpu())
        rng.bit_generator.state = st["rng"]
        if st["subset_idx"] is not None:
            subset = (st["subset_idx"].to(device), st["subset_w"].to(device),
                      None if st["subset_batches"] is None else [b.to(device) for b in st["subset_batches"]])
        history, selections, seconds = list(st["history"]), list(st["selections"]), dict(st["seconds"])
        start = int(st["epoch"])
        log(f"{spec.method} f={spec.fraction:g} seed {spec.seed}: resumed from {ckpt} at epoch {start}/{epochs}")

    def save_epoch(epoch: int) -> None:
        if ckpt is not None:
            save_torch(ckpt, {
                "run_key": key, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "lr_schedule": sched.state_dict(), "generator": gen.get_state(), "rng": rng.bit_generator.state,
                "epoch": epoch + 1, "subset_idx": None if subset is None else subset[0].cpu(),
                "subset_w": None if subset is None else subset[1].cpu(),
                "subset_batches": None if subset is None or subset[2] is None else [b.cpu() for b in subset[2]],
                "history": history, "selections": selections, "seconds": seconds,
            })
        if on_epoch_end is not None:
            on_epoch_end(epoch)

    # only the selection epochs log a line of their own: progress lines for all (a bar on a terminal)
    bar = progress(range(start, epochs), desc=label, total=epochs, initial=start, unit="epochs", log=log)
    with MemoryProbe(device) as probe:
        for epoch in bar:
            if schedule is not None and schedule.reselects(epoch):
                synchronize(device)
                t0 = time.perf_counter()
                idx, w, info = method.select(ctx, budget, rng)
                batches = info.pop("batches", None)
                synchronize(device)
                dt = time.perf_counter() - t0
                keep = w > 0
                if not keep.any():
                    hint = "check the method's options"
                    if batches is not None and budget < batch_size:  # GRAD-MATCH-PB picks whole batches
                        hint = (f"it selects whole mini-batches of {batch_size} points: lower coreset.batch_size "
                                f"to at most {budget} or raise the fraction")
                    raise RuntimeError(f"{spec.method} selected no point with positive weight at epoch {epoch + 1} "
                                       f"(budget {budget} of {n}); {hint}")
                if batches is not None:
                    # the batches as positions into the kept points (a zero-weight point leaves its batch)
                    pos = np.cumsum(keep) - 1
                    batches = [torch.as_tensor(pos[b[keep[b]]], device=device) for b in batches if keep[b].any()]
                    info["batches"] = len(batches)
                subset = (torch.as_tensor(idx[keep], device=device),
                          torch.as_tensor(w[keep], dtype=torch.get_default_dtype(), device=device), batches)
                seconds["selection"] += dt
                selections.append({"epoch": epoch, "selected": int(idx.size), "trained": int(keep.sum()),
                                   "weight_sum": float(w.sum()), "weight_min": float(w[keep].min()),
                                   "weight_max": float(w[keep].max()), "seconds": dt, **info})
                log(f"{spec.method} f={spec.fraction:g}: epoch {epoch + 1} selected {int(keep.sum())}/{budget} "
                    f"points in {dt:.3f}s")
            if schedule is not None and schedule.skips(epoch):
                # between the warm start and the first subset epoch (GRAD-MATCH §4 as CORDS lays it out):
                # nothing trains, the learning-rate schedule steps as in CORDS' loop
                sched.step()
                history.append({"epoch": epoch, "loss": None, "points": 0, "full_data": False, "skipped": True,
                                "seconds": 0.0})
                save_epoch(epoch)
                continue
            full_epoch = schedule is None or schedule.uses_full_data(epoch)
            rows, weights, batches = (all_rows, None, None) if full_epoch else subset
            synchronize(device)
            t0 = time.perf_counter()
            if rows.numel() < 2:
                raise ValueError(f"[{label}] cannot train on {rows.numel()} point(s): batch norm needs at least two "
                                 "per batch; raise the subset fraction")
            loss, bad_step, steps = train_epoch(model, opt, EpochData(data.train_x, data.train_y, rows=rows,
                                                                      weights=weights, batches=batches),
                                                batching=Batching(batch_size, gen, min_batch=2), l2=float(cfg["l2"]))
            if bad_step >= 0:
                # epochs count from 1 in messages, as in every other stage
                raise diverged(f"[{label}] epoch {epoch + 1}: non-finite training loss ({loss}) at step "
                               f"{bad_step + 1} of {steps} on {rows.numel()} points (lr, batch size or inputs)",
                               "the embeddings")
            synchronize(device)
            dt = time.perf_counter() - t0
            seconds["training"] += dt
            sched.step()
            history.append({"epoch": epoch, "loss": loss, "points": int(rows.numel()), "full_data": full_epoch,
                            "skipped": False, "seconds": dt})
            bar.set_postfix(loss=f"{loss:.4f}")
            save_epoch(epoch)
    bar.close()
    scores = data.evaluate(lambda split: predict(model, data.x(split), device=device).argmax(1))
    result = {
        "method": spec.method, "fraction": float(spec.fraction), "budget": budget, "n_train": n,
        "seed": int(spec.seed), "epochs": epochs, "interval": spec.interval(),
        "optimizer": cfg.get("optimizer", "adam"),
        "warm_epochs": 0 if schedule is None else schedule.warm_epochs,
        "trained_epochs": sum(not h["skipped"] for h in history),
        "selection_epochs": [] if schedule is None else schedule.selection_epochs(),
        "subset_sizes": [s["trained"] for s in selections],
        **scores,
        "seconds": {"selection": seconds["selection"], "training": seconds["training"],
                    "total": seconds["selection"] + seconds["training"]},
        "selection_training_ratio": seconds["selection"] / seconds["training"] if seconds["training"] > 0 else None,
        "peak_memory": probe.result(), "resumed_from_epoch": start,
        "widths": list(spec.widths), "num_parameters": count_parameters(model),
        "selections": selections, "history": history,
    }
    if ckpt is not None:
        save_torch(ckpt, {"run_key": key, "result": result})
    log(f"{spec.method} f={spec.fraction:g} seed {spec.seed}: test accuracy {scores['test_accuracy']:.4f}, "
        f"selection {seconds['selection']:.2f}s, training {seconds['training']:.2f}s")
    return result
