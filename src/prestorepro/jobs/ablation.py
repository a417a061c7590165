"""Jobs of workflow/rules/ablation.smk: every variant of one dataset and seed in one job, and the
ablation table and figure from their metrics."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Mapping, Sequence

from prestorepro.io import atomic_path, fingerprint, write_text


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


def train_ablation(*, features: str, meta: str, dataset: str, variants: Sequence[str], settings: Mapping,
                   table1: Mapping, widths: Sequence[int], embedding: Mapping, k: int, seed: int, device: str,
                   out_metrics: Sequence[str], out_assignments: Sequence[str], checkpoint_dir: str, log) -> None:
    """The image-data variants: each a Table-1 PRESTO run with its dataset entry and presto section."""
    from prestorepro.ablation import CONFIGURED
    from prestorepro.jobs.presto import train_table1

    outputs = {v: {"metrics": m, "assignment": a} for v, m, a in zip(variants, out_metrics, out_assignments)}

    def run_variant(name, s, paths, checkpoint):
        train_table1(features=features, meta=meta, dataset=dataset, dataset_config=s["dataset"], method="presto",
                     k=int(k), seed=int(seed), presto=s["presto"], table1=table1, widths=widths, embedding=embedding,
                     device=device, out_metrics=paths["metrics"], out_assignment=paths["assignment"],
                     checkpoint=checkpoint, log=log, label=f"{dataset} ablation {name}",
                     other_gates=name == CONFIGURED)

    run_bundle("image", settings, outputs, seed, checkpoint_dir, log, dataset=dataset, run_variant=run_variant)


def synthetic_ablation(*, prepared: str, dataset: str, dataset_config: Mapping, variants: Sequence[str],
                       settings: Mapping, seed: int, device: str, out_metrics: Sequence[str],
                       out_rounds: Sequence[str], checkpoint_dir: str, log) -> None:
    """The synthetic-data variants: each a synthetic run with its synthetic section and algorithm settings."""
    from prestorepro.ablation import CONFIGURED
    from prestorepro.jobs.presto import synthetic_experiment

    outputs = {v: {"metrics": m, "rounds": r} for v, m, r in zip(variants, out_metrics, out_rounds)}

    def run_variant(name, s, paths, checkpoint):
        synthetic_experiment(prepared=prepared, dataset=dataset, dataset_config=dataset_config,
                             synthetic=s["synthetic"], algorithm=s["algorithm"], seed=int(seed), device=device,
                             out_metrics=paths["metrics"], out_rounds=paths["rounds"], checkpoint=checkpoint,
                             log=log, label=f"{dataset} ablation {name}", other_gates=name == CONFIGURED,
                             diagnostics=False)

    run_bundle("synthetic", settings, outputs, seed, checkpoint_dir, log, dataset=dataset, run_variant=run_variant)


def make_ablation(*, layout: Mapping, sources: Mapping[str, str], presto: Mapping, table_stem: str, figure_stem: str,
                  formats: Sequence[str], predict: str = "combiner") -> None:
    """The ablation table and figure (``report.ablation``) from the variants' metrics files."""
    from prestorepro.report.ablation import make_ablation as build

    build(layout, sources, presto, table_stem, figure_stem, formats, predict)
