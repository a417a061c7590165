"""Named random streams: every seeded generator and seeded initialisation in the project comes from here.

A run with seed s draws each of its random streams from its own ``torch.Generator``, seeded from s and
the stream's name, so that no two trainings of a job share a stream and adding a stream changes no
other:

- ``component_generators(s, K)``: component k's batch order, seed ``s * 1000 + k`` (Algorithm 1's
  Train(), the sequential retraining of the same partition, the synthetic runs);
- ``generator(s, name)``: seed ``s * 1000 + OFFSETS[name]`` for the compress stage's trainings, the
  combiner (``"combiner"``: its initial weights and batch order, in every run that trains one), the mixture of
  experts' batches (``"moe"``) and the one model's (``"single"``: its initial weights and batch order);
- ``gate_generator(s)``: pi_phi's initial weights and batch order, seed ``s + 77`` (every gate:
  Table 1, the synthetic runs, Table 2's sequential PRESTO);
- ``seeded(s, build)``: a model built under ``torch.manual_seed(s)`` with the caller's global RNG
  state left as it was (torch seeds its global generator differently in every process, so nothing
  may draw from it unseeded).
"""
from __future__ import annotations

from typing import Callable, TypeVar

import torch

OFFSETS = {"teacher": 11, "assistant": 12, "reference": 13, "snip": 21, "grasp": 22, "kd": 31, "dgkd": 32,
           "score": 41, "guide_drop": 42, "combiner": 51, "moe": 61, "single": 62}
GATE_OFFSET = 77

T = TypeVar("T")


def component_generators(seed: int, k: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(int(seed) * 1000 + j) for j in range(k)]


def generator(seed: int, name: str) -> torch.Generator:
    if name not in OFFSETS:
        raise ValueError(f"unknown random stream {name!r}; valid: {', '.join(OFFSETS)}")
    return torch.Generator().manual_seed(int(seed) * 1000 + OFFSETS[name])


def gate_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) + GATE_OFFSET)


def seeded(seed: int, build: Callable[[], T]) -> T:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()
