"""One PRESTO round at PathMNIST scale: what it costs outside training (SPEC §4, steps 2-5).

    python benchmarks/bench_round.py                  # N=90000, K=4, 64x7x7 features, 10 epochs, 1 round
    python benchmarks/bench_round.py --n 20000 --epochs 2 --rounds 2   # a quicker look

Runs ``run_presto`` (Algorithm 1 as the workflow runs it: fused training, loss matrix, objective,
keep/reject snapshot, Eq. 8 bound with the epsilon-distance term, exact size-constrained assignment
with leeway) on seeded synthetic features with class-dependent means. Per round it prints the
training time and everything else: the loss matrix (one forward pass of all data through all
components), the assignment (centre distances, modular bound, min-cost-flow solve) and the rest
(objective, snapshot of the kept state, history), measured as the round's wall time minus the
three timed parts. The overhead ratio is (wall - training) / training.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from prestorepro.models.fused import FusedResNetTail
from prestorepro.presto.algorithm import PrestoStreams, RunHooks, centre_distances, modular_upper_bound, run_presto
from prestorepro.presto.assignment import size_bounds, solve_assignment
from prestorepro.training.fused import loss_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from presto_defaults import presto_settings  # noqa: E402  (Algorithm 1's settings from the schema's defaults)


def synthetic_features(n: int, classes: int, hw: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 64, hw, hw) float32 maps with a per-class mean map plus unit noise, and labels."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    means = torch.randn(classes, 64, hw, hw, generator=g) * 0.5
    x = torch.randn(n, 64, hw, hw, generator=g)
    x += means[y]
    return x, y


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=90000)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--hw", type=int, default=7, help="feature-map side (7: 28 px images after layer1)")
    ap.add_argument("--classes", type=int, default=9)
    ap.add_argument("--widths", type=int, nargs=3, default=(4, 8, 16))
    ap.add_argument("--epochs", type=int, default=10, help="Train() epochs per round (App. B.3: 10)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--leeway", type=int, default=3000)
    ap.add_argument("--epsilon", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    x, y = synthetic_features(args.n, args.classes, args.hw, args.seed)
    x, y = x.to(dev), y.to(dev)
    init = np.random.default_rng(args.seed).permutation(np.arange(args.n) % args.k)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        model = FusedResNetTail(args.k, "layer1", args.widths, args.classes).to(dev)
    settings = presto_settings(k=args.k, rounds=args.rounds, epochs=args.epochs, batch_size=args.batch_size,
                               leeway=args.leeway, epsilon=args.epsilon, keep="every")
    gens = [torch.Generator().manual_seed(1000 + j) for j in range(args.k)]
    lo, hi = size_bounds(args.n, args.k, args.leeway)
    load = os.getloadavg()
    print(f"device {dev} ({platform.machine()}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"N={args.n}, K={args.k}, features 64x{args.hw}x{args.hw}, {args.classes} classes, widths "
          f"{tuple(args.widths)}, {args.epochs} epoch(s) per round, batch {args.batch_size}, part sizes in "
          f"[{lo}, {hi}], epsilon {args.epsilon}")

    marks: list[float] = []
    t0 = time.perf_counter()
    res = run_presto(model, x, y, init, settings, PrestoStreams(gens),
                     hooks=RunHooks(on_round=lambda r, m, a: marks.append(time.perf_counter()) or {}))
    wall = time.perf_counter() - t0
    s = res.seconds
    # everything but training, loss matrix and assignment: objective, snapshots, history, final restore
    other = wall - s["train"] - s["loss_matrix"] - s["assignment"] - s.get("singleton", 0.0)
    overhead = wall - s["train"]
    rounds = len(res.history)
    print(f"{rounds} round(s), wall {wall:.2f} s")
    print(f"  training        {s['train']:9.2f} s  ({s['train'] / rounds:.2f} s per round)")
    print(f"  loss matrix     {s['loss_matrix']:9.2f} s  ({100 * s['loss_matrix'] / s['train']:.2f}% of training)")
    print(f"  assignment      {s['assignment']:9.2f} s  ({100 * s['assignment'] / s['train']:.2f}% of training; "
          f"centre distances + Eq. 8 bound + exact solve)")
    print(f"  bookkeeping     {other:9.2f} s  ({100 * other / s['train']:.2f}% of training)")
    print(f"overhead outside training: {overhead:.2f} s = {100 * overhead / s['train']:.2f}% of training time")
    for h in res.history:
        print(f"  round {h['round']}: parts {h['part_sizes']}, moves {h['moves']}, G {h['objective']:.1f}")

    # the parts of one proposal step again, each timed alone, on the final state
    a = torch.as_tensor(res.assignment, device=dev)
    t0 = time.perf_counter()
    L = loss_matrix(model, x, y)
    t1 = time.perf_counter()
    dist = centre_distances(x.reshape(args.n, -1), a, args.k)
    t2 = time.perf_counter()
    M = modular_upper_bound(L, a, settings.alpha, L, settings.epsilon, dist)
    cost = M.double().cpu().numpy()
    t3 = time.perf_counter()
    solve_assignment(cost, lo, hi)
    t4 = time.perf_counter()
    print(f"again, each part alone: loss matrix {t1 - t0:.2f} s, centre distances {t2 - t1:.2f} s, "
          f"bound + copy to numpy {t3 - t2:.2f} s, exact assignment solve {t4 - t3:.2f} s")
    return {"wall": wall, "train": s["train"], "loss_matrix": s["loss_matrix"], "assignment": s["assignment"],
            "other": other, "overhead_fraction": overhead / s["train"]}


if __name__ == "__main__":
    main()
