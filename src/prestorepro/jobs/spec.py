"""What a job's spec is: one typed, frozen dataclass holding everything the job is given, built in one place
(the specs themselves: ``jobs.specs`` for the data and training jobs, ``jobs.report_specs`` for the tables and
figures).

Each field says where its value comes from:

- ``wildcard()``: the job's wildcard (converted, e.g. ``int`` for a seed);
- ``setting(of)``: a setting, ``of(plan)`` being the value or a function of the wildcards
  (``prestorepro.plan``); the rule passes them all as its params (``params: **Spec.params(P)``), so the
  settings stamp and Snakemake's own records hold exactly what the job reads;
- ``from_job(build)``: built from the job's files (``build(snakemake)``), e.g. a dataset's embeddings;
- ``output()``: one of the job's outputs;
- ``given(default)``: not part of a workflow job; set by code that runs the job itself (the ablation runs
  each variant as a Table-1 or synthetic job with its own label).

A job script is then one line (``run_script(snakemake, Table1Job, train_table1)``), and the job function
takes the spec and a logger. This module imports nothing heavy: the workflow reads it while it plans.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

_SOURCE = "prestorepro.source"


def wildcard(name: str | None = None, convert: Callable = str):
    return field(metadata={_SOURCE: "wildcards", "name": name, "convert": convert})


def setting(of: Callable[[Any], Any] | None, name: str | None = None):
    """``of=None``: a setting the rule itself gives (``params(plan, key=value)``)."""
    return field(metadata={_SOURCE: "params", "name": name, "of": of})


def output(name: str | None = None, convert: Callable | None = None):
    return field(metadata={_SOURCE: "output", "name": name, "convert": convert})


def from_job(build: Callable[[Any], Any]):
    return field(metadata={_SOURCE: "job", "build": build})


def given(default: Any):
    return field(default=default, metadata={_SOURCE: None})


@dataclass(frozen=True)
class Embeddings:
    """A dataset's embeddings: the feature maps (``features.npz``) with their sidecar (``features.json``),
    one value from the rule to the loader (``prestorepro.features.load_embeddings``), which checks the one
    against the other."""
    features: str
    meta: str

    @classmethod
    def of_job(cls, job) -> "Embeddings":
        return cls(str(job.input.features), str(job.input.meta))


class JobSpec:
    """What every spec shares: its rule's params and its construction from a Snakemake job. ``trains``: the
    job computes with torch (its thread count is set; a table or figure job never imports torch)."""

    trains: ClassVar[bool] = False

    @classmethod
    def params(cls, plan, **overrides) -> dict[str, Any]:
        """The rule's params: every ``setting`` under its params name, from ``plan`` (``overrides``: a rule
        that gives one of them another value, by params name)."""
        out = {}
        for f in dataclasses.fields(cls):
            if f.metadata.get(_SOURCE) == "params":
                key = f.metadata["name"] or f.name
                if key in overrides:
                    out[key] = overrides.pop(key)
                elif f.metadata["of"] is None:
                    raise KeyError(f"{cls.__name__}.params: the rule gives {key}=...")
                else:
                    out[key] = f.metadata["of"](plan)
        if overrides:
            raise KeyError(f"{cls.__name__} has no setting {sorted(overrides)}")
        return out

    @classmethod
    def from_snakemake(cls, job) -> "JobSpec":
        """The spec of one Snakemake job (a script's ``snakemake`` object)."""
        values = {}
        for f in dataclasses.fields(cls):
            source = f.metadata.get(_SOURCE)
            if source is None:
                continue
            if source == "job":
                values[f.name] = f.metadata["build"](job)
                continue
            value = getattr(getattr(job, source), f.metadata["name"] or f.name)
            convert = f.metadata.get("convert")
            values[f.name] = convert(value) if convert else value
        return cls(**values)


def config(*keys: str) -> Callable[[Any], Any]:
    def of(plan):
        value = plan.run.config
        for key in keys:
            value = value[key]
        return value

    return of


def checkpoint(template: str) -> Callable[[Any], str]:
    return lambda plan: f"{plan.run.results}/checkpoints/{template}"


def device():
    return setting(config("device"))


def precision():
    return setting(config("precision"))
