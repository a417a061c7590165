"""Atomic file output: write to a temporary file in the same folder, then rename.

A job killed midway therefore never leaves a file that Snakemake would take for a result.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``. A full disk or a
    folder that cannot be written raises an OSError that says so and names the path; ``path`` keeps
    its previous content (or stays absent) either way."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix + ".tmp"
        )
    except PermissionError as exc:
        raise PermissionError(exc.errno, f"cannot write {path}: the folder {path.parent} is not writable for this "
                                         "user; fix its permissions or point results at a writable folder") from exc
    except (FileExistsError, NotADirectoryError) as exc:
        raise OSError(exc.errno, f"cannot write {path}: a part of {path.parent} is a file, not a folder; move "
                                 "that file or point results elsewhere") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise OSError(errno.ENOSPC, f"no space left on the device holding {path}; free space and re-run "
                                            "(the previous version of the file, if any, is kept)") from exc
            raise
        # flush the data before the rename, so that a crash right after it cannot leave an empty file
        # under the final name
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        # mkstemp creates the file private (0600); give it the mode an ordinary open() would have
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def json_default(obj: Any) -> Any:
    """The JSON form of what ``json.dumps`` cannot write itself (its ``default``): numpy scalars and arrays
    as Python numbers and lists, paths as strings; anything else raises TypeError."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path, suffix=".json.tmp") as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Atomic ``np.savez``. The same arrays give the same bytes (every member is dated 1980-01-01 by
    zipfile), so array outputs of two identical runs compare equal byte for byte. Object arrays are
    refused: reading them back would need pickle."""
    for name, value in arrays.items():
        if np.asanyarray(value).dtype.hasobject:
            raise ValueError(f"write_npz: array {name!r} holds Python objects; store numbers or strings only "
                             f"(object arrays need pickle to be read back)")
    # np.savez appends ".npz" to names without it; the temp name keeps that suffix.
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


# A checkpoint or model file is {"format": DIGEST_FORMAT, "sha256": <hex>, "payload": <uint8 tensor>}, the
# payload being torch.save(obj): the digest covers every saved tensor, so one flipped bit, or a file
# re-saved by other code, is refused on load (torch.load checks no zip CRC, and a fingerprint of the
# settings does not cover the weights).
DIGEST_FORMAT = "prestorepro-sha256-1"


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    payload = bytearray(buffer.getbuffer())
    outer = io.BytesIO()
    torch.save({"format": DIGEST_FORMAT, "sha256": hashlib.sha256(payload).hexdigest(),
                "payload": torch.frombuffer(payload, dtype=torch.uint8)}, outer)
    # written by Python, not by torch's stream: a full disk is then an OSError with its errno
    # (torch reports it as "basic_ios::clear: iostream error")
    with atomic_path(path, suffix=".pt.tmp") as tmp, open(tmp, "wb") as f:
        f.write(outer.getbuffer())


class CheckpointError(RuntimeError):
    """A checkpoint or weights file that cannot be loaded safely (corrupt, or holding code)."""


def load_torch(path: str | os.PathLike, map_location: str = "cpu") -> Any:
    """Load a checkpoint with ``weights_only=True``: tensors and plain containers only, no pickle code.

    A file holding anything else (a pickled object that would run code), or a truncated or corrupt
    file, raises CheckpointError naming the file and what to do; nothing from it is executed.
    """
    import io

    import torch

    redo = "delete it and re-run (the job then starts from the beginning)"
    try:
        outer = torch.load(path, map_location="cpu", weights_only=True)
        if not (isinstance(outer, dict) and outer.get("format") == DIGEST_FORMAT):
            raise CheckpointError(
                f"refusing to load {path}: it carries no digest of its contents, so it was not written by this "
                f"workflow (or by an older version of it), or was re-saved by other code; {redo}.")
        payload = outer["payload"].numpy().tobytes()
        if hashlib.sha256(payload).hexdigest() != outer["sha256"]:
            raise CheckpointError(
                f"refusing to load {path}: its contents do not match the sha256 recorded when it was written "
                f"(the file was altered or damaged); {redo}.")
        return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except CheckpointError:
        raise
    except pickle.UnpicklingError as exc:
        # torch's message is mostly advice to load with weights_only=False, which is exactly what must
        # not be done with a file of unknown origin; keep only the line naming what was found
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        found = next((ln for ln in lines if "GLOBAL" in ln or "Unsupported" in ln), type(exc).__name__)
        if "GLOBAL" not in found and "Unsupported operand" in found:
            # a damaged byte stream, not an object: say what it is
            raise CheckpointError(f"cannot read {path}: the file is corrupt ({found}); {redo}.") from None
        raise CheckpointError(
            f"refusing to load {path}: it holds Python objects other than tensors and plain containers "
            f"({found}); only weights are ever loaded. If this is one of the workflow's own checkpoints, "
            f"delete it and re-run (the job then starts from the beginning)."
        ) from None
    except Exception as exc:  # noqa: BLE001 -- weights_only loading runs no code; anything else is damage
        if isinstance(exc, FileNotFoundError):
            raise
        raise CheckpointError(
            f"cannot read {path} ({type(exc).__name__}: {str(exc).split('. ')[0]}): "
            f"the file is truncated or corrupt. Delete it and re-run (the job then starts from the beginning)."
        ) from exc


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def read_stage_npz(path: str | os.PathLike, missing: str, fix: str) -> dict[str, np.ndarray]:
    """Every array of an npz a stage of the workflow wrote, without pickles. A missing file raises
    DataError(``missing``); an unreadable one (truncated, empty, CRC-bad) a DataError naming it and ``fix``."""
    import zlib

    from prestorepro.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(missing)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise DataError(f"cannot read {path} ({type(exc).__name__}: {exc}): it is truncated or corrupt, or holds Python "
                        f"objects (never loaded); {fix}.") from exc


def sha256_array(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def fingerprint(**parts: Any) -> str:
    """sha256 over named parts: arrays and tensors by dtype, shape and bytes, anything else as JSON.

    Stored in a checkpoint, it tells whether the checkpoint belongs to this run (same settings, data,
    seed and initial parameters), so a stale one left by a run with other inputs is never resumed.
    """
    h = hashlib.sha256()
    for name in sorted(parts):
        h.update(name.encode() + b"\0")
        _hash_value(h, parts[name])
    return h.hexdigest()


def _hash_value(h, value: Any, chunk_rows: int = 4096) -> None:
    import torch

    if isinstance(value, (list, tuple)) and any(isinstance(v, (np.ndarray, torch.Tensor)) for v in value):
        h.update(f"seq{len(value)}".encode())
        for v in value:
            _hash_value(h, v)
        return
    if isinstance(value, dict) and any(isinstance(v, (np.ndarray, torch.Tensor)) for v in value.values()):
        for key in sorted(value):
            h.update(str(key).encode() + b"\0")
            _hash_value(h, value[key])
        return
    if isinstance(value, torch.Tensor):
        t = value.detach()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        rows = t if t.ndim else t.reshape(1)
        # in chunks of rows, each in logical (C) order whatever the memory layout: no full copy of device
        # data, nor of a channels-last tensor (which does not flatten as a view)
        for s in range(0, rows.shape[0], chunk_rows):
            h.update(rows[s:s + chunk_rows].cpu().contiguous().numpy().tobytes())
        return
    if isinstance(value, np.ndarray):
        h.update(f"{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
        return
    h.update(json.dumps(value, sort_keys=True, default=json_default).encode())
