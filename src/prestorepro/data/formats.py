"""Readers for the on-disk formats of SPEC §1 and validation of MedMNIST-layout npz files.

- CIFAR-10: the official ``cifar-10-python.tar.gz`` holding pickled batches in ``cifar-10-batches-py/``.
  The batches are read straight from the tarball (no extracted copy to go stale). torchvision's
  ``CIFAR10`` class would re-check the md5 of every extracted batch against the official table, which a
  verified tarball already covers; reading the pickles here also lets us refuse any pickle global other
  than numpy's array reconstruction.
- SVHN: the official ``{train,test}_32x32.mat`` (``X`` of shape (32, 32, 3, N), ``y`` in 1..10, where 10
  is the digit 0), read with ``scipy.io.loadmat``.
- MedMNIST layout npz: ``{train,val,test}_{images,labels}``, read with ``numpy.load`` (no pickles).
  medmnist's own Dataset classes assert the official sample counts and re-download on an md5 mismatch,
  so they cannot read either a bring-your-own file or a verified copy offline.

Images come out uint8 NHWC with 3 channels; labels int64.
"""
from __future__ import annotations

import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, Mapping

import numpy as np

from prestorepro.data.base import SPLITS
from prestorepro.errors import DataError

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"
CIFAR_META = "batches.meta"


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only; any other global is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # Protocol-2 pickles written by Python 3 encode bytes through codecs.encode.
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def _unpickle(stream: IO[bytes]) -> Any:
    # The official batches are Python 2 pickles; latin1 maps their byte strings 1:1.
    return _ArrayUnpickler(stream, encoding="latin1").load()


def to_nhwc3(images: np.ndarray) -> np.ndarray:
    """(N, H, W) or (N, H, W, 1|3) uint8 -> (N, H, W, 3) uint8, grayscale replicated (SPEC §1)."""
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return np.ascontiguousarray(images, dtype=np.uint8)


def read_cifar10(tar_path: Path) -> dict[str, Any]:
    """Read the official CIFAR-10 python tarball: train (50000) and test (10000) images, label names."""
    tar_path = Path(tar_path)

    def batch(tar: tarfile.TarFile, member: str) -> dict[str, Any]:
        name = f"{CIFAR_FOLDER}/{member}"
        try:
            stream = tar.extractfile(name)
        except KeyError:
            raise DataError(
                f"{tar_path} has no member {name!r}: it is not the official CIFAR-10 python tarball. "
                f"Delete it and re-run the download."
            ) from None
        if stream is None:
            raise DataError(
                f"{tar_path}: member {name!r} is not a regular file; delete the file and re-run the download."
            )
        return _unpickle(stream)

    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            train = [batch(tar, m) for m in CIFAR_TRAIN_BATCHES]
            test = batch(tar, CIFAR_TEST_BATCH)
            meta = batch(tar, CIFAR_META)
    except DataError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, pickle.UnpicklingError, KeyError, ValueError) as exc:
        raise DataError(
            f"cannot read {tar_path} as the CIFAR-10 python tarball ({type(exc).__name__}: {exc}); "
            f"the file is truncated or corrupt. Delete it and re-run the download."
        ) from exc

    def images(d: dict[str, Any], member: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            data = np.asarray(d["data"], dtype=np.uint8)
            labels = np.asarray(d["labels"], dtype=np.int64)
        except KeyError as exc:
            raise DataError(
                f"{tar_path}: batch {member!r} lacks key {exc}; delete the file and re-run the download."
            ) from None
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
            raise DataError(
                f"{tar_path}: batch {member!r} has data of shape {data.shape} and {len(labels)} labels, "
                f"expected (N, 3072) and N labels; delete the file and re-run the download."
            )
        # Rows are channel-major (1024 red, 1024 green, 1024 blue), as torchvision reads them.
        return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels

    parts = [images(d, m) for d, m in zip(train, CIFAR_TRAIN_BATCHES)]
    test_x, test_y = images(test, CIFAR_TEST_BATCH)
    return {
        "train_x": np.ascontiguousarray(np.concatenate([p[0] for p in parts])),
        "train_y": np.concatenate([p[1] for p in parts]),
        "test_x": np.ascontiguousarray(test_x),
        "test_y": test_y,
        "label_names": [str(n) for n in meta.get("label_names", [])],
    }


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an official SVHN ``*_32x32.mat``: images (N, 32, 32, 3) uint8, labels 0..9 (10 -> 0)."""
    import scipy.io

    path = Path(path)
    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError... for broken .mat files
        raise DataError(
            f"cannot read {path} as an SVHN .mat file ({type(exc).__name__}: {exc}); the file is truncated "
            f"or corrupt. Delete it and re-run the download."
        ) from exc
    if "X" not in mat or "y" not in mat:
        raise DataError(
            f"{path} lacks the variables 'X' and 'y' of the SVHN format; delete it and re-run the download."
        )
    x, y = mat["X"], mat["y"].reshape(-1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise DataError(
            f"{path}: X has shape {x.shape} for {len(y)} labels, expected (32, 32, 3, N); "
            f"delete it and re-run the download."
        )
    if y.size and (y.min() < 1 or y.max() > 10):
        raise DataError(f"{path}: labels span {y.min()}..{y.max()}, expected 1..10; delete it and re-run the download.")
    y = y.astype(np.int64)
    y[y == 10] = 0  # SVHN stores the digit 0 as class 10
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2), dtype=np.uint8), y


NPZ_KEYS = tuple(f"{s}_{k}" for s in SPLITS for k in ("images", "labels"))
_NPZ_FIX = (
    "save the file with np.savez(path, train_images=..., train_labels=..., val_images=..., "
    "val_labels=..., test_images=..., test_labels=...), images uint8 of shape (N, H, W) or (N, H, W, 1|3), "
    "labels integers 0..C-1 of shape (N,) or (N, 1)"
)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Load every array of an npz file, refusing pickled objects; DataError for a broken file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"npz path {path} is a folder, not a file; give the path of the .npz file itself "
                        f"({_NPZ_FIX}).")
    if not path.is_file():
        raise DataError(f"npz file {path} does not exist; give the path of a file in the MedMNIST layout ({_NPZ_FIX}).")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04" and head[:4] != b"PK\x05\x06":
        shown = f" -> {path.resolve()}" if path.is_symlink() else ""
        raise DataError(f"{path}{shown} is not an npz (zip) file: it starts with {head!r}; give the path of an "
                        f".npz written by np.savez ({_NPZ_FIX}).")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"cannot read {path} as an npz file ({type(exc).__name__}: {exc}); it is truncated, corrupt or "
            f"holds Python objects. Re-create it ({_NPZ_FIX}), or delete it and re-run the step that made it."
        ) from exc


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
    missing = sorted(set(range(num_classes)) - in_train)
    if missing:
        elsewhere = sorted({int(v) for split, (_, y) in splits.items() if split != "train" for v in np.unique(y)}
                           - in_train)
        shown = ", ".join(map(str, missing[:10])) + (f", ... ({len(missing)} in all)" if len(missing) > 10 else "")
        raise DataError(
            f"{path}: labels must be 0..C-1 with every class in train_labels, but the largest label "
            f"{num_classes - 1} implies C = {num_classes} and class(es) {shown} have no training example"
            + (f" (labels {', '.join(map(str, elsewhere[:10]))} occur only in val/test)" if elsewhere else "")
            + f"; train_labels holds {', '.join(map(str, sorted(in_train)[:20]))}. Relabel the classes as 0..C-1."
        )
    if num_classes < 2:
        raise DataError(f"{path}: every label is 0, a single class; classification needs at least two classes.")
    return num_classes
