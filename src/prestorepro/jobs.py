"""The jobs of the workflow as plain functions of paths and resolved config.

``workflow/scripts/*.py`` only unpack Snakemake's ``snakemake`` object and call these, so every job
can be run and tested without Snakemake.
"""
from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Iterator

import numpy as np

from prestorepro.io import write_json, write_npz
from prestorepro.provenance import provenance


@contextlib.contextmanager
def job_log(path: str | Path | None, name: str) -> Iterator[logging.Logger]:
    """A logger writing to the rule's log file; stderr (tqdm progress bars) goes there too."""
    logger = logging.getLogger(f"prestorepro.{name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
    if path is None:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        logger.addHandler(handler)
        yield logger
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        with contextlib.redirect_stderr(stream):
            try:
                yield logger
            except Exception:
                logger.exception("job failed")
                raise
            finally:
                logger.removeHandler(handler)


def set_threads(n: int) -> None:
    import torch  # here, not at the top: the report jobs use job_log and need no torch

    torch.set_num_threads(max(1, int(n)))


def download(dataset_cfg: dict, data_root: str, allow_download: bool, manifest: str, log) -> None:
    from prestorepro.data import download_dataset
    from prestorepro.io import sha256_file

    opts = {"path": dataset_cfg["path"]} if dataset_cfg["source"] == "npz" else {}
    paths = download_dataset(dataset_cfg["source"], Path(data_root), allow_download, **opts)
    for p in paths:
        log.info(f"verified {p}")
    write_json(manifest, {"source": dataset_cfg["source"],
                          "files": [{"path": str(p), "sha256": sha256_file(p)} for p in paths]})


def prepare(dataset_cfg: dict, config: dict, out_npz: str, log) -> None:
    from prestorepro.data import prepare_dataset, write_prepared

    src = dataset_cfg["source"]
    opts: dict = {}
    if src == "npz":
        opts["path"] = dataset_cfg["path"]
    if src == "synthetic":
        opts["n"] = config["synthetic"]["n"]
    prepared = prepare_dataset(src, Path(config["data_root"]), config["split_seed"], **opts)
    if "max_train" in dataset_cfg and len(prepared.train_y) > dataset_cfg["max_train"]:
        keep = _stratified_subsample(prepared.train_y, dataset_cfg["max_train"], config["split_seed"])
        prepared.train_x, prepared.train_y = prepared.train_x[keep], prepared.train_y[keep]
        if prepared.train_group is not None:
            prepared.train_group = prepared.train_group[keep]
        prepared.meta["max_train"] = int(dataset_cfg["max_train"])
        prepared.meta.setdefault("split_sizes", {})["train"] = int(len(keep))
        values = prepared.meta.get("label_values")
        if values is not None:
            prepared.meta.setdefault("class_counts", {})["train"] = [
                int((prepared.train_y == v).sum()) for v in values]
    prepared.meta["provenance"] = provenance(dataset_cfg, config["split_seed"])
    write_prepared(out_npz, prepared)
    log.info(f"prepared {src}: train {len(prepared.train_y)}, val {len(prepared.val_y)}, test {len(prepared.test_y)}")


def _stratified_subsample(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    keep, _ = train_test_split(idx, train_size=n, stratify=y, random_state=seed)
    return np.sort(keep)


def embed(prepared_npz: str, dataset_cfg: dict, config: dict, out_npz: str, out_json: str, log) -> None:
    from prestorepro.data import load_prepared
    from prestorepro.device import resolve_device
    from prestorepro.embed import build_trunk, extract_features
    from prestorepro.io import sha256_array

    device = resolve_device(config["device"])
    emb = config["embedding"]
    data = load_prepared(prepared_npz)
    trunk = build_trunk(emb["weights"], dataset_cfg["cut"], seed=emb["seed"])
    arrays, shapes = {}, {}
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        arrays[f"{split}_x"] = extract_features(x, trunk, batch_size=emb["batch_size"], device=device,
                                                desc=f"embed {split}", log=log.info)
        # the trunk's output is checked in float32; float16 storage can still overflow to inf
        bad = int(np.count_nonzero(~np.isfinite(arrays[f"{split}_x"])))
        if bad:
            raise FloatingPointError(
                f"embedding of {prepared_npz}: {bad} feature values of the {split} split are non-finite after "
                f"conversion to float16 (|value| > 65504); nothing was written to {out_npz}")
        arrays[f"{split}_y"] = y.astype(np.int64)
        shapes[split] = list(arrays[f"{split}_x"].shape)
    write_npz(out_npz, **arrays)
    write_json(out_json, {
        "shapes": shapes, "feature_shape": shapes["train"][1:], "dtype": "float16", "cut": dataset_cfg["cut"],
        "weights": emb["weights"], "num_classes": data.num_classes, "image_shape": list(data.train_x.shape[1:]),
        "checksums": {k: sha256_array(v) for k, v in arrays.items()},
        "provenance": provenance({"dataset": dataset_cfg, "embedding": emb}, emb["seed"], device),
    })


def train_table1(features_npz: str, features_json: str, dataset_cfg: dict, config: dict, method: str, k: int,
                 seed: int, out_metrics: str, out_assignment: str, checkpoint: str | None, log, *,
                 dataset_name: str = "", other_gates: bool = True) -> dict:
    """One Table-1 run. Every error names the run as ``[<dataset> <method> seed <s>]`` and, for a
    non-finite value, the round (or "before round 1" for the embeddings)."""
    from prestorepro.device import resolve_device
    from prestorepro.experiments.table1 import RunSpec, run_method
    from prestorepro.features import Features

    label = f"{dataset_name} {method} seed {seed}".strip()
    device = resolve_device(config["device"])
    feats = Features.from_embedding(features_npz, features_json, device, context=f"[{label}] before round 1")
    spec = RunSpec(method=method, k=int(k), seed=int(seed), widths=tuple(config["components"]["widths"]),
                   presto=config["presto"], table1=config["table1"], dataset=dataset_cfg, label=label,
                   other_gates=other_gates)
    out = run_method(feats, spec, log=log.info, checkpoint_path=checkpoint)
    model = out["model"]
    # §4.2: PRESTO's total is sum_k dim(theta_k), the K components; the gate's own count beside it
    n_params = model.num_parameters_per_component() * model.k
    gate_params = sum(p.numel() for p in out["gate"].parameters()) if "gate" in out else 0
    metrics = {
        "dataset": dataset_cfg, "method": method, "k": int(k), "seed": int(seed),
        "test_accuracy": out["test_accuracy"], "test_macro_f1": out["test_macro_f1"],
        "val_accuracy": out["val_accuracy"], "val_macro_f1": out["val_macro_f1"],
        "num_parameters": int(n_params), "gate_parameters": int(gate_params), "part_sizes": np.bincount(out["assignment"], minlength=k).tolist(),
        "routing": out["routing"], "notes": out["notes"], "seconds": out["seconds"], "history": out["history"],
        "provenance": provenance({k_: config[k_] for k_ in ("presto", "table1", "components", "embedding")},
                                 seed, device),
    }
    for key in ("objective", "rounds_run", "stop_reason", "gate_train_agreement", "gate_inputs"):
        if key in out:
            metrics[key] = out[key]
    write_npz(out_assignment, train_assignment=out["assignment"].astype(np.int16),
              test_routes=np.asarray(out["test_routes"]).astype(np.int16))
    write_json(out_metrics, metrics)
    if checkpoint and Path(checkpoint).exists():
        Path(checkpoint).unlink()
    log.info(f"{method} k={k} seed={seed}: test accuracy {metrics['test_accuracy']:.4f}, "
             f"macro-F1 {metrics['test_macro_f1']:.4f}")
    return metrics


def synthetic(prepared_npz: str, config: dict, seed: int, out_metrics: str, out_rounds: str,
              checkpoint: str | None, log, *, dataset_name: str = "synthetic", other_gates: bool = True) -> dict:
    from prestorepro.config import ALGORITHM_KEYS
    from prestorepro.data import load_prepared
    from prestorepro.device import resolve_device
    from prestorepro.experiments.synthetic import run_synthetic

    device = resolve_device(config["device"])
    data = load_prepared(prepared_npz)
    try:
        metrics, arrays = run_synthetic(data, config["synthetic"], config["presto"], int(seed), device,
                                        log=log.info, checkpoint_path=checkpoint, label=dataset_name,
                                        other_gates=other_gates)
    except FloatingPointError as exc:
        # run_synthetic names the round; add the run
        raise FloatingPointError(f"dataset {dataset_name}, method presto (linear SVMs), seed {seed}: {exc}") from exc
    metrics["provenance"] = provenance({"synthetic": config["synthetic"],
                                        "presto": {key: config["presto"][key] for key in ALGORITHM_KEYS}},
                                       seed, device)
    write_npz(out_rounds, **arrays)
    write_json(out_metrics, metrics)
    if checkpoint and Path(checkpoint).exists():
        Path(checkpoint).unlink()
    f = metrics["final"]
    log.info(f"synthetic seed {seed}: accuracy {f['train_accuracy_assigned']:.4f}, "
             f"Err_S {f['err_s']} ({f['err_s_normalised']:.4f})")
    return metrics


def ablation(kind: str, variants: dict, outputs: dict, seed: int, checkpoint_dir: str, log, *, dataset_name: str,
             run_variant) -> None:
    """Every variant of one dataset and seed in one job (each variant is one run of Algorithm 1 taking
    seconds, so a job per variant would spend most of its time importing torch and scikit-learn).

    ``variants``: name -> its settings; ``outputs``: name -> {role: path}; ``run_variant(name, settings,
    paths, checkpoint)`` runs one. A finished variant's files are kept under ``checkpoint_dir`` with the
    fingerprint of its settings, so a killed job resumes with the variant it was in (from its last
    round) instead of starting over; the kept copies go when the job ends.
    """
    import shutil

    from prestorepro.io import atomic_path, fingerprint, write_text

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
            log.info(f"{dataset_name} ablation {name} seed {seed}: restored from {done}")
            continue
        run_variant(name, settings, paths, str(root / f"{name}.pt"))
        done.mkdir(parents=True, exist_ok=True)
        for role, p in paths.items():
            with atomic_path(kept[role]) as tmp:
                shutil.copyfile(p, tmp)
        write_text(done / "key", key)  # last: a variant counts as done only with all its files kept
    shutil.rmtree(root, ignore_errors=True)
