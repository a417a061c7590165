"""The embedding stage's output loaded for training: float32 feature maps and int64 labels per split.

A module of its own (numpy and torch only), so that every training stage loads features the same way
without importing another stage's dependencies (Table 1 pulls in the clustering stack)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from prestorepro.metrics import split_metrics

SPLITS = ("train", "val", "test")


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
    def load(cls, path: str | Path, device: torch.device | str, num_classes: int, cut: str) -> "Features":
        t = {}
        with np.load(path) as z:
            for split in SPLITS:
                x = z[f"{split}_x"]
                if not np.isfinite(x).all():
                    raise FloatingPointError(f"{path}: non-finite values in {split}_x; re-run the embedding stage")
                t[f"{split}_x"] = torch.from_numpy(x.astype(np.float32)).to(device)
                t[f"{split}_y"] = torch.from_numpy(z[f"{split}_y"].astype(np.int64)).to(device)
        return cls(**t, num_classes=int(num_classes), cut=cut)

    @classmethod
    def from_embedding(cls, features_npz: str | Path, features_json: str | Path, device: torch.device | str,
                       context: str = "") -> "Features":
        """The embedding stage's output: ``features.npz`` with its ``features.json`` sidecar (classes,
        cut). A non-finite value raises FloatingPointError, prefixed with ``context`` (the job's name)."""
        side = json.loads(Path(features_json).read_text())
        try:
            return cls.load(features_npz, device, side["num_classes"], side["cut"])
        except FloatingPointError as exc:
            if not context:
                raise
            raise FloatingPointError(f"{context}: {exc}") from exc

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
