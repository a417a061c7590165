"""The memory protocol of a compress job (docs/compress.md, "Memory protocol"): after the warm-up
(``training.warmup``, with ``freeze=True``), each phase's peak above the job baseline (``MemoryLedger``)."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from prestorepro.compress.memory import MemoryProbe
from prestorepro.device import release


class MemoryLedger:
    """Peak memory of the phases of one job, above the job's baseline (see the module docstring).

    >>> ledger = MemoryLedger(device)
    >>> with ledger.measure("inference"): ...
    >>> with ledger.measure("training"): ...
    >>> ledger.summary()["training_mib"]
    """

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        release(self.device)
        with MemoryProbe(self.device) as probe:
            pass
        self.baseline = probe.result()
        self.phases: dict[str, dict] = {}

    @contextlib.contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        release(self.device)
        with MemoryProbe(self.device) as probe:
            yield
        self.phases[phase] = probe.result()

    def above_baseline(self, phase: str) -> float:
        r = self.phases[phase]
        if self.device.type == "cuda":
            return r["torch_max_allocated_mib"] - self.baseline["torch_allocated_at_enter_mib"]
        return r["peak_mib"] - self.baseline["baseline_mib"]

    def summary(self) -> dict:
        kind = "cuda_torch_allocated" if self.device.type == "cuda" else "cpu_rss"
        out = {"kind": kind, "probe_kind": self.baseline["kind"], "device": self.baseline["device"],
               "baseline": self.baseline, "phases": self.phases}
        for phase in self.phases:
            out[f"{phase}_mib"] = self.above_baseline(phase)
            out[f"{phase}_peak_abs_mib"] = self.phases[phase]["peak_mib"]
        return out
