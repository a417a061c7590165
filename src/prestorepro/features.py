"""The embedding stage's output loaded for training: feature maps in the training precision (float32 unless
``precision: float64``) and int64 labels per split.

A module of its own (numpy and torch only), so that every training stage loads features the same way
without importing another stage's dependencies (Table 1 pulls in the clustering stack)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from prestorepro.errors import DataError
from prestorepro.io import read_stage_npz, sha256_array
from prestorepro.metrics import split_metrics

SPLITS = ("train", "val", "test")


def _verify(path: Path, arrays: dict, side: dict, fix: str) -> None:
    recorded = side.get("checksums") or {}
    shapes = side.get("shapes") or {}
    for key, arr in arrays.items():
        split = key.split("_")[0]
        if key.endswith("_x") and split in shapes and list(arr.shape) != list(shapes[split]):
            raise DataError(f"{path}: {key} has shape {list(arr.shape)}, {Path(path).with_suffix('.json').name} "
                            f"records {shapes[split]}: the file does not belong to its sidecar; {fix}.")
        if key in recorded and sha256_array(arr) != recorded[key]:
            raise DataError(f"{path}: {key} does not match the sha256 recorded in its features.json: the file was "
                            f"altered after it was written; {fix}.")


@dataclass
class Features:
    """Embeddings of one dataset on the training device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    cut: str

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str, num_classes: int, cut: str,
             sidecar: dict | None = None) -> "Features":
        """``features.npz`` on ``device``. With ``sidecar`` (its ``features.json``) every array's shape and
        sha256 are checked against the ones recorded when it was written: an altered or mismatched file
        is refused. DataError names the file and the fix; FloatingPointError a non-finite value."""
        path = Path(path)
        fix = f"delete {path} and re-run the embedding stage (snakemake --forcerun embed)"
        arrays = read_stage_npz(path, f"embeddings {path} do not exist; run the embedding stage for this "
                                      "dataset first.", fix)
        keys = [f"{split}_{part}" for split in SPLITS for part in ("x", "y")]
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise DataError(f"{path} lacks key(s) {', '.join(missing)}: not the embedding stage's output; {fix}.")
        if sidecar is not None:
            _verify(path, arrays, sidecar, fix)
        t = {}
        for split in SPLITS:
            x = arrays[f"{split}_x"]
            if not np.isfinite(x).all():
                raise FloatingPointError(f"{path}: non-finite values in {split}_x; re-run the embedding stage")
            # float32 on disk; the training precision is torch's default dtype (jobs.common.set_precision)
            t[f"{split}_x"] = torch.from_numpy(x.astype(np.float32)).to(device=device, dtype=torch.get_default_dtype())
            t[f"{split}_y"] = torch.from_numpy(arrays[f"{split}_y"].astype(np.int64)).to(device)
        return cls(**t, num_classes=int(num_classes), cut=cut)

    @classmethod
    def from_embedding(cls, features_npz: str | Path, features_json: str | Path, device: torch.device | str,
                       context: str = "") -> "Features":
        """The embedding stage's output: ``features.npz`` checked against its ``features.json`` sidecar
        (classes, cut, shapes, checksums). A non-finite value raises FloatingPointError, prefixed with
        ``context`` (the job's name)."""
        try:
            side = json.loads(Path(features_json).read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {features_json} ({type(exc).__name__}: {exc}); delete it and re-run the "
                            "embedding stage (snakemake --forcerun embed).") from exc
        try:
            return cls.load(features_npz, device, side["num_classes"], side["cut"], sidecar=side)
        except FloatingPointError as exc:
            if not context:
                raise
            raise FloatingPointError(f"{context}: {exc}") from exc

    @classmethod
    def load_embeddings(cls, embeddings, device: torch.device | str, context: str = "") -> "Features":
        """The embedding stage's output as one value (``jobs.spec.Embeddings``: the feature maps with their
        sidecar), checked against each other (``from_embedding``)."""
        return cls.from_embedding(embeddings.features, embeddings.meta, device, context=context)

    def x(self, split: str) -> torch.Tensor:
        return getattr(self, f"{split}_x")

    def y(self, split: str) -> torch.Tensor:
        return getattr(self, f"{split}_y")

    def evaluate(self, predict: Callable[[str], np.ndarray], splits: Sequence[str] = ("test", "val")) -> dict[str, float]:
        """``{split}_accuracy`` and ``{split}_macro_f1`` of the labels ``predict(split)`` predicts for each
        split: the metrics block of every model's metrics file (one model, a mixture, a subset-trained one)."""
        return split_metrics({s: self.y(s) for s in splits}, predict, self.num_classes, splits)

    def flat(self, split: str) -> np.ndarray:
        """One split's feature maps as a (n, features) array on the host (for the clustering baselines)."""
        x = getattr(self, f"{split}_x")
        return x.reshape(len(x), -1).cpu().numpy()
