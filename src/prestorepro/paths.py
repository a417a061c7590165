"""Every file a job writes and another job, the plan or the report reads, as one template each, relative to
the results root. The rules name their inputs and outputs with ``pattern`` (the template's fields kept as
Snakemake wildcards), the plan lists files with ``files`` (every combination of given values, like
Snakemake's ``expand``), and the report reads a file's fields back with ``parse``: a layout change is made
here once.

    {R}/data/{dataset}/prepared.npz ...                          the data stage
    {R}/embeddings/{dataset}/features.npz (+ features.json)      the embeddings and their sidecar
    {R}/table1/{dataset}/k{k}/{method}/seed{seed}/...            one Table-1 run (metrics.json, assignment.npz)
    {R}/synthetic/{dataset}/seed{seed}/...                       PRESTO on App. C's data (metrics.json, rounds.npz)
    {R}/synthetic/{dataset}/{smethod}/seed{seed}/...             a method beside it there
    {R}/compress/{dataset}/guide/{role}/seed{seed}/...           a guide network (model.pt, metrics.json)
    {R}/compress/{dataset}/{cmethod}/{point}/seed{seed}/...      one compress method at one budget point
    {R}/compress/{dataset}/{t1method}/k{k}/seed{seed}/...        a Table-1 run as a compress point
    {R}/coreset/{dataset}/{coreset_method}/f{fraction}/seed{seed}/metrics.json
    {R}/ablation/{dataset}/{variant}/seed{seed}/{file}
    {R}/paper_comparison.{ext}, {R}/tables/{name}.{ext}, {R}/figures/{name}.{ext}
"""
from __future__ import annotations

import itertools
import re
import string
from typing import Iterable

TEMPLATES = {
    "download": "data/{dataset}/download.json",
    "prepared": "data/{dataset}/prepared.npz",
    "prepared_meta": "data/{dataset}/prepared.meta.json",
    "features": "embeddings/{dataset}/features.npz",
    "features_meta": "embeddings/{dataset}/features.json",
    "table1_metrics": "table1/{dataset}/k{k}/{method}/seed{seed}/metrics.json",
    "table1_assignment": "table1/{dataset}/k{k}/{method}/seed{seed}/assignment.npz",
    "synthetic_metrics": "synthetic/{dataset}/seed{seed}/metrics.json",
    "synthetic_rounds": "synthetic/{dataset}/seed{seed}/rounds.npz",
    "synthetic_summary": "synthetic/{dataset}/summary.json",
    "synthetic_method_metrics": "synthetic/{dataset}/{smethod}/seed{seed}/metrics.json",
    "synthetic_method_rounds": "synthetic/{dataset}/{smethod}/seed{seed}/rounds.npz",
    "guide_model": "compress/{dataset}/guide/{role}/seed{seed}/model.pt",
    "guide_metrics": "compress/{dataset}/guide/{role}/seed{seed}/metrics.json",
    "compress_metrics": "compress/{dataset}/{cmethod}/{point}/seed{seed}/metrics.json",
    "compress_table1_metrics": "compress/{dataset}/{t1method}/k{k}/seed{seed}/metrics.json",
    "coreset_metrics": "coreset/{dataset}/{coreset_method}/f{fraction}/seed{seed}/metrics.json",
    "ablation": "ablation/{dataset}/{variant}/seed{seed}/{file}",
    "paper_comparison": "paper_comparison.{ext}",
    "table": "tables/{name}.{ext}",
    "figure": "figures/{name}.{ext}",
}


def fields(template: str) -> list[str]:
    """The fields of ``template``, in order."""
    return [f for _, f, _, _ in string.Formatter().parse(TEMPLATES[template]) if f]


def _put(template: str, values: dict) -> str:
    """``template`` with the given fields filled in and every other field left as it is (``{field}``)."""
    out = []
    for literal, field, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if field:
            out.append(str(values[field]) if field in values else "{" + field + "}")
    return "".join(out)


def relative(template: str, **fixed) -> str:
    """``template`` relative to the results root, the fields in ``fixed`` filled in."""
    unknown = set(fixed) - set(fields(template))
    if unknown:
        raise KeyError(f"template {template!r} has no field {sorted(unknown)}; its fields: {fields(template)}")
    return _put(TEMPLATES[template], fixed)


def pattern(root: str, template: str, **fixed) -> str:
    """``{root}/<template>``: the fields in ``fixed`` filled in (a value may itself be a wildcard such as
    ``"{image_dataset}"``, renaming the field for one rule), the others kept as Snakemake wildcards."""
    return f"{root}/{relative(template, **fixed)}"


def stem(root: str, kind: str, name: str) -> str:
    """A table's or figure's path without its extension (``kind``: "table" or "figure"): a report job writes
    one file per format beside it."""
    return pattern(root, kind, name=name).removesuffix(".{ext}")


def files(root: str, template: str, **values: Iterable) -> list[str]:
    """Every combination of ``values`` (a field -> the values it takes, a string for one value) put into
    ``template``, in order (Snakemake's ``expand``); fields not given stay wildcards."""
    keys = list(values)
    choices = [[v] if isinstance(v, (str, int)) else list(v) for v in values.values()]
    return [pattern(root, template, **dict(zip(keys, combo))) for combo in itertools.product(*choices)]


def _regex(template: str) -> re.Pattern:
    out = []
    for literal, field, _, _ in string.Formatter().parse(TEMPLATES[template]):
        out.append(re.escape(literal))
        if field:
            out.append(f"(?P<{field}>[^/]+)")
    return re.compile("(?:^|/)" + "".join(out) + "$")


def parse(template: str, path: str) -> dict[str, str]:
    """The fields of a file written under ``template`` (whatever the results root), read from its path; a
    path of another layout is an error that names both."""
    match = _regex(template).search(str(path).replace("\\", "/"))
    if match is None:
        raise ValueError(f"{path} is not a file of the layout {TEMPLATES[template]!r} (prestorepro.paths)")
    return match.groupdict()
