"""Jobs of workflow/rules/ablation.smk: every variant of one dataset and seed in one job, and the
ablation table and figure from their metrics."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from prestorepro.io import atomic_path, fingerprint, write_text

if TYPE_CHECKING:  # the jobs' argument types; a job reads its spec's attributes, and imports no spec
    from prestorepro.jobs.specs import AblationImageJob, AblationSyntheticJob
    from prestorepro.jobs.report_specs import AblationReport


def run_bundle(kind: str, variants: Mapping, outputs: Mapping, seed: int, checkpoint_dir: str, log, *,
               dataset: str, run_variant: Callable[[str, Mapping, Mapping, str], None]) -> None:
    """Every variant of one dataset and seed in one job (each variant is one run of Algorithm 1 taking
    seconds, so a job per variant would spend most of its time importing torch and scikit-learn).

    ``variants``: name -> its settings; ``outputs``: name -> {role: path}; ``run_variant(name, settings,
    paths, checkpoint)`` runs one. A finished variant's files are kept under ``checkpoint_dir`` with the
    fingerprint of its settings, so a killed job resumes with the variant it was in (from its last
    round) instead of starting over; the kept copies go when the job ends.
    """
    root = Path(checkpoint_dir)
    for name, settings in variants.items():
        paths = outputs[name]
        done = root / name
        key = fingerprint(kind=kind, seed=int(seed), settings=settings)
        kept = {role: done / Path(p).name for role, p in paths.items()}
        if (done / "key").exists() and (done / "key").read_text() == key and all(k.exists() for k in kept.values()):
            for role, p in paths.items():
                with atomic_path(p) as tmp:
                    shutil.copyfile(kept[role], tmp)
            log.info(f"{dataset} ablation {name} seed {seed}: restored from {done}")
            continue
        run_variant(name, settings, paths, str(root / f"{name}.pt"))
        done.mkdir(parents=True, exist_ok=True)
        for role, p in paths.items():
            with atomic_path(kept[role]) as tmp:
                shutil.copyfile(p, tmp)
        write_text(done / "key", key)  # last: a variant counts as done only with all its files kept
    shutil.rmtree(root, ignore_errors=True)


def image_variant(job: AblationImageJob, name: str, paths: Mapping[str, str], checkpoint: str):
    """The Table-1 PRESTO run of variant ``name`` (its dataset entry and presto section), writing ``paths``."""
    from prestorepro.ablation import CONFIGURED
    from prestorepro.jobs.specs import Table1Job

    s = job.settings[name]
    return Table1Job(dataset=job.dataset, method="presto", k=int(job.k), seed=int(job.seed), embeddings=job.embeddings,
                     out_metrics=paths["metrics"], out_assignment=paths["assignment"], device=job.device,
                     precision=job.precision, embedding=job.embedding, dataset_config=s["dataset"],
                     presto=s["presto"], table1=job.table1, options={}, widths=job.widths, checkpoint=checkpoint,
                     sequential=False, label=f"{job.dataset} ablation {name}", other_gates=name == CONFIGURED)


def synthetic_variant(job: AblationSyntheticJob, name: str, paths: Mapping[str, str], checkpoint: str):
    """The synthetic run of variant ``name`` (its synthetic section and algorithm settings, without App. C's
    per-round diagnostics), writing ``paths``."""
    from prestorepro.ablation import CONFIGURED
    from prestorepro.jobs.specs import SyntheticJob

    s = job.settings[name]
    return SyntheticJob(dataset=job.dataset, seed=int(job.seed), prepared=job.prepared, out_metrics=paths["metrics"],
                        out_rounds=paths["rounds"], device=job.device, precision=job.precision,
                        dataset_config=job.dataset_config, synthetic=s["synthetic"], algorithm=s["algorithm"],
                        checkpoint=checkpoint, label=f"{job.dataset} ablation {name}",
                        other_gates=name == CONFIGURED, diagnostics=False)


def train_ablation(job: AblationImageJob, log) -> None:
    """The image-data variants: each a Table-1 PRESTO run with its dataset entry and presto section."""
    from prestorepro.jobs.presto import train_table1

    outputs = {v: {"metrics": m, "assignment": a}
               for v, m, a in zip(job.variants, job.out_metrics, job.out_assignments)}

    def run_variant(name, s, paths, checkpoint):
        train_table1(image_variant(job, name, paths, checkpoint), log)

    run_bundle("image", job.settings, outputs, job.seed, job.checkpoint_dir, log, dataset=job.dataset,
               run_variant=run_variant)


def synthetic_ablation(job: AblationSyntheticJob, log) -> None:
    """The synthetic-data variants: each a synthetic run with its synthetic section and algorithm settings."""
    from prestorepro.jobs.presto import synthetic_experiment

    outputs = {v: {"metrics": m, "rounds": r} for v, m, r in zip(job.variants, job.out_metrics, job.out_rounds)}

    def run_variant(name, s, paths, checkpoint):
        synthetic_experiment(synthetic_variant(job, name, paths, checkpoint), log)

    run_bundle("synthetic", job.settings, outputs, job.seed, job.checkpoint_dir, log, dataset=job.dataset,
               run_variant=run_variant)


def make_ablation(job: AblationReport, log=None) -> None:
    """The ablation table and figure (``report.ablation``) from the variants' metrics files."""
    from prestorepro.report.ablation import make_ablation as build

    build(job.layout, job.datasets, job.presto, job.table_stem, job.figure_stem, job.formats, job.predict)
