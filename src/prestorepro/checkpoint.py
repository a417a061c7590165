"""One resume protocol for every trainer (Algorithm 1, the sequential retraining, the single-model
trainer, the coreset runs).

A checkpoint carries ``run_key``: the fingerprint of what the run that wrote it was given (settings
except its length in rounds or epochs, the data, and where a run has them the initial partition,
generators and parameters). A run resumes from a checkpoint only if the keys match. A checkpoint with
another key (a killed run, then the learning rate changed or the data re-embedded) is never spliced
in: the run says so in its log, starts afresh and overwrites it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from prestorepro.io import load_torch


def matching_checkpoint(path: str | Path | None, key: str | None, device: torch.device | str, *,
                        log: Callable[[str], None], label: str, start: str = "the start") -> dict | None:
    """The checkpoint at ``path`` if the run with fingerprint ``key`` wrote it, else None (with a log
    line when one of another run is there)."""
    if path is None or not Path(path).exists():
        return None
    state = load_torch(path, map_location=str(device))
    if state.get("run_key") != key:
        log(f"[{label}] ignoring checkpoint {path}: it was written by a run with other settings, data or "
            f"seed; starting from {start}")
        return None
    return state
