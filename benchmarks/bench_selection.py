"""Time subset selection (SPEC §7) at CIFAR10 scale: 50000 points, 10 classes, 10% budget.

    python benchmarks/bench_selection.py

The gradient proxies are seeded synthetic last-layer gradients p_i - y_i (D = 10) of a classifier
with random logits that lean towards the true class. Prints each strategy's selection time (best and
median over --repeats) with the size and weight sum of what it selected, and for the OMP-based
methods the relative residual of what OMP matched: per class, ||t_c - sum_j w_j g_j|| over the
columns the class matches (its own column under the per-gradient approximation, all columns
otherwise), combined over classes as sqrt(sum_c r_c^2) / sqrt(sum_c ||t_c||^2); for the per-batch
variant the residual of the full gradient sum.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from prestorepro.coreset import SELECTORS, last_layer_gradients, per_gradient_columns
from prestorepro.coreset.gradmatch import GradMatchOptions

RUNS = [
    ("random", "random", {}),
    ("craig (lazy greedy)", "craig", {"greedy": "lazy"}),
    ("craig (stochastic greedy, eps 0.01)", "craig", {"greedy": "stochastic"}),
    ("gradmatch (per class, per gradient)", "gradmatch", {}),
    ("gradmatch (per class, all 10 columns)", "gradmatch", {"options": GradMatchOptions(per_gradient=False)}),
    ("gradmatch_pb (batch 32)", "gradmatch_pb", {"batch_size": 32}),
]


def synthetic_gradients(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(scale=1.5, size=(n, classes)).astype(np.float32)
    logits[np.arange(n), labels] += 2.0
    return last_layer_gradients(torch.from_numpy(logits), labels), labels


def matched_residual(grads: np.ndarray, labels: np.ndarray, idx: np.ndarray, w: np.ndarray, name: str,
                     options: dict) -> float:
    g = grads.astype(np.float64)
    if name == "gradmatch_pb":
        t = g.sum(axis=0)
        return float(np.linalg.norm(t - w @ g[idx]) / np.linalg.norm(t))
    classes = int(labels.max()) + 1
    res2 = tot2 = 0.0
    for c in range(classes):
        per_gradient = options.get("options", GradMatchOptions()).per_gradient
        cols = per_gradient_columns(c, classes, g.shape[1]) if per_gradient else slice(None)
        t = g[labels == c][:, cols].sum(axis=0)
        mine = labels[idx] == c
        res2 += float(np.sum((t - w[mine] @ g[idx[mine]][:, cols]) ** 2))
        tot2 += float(np.sum(t ** 2))
    return float(np.sqrt(res2 / tot2))


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
            line += f"  relative residual {matched_residual(grads, labels, idx, w, name, options):.2e}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
