"""The datasets of SPEC §1, registered by name in ``DATASETS``, and the two entry points.

- ``download_dataset(name, root, allow_download)``: the only place that touches the network.
- ``prepare_dataset(name, root, seed, **options)``: verified files -> ``Prepared`` splits; never
  downloads (SPEC §1: downloads run in their own step, with checksums).

Splits (SPEC §1): cifar10 / svhn keep the official test set and hold out a seeded, stratified 10% of the
official train set as validation; pathmnist / dermamnist / npz keep the file's own train/val/test;
digits is split seeded and stratified 60/20/20; the synthetic data of App. C 80/10/10, stratified by
true component and label.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from prestorepro.data.base import DATASETS, SPLITS, DataError, DatasetSpec, Prepared, RawFile
from prestorepro.data.download import expected_md5, fetch_official
from prestorepro.data.formats import read_cifar10, read_npz, read_svhn_mat, to_nhwc3, validate_splits
from prestorepro.data.synthetic import make_synthetic
from prestorepro.io import sha256_array, sha256_file

DIGIT_NAMES = [str(d) for d in range(10)]


# ----------------------------------------------------------------------------- helpers


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


def _assemble(
    spec: DatasetSpec,
    seed: int,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    num_classes: int,
    sources: list[dict[str, Any]],
    split_rule: str,
    label_names: list[str] | None = None,
    groups: dict[str, np.ndarray] | None = None,
    label_kind: str = "index",
) -> Prepared:
    """Build a Prepared with its meta (SPEC §1: shapes, split sizes, class counts, sources)."""
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


def _build_cifar10(spec, root, seed, checksums, val_fraction: float = 0.1) -> Prepared:
    paths = _official_paths(spec, root, checksums)
    raw = read_cifar10(paths[0])
    train, val = _holdout_val(raw["train_x"], raw["train_y"], val_fraction, seed)
    return _assemble(
        spec, seed, {"train": train, "val": val, "test": (raw["test_x"], raw["test_y"])}, 10,
        _sources(spec, paths, checksums),
        f"val: seeded stratified {val_fraction:g} of the official train set; official test set",
        label_names=raw["label_names"] or None,
    )


def _build_svhn(spec, root, seed, checksums, val_fraction: float = 0.1) -> Prepared:
    paths = _official_paths(spec, root, checksums)
    train_x, train_y = read_svhn_mat(paths[0])
    test_x, test_y = read_svhn_mat(paths[1])
    train, val = _holdout_val(train_x, train_y, val_fraction, seed)
    return _assemble(
        spec, seed, {"train": train, "val": val, "test": (test_x, test_y)}, 10,
        _sources(spec, paths, checksums),
        f"val: seeded stratified {val_fraction:g} of the official train set; official test set",
        label_names=DIGIT_NAMES,
    )


def _medmnist_info(flag: str) -> dict[str, Any]:
    from medmnist.info import INFO

    return INFO[flag]


def _medmnist_files(flag: str):
    def files() -> tuple[RawFile, ...]:
        info = _medmnist_info(flag)
        return (RawFile(f"{flag}.npz", info["url"], info["MD5"]),)  # size 28, as in the paper

    return files


def _build_medmnist(spec, root, seed, checksums) -> Prepared:
    paths = _official_paths(spec, root, checksums)
    info = _medmnist_info(spec.name)
    names = [info["label"][str(i)] for i in range(len(info["label"]))]
    splits, num_classes = validate_splits(read_npz(paths[0]), paths[0], len(names))
    return _assemble(
        spec, seed, splits, num_classes, _sources(spec, paths, checksums), "official train/val/test",
        label_names=names,
    )


def upsample_digits(images: np.ndarray, size: int = 32) -> np.ndarray:
    """(N, 8, 8) digits with values 0..16 -> (N, size, size) uint8 0..255, bilinear (SPEC §1-2).

    Half-pixel centres (``align_corners=False``), the convention of image resizing libraries.
    """
    import torch
    import torch.nn.functional as F

    small = torch.from_numpy(np.asarray(images, dtype=np.float64) * (255.0 / 16.0))[:, None]
    big = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()
    return np.clip(np.rint(big), 0, 255).astype(np.uint8)


def _build_digits(spec, root, seed, checksums, fractions=(0.6, 0.2, 0.2)) -> Prepared:
    import sklearn
    from sklearn.datasets import load_digits

    digits = load_digits()
    # ResNet18 runs at 32 px (SPEC §2), so the 8x8 digits are upsampled and made RGB here.
    x = to_nhwc3(upsample_digits(digits.images))
    y = digits.target.astype(np.int64)
    parts = stratified_split(y, tuple(fractions), seed)
    splits = {s: (x[idx], y[idx]) for s, idx in zip(SPLITS, parts)}
    source = {
        "file": "sklearn.datasets.load_digits",
        "path": None,
        "sha256": sha256_array(digits.images),
        "md5": None,
        "version": f"scikit-learn {sklearn.__version__}",
    }
    return _assemble(
        spec, seed, splits, 10, [source],
        f"seeded stratified {'/'.join(f'{f:g}' for f in fractions)} of 1797",
        label_names=DIGIT_NAMES,
    )


def _build_synthetic(spec, root, seed, checksums, n: int = 20000, fractions=(0.8, 0.1, 0.1)) -> Prepared:
    data_seed, split_seed = np.random.SeedSequence(seed).spawn(2)
    x, y, group = make_synthetic(n, np.random.default_rng(data_seed))
    split_state = int(split_seed.generate_state(1)[0] >> 1)  # 31 bits: a valid sklearn random_state
    # Stratify by component and label, so every split has the same share of each (App. C).
    parts = stratified_split(group * 2 + (y > 0), tuple(fractions), split_state)
    splits = {s: (x[idx], y[idx]) for s, idx in zip(SPLITS, parts)}
    groups = {s: group[idx] for s, idx in zip(SPLITS, parts)}
    source = {"file": "generated (App. C, Eqs. 35-38)", "path": None, "sha256": sha256_array(x), "md5": None}
    return _assemble(
        spec, seed, splits, 2, [source],
        f"seeded, stratified by true component and label, {'/'.join(f'{f:g}' for f in fractions)} of {n}",
        label_names=["-1", "+1"], groups=groups, label_kind="sign",
    )


def _build_npz(spec, root, seed, checksums, path=None, num_classes: int | None = None) -> Prepared:
    path = _npz_path({"path": path})
    splits, c = validate_splits(read_npz(path), path, num_classes)
    return _assemble(spec, seed, splits, c, [_file_source(path, None)], "the file's own train/val/test")


# ----------------------------------------------------------------------------- registry

_NO_FILES = lambda: ()  # noqa: E731

DATASETS.register("cifar10")(DatasetSpec(
    "cifar10", "CIFAR-10, official python tarball; val = seeded stratified 10% of train",
    lambda: (RawFile(
        "cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a"),),
    _fetch_official, _build_cifar10, {"val_fraction": 0.1},
))
DATASETS.register("svhn")(DatasetSpec(
    "svhn", "SVHN cropped digits (.mat); val = seeded stratified 10% of train",
    lambda: (
        RawFile("train_32x32.mat", "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
                "e26dedcc434d2e4c54c9b2d4a06d8373"),
        RawFile("test_32x32.mat", "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
                "eb5a983be6a315427106f1b164d9cef3"),
    ),
    _fetch_official, _build_svhn, {"val_fraction": 0.1},
))
for _flag in ("pathmnist", "dermamnist"):
    DATASETS.register(_flag)(DatasetSpec(
        _flag, f"MedMNIST {_flag} at 28x28, official splits", _medmnist_files(_flag),
        _fetch_official, _build_medmnist, {},
    ))
DATASETS.register("digits")(DatasetSpec(
    "digits", "scikit-learn digits, 8x8 upsampled to 32x32x3; seeded stratified 60/20/20",
    _NO_FILES, _fetch_embedded, _build_digits, {"fractions": (0.6, 0.2, 0.2)},
))
DATASETS.register("synthetic")(DatasetSpec(
    "synthetic", "degenerate 4-component mixture of App. C; seeded 80/10/10",
    _NO_FILES, _fetch_embedded, _build_synthetic, {"n": 20000, "fractions": (0.8, 0.1, 0.1)},
))
DATASETS.register("npz")(DatasetSpec(
    "npz", "bring-your-own .npz in the MedMNIST layout; the file's own splits",
    _NO_FILES, _fetch_npz, _build_npz, {"path": None, "num_classes": None},
))


# ----------------------------------------------------------------------------- entry points


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS.get(name)
    except KeyError as exc:
        raise DataError(f"{exc.args[0]}. Set the dataset name in the config to one of them.") from None


def _check_options(spec: DatasetSpec, options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = ", ".join(sorted(spec.options)) or "none"
        raise DataError(
            f"dataset {spec.name!r} takes the options: {accepted}; got unknown {', '.join(unknown)}. "
            f"Remove them from the config."
        )


def download_dataset(
    name: str,
    root: Path,
    allow_download: bool = True,
    *,
    checksums: Mapping[str, str] | None = None,
    **options: Any,
) -> list[Path]:
    """Make the raw files of dataset ``name`` available under ``root/<name>/``, verified (SPEC §1).

    Returns the verified paths ([] for embedded data; [path] for ``npz``, which takes ``path=`` and is
    validated instead). ``checksums`` maps file names to md5s that replace the official ones.
    """
    spec = get_spec(name)
    _check_options(spec, options)
    return spec.fetch(spec, Path(root), allow_download, checksums, **options)


def prepare_dataset(
    name: str,
    root: Path,
    seed: int,
    *,
    checksums: Mapping[str, str] | None = None,
    **options: Any,
) -> Prepared:
    """Load dataset ``name`` from verified files under ``root/<name>/`` and split it (SPEC §1).

    Never downloads: a missing file raises DataError naming it, its URL and where to put it.
    ``options`` are the dataset's own (``DATASETS.get(name).options`` lists them with their defaults).
    """
    spec = get_spec(name)
    _check_options(spec, options)
    return spec.build(spec, Path(root), int(seed), checksums, **options)
