"""The set-up tables: PRESTO's parameter counts against the paper's totals, Table 4 (dataset statistics) and
Table 5 with App. B.3 (hyper-parameters)."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from prestorepro.models.parameters import presto_parameters
from prestorepro.report.paper import PRESTO_SHARED, SYNTHETIC, TABLE4, TABLE5, TRAIN_INCLUDES_VAL, paper_parameters
from prestorepro.report.tables import _int_columns


def params_frame(datasets: Mapping[str, dict], widths, gate_input: str) -> pd.DataFrame:
    """PRESTO's parameter count per dataset and K: the K components, the combiner ((K*C+1)*C) and their
    sum, next to the paper's printed total, which it equals on the paper's datasets (SPEC §3); the
    router's gate pi_phi reading ``gate_input`` beside them. ``datasets[name]`` holds source, cut,
    num_classes, features and ``k``, or ``ks`` (several K: the paper's sweep end points)."""
    rows = []
    for name, d in datasets.items():
        for k in d.get("ks", [d["k"]]):
            c = presto_parameters(d["cut"], widths, d["num_classes"], k, gate_input=gate_input,
                                  features=d["features"])
            paper = paper_parameters(d["source"], k)
            rows.append({"dataset": name, "K": k, "cut": d["cut"], "classes": d["num_classes"],
                         "per_component": c["per_component"], "components": c["components"],
                         "combiner": c["combiner"], "components_and_combiner": c["total"], "paper_total": paper,
                         "diff": None if paper is None else c["total"] - paper,
                         "gate_input": gate_input, "gate": c["gate"], "components_and_gate": c["components_and_gate"]})
    return _int_columns(pd.DataFrame(rows), ["paper_total", "diff"])


def per_class_stats(counts) -> tuple[float, float]:
    """Table 4's "#Avg points per class": mean and population std (ddof 0) of the class counts."""
    a = np.asarray(counts, dtype=float)
    return float(a.mean()), float(a.std())


def table4_frame(metas: Mapping[str, dict], sources: Mapping[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """Paper Table 4 (App. B.1): dataset statistics from the prepared data's meta, the paper's beside.

    ``metas[name]`` is a ``prepared.meta.json``; ``sources[name]`` its loader. Paper datasets that
    are not configured appear with the paper's numbers only. ``train_compared`` is what the paper's
    #Train counts: our train split, plus our validation split where SPEC §1 carves it out of the
    official training set (CIFAR10, SVHN); the per-class statistics are over the same points."""
    rows, notes = [], []
    for name, meta in metas.items():
        source = sources[name]
        sizes, counts = meta["split_sizes"], meta["class_counts"]
        carved = source in TRAIN_INCLUDES_VAL
        train_counts = np.asarray(counts["train"]) + (np.asarray(counts["val"]) if carved else 0)
        mean, std = per_class_stats(train_counts)
        paper = TABLE4.get(source, {})
        rows.append({
            "dataset": name, "classes": int(meta["num_classes"]),
            "instances": int(sizes["train"] + sizes["val"] + sizes["test"]),
            "train": int(sizes["train"]), "val": int(sizes["val"]), "test": int(sizes["test"]),
            "train_compared": int(train_counts.sum()),
            "per_class_mean": round(mean, 2), "per_class_std": round(std, 2),
            "paper_classes": paper.get("classes"), "paper_instances": paper.get("instances"),
            "paper_train": paper.get("train"), "paper_test": paper.get("test"),
            "paper_per_class_mean": paper.get("per_class", (None, None))[0],
            "paper_per_class_std": paper.get("per_class", (None, None))[1],
        })
        if carved:
            notes.append(f"{name}: validation carved out of the official training set (SPEC §1); "
                         "train_compared = train + val, as the paper's #Train")
        if "max_train" in meta:
            notes.append(f"{name}: training split subsampled to max_train = {meta['max_train']}")
        if not paper:
            notes.append(f"{name}: not in the paper's Table 4 ({meta.get('split_rule', 'own split')})")
    configured = set(sources.values())
    for source, paper in TABLE4.items():
        if source not in configured:
            rows.append({"dataset": source, "paper_classes": paper["classes"], "paper_instances": paper["instances"],
                         "paper_train": paper["train"], "paper_test": paper["test"],
                         "paper_per_class_mean": paper["per_class"][0], "paper_per_class_std": paper["per_class"][1]})
    notes.append("per class: mean ± population std (ddof 0) of the training class counts, as the paper's "
                 "'#Avg points per class' (which SVHN's official counts reproduce exactly); rows without our "
                 "numbers are paper datasets not in this config")
    df = pd.DataFrame(rows)
    return _int_columns(df, ["classes", "instances", "train", "val", "test", "train_compared", "paper_classes",
                             "paper_instances", "paper_train", "paper_test"]), notes


TABLE5_KEYS = ("k", "init", "leeway", "epsilon")


def table5_frame(datasets: Mapping[str, dict], presto: Mapping, synthetic: Mapping | None = None
                 ) -> tuple[pd.DataFrame, list[str]]:
    """Paper Table 5 + App. B.3: PRESTO's hyper-parameters from the resolved config, the paper's beside.

    ``datasets``: the image datasets' resolved config entries; ``presto``: config["presto"] (the
    settings shared by every image dataset); ``synthetic``: config["synthetic"] (App. C's own
    settings) when a synthetic dataset is configured."""
    rows = []
    shared = {key: presto[key] for key in PRESTO_SHARED}
    for name, d in datasets.items():
        paper = TABLE5.get(d["source"], {})
        row = {"dataset": name}
        for key in TABLE5_KEYS:
            row[key] = d[key]
            row[f"paper_{key}"] = paper.get(key)
        row.update(shared)
        rows.append(row)
    if synthetic is not None:
        row = {"dataset": "synthetic"}
        for key in TABLE5_KEYS:
            row[key] = synthetic[key]
            row[f"paper_{key}"] = 4 if key == "k" else None  # App. C: K = 4 linear SVMs
        row.update({key: synthetic.get(key) for key in PRESTO_SHARED})
        row["paper_rounds"] = SYNTHETIC["final_round"]
        rows.append(row)
    configured = {d["source"] for d in datasets.values()}
    for source, paper in TABLE5.items():
        if source not in configured:
            rows.append({"dataset": source, **{f"paper_{key}": paper[key] for key in TABLE5_KEYS}})
    df = pd.DataFrame(rows)
    notes = ["paper, every dataset (App. B.3): " + ", ".join(f"{k} {v:g}" for k, v in PRESTO_SHARED.items()),
             "rows without our values are paper datasets not in this config"]
    if synthetic is not None:
        notes.append("synthetic: App. C settings from config['synthetic'] (K = 4 SVMs, Fig. 6 up to r = 50); "
                     "it has no pi_phi")
    return _int_columns(df, ["k", "paper_k", "leeway", "paper_leeway", "rounds", "paper_rounds", "epochs",
                             "gate_epochs", "combiner_epochs"]), notes
