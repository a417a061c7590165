"""Evaluation metrics (paper Table 1): accuracy and macro-F1 on the test split."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
from sklearn.metrics import f1_score


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"accuracy needs two equal, non-empty label arrays; got {y_true.shape} and {y_pred.shape}")
    return float((y_true == y_pred).mean())


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, labels: np.ndarray | None = None) -> float:
    """Unweighted mean of per-class F1 over ``labels`` (all classes of the dataset, so a class that is
    never predicted counts as F1 = 0 rather than being dropped)."""
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def classification_metrics(y_true, y_pred, num_classes: int | None = None) -> dict[str, float]:
    labels = np.arange(num_classes) if num_classes is not None else None
    return {"accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred, labels)}


def split_metrics(labels: Mapping[str, Any], predict: Callable[[str], np.ndarray], num_classes: int,
                  splits: Sequence[str] = ("test", "val")) -> dict[str, float]:
    """``{split}_accuracy`` and ``{split}_macro_f1`` for each split, from its true ``labels[split]`` and
    the predicted labels ``predict(split)``: the metrics block of every model's metrics file."""
    out = {}
    for split in splits:
        y = labels[split]
        y = y.cpu().numpy() if hasattr(y, "cpu") else np.asarray(y)
        m = classification_metrics(y, predict(split), num_classes)
        out[f"{split}_accuracy"], out[f"{split}_macro_f1"] = m["accuracy"], m["macro_f1"]
    return out


def err_s(assignment: np.ndarray, groups: np.ndarray) -> tuple[int, float]:
    """Err_S of paper App. C: the number of unordered pairs (i, j) in the same true component S*_k
    that the partition puts in different parts; also normalised by the number of same-component pairs.
    Counted from the contingency table, O(N + K^2), never over pairs."""
    assignment, groups = np.asarray(assignment), np.asarray(groups)
    if assignment.shape != groups.shape:
        raise ValueError(f"assignment {assignment.shape} and groups {groups.shape} differ in shape")
    _, g = np.unique(groups, return_inverse=True)
    _, a = np.unique(assignment, return_inverse=True)
    table = np.zeros((g.max() + 1, a.max() + 1), dtype=np.int64)
    np.add.at(table, (g, a), 1)
    n_g = table.sum(1)
    same = int((n_g * (n_g - 1) // 2).sum())
    together = int((table * (table - 1) // 2).sum())
    split = same - together
    return split, (split / same if same else 0.0)
