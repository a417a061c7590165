"""How the dataset builders turn raw arrays into ``Prepared`` splits: seeded stratified splits, the
validation hold-out, the assembled metadata (label counts, checksums, sources), and the fetchers of
official, embedded and bring-your-own files."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from prestorepro.data.base import SPLITS, DatasetSpec, Prepared
from prestorepro.errors import DataError
from prestorepro.data.download import expected_md5, fetch_official
from prestorepro.data.npz import read_npz, validate_splits
from prestorepro.io import sha256_file


def stratified_split(
    strata: np.ndarray, fractions: tuple[float, ...], seed: int
) -> tuple[np.ndarray, ...]:
    """Seeded stratified split of ``range(len(strata))`` into len(fractions) parts (each sorted).

    Every part after the first gets ``round(fraction * N)`` examples and the first the rest (60/20/20
    of 1797 digits: 1079/359/359). The parts are cut off from the end, one stratified
    ``train_test_split`` per cut, so each cut keeps what remains stratified.
    """
    from sklearn.model_selection import train_test_split

    if not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise DataError(f"split fractions {fractions} must be positive and sum to 1; fix them in the config.")
    n = len(strata)
    rest = np.arange(n)
    tail_parts = []
    for i, frac in enumerate(reversed(fractions[1:])):
        size = int(round(frac * n))
        try:
            rest, part = train_test_split(rest, test_size=size, stratify=strata[rest], random_state=seed + i)
        except ValueError as exc:
            counts = {int(k): int(v) for k, v in zip(*np.unique(strata[rest], return_counts=True))}
            raise DataError(
                f"cannot split {n} examples stratified into fractions {tuple(fractions)} ({exc}); "
                f"examples per class: {counts}. Every class needs enough examples for every split -- "
                f"use more data or drop the rare classes."
            ) from exc
        tail_parts.append(np.sort(part))
    return (np.sort(rest), *reversed(tail_parts))


def _label_counts(y: np.ndarray, values: list[int]) -> list[int]:
    return [int(np.sum(y == v)) for v in values]


def _file_source(path: Path, md5: str | None) -> dict[str, Any]:
    return {"file": path.name, "path": str(path), "sha256": sha256_file(path), "md5": md5}


@dataclass(frozen=True)
class LabelScheme:
    """A dataset's labels: ``num_classes`` classes, labelled ``0..C-1`` (``kind`` "index") or -1/+1
    (``kind`` "sign", the synthetic data), with their ``names`` (default: the label values as text)."""

    num_classes: int
    names: list[str] | None = None
    kind: str = "index"


def _assemble(
    spec: DatasetSpec,
    seed: int,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    label_scheme: LabelScheme,
    sources: list[dict[str, Any]],
    split_rule: str,
    groups: dict[str, np.ndarray] | None = None,
) -> Prepared:
    """Build a Prepared with its meta (SPEC §1: shapes, split sizes, class counts, sources)."""
    num_classes, label_names, label_kind = label_scheme.num_classes, label_scheme.names, label_scheme.kind
    values = [-1, 1] if label_kind == "sign" else list(range(num_classes))
    x0 = splits["train"][0]
    meta: dict[str, Any] = {
        "name": spec.name,
        "seed": int(seed),
        "num_classes": int(num_classes),
        "label_kind": label_kind,
        "label_values": values,
        "label_names": label_names if label_names is not None else [str(v) for v in values],
        "example_shape": list(x0.shape[1:]),
        "image_shape": list(x0.shape[1:]) if x0.ndim == 4 else None,  # (H, W, 3); None for 2-d points
        "dtype": str(x0.dtype),
        "split_sizes": {s: int(len(splits[s][1])) for s in SPLITS},
        "class_counts": {s: _label_counts(splits[s][1], values) for s in SPLITS},
        "split_rule": split_rule,
        "sources": sources,
    }
    if groups is not None:
        k = int(max(g.max() for g in groups.values())) + 1
        meta["group_counts"] = {s: np.bincount(groups[s], minlength=k).tolist() for s in SPLITS}
    return Prepared(
        train_x=splits["train"][0], train_y=splits["train"][1],
        val_x=splits["val"][0], val_y=splits["val"][1],
        test_x=splits["test"][0], test_y=splits["test"][1],
        num_classes=int(num_classes), meta=meta,
        train_group=None if groups is None else groups["train"],
        val_group=None if groups is None else groups["val"],
        test_group=None if groups is None else groups["test"],
    )


def _holdout_val(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int):
    train_idx, val_idx = stratified_split(y, (1.0 - val_fraction, val_fraction), seed)
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])


# ----------------------------------------------------------------------------- fetch strategies


def _fetch_official(spec: DatasetSpec, root: Path, allow_download: bool, checksums, **options) -> list[Path]:
    return fetch_official(spec.name, spec.raw_files(), Path(root), allow_download, checksums)


def _fetch_embedded(spec: DatasetSpec, root: Path, allow_download: bool, checksums, **options) -> list[Path]:
    return []  # shipped with scikit-learn / generated: nothing to fetch


def _npz_path(options: Mapping[str, Any]) -> Path:
    if options.get("path") is None:
        raise DataError(
            "dataset 'npz' needs the path of your file: pass path=... (config key of the dataset), "
            "a .npz with train_images, train_labels, val_images, val_labels, test_images, test_labels."
        )
    return Path(options["path"])


def _fetch_npz(spec: DatasetSpec, root: Path, allow_download: bool, checksums, **options) -> list[Path]:
    path = _npz_path(options)
    validate_splits(read_npz(path), path, options.get("num_classes"))
    return [path]


# ----------------------------------------------------------------------------- builders


def _official_paths(spec: DatasetSpec, root: Path, checksums) -> list[Path]:
    # allow_download=False: preparing never touches the network (SPEC §1).
    return fetch_official(spec.name, spec.raw_files(), Path(root), False, checksums)


def _sources(spec: DatasetSpec, paths: list[Path], checksums) -> list[dict[str, Any]]:
    return [_file_source(p, expected_md5(r, checksums)) for p, r in zip(paths, spec.raw_files())]
