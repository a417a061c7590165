"""Jobs of workflow/rules/coreset.smk: one method and seed at every subset fraction, and the coreset
table and figure (design: docs/coreset.md)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

from prestorepro.jobs.common import drop_checkpoint, finish, header
from prestorepro.provenance import provenance

if TYPE_CHECKING:  # the jobs' argument types; a job reads its spec's attributes, and imports no spec
    from prestorepro.jobs.specs import CoresetJob
    from prestorepro.jobs.report_specs import CoresetTableReport, DatasetFigure


def train_coreset(job: CoresetJob, log) -> list[dict]:
    """``job.method`` with ``job.seed`` at every fraction (label -> value, aligned with ``job.out_metrics``); one
    metrics file per fraction. The fractions of one method run in one process (one job): at the
    embedded default's size the interpreter start dominates a job."""
    from prestorepro.coreset.run import CoresetSpec, model_widths, run_coreset
    from prestorepro.models.parameters import presto_parameter_total
    from prestorepro.training.warmup import warm_up
    from prestorepro.device import resolve_device
    from prestorepro.features import Features

    dataset, dataset_config, method, seed = job.dataset, job.dataset_config, job.method, job.seed
    fractions = job.fractions
    coreset, widths, out_metrics, checkpoint_dir = job.coreset, job.widths, job.out_metrics, job.checkpoint_dir
    if len(fractions) != len(out_metrics):
        raise ValueError(f"{len(fractions)} fractions but {len(out_metrics)} metrics paths; they must align")
    dev = resolve_device(job.device)
    data = Features.load_embeddings(job.embeddings, dev, context=f"[{dataset} {method} seed {seed}] before training")
    k = int(dataset_config["k"])
    model = model_widths(data.cut, widths, data.num_classes, k)
    log.info(f"{dataset}: {data.train_y.numel()} training points, model widths {model} "
             f"(PRESTO total {presto_parameter_total(data.cut, widths, data.num_classes, k)})")
    warm_up(dev, data.cut, data.num_classes, data.train_x.shape[1:], widths=model, rows=int(coreset["batch_size"]))
    results = []
    for (label, fraction), out in zip(fractions.items(), out_metrics):
        spec = CoresetSpec(method=method, fraction=float(fraction), seed=int(seed), widths=model, cfg=dict(coreset))
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"f{label}.pt"
        res = run_coreset(data, spec, device=dev, log=log.info, checkpoint_path=ckpt, dataset_name=dataset)
        metrics = {**header(dataset=dataset, dataset_config=dataset_config, method=method, seed=seed), "k": k,
                   "fraction_label": label, **res,
                   "provenance": provenance({"coreset": dict(coreset), "components": {"widths": list(widths)},
                                             "dataset": dict(dataset_config)}, seed, dev)}
        results.append(finish(metrics, out))
    # the checkpoints go last: a finished fraction's checkpoint holds its result, so a job killed in a
    # later fraction resumes without redoing the earlier ones
    if checkpoint_dir is not None:
        for label in fractions:
            drop_checkpoint(Path(checkpoint_dir) / f"f{label}.pt")
    return results


def make_coreset_table(job: CoresetTableReport, log=None) -> None:
    from prestorepro.report.coreset import make_coreset_table as build

    build(job.metrics, job.stem)


def make_coreset_figure(job: DatasetFigure, log=None) -> None:
    from prestorepro.report.coreset import make_coreset_figure as build

    build(job.metrics, job.dataset, job.stem, job.formats)
