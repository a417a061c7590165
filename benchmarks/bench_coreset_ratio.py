"""Coreset selection time against one full-data training run of the same model (SPEC §7).

    python benchmarks/bench_coreset_ratio.py          # CIFAR10 scale: 50000 points, 10 classes, 10% budget

The model is the coreset stage's one model (``coreset.run.model_widths``: the ResNet18 tail
scaled to PRESTO's parameter total, K=4 components of widths (4, 8, 16) plus the gate) on CIFAR10's
cut point (layer2, 128x4x4 maps), with the settings of the coreset section of ``--config``
(default config/paper.yaml: 300 epochs, reselection every 20, batch 256). Features are seeded
synthetic maps with class-dependent means.

A full-data run is timed as ``--measure-epochs`` epochs of the stage's own epoch loop (after one
untimed warm-up epoch, which also moves the model away from its initialisation) and scaled to the
config's epochs. A selection is timed as the stage runs it: the proxy forward pass over the training
set plus the selector (CRAIG: logit gradients, lazy greedy facility location; GRAD-MATCH: last-layer
gradients, per-class OMP). Prints one selection's time and the time of all selections of a run
(ceil(epochs / interval) of them), each as a fraction of the full-data run.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from prestorepro.coreset.methods import CORESET_METHODS, SelectionContext
from prestorepro.coreset.run import build_model, model_widths, subset_budget
from prestorepro.features import Features
from prestorepro.models.parameters import CUT_CHANNELS
from prestorepro.models.resnet_tail import count_parameters
from prestorepro.training.single import Batching, EpochData, train_epoch

ROOT = Path(__file__).resolve().parents[1]


def synthetic_data(n: int, n_eval: int, classes: int, cut: str, hw: int, seed: int, device) -> Features:
    g = torch.Generator().manual_seed(seed)
    c = CUT_CHANNELS[cut]
    means = torch.randn(classes, c, hw, hw, generator=g) * 0.5

    def split(m):
        y = torch.randint(0, classes, (m,), generator=g)
        x = torch.randn(m, c, hw, hw, generator=g) + means[y]
        return x.to(device), y.to(device)

    (tx, ty), (vx, vy), (sx, sy) = split(n), split(n_eval), split(n_eval)
    return Features(train_x=tx, train_y=ty, val_x=vx, val_y=vy, test_x=sx, test_y=sy, num_classes=classes, cut=cut)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config" / "paper.yaml"))
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--cut", default="layer2", choices=sorted(CUT_CHANNELS))
    ap.add_argument("--hw", type=int, default=4, help="feature-map side (4: CIFAR10 after layer2)")
    ap.add_argument("--k", type=int, default=4, help="PRESTO's K, which sets the model's parameter budget")
    ap.add_argument("--component-widths", type=int, nargs=3, default=(4, 8, 16))
    ap.add_argument("--methods", default="craig,gradmatch")
    ap.add_argument("--measure-epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="timed selections per method")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    with open(args.config) as f:
        cfg = yaml.safe_load(f)["coreset"]
    epochs, interval, bs = int(cfg["epochs"]), int(cfg["interval"]), int(cfg["batch_size"])
    data = synthetic_data(args.n, 1000, args.classes, args.cut, args.hw, args.seed, dev)
    widths = model_widths(args.cut, args.component_widths, args.classes, args.k)
    model = build_model(args.cut, widths, args.classes, args.seed, dev)
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]))
    gen = torch.Generator().manual_seed(args.seed)
    rows = torch.arange(args.n, device=dev)
    load = os.getloadavg()
    print(f"device {dev} ({platform.machine()}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"N={args.n}, {args.classes} classes, {args.cut} features {CUT_CHANNELS[args.cut]}x{args.hw}x{args.hw}; "
          f"model widths {widths} ({count_parameters(model)} parameters); config {args.config}: {epochs} epochs, "
          f"reselect every {interval}, batch {bs}")

    def epoch() -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        train_epoch(model, opt, EpochData(data.train_x, data.train_y, rows=rows),
                    batching=Batching(bs, gen, min_batch=2), l2=float(cfg["l2"]))
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return time.perf_counter() - t0

    epoch()  # warm-up
    ep = [epoch() for _ in range(args.measure_epochs)]
    epoch_s = statistics.median(ep)
    full_run = epoch_s * epochs
    print(f"full-data epoch: median {epoch_s:.2f} s (" + " ".join(f"{t:.2f}" for t in ep)
          + f"); one full-data run of {epochs} epochs ~ {full_run:.0f} s")

    budget = subset_budget(args.fraction, args.n)
    n_sel = math.ceil(epochs / interval)
    ctx = SelectionContext(model=model, data=data, cfg=cfg, device=dev)
    out = {"epoch_s": epoch_s, "full_run_s": full_run}
    for name in args.methods.split(","):
        method = CORESET_METHODS.get(name)
        times = []
        for r in range(args.repeats):
            rng = np.random.default_rng(args.seed + r)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            idx, w, _ = method.select(ctx, budget, rng)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            times.append(time.perf_counter() - t0)
        sel = statistics.median(times)
        print(f"{name:10s} budget {budget}: selection median {sel:.2f} s (" + " ".join(f"{t:.2f}" for t in times)
              + f"), {idx.size} selected; one selection = {100 * sel / full_run:.3f}% of the full run; "
              f"all {n_sel} selections of a run = {100 * n_sel * sel / full_run:.2f}%")
        out[name] = {"selection_s": sel, "one_fraction": sel / full_run, "run_fraction": n_sel * sel / full_run}
    return out


if __name__ == "__main__":
    main()
