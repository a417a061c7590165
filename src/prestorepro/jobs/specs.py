"""The data and training jobs' specs (``prestorepro.jobs.spec``: what a spec is and where each field comes from)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from prestorepro.jobs.spec import (Embeddings, JobSpec, checkpoint as _checkpoint, config as _config,
                                   device as _device, from_job, given, output, precision as _precision, setting,
                                   wildcard)


@dataclass(frozen=True)
class Table1Job(JobSpec):
    """One Table-1 run (rule ``train_table1``): a method at K on a dataset's embeddings, one seed.
    ``sequential``: a PRESTO run that is also a point of the compress stage (Algorithm 1 in sequential mode,
    its memory measured)."""
    trains = True
    dataset: str = wildcard()
    method: str = wildcard()
    k: int = wildcard(convert=int)
    seed: int = wildcard(convert=int)
    embeddings: Embeddings = from_job(Embeddings.of_job)
    out_metrics: str = output("metrics")
    out_assignment: str = output("assignment")
    device: str = _device()
    precision: str = _precision()
    embedding: Mapping = setting(_config("embedding"))
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")
    presto: Mapping = setting(lambda p: p.run.train_presto)
    table1: Mapping = setting(lambda p: p.run.train_table1)
    options: Mapping = setting(lambda p: p.run.method_options)  # the method's own option section (table1.<options>)
    widths: Sequence[int] = setting(_config("components", "widths"))
    checkpoint: str | None = setting(_checkpoint("table1/{dataset}/k{k}/{method}/seed{seed}.pt"))
    sequential: bool = setting(lambda p: p.compress.table1_sequential)
    label: str | None = given(None)  # how errors name the run (default "<dataset> <method> seed <s>")
    other_gates: bool = given(True)  # also train pi_phi on the other gate inputs

    @property
    def name(self) -> str:
        return self.label or f"{self.dataset} {self.method} seed {self.seed}"


@dataclass(frozen=True)
class SyntheticDataJob(JobSpec):
    """What a run on App. C's synthetic data reads and writes (its metrics and its rounds for Fig. 6)."""
    trains = True
    dataset: str = wildcard()
    seed: int = wildcard(convert=int)
    prepared: str = from_job(lambda job: str(job.input.data))
    out_metrics: str = output("metrics")
    out_rounds: str = output("rounds")
    device: str = _device()
    precision: str = _precision()
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")
    synthetic: Mapping = setting(_config("synthetic"))


@dataclass(frozen=True)
class SyntheticJob(SyntheticDataJob):
    """PRESTO with linear SVMs on App. C's synthetic data (rule ``synthetic_experiment``)."""
    algorithm: Mapping = setting(lambda p: p.run.algorithm)
    checkpoint: str | None = setting(_checkpoint("synthetic/{dataset}/seed{seed}.pt"))
    label: str | None = given(None)
    other_gates: bool = given(True)
    diagnostics: bool = given(True)  # the per-round diagnostics of App. C (the ablation's variants skip them)


@dataclass(frozen=True)
class SyntheticMethodJob(SyntheticDataJob):
    """A Table-1 method beside PRESTO on App. C's synthetic data (rule ``synthetic_method``)."""
    method: str = wildcard("smethod")
    options: Mapping = setting(lambda p: p.run.method_options)
    checkpoint: str | None = setting(_checkpoint("synthetic/{dataset}/{smethod}/seed{seed}.pt"))


@dataclass(frozen=True)
class GuideJob(JobSpec):
    """A dense guide network of the compress stage (rule ``train_guide``): teacher, assistant or reference."""
    trains = True
    dataset: str = wildcard()
    role: str = wildcard()
    seed: int = wildcard(convert=int)
    embeddings: Embeddings = from_job(Embeddings.of_job)
    out_model: str = output("model")
    out_metrics: str = output("metrics")
    device: str = _device()
    precision: str = _precision()
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")
    settings: Mapping = setting(lambda p: p.compress.guide_settings)
    checkpoint: str | None = setting(_checkpoint("compress/{dataset}/guide/{role}/seed{seed}.pt"))


def _guide_files(job, kind: str) -> dict[str, str]:
    suffix = "" if kind == "model" else "_metrics"
    return {role: str(getattr(job.input, f"guide_{role}{suffix}")) for role in job.params.roles}


@dataclass(frozen=True)
class CompressJob(JobSpec):
    """One compress method (SNIP, GraSP, KD, DGKD) at one budget point (rule ``train_compress``)."""
    trains = True
    dataset: str = wildcard()
    method: str = wildcard("cmethod")
    point: str = wildcard()
    seed: int = wildcard(convert=int)
    embeddings: Embeddings = from_job(Embeddings.of_job)
    guide_models: Mapping[str, str] = from_job(lambda job: _guide_files(job, "model"))  # role -> model.pt
    guide_metrics: Mapping[str, str] = from_job(lambda job: _guide_files(job, "metrics"))  # role -> metrics.json
    out_metrics: str = output("metrics")
    device: str = _device()
    precision: str = _precision()
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")
    settings: Mapping = setting(lambda p: p.compress.method_settings)
    presto_widths: Sequence[int] = setting(_config("components", "widths"))
    roles: Sequence[str] = setting(lambda p: p.compress.method_guide_roles)
    checkpoint: str | None = setting(_checkpoint("compress/{dataset}/{cmethod}/{point}/seed{seed}.pt"))


