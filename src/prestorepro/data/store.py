"""On-disk form of a prepared dataset: one npz (written atomically) plus a JSON sidecar.

npz keys:
    train_x, train_y, val_x, val_y, test_x, test_y      the splits (see ``prestorepro.data.base``)
    train_group, val_group, test_group                  true components (synthetic data only)
    num_classes                                         0-d int64
    meta_json                                           0-d str: the meta dict as JSON
Sidecar ``<stem>.meta.json`` next to the npz: the same meta, for people and for the workflow, with an
``arrays`` entry giving each array's shape, dtype and sha256 (checked again on load).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from prestorepro.data.base import SPLITS, Prepared
from prestorepro.errors import DataError
from prestorepro.io import json_default, read_stage_npz, sha256_array, write_json, write_npz

XY_KEYS = tuple(f"{s}_{k}" for s in SPLITS for k in ("x", "y"))
GROUP_KEYS = tuple(f"{s}_group" for s in SPLITS)


def meta_path(path: str | Path) -> Path:
    """The JSON sidecar of a prepared npz: ``prepared.npz`` -> ``prepared.meta.json``."""
    return Path(path).with_suffix(".meta.json")


def _meta_default(obj: Any) -> Any:
    try:
        return json_default(obj)
    except TypeError:
        raise TypeError(f"meta value of type {type(obj).__name__} cannot be stored as JSON") from None


def _arrays(prepared: Prepared) -> dict[str, np.ndarray]:
    arrays = {k: getattr(prepared, k) for k in XY_KEYS}
    groups = [getattr(prepared, k) for k in GROUP_KEYS]
    if any(g is not None for g in groups):
        arrays.update({k: g for k, g in zip(GROUP_KEYS, groups)})
    return arrays


def check_prepared(arrays: dict[str, Any], num_classes: int, label_kind: str, where: str) -> None:
    """Raise DataError unless the split arrays are mutually consistent (shapes, dtypes, label range)."""
    fix = "delete it and re-run the prepare step"
    present = [k for k in GROUP_KEYS if arrays.get(k) is not None]
    if present and len(present) != len(GROUP_KEYS):
        raise DataError(f"{where}: has {', '.join(present)} but not all of {', '.join(GROUP_KEYS)}; {fix}.")
    example_shape = None
    for split in SPLITS:
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
            raise DataError(f"{where}: {split}_x / {split}_y must be numpy arrays; {fix}.")
        if y.ndim != 1 or y.dtype != np.int64:
            raise DataError(f"{where}: {split}_y has shape {y.shape} and dtype {y.dtype}, expected (N,) int64; {fix}.")
        if len(x) != len(y):
            raise DataError(f"{where}: {split}_x has {len(x)} rows but {split}_y has {len(y)}; {fix}.")
        if label_kind == "sign":
            if x.ndim != 2 or x.dtype != np.float32:
                raise DataError(
                    f"{where}: {split}_x has shape {x.shape}, dtype {x.dtype}; expected (N, d) float32; {fix}."
                )
            bad = y[(y != 1) & (y != -1)]
            if bad.size:
                raise DataError(f"{where}: {split}_y holds {bad[0]}, expected labels -1/+1; {fix}.")
        else:
            if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != np.uint8:
                raise DataError(
                    f"{where}: {split}_x has shape {x.shape}, dtype {x.dtype}; expected (N, H, W, 3) uint8; {fix}."
                )
            if y.size and (y.min() < 0 or y.max() >= num_classes):
                raise DataError(
                    f"{where}: {split}_y spans {y.min()}..{y.max()}, outside 0..{num_classes - 1}; {fix}."
                )
        if example_shape is None:
            example_shape = x.shape[1:]
        elif x.shape[1:] != example_shape:
            raise DataError(f"{where}: {split}_x has examples of shape {x.shape[1:]}, train_x {example_shape}; {fix}.")
        group = arrays.get(f"{split}_group")
        if group is not None and (group.shape != y.shape or not np.issubdtype(group.dtype, np.integer)):
            raise DataError(
                f"{where}: {split}_group has shape {group.shape}, dtype {group.dtype}; "
                f"expected {y.shape} int; {fix}."
            )


def write_prepared(path: str | Path, prepared: Prepared) -> None:
    """Write ``prepared`` to ``path`` (atomic npz) and its meta to ``meta_path(path)``."""
    path = Path(path)
    arrays = _arrays(prepared)
    check_prepared(arrays, prepared.num_classes, prepared.label_kind, f"prepared dataset for {path}")
    meta = json.loads(json.dumps(prepared.meta, default=_meta_default))
    meta["num_classes"] = int(prepared.num_classes)
    meta["arrays"] = {
        k: {"shape": list(a.shape), "dtype": str(a.dtype), "sha256": sha256_array(a)} for k, a in arrays.items()
    }
    write_npz(
        path, **arrays, num_classes=np.asarray(prepared.num_classes, dtype=np.int64),
        meta_json=np.asarray(json.dumps(meta, sort_keys=True)),
    )
    write_json(meta_path(path), meta)


def load_prepared(path: str | Path, verify: bool = True) -> Prepared:
    """Read a prepared dataset written by ``write_prepared``; DataError for a corrupt or truncated file.

    With ``verify`` every array's sha256 is checked against the one recorded when it was written.
    """
    path = Path(path)
    fix = f"delete {path} and re-run the prepare step"
    arrays = read_stage_npz(path, f"prepared dataset {path} does not exist; run the prepare step for it first.", fix)
    missing = [k for k in (*XY_KEYS, "num_classes", "meta_json") if k not in arrays]
    if missing:
        raise DataError(
            f"{path} lacks key(s) {', '.join(missing)}: not a prepared dataset, or written by an older "
            f"version; {fix}."
        )
    try:
        meta = json.loads(str(arrays.pop("meta_json")))
        num_classes = int(arrays.pop("num_classes"))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: meta_json / num_classes unreadable ({exc}); {fix}.") from exc
    check_prepared(arrays, num_classes, meta.get("label_kind", "index"), str(path))
    if verify:
        recorded = meta.get("arrays", {})
        for key, arr in arrays.items():
            want = recorded.get(key, {}).get("sha256")
            got = sha256_array(arr)
            if want != got:
                raise DataError(f"{path}: array {key} has sha256 {got}, recorded {want}: the file was altered; {fix}.")
    return Prepared(
        **{k: arrays[k] for k in XY_KEYS}, num_classes=num_classes, meta=meta,
        **{k: arrays.get(k) for k in GROUP_KEYS},
    )
