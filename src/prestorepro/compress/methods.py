"""The single-model methods of the resource-constrained comparison (App. B.5): the guide networks
(teacher, assistant, pruning reference), SNIP / GraSP pruning and KD / DGKD distillation, each with its
memory measured by phase (``compress.ledger``). Design: docs/compress.md."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from prestorepro.compress.budget import GUIDE_ROLES, STUDENTS
from prestorepro.compress.distill import Distiller, match_student_widths
from prestorepro.compress.ledger import MemoryLedger
from prestorepro.compress.pruning import (
    PRUNING_CRITERIA,
    class_balanced_sample,
    count_kept_parameters,
    empty_layers,
    mask_summary,
    prunable_parameters,
    prune_to_budget,
)
from prestorepro.features import Features
from prestorepro.io import load_torch
from prestorepro.models.resnet_tail import ResNetTail, count_parameters
from prestorepro.registry import Registry
from prestorepro.catalogue import check_implemented, paper_name
from prestorepro.streams import generator, seeded
from prestorepro.training.single import Recipe, RunRecord, TrainingSet, predict, train_single

LogFn = Callable[[str], None]
METHODS: Registry = Registry("compress method", stage="compress")


def seeded_tail(cut: str, widths: Sequence[int], num_classes: int, seed: int) -> ResNetTail:
    return seeded(seed, lambda: ResNetTail(cut, widths, num_classes))


def _evaluate(model: nn.Module, feats: Features, batch: int, device: torch.device) -> dict:
    return feats.evaluate(lambda split: predict(model, feats.x(split), batch, device).argmax(1))


def load_guide(path: str | Path) -> ResNetTail:
    """A trained guide network saved by ``jobs.compress.train_guide`` (on the host)."""
    st = load_torch(path)
    model = ResNetTail(st["cut"], st["widths"], int(st["num_classes"]))
    model.load_state_dict(st["state_dict"])
    return model.eval()


def fit_guide(feats: Features, role: str, settings: Mapping, seed: int, device: torch.device, *,
                checkpoint_path: str | Path | None = None, log: LogFn = lambda m: None) -> tuple[nn.Module, dict]:
    """Train the dense network of ``role`` (widths ``settings['widths']``) with cross-entropy."""
    if role not in GUIDE_ROLES:
        raise ValueError(f"unknown guide role {role!r}; valid: {', '.join(GUIDE_ROLES)}")
    ledger = MemoryLedger(device)
    with ledger.measure("inference"):
        model = seeded_tail(feats.cut, settings["widths"], feats.num_classes, seed).to(device)
        predict(model, feats.test_x, settings["infer_batch_size"], device)
    with ledger.measure("training"):
        hist = train_single(model, TrainingSet(feats.train_x, feats.train_y),
                            recipe=Recipe(settings["epochs"], settings["batch_size"], settings["lr"], settings["l2"]),
                            device=device, generator=generator(seed, role),
                            record=RunRecord(role, log, checkpoint_path))
    metrics = {"role": role, "widths": list(settings["widths"]), "num_parameters": count_parameters(model),
               "epochs": settings["epochs"], "loss": hist["loss"], "epoch_seconds": hist["time_s"], **_evaluate(model, feats, settings["infer_batch_size"], device),
               "memory": ledger.summary()}
    log(f"{role} {tuple(settings['widths'])}: {metrics['num_parameters']} parameters, "
        f"test accuracy {metrics['test_accuracy']:.4f}")
    return model.cpu(), metrics


def run_pruned(criterion: str):
    """The compress method of pruning criterion ``criterion`` (SNIP / GraSP, App. B.5): score the reference
    network, keep the ``target - unprunable`` top-scored weights (exactly ``target`` non-zero parameters),
    train with the masks held fixed.

    ``prune_at: init`` scores the seeded initialisation; ``trained`` scores the trained reference
    (``guides['reference']``). The scoring sample is ``score_samples_per_class`` rows of every class
    (GraSP's reference code), cut into batches of ``score_batch_size``.
    """
    def run(feats: Features, target: int, settings: Mapping, seed: int, device: torch.device, *,
            guides: Mapping[str, str | Path] | None = None, checkpoint_path=None, log: LogFn = lambda m: None) -> dict:
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
            sample = class_balanced_sample(feats.train_y, settings["score_samples_per_class"], generator(seed, "score"))
            extra = {"temperature": settings["grasp_temperature"]} if criterion == "grasp" else {}
            scores = PRUNING_CRITERIA.get(criterion)(model, feats.train_x[sample], feats.train_y[sample],
                                                     batch_size=settings["score_batch_size"], device=device, **extra)
            masks = prune_to_budget(model, scores, target)
            del scores
            score_s = time.perf_counter() - t0
            hist = train_single(model, TrainingSet(feats.train_x, feats.train_y),
                                recipe=Recipe(settings["pruned_epochs"], settings["batch_size"], settings["lr_pruned"],
                                              settings["l2"]),
                                device=device, generator=generator(seed, criterion), masks=masks,
                                record=RunRecord(criterion, log, checkpoint_path))
        kept = count_kept_parameters(model, masks)
        # after training, a kept weight is non-zero (almost surely) and a pruned one exactly zero
        nonzero_weights = sum(int((p != 0).sum()) for p in prunable_parameters(model).values())
        collapsed = empty_layers(masks)
        if collapsed:
            log(f"{criterion}: layer collapse, every weight pruned in {', '.join(collapsed)}")
        prunable_total = sum(int(m.numel()) for m in masks.values())
        notes = (f"{paper_name(criterion, 'compress')}: reference {tuple(widths)} ({dense} parameters) scored at "
                 f"{'initialisation' if settings['prune_at'] == 'init' else 'its trained weights'}, "
                 f"{kept - (dense - prunable_total)} of {prunable_total} weights kept; trained "
                 f"{settings['pruned_epochs']} epochs with the masks fixed, Adam lr {settings['lr_pruned']} "
                 f"(App. B.5: {settings['lr_paper']})")
        return {"num_parameters": kept, "nonzero_weights": nonzero_weights, "dense_parameters": dense,
                "widths": list(widths), "empty_layers": collapsed, "mask_summary": mask_summary(masks),
                "loss": hist["loss"], "epoch_seconds": hist["time_s"], "seconds": {"scoring": score_s}, "notes": notes,
                **_evaluate(model, feats, settings["infer_batch_size"], device), "memory": ledger.summary()}

    run.__name__ = f"run_{criterion}"
    return run


METHODS.register("snip")(run_pruned("snip"))
METHODS.register("grasp")(run_pruned("grasp"))


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
                                  generator=generator(seed, "guide_drop") if drop > 0 else None)
            hist = train_single(student, TrainingSet(feats.train_x, feats.train_y),
                                recipe=Recipe(settings["student_epochs"], settings["batch_size"], settings["lr"],
                                              settings["l2"]),
                                device=device, generator=generator(seed, method), distill=distiller,
                                record=RunRecord(method, log, checkpoint_path))
            del nets, distiller
        n = count_parameters(student)
        notes = (f"{paper_name(method, 'compress')}: student {widths} ({n} parameters) scaled from "
                 f"{tuple(settings['student_base_widths'])}; guides {', '.join(guide_roles)}; T={settings['kd_temperature']}, "
                 f"a={settings['kd_alpha']}" + (f", guide drop probability {drop}" if drop > 0 else "")
                 + f"; {settings['student_epochs']} epochs, Adam lr {settings['lr']}")
        return {"num_parameters": n, "widths": list(widths), "loss": hist["loss"], "epoch_seconds": hist["time_s"],
                "notes": notes,
                **_evaluate(student, feats, settings["infer_batch_size"], device), "memory": ledger.summary()}

    run.__name__ = f"run_{method}"
    return run


for _method, _guides in STUDENTS.items():
    METHODS.register(_method)(_distilled(_method, _guides))
check_implemented("compress", METHODS)
