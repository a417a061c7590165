"""The MedMNIST npz layout: the official MedMNIST files and a user's own (``source: npz``), read without
pickles and checked before use (keys, dtypes, shapes, labels 0..C-1, size once inflated); every
problem is a DataError naming the file and the fix."""
from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Mapping

import numpy as np

from prestorepro.data.base import SPLITS
from prestorepro.data.formats import to_nhwc3
from prestorepro.errors import DataError

NPZ_KEYS = tuple(f"{s}_{k}" for s in SPLITS for k in ("images", "labels"))
_NPZ_FIX = (
    "save the file with np.savez(path, train_images=..., train_labels=..., val_images=..., "
    "val_labels=..., test_images=..., test_labels=...), images uint8 of shape (N, H, W) or (N, H, W, 1|3), "
    "labels integers 0..C-1 of shape (N,) or (N, 1)"
)


def _unreadable(path: Path, exc: PermissionError) -> DataError:
    return DataError(f"cannot read {path}: permission denied for this user ({exc.strerror}); make it readable "
                     f"(chmod u+r {path}) and run snakemake again.")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Load every array of an npz file, refusing pickled objects; DataError for a broken file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"npz path {path} is a folder, not a file; give the path of the .npz file itself "
                        f"({_NPZ_FIX}).")
    if path.exists() and not path.is_file():
        # a character device (/dev/zero), a FIFO or a socket: reading one could block or never end
        raise DataError(f"npz path {path} is not a regular file (a device, pipe or socket); give the path of the "
                        f".npz file itself ({_NPZ_FIX}).")
    if not path.is_file():
        raise DataError(f"npz file {path} does not exist; give the path of a file in the MedMNIST layout ({_NPZ_FIX}).")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except PermissionError as exc:
        raise _unreadable(path, exc) from None
    if head != b"PK\x03\x04" and head[:4] != b"PK\x05\x06":
        shown = f" -> {path.resolve()}" if path.is_symlink() else ""
        raise DataError(f"{path}{shown} is not an npz (zip) file: it starts with {head!r}; give the path of an "
                        f".npz written by np.savez ({_NPZ_FIX}).")
    _check_inflated_size(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except PermissionError as exc:
        raise _unreadable(path, exc) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"cannot read {path} as an npz file ({type(exc).__name__}: {exc}); it is truncated, corrupt or "
            f"holds Python objects. Re-create it ({_NPZ_FIX}), or delete it and re-run the step that made it."
        ) from exc


