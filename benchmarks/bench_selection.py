"""Time subset selection (SPEC §7) at CIFAR10 scale: 50000 points, 10 classes, 10% budget.

    python benchmarks/bench_selection.py

The gradient proxies are seeded synthetic last-layer gradients p_i - y_i (D = 10) of a classifier
with random logits that lean towards the true class. Prints each strategy's selection time (best and
median over --repeats) with the size and weight sum of what it selected, and for the OMP-based
methods the relative residual ||sum g - sum w g|| / ||sum g|| of the match.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from prestorepro.coreset import SELECTORS, last_layer_gradients

RUNS = [
    ("random", "random", {}),
    ("craig (lazy greedy)", "craig", {"greedy": "lazy"}),
    ("craig (stochastic greedy, eps 0.01)", "craig", {"greedy": "stochastic"}),
    ("gradmatch (per class, per gradient)", "gradmatch", {}),
    ("gradmatch (per class, all 10 columns)", "gradmatch", {"per_gradient": False}),
    ("gradmatch_pb (batch 32)", "gradmatch_pb", {"batch_size": 32}),
]


def synthetic_gradients(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(scale=1.5, size=(n, classes)).astype(np.float32)
    logits[np.arange(n), labels] += 2.0
    return last_layer_gradients(torch.from_numpy(logits), labels), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    grads, labels = synthetic_gradients(args.n, args.classes, args.seed)
    budget = int(round(args.fraction * args.n))
    target = grads.astype(np.float64).sum(axis=0)
    print(f"N={args.n}, {args.classes} classes, D={grads.shape[1]} ({grads.dtype}), budget {budget}; "
          f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"{os.cpu_count()} CPUs")
    for label, name, options in RUNS:
        times = []
        for r in range(args.repeats):
            rng = np.random.default_rng(args.seed + r)
            t0 = time.perf_counter()
            idx, w = SELECTORS.get(name)(budget, grads=grads, labels=labels, rng=rng, **options)
            times.append(time.perf_counter() - t0)
        line = (f"{label:40s} best {min(times):7.3f} s  median {np.median(times):7.3f} s  "
                f"selected {idx.size:5d}  weight sum {w.sum():9.1f}")
        if name.startswith("gradmatch"):
            residual = np.linalg.norm(target - w @ grads[idx].astype(np.float64)) / np.linalg.norm(target)
            line += f"  relative residual {residual:.2e}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
