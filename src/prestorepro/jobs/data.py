"""Jobs of workflow/rules/data.smk: the verified raw files of a dataset, and its prepared splits."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

import numpy as np

from prestorepro.io import write_json
from prestorepro.provenance import provenance

if TYPE_CHECKING:  # the jobs' argument types; a job reads its spec's attributes, and imports no spec
    from prestorepro.jobs.specs import DownloadJob, PrepareJob


def download_data(job: DownloadJob, log) -> None:
    """Fetch (or find) the raw files, verify them, and record their checksums in ``manifest``."""
    from prestorepro.data import download_dataset
    from prestorepro.io import sha256_file

    dataset_config, data_root, allow_download = job.dataset_config, job.data_root, job.allow_download
    manifest = job.manifest
    opts = {"path": dataset_config["path"]} if dataset_config["source"] == "npz" else {}
    paths = download_dataset(dataset_config["source"], Path(data_root), allow_download, **opts)
    for p in paths:
        log.info(f"verified {p}")
    write_json(manifest, {"source": dataset_config["source"],
                          "files": [{"path": str(p), "sha256": sha256_file(p)} for p in paths]})


def prepare_data(job: PrepareJob, log) -> None:
    """The dataset's train / val / test splits in one checksummed file (``max_train`` subsamples the
    training split, stratified by class). A bring-your-own file's training size is checked against the
    dataset's K and leeway here, with the config check's message, before anything is written."""
    from prestorepro.data import prepare_dataset, write_prepared

    dataset_config, data_root, split_seed = job.dataset_config, job.data_root, job.split_seed
    synthetic_n, out_npz, dataset = job.synthetic_n, job.out_npz, job.dataset
    src = dataset_config["source"]
    opts: dict = {}
    if src == "npz":
        opts["path"] = dataset_config["path"]
    if src == "synthetic":
        opts["n"] = synthetic_n
    if src == "standin":
        opts.update(like=dataset_config["like"], scale=dataset_config.get("scale", 1.0))
    prepared = prepare_dataset(src, Path(data_root), split_seed, **opts)
    if "max_train" in dataset_config and len(prepared.train_y) > dataset_config["max_train"]:
        keep = _stratified_subsample(prepared.train_y, dataset_config["max_train"], split_seed, dataset)
        prepared.train_x, prepared.train_y = prepared.train_x[keep], prepared.train_y[keep]
        if prepared.train_group is not None:
            prepared.train_group = prepared.train_group[keep]
        prepared.meta["max_train"] = int(dataset_config["max_train"])
        prepared.meta.setdefault("split_sizes", {})["train"] = int(len(keep))
        values = prepared.meta.get("label_values")
        if values is not None:
            prepared.meta.setdefault("class_counts", {})["train"] = [
                int((prepared.train_y == v).sum()) for v in values]
    if src == "npz":
        from prestorepro.config_checks import check_part_sizes

        check_part_sizes(dataset or "<dataset>", dict(dataset_config),
                         {dataset_config["k"]: f"datasets.{dataset or '<dataset>'}.k"}, len(prepared.train_y))
    if prepared.has_groups():
        from prestorepro.data.synthetic import component_boxes

        # all points of every split, as App. C describes D
        prepared.meta["components"] = component_boxes(
            np.concatenate([prepared.train_x, prepared.val_x, prepared.test_x]),
            np.concatenate([prepared.train_group, prepared.val_group, prepared.test_group]))
    prepared.meta["provenance"] = provenance(dict(dataset_config), split_seed)
    write_prepared(out_npz, prepared)
    log.info(f"prepared {src}: train {len(prepared.train_y)}, val {len(prepared.val_y)}, test {len(prepared.test_y)}")


def _stratified_subsample(y: np.ndarray, n: int, seed: int, dataset: str = "") -> np.ndarray:
    from sklearn.model_selection import train_test_split

    from prestorepro.errors import DataError

    idx = np.arange(len(y))
    try:
        keep, _ = train_test_split(idx, train_size=n, stratify=y, random_state=seed)
    except ValueError as exc:
        classes, counts = np.unique(y, return_counts=True)
        rare = [int(c) for c, m in zip(classes, counts) if m < 2]
        raise DataError(
            f"dataset {dataset!r}: cannot subsample its {len(y)} training examples to max_train = {n} stratified "
            f"by class ({exc}); "
            + (f"class(es) {', '.join(map(str, rare[:10]))} have a single training example, and a stratified "
               "subsample needs at least two of each: add examples of them, drop them, or remove max_train"
               if rare else f"max_train must keep at least one example of each of the {len(classes)} classes: "
                            f"raise it to at least {len(classes)}, or remove it")
            + ".") from None
    return np.sort(keep)
