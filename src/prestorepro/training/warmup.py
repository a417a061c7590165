"""One warm-up for every job that measures: a throwaway forward, backward and Adam step and an inference
of a seeded ``ResNetTail`` on random rows, so that kernels, thread pools, the allocator and (on CUDA) the
context are in place before the first timed or memory-measured run of the process."""
from __future__ import annotations

import gc
from typing import Sequence

import torch
from torch import nn

from prestorepro.device import release
from prestorepro.models.resnet_tail import ResNetTail
from prestorepro.streams import seeded
from prestorepro.training.single import predict


def warm_up(device: torch.device | str, cut: str, num_classes: int, feature_shape: Sequence[int], *,
            widths: Sequence[int] = (1, 1, 1), rows: int = 2, freeze: bool = False) -> None:
    """``widths`` and ``rows``: the model and batch to warm up with (the run's own, where timings follow;
    a width-1 tail on two rows, where memory is measured next). ``freeze``: then ``gc.freeze()``, for a
    job whose memory probes each start with a collection (call once per process, after the inputs are
    loaded: everything alive then stays alive, and the probes need not scan it)."""
    device = torch.device(device)
    m = seeded(0, lambda: ResNetTail(cut, widths, num_classes)).to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        x = torch.randn(max(2, int(rows)), *feature_shape).to(device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    nn.functional.cross_entropy(m(x), torch.zeros(len(x), dtype=torch.long, device=device)).backward()
    opt.step()
    predict(m, x, device=device)
    del m, x, opt
    gc.collect()
    if freeze:
        gc.freeze()
    release(device)
