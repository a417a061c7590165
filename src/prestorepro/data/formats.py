"""Readers for the on-disk formats of SPEC §1 (the MedMNIST npz layout: prestorepro.data.npz).

- CIFAR-10: the official ``cifar-10-python.tar.gz`` holding pickled batches in ``cifar-10-batches-py/``.
  The batches are read straight from the tarball (no extracted copy to go stale). torchvision's
  ``CIFAR10`` class would re-check the md5 of every extracted batch against the official table, which a
  verified tarball already covers; reading the pickles here also lets us refuse any pickle global other
  than numpy's array reconstruction.
- SVHN: the official ``{train,test}_32x32.mat`` (``X`` of shape (32, 32, 3, N), ``y`` in 1..10, where 10
  is the digit 0), read with ``scipy.io.loadmat``.
- MedMNIST layout npz (read and checked in prestorepro.data.npz): ``{train,val,test}_{images,labels}``, read
  with ``numpy.load`` (no pickles).
  medmnist's own Dataset classes assert the official sample counts and re-download on an md5 mismatch,
  so they cannot read either a bring-your-own file or a verified copy offline.

Images come out uint8 NHWC with 3 channels; labels int64.
"""
from __future__ import annotations

import pickle
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

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
