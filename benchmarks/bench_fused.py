"""Fused K-component training vs the standard per-model loop (SPEC §4, "train as ONE fused module").

    python benchmarks/bench_fused.py                       # CPU, K=4, batch 256, 64x8x8, widths (4, 8, 16)
    python benchmarks/bench_fused.py --device cuda         # GPU (CUDA events, warm-up included)

Both sides train K components of the paper's architecture (ResNet18 tail after layer1, widths
(4, 8, 16), App. B.2) on parts of equal size N/K with batch 256, for ``--epochs`` epochs:

- loop:  K torchvision-style ``ResNetTail`` models, one after another, each with ``torch.optim.Adam``
         and plain cross-entropy (the standard per-model training loop);
- fused: one ``FusedResNetTail`` trained by ``train_components`` (masked batch norm, masked Adam,
         PRESTO's L2 term) — what PRESTO's rounds run.

The two are timed alternately in the same process, ``--repeats`` times after ``--warmup`` untimed
rounds; the reported ratio is the median of the per-pair ratios (loop time / fused time), so load
from other processes on a shared machine hits both sides alike. Throughput counts training rows
(all K parts) per second.
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from prestorepro.models.fused import FusedResNetTail
from prestorepro.models.parameters import CUT_CHANNELS
from prestorepro.models.resnet_tail import ResNetTail
from prestorepro.training.masked_adam import MaskedAdam
from prestorepro.training.fused import ComponentTraining, train_components, training_layout


class Timer:
    """Wall time of a block; on CUDA measured with events after a synchronisation."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize()
            self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.cuda:
            self.end.record()
            torch.cuda.synchronize()
            self.seconds = self.start.elapsed_time(self.end) / 1000.0
        else:
            self.seconds = time.perf_counter() - self.t0


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_fused_at(commit: str):
    """``FusedResNetTail``, ``MaskedAdam`` and ``train_components`` as they were at a git commit."""
    root = Path(__file__).resolve().parents[1]
    mods = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench_fused_"))
    for name, path in (("models", "src/prestorepro/models/fused.py"), ("training", "src/prestorepro/training/fused.py")):
        src = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=root, check=True, capture_output=True,
                             text=True).stdout
        (tmp / f"{name}_{commit}.py").write_text(src)
        spec = importlib.util.spec_from_file_location(f"_fused_{name}_{commit}", tmp / f"{name}_{commit}.py")
        mods[name] = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mods[name]
        spec.loader.exec_module(mods[name])
    return mods["models"].FusedResNetTail, mods["training"].MaskedAdam, mods["training"].train_components


def train_with(train_fn, model, x, y, assignment, training: ComponentTraining):
    """Run a fused trainer with ``training``: as one argument, or spelt out as keywords for a trainer of a
    commit that took them one by one."""
    if "training" in inspect.signature(train_fn).parameters:
        return train_fn(model, x, y, assignment, training)
    return train_fn(model, x, y, assignment, epochs=training.epochs, batch_size=training.batch_size,
                    optimizer=training.optimizer, lam=training.lam, generators=training.generators)


