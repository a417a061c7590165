"""What the GPU check's steps share: the scales (the paper's read from config/paper.yaml), device
synchronisation, seeded synthetic feature maps, one round of Algorithm 1."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]


def paper_scale() -> dict:
    """The paper's figures the checks use, from config/paper.yaml (never re-typed): PathMNIST's training
    size, K and leeway, Train()'s epochs, the gate's epochs and the rounds of Algorithm 1."""
    from prestorepro.config import load_config, validate_config
    from prestorepro.config_checks import train_size

    cfg = validate_config(load_config(ROOT / "config" / "paper.yaml"))
    ds, p = cfg["datasets"]["pathmnist"], cfg["presto"]
    return {"n": train_size(ds), "k": ds["k"], "leeway": ds["leeway"], "epochs": p["epochs"],
            "gate_epochs": p["gate_epochs"], "rounds": p["rounds"]}


def scales() -> dict:
    """Sizes: "full" is the paper's scale on a GPU, "tiny" keeps the CPU test to seconds."""
    paper = paper_scale()
    return {
        "full": dict(n_small=600, n_scale=paper["n"], k_scale=paper["k"], leeway_scale=paper["leeway"],
                     scale_epochs=paper["epochs"], gate_epochs=paper["gate_epochs"], paper_rounds=paper["rounds"],
                     hw=7, bench_per_component=8192, bench_repeats=5, compile_epochs=1, probe_mib=1024,
                     embed_images=512, rehearsal=dict(scale=0.1, datasets=None, small=False)),
        "tiny": dict(n_small=120, n_scale=1500, k_scale=paper["k"], leeway_scale=75, scale_epochs=1, gate_epochs=1,
                     paper_rounds=paper["rounds"], hw=7, bench_per_component=256, bench_repeats=1, compile_epochs=0,
                     probe_mib=64, embed_images=32, rehearsal=dict(scale=0.01, datasets=("dermamnist",), small=True)),
    }


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _features(n: int, hw: int, classes: int, seed: int, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-structured random feature maps (a class mean plus noise), as the trunk would give."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    means = torch.randn(classes, 64, hw, hw, generator=g, dtype=dtype)
    x = (means[y] + 2.0 * torch.randn(n, 64, hw, hw, generator=g, dtype=dtype)).relu_()
    return x, y


# --- checks ------------------------------------------------------------------------------------------


def _one_round(dev: torch.device, dtype, x: torch.Tensor, y: torch.Tensor, a0: np.ndarray, k: int, epochs: int,
               leeway: int, classes: int, rounds: int = 1):
    from presto_defaults import presto_settings
    from prestorepro.models.fused import FusedResNetTail
    from prestorepro.presto.algorithm import PrestoStreams, run_presto

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = FusedResNetTail(k, "layer1", (4, 8, 16), classes).to(dtype=dtype)
    model = model.to(dev)
    # the paper's Algorithm 1 (the schema's defaults: batch 256, Adam lr 0.01, lambda 1e-4, epsilon 3e-3)
    s = presto_settings(k=k, rounds=rounds, epochs=epochs, leeway=leeway)
    res = run_presto(model, x.to(dev, dtype), y.to(dev), a0, s,
                     PrestoStreams([torch.Generator().manual_seed(j) for j in range(k)]))
    return res, model
