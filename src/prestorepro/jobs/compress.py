"""Jobs of workflow/rules/compress.smk: the guide networks, one method at one budget, PRESTO in
sequential mode, and Table 2 / Fig. 3 / Fig. 8 (design: docs/compress.md)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping

from prestorepro import paths
from prestorepro.io import read_json
from prestorepro.config_checks import paper_dataset
from prestorepro.jobs.common import finish, header, named_errors
from prestorepro.provenance import provenance

if TYPE_CHECKING:  # the jobs' argument types; a job reads its spec's attributes, and imports no spec
    from prestorepro.jobs.specs import CompressJob, Embeddings, GuideJob, Table1PointJob
    from prestorepro.jobs.report_specs import Table2Report, TradeoffReport


def _metrics_header(dataset: str, dataset_config: Mapping, method: str, point: str, seed: int, feats) -> dict:
    return {**header(dataset=dataset, dataset_config=dataset_config, method=method, seed=seed), "point": point,
            "cut": feats.cut, "num_classes": feats.num_classes, "train_size": int(feats.train_x.shape[0])}


def _done(metrics: dict, out: str, checkpoint: str | None, log) -> dict:
    finish(metrics, out, checkpoint)
    for name, m in metrics.get("predictors", {"": metrics}).items():
        mem = m["memory"]
        log.info(f"{metrics['method']}{' (' + name + ')' if name else ''} {metrics['point']} seed {metrics['seed']}: "
                 f"test accuracy {m['test_accuracy']:.4f}, {m['num_parameters']} parameters, memory ({mem['kind']}) "
                 f"training {mem['training_mib']:.1f} MiB, inference {mem['inference_mib']:.1f} MiB")
    return metrics


def _host_features(embeddings: Embeddings, context: str):
    """The embeddings on the host (in the training precision): every method moves what it needs to the device itself,
    inside its memory measurement."""
    import torch

    from prestorepro.features import Features

    return Features.load_embeddings(embeddings, torch.device("cpu"), context=context)


def train_guide(job: GuideJob, log) -> dict:
    """A dense guide network of ``job.role`` (teacher, assistant, pruning reference), saved for the methods."""
    from prestorepro.training.warmup import warm_up
    from prestorepro.compress.methods import fit_guide
    from prestorepro.device import resolve_device
    from prestorepro.io import save_torch

    dataset, dataset_config, role, settings, seed = job.dataset, job.dataset_config, job.role, job.settings, job.seed
    dev = resolve_device(job.device)
    feats = _host_features(job.embeddings, f"[{dataset} {role} seed {seed}] before training")
    warm_up(dev, feats.cut, feats.num_classes, feats.train_x.shape[1:], freeze=True)
    with named_errors(f"[{dataset} {role} seed {seed}]"):
        model, m = fit_guide(feats, role, settings, seed, dev, checkpoint_path=job.checkpoint, log=log.info)
    save_torch(job.out_model, {"state_dict": model.state_dict(), "cut": feats.cut, "widths": list(settings["widths"]),
                           "num_classes": feats.num_classes, "role": role})
    metrics = {**_metrics_header(dataset, dataset_config, role, "guide", seed, feats), **m,
               "provenance": provenance({"compress": dict(settings), "dataset": dict(dataset_config)}, seed, dev)}
    return _done(metrics, job.out_metrics, job.checkpoint, log)


def train_compress(job: CompressJob, log) -> dict:
    """One (dataset, method, budget point, seed) run of SNIP / GraSP / KD / DGKD."""
    from prestorepro.compress.budget import resolve_target
    from prestorepro.training.warmup import warm_up
    from prestorepro.compress.methods import METHODS
    from prestorepro.device import resolve_device
    from prestorepro.models.parameters import presto_parameter_total

    dataset, dataset_config, method, point, seed = job.dataset, job.dataset_config, job.method, job.point, job.seed
    settings, presto_widths = job.settings, job.presto_widths
    dev = resolve_device(job.device)
    feats = _host_features(job.embeddings, f"[{dataset} {method} {point} seed {seed}] before training")
    total = presto_parameter_total(feats.cut, presto_widths, feats.num_classes, dataset_config["k"])
    target = resolve_target(point, paper_dataset(dataset_config), total, settings)
    log.info(f"{method} {point}: budget {target} parameters (PRESTO at K={dataset_config['k']}: {total})")
    warm_up(dev, feats.cut, feats.num_classes, feats.train_x.shape[1:], freeze=True)
    with named_errors(f"[{dataset} {method} {point} seed {seed}]"):
        res = METHODS.get(method)(feats, target, settings, seed, dev, guides=job.guide_models,
                                  checkpoint_path=job.checkpoint, log=log.info)
    rel = abs(res["num_parameters"] - target) / target
    if rel > settings["tolerance"]:
        raise ValueError(f"{method}: {res['num_parameters']} parameters miss the budget {target} by {rel:.1%} "
                         f"(> compress.tolerance {settings['tolerance']})")
    guides = {}
    for role, path in job.guide_metrics.items():
        g = read_json(path)
        guides[role] = {"widths": g["widths"], "num_parameters": g["num_parameters"], "test_accuracy": g["test_accuracy"],
                        "epochs": g["epochs"], "training_mib": g["memory"]["training_mib"],
                        "inference_mib": g["memory"]["inference_mib"]}
    metrics = {**_metrics_header(dataset, dataset_config, method, point, seed, feats), "target_parameters": target,
               "presto_parameters": total, "parameter_gap": rel, **res, "guides": guides,
               "provenance": provenance({"compress": dict(settings), "dataset": dict(dataset_config),
                                         "presto_widths": list(presto_widths)}, seed, dev)}
    return _done(metrics, job.out_metrics, job.checkpoint, log)


def table1_point(job: Table1PointJob, log) -> dict:
    """A Table-1 run as a point of the compress stage (Table 2, Fig. 3/8), so Table 2 prints Table 1's accuracy
    (§4.2). Trains nothing. PRESTO at K: Algorithm 1 in sequential mode, its memory measured while it ran
    (``jobs.presto.train_table1(sequential=True)``), one entry per test-time predictor; the one model: its run,
    measured as the compress stage measures its networks."""
    from prestorepro.catalogue import method as catalogue_method

    dataset, dataset_config, method, k, seed = job.dataset, job.dataset_config, job.method, job.k, job.seed
    table1_metrics, out_metrics = job.table1_metrics, job.out_metrics
    t1 = read_json(table1_metrics)
    side = read_json(job.meta)
    label = f"[{dataset} {method} k{k} seed {seed}]"
    if "memory" not in t1 or (catalogue_method("compress", method).role == "presto" and t1.get("mode") != "sequential"):
        raise ValueError(f"{label} {table1_metrics} is not a run with its memory measured (PRESTO: in sequential "
                         "mode); re-run it through the workflow (it plans the Table-1 runs of the compress stage so)")
    mem = t1["memory"]
    common = {**header(dataset=dataset, dataset_config=dataset_config, method=method, seed=seed),
              "point": f"k{k}", "cut": side["cut"], "num_classes": side["num_classes"],
              "train_size": int(sum(t1["part_sizes"])), "k": int(k), "guides": {},
              # the run's folder under the results root
              "table1_run": os.path.dirname(paths.relative("table1_metrics", dataset=dataset, k=k, method=method,
                                                           seed=seed)),
              "provenance": t1["provenance"]}
    if method != "presto":
        (name, scores), = t1["predictors"].items()
        memory = {key: mem[key] for key in ("kind", "device", "training_mib", "inference_mib", "training_peak_abs_mib",
                                            "inference_peak_abs_mib")}
        metrics = {**common, **{key: scores[key] for key in scores if key.startswith(("test_", "val_"))},
                   "num_parameters": t1["num_parameters"], "widths": t1["widths"], "memory": memory,
                   "target_parameters": t1["presto_parameters"], "presto_parameters": t1["presto_parameters"],
                   "parameter_gap": abs(t1["num_parameters"] - t1["presto_parameters"]) / t1["presto_parameters"],
                   "notes": f"{catalogue_method('compress', method).paper_name}: the Table-1 run (K={k}, seed {seed}); "
                            + t1["notes"]}
        return _done(metrics, out_metrics, None, log)
    # the paper's printed total (components + combiner, SPEC §3): the other methods' budget
    total = t1["num_parameters"] + t1["predictors"]["combiner"]["parameters"]
    predictors = {}
    for name, scores in t1["predictors"].items():
        # a predictor's training is Algorithm 1 then its own training (peaks of sequential phases: the
        # larger one); its inference is its own phase
        predictors[name] = {**scores, "num_parameters": t1["num_parameters"] + scores["parameters"], "memory": {
            "kind": mem["kind"], "device": mem["device"],
            "training_mib": max(mem["training_mib"], mem[f"{name}_training_mib"]),
            "inference_mib": mem[f"{name}_inference_mib"],
            "training_peak_abs_mib": max(mem["training_peak_abs_mib"], mem[f"{name}_training_peak_abs_mib"]),
            "inference_peak_abs_mib": mem[f"{name}_inference_peak_abs_mib"]}}
    metrics = {**common, "predictors": predictors,
               **{key: t1[key] for key in ("num_parameters", "part_sizes", "memory")},
               "widths": t1["provenance"]["config"]["components"]["widths"],
               "gate_input": t1["provenance"]["config"]["presto"]["gate_input"],
               "target_parameters": total, "presto_parameters": total,
               "notes": (f"PRESTO: the Table-1 run (K={k}, seed {seed}), Algorithm 1 in sequential mode: one component "
                         "and its part on the device at a time; then the router (the gate, each test instance "
                         "predicted by its routed component, one component on the device at a time) and the "
                         "combiner (trained on logits computed one component at a time; at test time all K "
                         "components on the device at once); memory measured while it ran")}
    return _done(metrics, out_metrics, None, log)


def make_table2(job: Table2Report, log=None) -> None:
    from prestorepro.report.compress import make_table2 as build

    build(job.metrics, job.stem, job.predict)


def make_tradeoff_figure(job: TradeoffReport, log=None) -> None:
    """Accuracy against memory on one dataset; paper Fig. 3 or 8 (titled by its name) over its datasets."""
    from prestorepro.report.compress import make_tradeoff_figure as build

    build(job.metrics, job.stem, job.formats, title=job.figure)