def memory_bytes() -> int:
    """This machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _check_inflated_size(path: Path) -> None:
    """Refuse an npz whose arrays would fill more than half of this machine's memory once inflated,
    before any of it is read (a 9.5 MB file can inflate to 9.2 GiB). The sizes are those its zip
    directory declares; zipfile never inflates a member past its declared size."""
    try:
        with zipfile.ZipFile(path) as zf:
            inflated = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # np.load below reports the broken file with its own message
    limit = memory_bytes() // 2
    if inflated > limit:
        raise DataError(
            f"{path} holds arrays of {inflated / 2**30:.1f} GiB once inflated (the file itself is "
            f"{path.stat().st_size / 2**20:.1f} MiB), more than half of this machine's memory "
            f"({2 * limit / 2**30:.1f} GiB); nothing was loaded. Subsample or downscale the images, or run on a "
            f"machine with more memory.")


def validate_splits(
    arrays: Mapping[str, np.ndarray], path: Path, num_classes: int | None = None
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Check MedMNIST-layout arrays; return ``{split: (images NHWC3 uint8, labels int64)}`` and C.

    C is ``num_classes`` when given (labels must lie in 0..C-1), else 1 + the largest label.
    """
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise DataError(
            f"{path} lacks key(s) {', '.join(missing)} (it has: {', '.join(sorted(arrays)) or 'nothing'}); {_NPZ_FIX}."
        )
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    image_hw = None
    for split in SPLITS:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        key_x, key_y = f"{split}_images", f"{split}_labels"
        if images.dtype != np.uint8:
            raise DataError(
                f"{path}: {key_x} has dtype {images.dtype}, expected uint8; convert the images to 0..255 "
                f"uint8 (e.g. (x * 255).round().astype(np.uint8)) and save again."
            )
        if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 3))):
            raise DataError(
                f"{path}: {key_x} has shape {images.shape}, expected (N, H, W) or (N, H, W, 1|3) "
                f"(channels last); transpose or reshape it and save again."
            )
        if len(images) == 0:
            raise DataError(f"{path}: {key_x} holds no images; every split needs at least one example.")
        if image_hw is None:
            image_hw = images.shape[1:3]
        elif images.shape[1:3] != image_hw:
            raise DataError(
                f"{path}: {key_x} has images of size {images.shape[1:3]} but train_images has {image_hw}; "
                f"resize every split to one size."
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"{path}: {key_y} has dtype {labels.dtype}, expected integers; store class indices 0..C-1 "
                f"(e.g. labels.astype(np.int64))."
            )
        if not (labels.ndim == 1 or (labels.ndim == 2 and labels.shape[1] == 1)):
            raise DataError(
                f"{path}: {key_y} has shape {labels.shape}, expected (N,) or (N, 1) -- one class index per "
                f"image (multi-label data is not supported)."
            )
        if labels.size and np.issubdtype(labels.dtype, np.unsignedinteger) and labels.max() > np.iinfo(np.int64).max:
            raise DataError(
                f"{path}: {key_y} has label {labels.max()} (dtype {labels.dtype}), beyond any class index; "
                f"relabel the classes as 0..C-1."
            )
        labels = labels.reshape(-1).astype(np.int64)
        if len(labels) != len(images):
            raise DataError(
                f"{path}: {key_x} holds {len(images)} images but {key_y} holds {len(labels)} labels; "
                f"give exactly one label per image."
            )
        if labels.min() < 0:
            raise DataError(
                f"{path}: {key_y} has negative labels (min {labels.min()}); relabel the classes as 0..C-1."
            )
        if num_classes is not None and labels.max() >= num_classes:
            raise DataError(
                f"{path}: {key_y} has label {labels.max()} but the dataset has {num_classes} classes "
                f"(labels 0..{num_classes - 1}); fix the labels or the number of classes."
            )
        splits[split] = (to_nhwc3(images), labels)
    if num_classes is None:
        num_classes = _own_classes(splits, path)
        if min(image_hw) < MIN_IMAGE_SIDE:
            raise DataError(
                f"{path}: images are {image_hw[0]} x {image_hw[1]} pixels, below {MIN_IMAGE_SIDE} x {MIN_IMAGE_SIDE}: "
                f"ResNet18 downsamples by 4 before its first block, so their feature maps would be one pixel; "
                f"upsample the images and save again."
            )
    return splits, num_classes


MIN_IMAGE_SIDE = 8


def _own_classes(splits: Mapping[str, tuple[np.ndarray, np.ndarray]], path: Path) -> int:
    """C of a bring-your-own file: labels 0..C-1, every class in the training split, at least two."""
    num_classes = 1 + max(int(y.max()) for _, y in splits.values())
    in_train = set(np.unique(splits["train"][1]).tolist())
    # classes 0..C-1 without a training example, the first ten listed: C may be as large as 2**63
    # (one stray label), so the range is never built
    n_missing = num_classes - len(in_train)
    missing = [c for c in range(min(num_classes, len(in_train) + 11)) if c not in in_train][:10]
    if n_missing:
        elsewhere = sorted({int(v) for split, (_, y) in splits.items() if split != "train" for v in np.unique(y)}
                           - in_train)
        shown = ", ".join(map(str, missing)) + (f", ... ({n_missing} in all)" if n_missing > 10 else "")
        raise DataError(
            f"{path}: labels must be 0..C-1 with every class in train_labels, but the largest label "
            f"{num_classes - 1} implies C = {num_classes} and class(es) {shown} have no training example"
            + (f" (labels {', '.join(map(str, elsewhere[:10]))} occur only in val/test)" if elsewhere else "")
            + f"; train_labels holds {', '.join(map(str, sorted(in_train)[:20]))}. Relabel the classes as 0..C-1."
        )
    if num_classes < 2:
        raise DataError(f"{path}: every label is 0, a single class; classification needs at least two classes.")
    return num_classes