@dataclass(frozen=True)
class Table1PointJob(JobSpec):
    """A Table-1 run as a point of the compress stage (rule ``table1_point``): trains nothing."""
    dataset: str = wildcard()
    method: str = wildcard("t1method")
    k: int = wildcard(convert=int)
    seed: int = wildcard(convert=int)
    table1_metrics: str = from_job(lambda job: str(job.input.table1))
    meta: str = from_job(lambda job: str(job.input.meta))  # the embeddings' sidecar
    out_metrics: str = output("metrics")
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")


@dataclass(frozen=True)
class CoresetJob(JobSpec):
    """One coreset method and seed at every subset fraction (rules ``train_coreset``, ``train_coreset_full``:
    the full data is the method "full" at the one fraction 1)."""
    trains = True
    dataset: str = wildcard()
    method: str = from_job(lambda job: getattr(job.wildcards, "coreset_method", "full"))
    seed: int = wildcard(convert=int)
    embeddings: Embeddings = from_job(Embeddings.of_job)
    out_metrics: Sequence[str] = output("metrics", convert=list)  # aligned with ``fractions``
    device: str = _device()
    precision: str = _precision()
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")
    fractions: Mapping[str, float] = setting(lambda p: p.coreset.fractions)  # label -> fraction
    coreset: Mapping = setting(lambda p: p.coreset.job_settings)
    widths: Sequence[int] = setting(_config("components", "widths"))
    checkpoint_dir: str | None = setting(_checkpoint("coreset/{dataset}/{coreset_method}/seed{seed}"))


@dataclass(frozen=True)
class AblationImageJob(JobSpec):
    """Every ablation variant of PRESTO on one image dataset and seed (rule ``train_ablation``), each a
    Table-1 PRESTO run with its variant's dataset entry and presto section."""
    trains = True
    dataset: str = wildcard("image_dataset")
    seed: int = wildcard(convert=int)
    embeddings: Embeddings = from_job(Embeddings.of_job)
    out_metrics: Sequence[str] = output("metrics", convert=list)  # aligned with ``variants``
    out_assignments: Sequence[str] = output("assignments", convert=list)
    device: str = _device()
    precision: str = _precision()
    embedding: Mapping = setting(_config("embedding"))
    variants: Sequence[str] = setting(lambda p: p.ablation.runs_of("image"))
    settings: Mapping = setting(lambda p: p.ablation.image_settings)  # variant -> {dataset, presto}
    table1: Mapping = setting(lambda p: p.run.train_table1)
    widths: Sequence[int] = setting(_config("components", "widths"))
    k: int = setting(lambda p: p.ablation.k)
    checkpoint_dir: str = setting(_checkpoint("ablation/{image_dataset}/seed{seed}"))


@dataclass(frozen=True)
class AblationSyntheticJob(JobSpec):
    """Every ablation variant of PRESTO on one synthetic dataset and seed (rule ``synthetic_ablation``)."""
    trains = True
    dataset: str = wildcard("synthetic_dataset")
    seed: int = wildcard(convert=int)
    prepared: str = from_job(lambda job: str(job.input.data))
    out_metrics: Sequence[str] = output("metrics", convert=list)  # aligned with ``variants``
    out_rounds: Sequence[str] = output("rounds", convert=list)
    device: str = _device()
    precision: str = _precision()
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")
    variants: Sequence[str] = setting(lambda p: p.ablation.runs_of("synthetic"))
    settings: Mapping = setting(lambda p: p.ablation.synthetic_settings)  # variant -> {synthetic, algorithm}
    checkpoint_dir: str = setting(_checkpoint("ablation/{synthetic_dataset}/seed{seed}"))


# ------------------------------------------------------------------------------------------ data stage


@dataclass(frozen=True)
class DownloadJob(JobSpec):
    """A dataset's download, checked against its checksums (rule ``download_data``)."""
    manifest: str = output()
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")
    data_root: str = setting(_config("data_root"))
    allow_download: bool = setting(_config("download"))


@dataclass(frozen=True)
class PrepareJob(JobSpec):
    """A dataset's splits in one file (rule ``prepare_data``)."""
    dataset: str = wildcard()
    out_npz: str = output("npz")
    data_root: str = setting(_config("data_root"))
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")
    split_seed: int = setting(_config("split_seed"))
    synthetic_n: int = setting(_config("synthetic", "n"))


@dataclass(frozen=True)
class EmbedJob(JobSpec):
    """A dataset's ResNet18 feature maps at its cut and their sidecar (rule ``embed``)."""
    trains = True
    prepared: str = from_job(lambda job: str(job.input.data))
    out_npz: str = output("npz")
    out_json: str = output("meta")
    device: str = _device()
    dataset_config: Mapping = setting(lambda p: p.run.dataset_cfg, name="dataset")
    embedding: Mapping = setting(_config("embedding"))
