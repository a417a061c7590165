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

from prestorepro.data.assemble import (
    LabelScheme,
    _assemble,
    _fetch_embedded,
    _fetch_npz,
    _fetch_official,
    _file_source,
    _holdout_val,
    _npz_path,
    _official_paths,
    _sources,
    stratified_split,
)
from prestorepro.data.base import DATASETS, SPLITS, DatasetSpec, Prepared, RawFile
from prestorepro.errors import DataError
from prestorepro.data.formats import read_cifar10, read_svhn_mat, to_nhwc3
from prestorepro.data.npz import read_npz, validate_splits
from prestorepro.data.synthetic import make_synthetic
from prestorepro.io import sha256_array

DIGIT_NAMES = [str(d) for d in range(10)]


# ----------------------------------------------------------------------------- builders


def _build_cifar10(spec, root, seed, checksums, val_fraction: float = 0.1) -> Prepared:
    paths = _official_paths(spec, root, checksums)
    raw = read_cifar10(paths[0])
    train, val = _holdout_val(raw["train_x"], raw["train_y"], val_fraction, seed)
    return _assemble(
        spec, seed, {"train": train, "val": val, "test": (raw["test_x"], raw["test_y"])},
        LabelScheme(10, names=raw["label_names"] or None), _sources(spec, paths, checksums),
        f"val: seeded stratified {val_fraction:g} of the official train set; official test set",
    )


def _build_svhn(spec, root, seed, checksums, val_fraction: float = 0.1) -> Prepared:
    paths = _official_paths(spec, root, checksums)
    train_x, train_y = read_svhn_mat(paths[0])
    test_x, test_y = read_svhn_mat(paths[1])
    train, val = _holdout_val(train_x, train_y, val_fraction, seed)
    return _assemble(
        spec, seed, {"train": train, "val": val, "test": (test_x, test_y)}, LabelScheme(10, names=DIGIT_NAMES),
        _sources(spec, paths, checksums),
        f"val: seeded stratified {val_fraction:g} of the official train set; official test set",
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
        spec, seed, splits, LabelScheme(num_classes, names=names), _sources(spec, paths, checksums),
        "official train/val/test",
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
        spec, seed, splits, LabelScheme(10, names=DIGIT_NAMES), [source],
        f"seeded stratified {'/'.join(f'{f:g}' for f in fractions)} of 1797",
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
        spec, seed, splits, LabelScheme(2, names=["-1", "+1"], kind="sign"), [source],
        f"seeded, stratified by true component and label, {'/'.join(f'{f:g}' for f in fractions)} of {n}",
        groups=groups,
    )


def _build_standin(spec, root, seed, checksums, like=None, scale: float = 1.0) -> Prepared:
    from prestorepro.data.standin import STANDINS, make_standin

    if like not in STANDINS:
        raise DataError(f"a stand-in dataset needs like: one of {', '.join(sorted(STANDINS))}; got {like!r}. "
                        f"Set it in the dataset's config.")
    if not 0 < float(scale) <= 1:
        raise DataError(f"stand-in scale {scale!r} must be in (0, 1]; it scales the paper's split sizes down")
    splits = make_standin(like, seed, float(scale))
    source = {"file": f"generated stand-in for {like} (prestorepro.data.standin)", "path": None,
              "sha256": sha256_array(splits["train"][0]), "md5": None}
    classes = STANDINS[like].num_classes
    return _assemble(
        spec, seed, splits, LabelScheme(classes, names=[f"class{c}" for c in range(classes)]), [source],
        f"generated with {like}'s prepared split sizes" + (f" x {float(scale):g}" if float(scale) != 1 else ""),
    )


def _build_npz(spec, root, seed, checksums, path=None, num_classes: int | None = None) -> Prepared:
    path = _npz_path({"path": path})
    splits, c = validate_splits(read_npz(path), path, num_classes)
    return _assemble(spec, seed, splits, LabelScheme(c), [_file_source(path, None)], "the file's own train/val/test")


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
DATASETS.register("standin")(DatasetSpec(
    "standin", "generated class-structured images with a paper dataset's shape, classes and split sizes",
    _NO_FILES, _fetch_embedded, _build_standin, {"like": None, "scale": 1.0},
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
