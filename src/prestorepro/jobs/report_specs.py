"""The table and figure jobs' specs (``prestorepro.jobs.spec``: what a spec is and where each field comes from).
A report job reads metrics files and the settings its table shows; none imports torch."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

from prestorepro.jobs.spec import JobSpec, config as _config, device as _device, from_job, output, setting, wildcard


def _stem(kind: str):
    """A table's (``kind="table"``) or figure's path without its extension, from the job's outputs: the stem
    of its CSV, or of its first file in one of the configured formats (its ``formats`` setting)."""

    def build(job) -> str:
        if kind == "table":
            hits = [f for f in job.output if str(f).endswith(".csv")]
        else:
            hits = [f for f in job.output
                    if os.path.splitext(str(f))[1][1:] in job.params.formats and not str(f).endswith(".csv")]
        if not hits:
            raise ValueError(f"no {kind} output among {list(job.output)}")
        return os.path.splitext(str(hits[0]))[0]

    return from_job(build)


def _files(name: str):
    return from_job(lambda job: [str(f) for f in getattr(job.input, name)])


def _formats():
    return setting(lambda p: p.run.formats)


def _predict():
    return setting(_config("presto", "predict"))


@dataclass(frozen=True)
class Table1Report(JobSpec):
    """Table 1 from every Table-1 run (rule ``make_table1``)."""
    metrics: Sequence[str] = _files("metrics")
    stem: str = _stem("table")
    predict: str = _predict()
    names: Sequence[str] = setting(lambda p: p.run.table1_names())  # the report caption's list of methods


@dataclass(frozen=True)
class ParamsReport(JobSpec):
    """PRESTO's parameter counts (rule ``make_params_table``)."""
    sidecars: Mapping[str, str] = from_job(lambda job: dict(zip(job.params.names, map(str, job.input.sidecars))))
    stem: str = _stem("table")
    names: Sequence[str] = setting(lambda p: p.run.image_datasets)
    datasets: Mapping = setting(lambda p: {d: p.run.config["datasets"][d] for d in p.run.image_datasets})
    widths: Sequence[int] = setting(_config("components", "widths"))
    gate_input: str = setting(_config("presto", "gate_input"))


@dataclass(frozen=True)
class Table4Report(JobSpec):
    """Table 4: the datasets' statistics from their prepared splits (rule ``make_table4``)."""
    metas: Mapping[str, str] = from_job(lambda job: dict(zip(job.params.names, map(str, job.input.metas))))
    stem: str = _stem("table")
    names: Sequence[str] = setting(lambda p: p.run.datasets)
    sources: Mapping[str, str] = setting(lambda p: {d: p.run.config["datasets"][d]["source"] for d in p.run.datasets})


@dataclass(frozen=True)
class Table5Report(JobSpec):
    """Table 5: PRESTO's hyper-parameters from the resolved config (rule ``make_table5``)."""
    stem: str = _stem("table")
    datasets: Mapping = setting(lambda p: {d: p.run.config["datasets"][d] for d in p.run.image_datasets})
    presto: Mapping = setting(lambda p: p.run.table5_presto())
    synthetic: Mapping | None = setting(lambda p: p.run.config["synthetic"] if p.run.synthetic_datasets else None)


@dataclass(frozen=True)
class SyntheticSummary(JobSpec):
    """PRESTO's synthetic runs and the methods beside it, over seeds (rule ``summarize_synthetic``)."""
    metrics: Sequence[str] = _files("metrics")
    methods: Sequence[str] = _files("methods")
    out_json: str = from_job(lambda job: str(job.output[0]))


@dataclass(frozen=True)
class SyntheticTableReport(JobSpec):
    """App. C's table on one synthetic dataset (rule ``make_synthetic_table``)."""
    summary: str = from_job(lambda job: str(job.input.summary))
    prepared_meta: str = from_job(lambda job: str(job.input.prepared_meta))
    stem: str = _stem("table")