def per_model_loop(models, x, y, parts, epochs, batch_size, lr, seed):
    """The standard loop: each model alone, torch Adam, cross-entropy, a fresh permutation per epoch."""
    for j, (model, part) in enumerate(zip(models, parts)):
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        g = torch.Generator().manual_seed(seed + j)
        xp, yp = x[part], y[part]
        for _ in range(epochs):
            perm = torch.randperm(len(part), generator=g).to(x.device)
            for s in range(0, len(part), batch_size):
                b = perm[s:s + batch_size]
                loss = F.cross_entropy(model(xp[b]), yp[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--per-component", type=int, default=2048, help="rows in each component's part")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--hw", type=int, default=8)
    ap.add_argument("--widths", type=int, nargs=3, default=(4, 8, 16))
    ap.add_argument("--classes", type=int, default=9)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--loop-channels-last", action="store_true",
                    help="also time the per-model loop on channels-last features (what the layout alone gives it)")
    ap.add_argument("--also-commit", default=None,
                    help="also time the fused trainer as it was at this git commit (before/after comparisons)")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device")
    k, n_part = args.k, args.per_component
    n = k * n_part
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, CUT_CHANNELS["layer1"], args.hw, args.hw, generator=g).to(dev)
    y = torch.randint(0, args.classes, (n,), generator=g).to(dev)
    assignment = (torch.arange(n) % k).to(dev)
    parts = [torch.nonzero(assignment == j, as_tuple=True)[0] for j in range(k)]

    models = [ResNetTail("layer1", args.widths, args.classes).to(dev) for _ in range(k)]

    # the fused trainer reads the features in its device's training layout (channels-last on the CPU),
    # converted once as PRESTO and Table 1 do before their rounds; the loop and older commits get them
    # as stored (NCHW)
    x_fused = training_layout(x)
    variants = [("fused", FusedResNetTail, MaskedAdam, train_components, x_fused)]
    if args.also_commit:
        variants.append((f"fused@{args.also_commit}", *load_fused_at(args.also_commit), x))
    runners = {}
    for label, model_cls, opt_cls, train_fn, xv in variants:
        torch.manual_seed(0)
        model = model_cls(k, "layer1", args.widths, args.classes).to(dev)
        opt = opt_cls(list(model.parameters()), k, lr=0.01)
        gens = [torch.Generator().manual_seed(100 + j) for j in range(k)]

        def run(model=model, opt=opt, gens=gens, train_fn=train_fn, xv=xv):
            with Timer(dev) as t:
                train_with(train_fn, model, xv, y, assignment, ComponentTraining(
                    epochs=args.epochs, batch_size=args.batch_size, optimizer=opt, lam=1e-4, generators=gens))
            return t.seconds
        runners[label] = run

    def run_loop():
        with Timer(dev) as t:
            per_model_loop(models, x, y, parts, args.epochs, args.batch_size, 0.01, 100)
        return t.seconds

    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_name()
    print(f"device {dev} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"K={k}, {n_part} rows per component (N={n}), batch {args.batch_size}, input 64x{args.hw}x{args.hw}, "
          f"widths {tuple(args.widths)}, {args.classes} classes, {args.epochs} epoch(s); "
          f"{args.warmup} warm-up + {args.repeats} timed rounds")
    runners["per-model loop"] = run_loop
    if args.loop_channels_last:
        def run_loop_cl():
            with Timer(dev) as t:
                per_model_loop(models, x_fused, y, parts, args.epochs, args.batch_size, 0.01, 100)
            return t.seconds
        runners["loop, channels-last"] = run_loop_cl
    labels = list(runners)
    for _ in range(args.warmup):
        for label in labels:
            runners[label]()
    times: dict[str, list[float]] = {label: [] for label in labels}
    ratios: dict[str, list[float]] = {label: [] for label in labels}
    for r in range(args.repeats):
        # rotate the order so that a change of load hits every side alike
        order = labels[r % len(labels):] + labels[:r % len(labels)]
        got = {label: runners[label]() for label in order}
        for label in labels:
            times[label].append(got[label])
            ratios[label].append(got["per-model loop"] / got[label])
    rows = n * args.epochs
    result = {}
    for label in labels:
        med = statistics.median(times[label])
        line = f"{label:22s}: median {med:.3f} s ({rows / med:8.0f} rows/s)"
        if label != "per-model loop":
            rr = ratios[label]
            line += (f"; throughput vs per-model loop: median {statistics.median(rr):.2f}x "
                     f"(min {min(rr):.2f}x, max {max(rr):.2f}x)")
        print(line + "  all: " + " ".join(f"{t:.3f}" for t in times[label]), flush=True)
        result[label] = {"median_s": med, "ratio": statistics.median(ratios[label])}
    return result


if __name__ == "__main__":
    main()
