"""Shared types of the data stage (SPEC §1): the error type, a prepared dataset, dataset specs.

A prepared dataset is three splits of arrays held in memory:

- image datasets: ``*_x`` uint8, NHWC, 3 channels (grayscale replicated); ``*_y`` int64 in 0..C-1;
- the synthetic data of App. C: ``*_x`` float32 of shape (N, 2); ``*_y`` int64 in {-1, +1} (the
  hinge-loss labels of the paper's SVM components); ``*_group`` int64 in 0..3, the true component.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from prestorepro.registry import Registry

SPLITS = ("train", "val", "test")




@dataclass(frozen=True)
class RawFile:
    """One official raw file: its name under ``root/<dataset>/``, where to fetch it, its md5."""

    filename: str
    url: str
    md5: str


@dataclass
class Prepared:
    """The three splits of one dataset, ready for the embedding stage (SPEC §1).

    ``label_kind`` is ``"index"`` (labels 0..C-1) for classification data and ``"sign"`` (labels
    -1/+1) for the synthetic SVM data of App. C.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    num_classes: int
    meta: dict[str, Any] = field(default_factory=dict)
    train_group: np.ndarray | None = None
    val_group: np.ndarray | None = None
    test_group: np.ndarray | None = None

    @property
    def label_kind(self) -> str:
        return self.meta.get("label_kind", "index")

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of split ``name`` (one of train, val, test)."""
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; valid splits are: {', '.join(SPLITS)}")
        return getattr(self, f"{name}_x"), getattr(self, f"{name}_y")

    def has_groups(self) -> bool:
        return self.train_group is not None


@dataclass(frozen=True)
class DatasetSpec:
    """How to get and prepare one dataset.

    - ``raw_files()``: the official files (a function, so that specs whose checksums come from an
      optional library, medmnist, do not import it until used); empty for embedded data.
    - ``fetch(spec, root, allow_download, checksums, **options) -> list[Path]``: make the raw files
      available and verified (download, checksum, or validate a user's file).
    - ``build(spec, root, seed, checksums, **options) -> Prepared``: load verified files and split them.
    - ``options``: the keyword options ``build`` accepts, with their defaults (SPEC §1 values).
    """

    name: str
    description: str
    raw_files: Callable[[], tuple[RawFile, ...]]
    fetch: Callable[..., list[Path]]
    build: Callable[..., Prepared]
    options: dict[str, Any] = field(default_factory=dict)


DATASETS: Registry[DatasetSpec] = Registry("dataset")