@dataclass(frozen=True)
class Fig6Report(JobSpec):
    """Fig. 6: one synthetic run's partitions round by round (rules ``make_fig6``, ``make_fig6_method``)."""
    rounds: str = from_job(lambda job: str(job.input.rounds))
    metrics: str = from_job(lambda job: str(job.input.metrics))
    stem: str = _stem("figure")
    snapshot_rounds: Sequence[int] = setting(_config("synthetic", "snapshot_rounds"))
    formats: Sequence[str] = _formats()


@dataclass(frozen=True)
class Fig7Report(JobSpec):
    """Fig. 7 and its table: accuracy against K (rule ``make_fig7``)."""
    metrics: Sequence[str] = _files("metrics")
    table_stem: str = _stem("table")
    figure_stem: str = _stem("figure")
    formats: Sequence[str] = _formats()
    predict: str = _predict()


@dataclass(frozen=True)
class DatasetFigure(JobSpec):
    """A figure of one dataset from its metrics files (rules ``make_presto_rounds``: PRESTO round by round;
    ``make_coreset_figure``: accuracy against subset size)."""
    dataset: str = wildcard()
    metrics: Sequence[str] = _files("metrics")
    stem: str = _stem("figure")
    formats: Sequence[str] = _formats()


@dataclass(frozen=True)
class ComparisonReport(JobSpec):
    """Every table against the paper's numbers (rule ``make_paper_comparison``); ``origin``: the config files
    and command-line overrides of the run (the rule gives it: only Snakemake knows them)."""
    tables: Mapping[str, str] = from_job(lambda job: {k: str(v) for k, v in job.input.items()
                                                      if k not in ("code", "settings")})
    out_md: str = output("md")
    out_html: str = output("html")
    sources: Mapping[str, str] = setting(lambda p: {d: p.run.config["datasets"][d]["source"] for d in p.run.datasets})
    origin: Mapping = setting(None)  # the rule gives it
    device: str = _device()
    predict: str = _predict()

    @property
    def results(self) -> str:
        """The results folder (the comparison sits at its top)."""
        return os.path.dirname(self.out_md)


@dataclass(frozen=True)
class Table2Report(JobSpec):
    """Table 2 from the compress stage's runs (rule ``make_table2``)."""
    metrics: Sequence[str] = _files("metrics")
    stem: str = _stem("table")
    predict: str = _predict()


@dataclass(frozen=True)
class TradeoffReport(JobSpec):
    """Accuracy against memory on one dataset, or paper Fig. 3 / Fig. 8 (``figure``; rules
    ``make_tradeoff_figure``, ``make_paper_tradeoff_figure``)."""
    metrics: Sequence[str] = _files("metrics")
    stem: str = _stem("figure")
    formats: Sequence[str] = _formats()
    figure: str | None = from_job(lambda job: getattr(job.wildcards, "figure", None))  # the figure's title


@dataclass(frozen=True)
class CoresetTableReport(JobSpec):
    """The coreset table (rule ``make_coreset_table``)."""
    metrics: Sequence[str] = _files("metrics")
    stem: str = _stem("table")


@dataclass(frozen=True)
class AblationReport(JobSpec):
    """The ablation table and figure (rule ``make_ablation``)."""
    table_stem: str = _stem("table")
    figure_stem: str = _stem("figure")
    datasets: Mapping[str, str] = setting(lambda p: {d: p.run.config["datasets"][d]["source"] for d in p.run.datasets})
    presto: Mapping = setting(lambda p: {key: p.run.config["presto"][key] for key in ABLATION_PRESTO_KEYS})
    layout: Mapping = setting(lambda p: p.ablation.layout)
    formats: Sequence[str] = _formats()
    predict: str = _predict()


# the presto keys the ablation's table reads (its configured row's settings)
ABLATION_PRESTO_KEYS = ("gate_input", "singleton", "keep", "alpha", "max_moves", "reassign")
