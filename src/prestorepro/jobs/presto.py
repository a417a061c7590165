"""Jobs of workflow/rules/presto.smk: one Table-1 run (PRESTO or a baseline), one synthetic run."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from prestorepro.io import write_npz
from prestorepro.jobs.common import finish, header
from prestorepro.provenance import provenance

if TYPE_CHECKING:  # the jobs' argument types; a job reads its spec's attributes, and imports no spec
    from prestorepro.jobs.specs import SyntheticJob, SyntheticMethodJob, Table1Job


def train_table1(job: Table1Job, log) -> dict:
    """One Table-1 run. Every error names the run as ``[<label>]`` (``job.name``: default
    ``<dataset> <method> seed <s>``) and, for a non-finite value, the round (or "before round 1" for the embeddings).

    ``job.sequential`` (a PRESTO run that is also a point of the compress stage): Algorithm 1 in sequential
    mode with the features on the host and its memory measured (``table1.gated``), after the compress
    jobs' warm-up, so that its peaks compare with theirs. The one model (kind ``single``) is always
    measured so, being Table 2's row too."""
    import torch

    from prestorepro.catalogue import method as catalogue_method
    from prestorepro.device import resolve_device
    from prestorepro.features import Features
    from prestorepro.table1.run import RunSpec, run_method

    label, method, k, seed = job.name, job.method, job.k, job.seed
    dev = resolve_device(job.device)
    if job.sequential and method != "presto":
        raise ValueError(f"[{label}] only PRESTO runs in sequential mode (the compress stage's PRESTO point)")
    measured = job.sequential or catalogue_method("table1", method).kind == "single"
    feats = Features.load_embeddings(job.embeddings, torch.device("cpu") if measured else dev,
                                     context=f"[{label}] before round 1")
    if measured:
        from prestorepro.training.warmup import warm_up

        warm_up(dev, feats.cut, feats.num_classes, feats.train_x.shape[1:], freeze=True)
    spec = RunSpec(method=method, k=k, seed=seed, widths=tuple(job.widths), presto=dict(job.presto),
                   table1=dict(job.table1), dataset=dict(job.dataset_config), label=label,
                   other_gates=job.other_gates, compute_device=dev if measured else None, options=dict(job.options))
    out = run_method(feats, spec, log=log.info, checkpoint_path=job.checkpoint)
    model = out["model"]
    # the K components, sum_k dim(theta_k) (the one model: its own count); each predictor's own count is in
    # its entry (the combiner's (K*C+1)*C completes the paper's printed total, SPEC §3)
    n_params = out.get("num_parameters", None)
    if n_params is None:
        n_params = model.num_parameters_per_component() * model.k
    metrics = {
        **header(dataset=job.dataset, dataset_config=job.dataset_config, method=method, seed=seed), "k": k,
        "predictors": out["predictors"],
        "num_parameters": int(n_params),
        "part_sizes": np.bincount(out["assignment"], minlength=k).tolist(),
        "notes": out["notes"], "seconds": out["seconds"], "history": out["history"],
        "provenance": provenance({"presto": dict(job.presto), "table1": dict(job.table1),
                                  "components": {"widths": list(job.widths)}, "embedding": dict(job.embedding),
                                  **({"options": dict(job.options)} if job.options else {})}, seed, dev),
    }
    for key in ("objective", "rounds_run", "stop_reason", "size_bounds", "gate_inputs", "mode", "memory", "widths",
                "presto_parameters", "gradient_steps", "loss", "epoch_seconds"):
        if key in out:
            metrics[key] = out[key]
    write_npz(job.out_assignment, train_assignment=out["assignment"].astype(np.int16),
              test_routes=np.asarray(out["test_routes"]).astype(np.int16))
    finish(metrics, job.out_metrics, job.checkpoint)
    for name, p in metrics["predictors"].items():
        log.info(f"{method} k={k} seed={seed}, {name}: test accuracy {p['test_accuracy']:.4f}, "
                 f"macro-F1 {p['test_macro_f1']:.4f}")
    return metrics


def synthetic_experiment(job: SyntheticJob, log) -> dict:
    """PRESTO with linear SVMs on the synthetic data (App. C): the run's history and Err_S per round."""
    from prestorepro.data import load_prepared
    from prestorepro.device import resolve_device
    from prestorepro.synthetic.run import SyntheticRun, run_synthetic

    label, seed = job.label or job.dataset, job.seed
    dev = resolve_device(job.device)
    data = load_prepared(job.prepared)
    try:
        run = SyntheticRun(job.synthetic, job.algorithm, seed, job.checkpoint, label, job.other_gates, job.diagnostics)
        metrics, arrays = run_synthetic(data, run, dev, log=log.info)
    except FloatingPointError as exc:
        # run_synthetic names the round; add the run
        raise FloatingPointError(f"dataset {label}, method presto (linear SVMs), seed {seed}: {exc}") from exc
    metrics = {**header(dataset=job.dataset, dataset_config=job.dataset_config, method="presto", seed=seed), **metrics,
               "provenance": provenance({"synthetic": dict(job.synthetic), "presto": dict(job.algorithm)}, seed, dev)}
    write_npz(job.out_rounds, **arrays)
    finish(metrics, job.out_metrics, job.checkpoint)
    f = metrics["final"]
    log.info(f"synthetic seed {seed}: accuracy {f['train_accuracy_assigned']:.4f}, "
             f"Err_S {f['err_s']} ({f['err_s_normalised']:.4f})")
    return metrics


def synthetic_method(job: SyntheticMethodJob, log) -> dict:
    """A Table-1 method other than PRESTO on App. C's synthetic data (catalogue ``synthetic``): the mixture of
    experts with K linear experts; its rounds and Err_S in PRESTO's synthetic format."""
    from prestorepro.data import load_prepared
    from prestorepro.device import resolve_device
    from prestorepro.synthetic.methods import SYNTHETIC_RUNNERS

    method, seed = job.method, job.seed
    label = f"{job.dataset} {method} seed {seed}"
    dev = resolve_device(job.device)
    data = load_prepared(job.prepared)
    metrics, arrays = SYNTHETIC_RUNNERS.get(method)(data, job.synthetic, job.options, seed, dev, log=log.info,
                                                    checkpoint_path=job.checkpoint, label=label)
    metrics = {**header(dataset=job.dataset, dataset_config=job.dataset_config, method=method, seed=seed), **metrics,
               "provenance": provenance({"synthetic": dict(job.synthetic), "options": dict(job.options)}, seed, dev)}
    write_npz(job.out_rounds, **arrays)
    finish(metrics, job.out_metrics, job.checkpoint)
    return metrics
