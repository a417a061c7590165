"""Device selection: everything runs on the CPU with the same code path when no GPU is present."""
from __future__ import annotations

import sys

import torch

_FALLBACK: dict[str, str] = {}  # set once per process when device: cuda fell back to the CPU


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU. ``cuda`` without a GPU falls back to the CPU
    (the same code path), says so once per process on stderr (a job's log) and in ``fallback_note``,
    which the provenance of every metrics file records."""
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be one of auto, cpu, cuda; got {name!r}")
    if name == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if name == "cuda" and not _FALLBACK:
        _FALLBACK["note"] = ("device: cuda was asked for, but no CUDA device is visible (torch.cuda.is_available() "
                             "is False); running on the CPU with the same code path")
        print(_FALLBACK["note"], file=sys.stderr, flush=True)
    return torch.device("cpu")


def fallback_note() -> str | None:
    """Why this process runs on the CPU although the config asked for CUDA (None if it did not)."""
    return _FALLBACK.get("note")


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (timings and memory readings need it); a no-op on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def release(device: torch.device | str) -> None:
    """Synchronise, then hand the allocator's cached blocks back (before a memory baseline)."""
    device = torch.device(device)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
