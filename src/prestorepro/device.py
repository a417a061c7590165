"""Device selection: everything runs on the CPU with the same code path when no GPU is present."""
from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU. ``cuda`` without a GPU falls back to the CPU
    (the same code path) — callers record the device actually used in their provenance."""
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be one of auto, cpu, cuda; got {name!r}")
    if name == "cpu":
        return torch.device("cpu")
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


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
