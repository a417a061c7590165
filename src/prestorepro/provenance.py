"""Provenance attached to every metrics/sidecar file: config, seed, commit, versions, device."""
from __future__ import annotations

import datetime as _dt
import functools
import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = (
    "prestorepro", "torch", "torchvision", "numpy", "scipy", "scikit-learn", "k-means-constrained",
    "ortools", "pandas", "medmnist", "snakemake", "matplotlib",
)


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        commit = out.stdout.strip() if out.returncode == 0 else "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
        if commit != "unknown" and dirty.returncode == 0 and dirty.stdout.strip():
            commit += "-dirty"
        return commit
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_name(device: Any = None) -> str:
    """Human-readable name of the device the computation ran on."""
    import torch

    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return f"cpu:{platform.processor() or platform.machine()}"


def provenance(config: dict | None = None, seed: int | None = None, device: Any = None, **extra: Any) -> dict:
    """The provenance block. ``created`` is the only field that differs between identical runs.
    ``device_fallback`` says why a run asked for CUDA ran on the CPU (``device.resolve_device``)."""
    dev_module = sys.modules.get("prestorepro.device")  # never imported: no device was resolved here
    note = dev_module.fallback_note() if dev_module is not None else None
    if note:
        extra = {"device_fallback": note, **extra}
    torch = sys.modules.get("torch")  # a job that trains records the precision it trained in
    if torch is not None:
        extra = {"precision": str(torch.get_default_dtype()).removeprefix("torch."), **extra}
    return {
        "config": config,
        "seed": seed,
        "git_commit": git_commit(),
        "versions": package_versions(),
        "device": device_name(device),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }
