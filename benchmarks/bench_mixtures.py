"""The cost of the Table-1 mixtures' covariance type at the paper's scale: GMM and BGMM (App. B.4, scikit-
learn, k-means init, tol 1e-3) fitted with ``full`` and ``diag`` covariances on 20000 points of a
64-dim PCA projection (``table1.max_fit_samples``, ``table1.pca_dim``), K = 4, through ``fit_partition``.

    python benchmarks/bench_mixtures.py [--n 20000] [--dim 64] [--k 4] [--json out.json]

The points: 10 Gaussian classes in 256 dims with unequal, correlated covariances (a stand-in for
embeddings), projected by the pipeline's own PCA. Prints the wall time, EM iterations, whether reg_covar
had to be raised, and the part sizes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from prestorepro.partitioners.base import fit_partition  # noqa: E402
from prestorepro.partitioners.parts import PartitionOptions  # noqa: E402


def stand_in(n: int, d: int = 256, classes: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    means = rng.normal(size=(classes, d)) * 2.0
    mix = rng.normal(size=(classes, d, 16)) * rng.uniform(0.3, 1.5, size=(classes, 1, 1))
    z = rng.normal(size=(n, 16))
    return (means[y] + np.einsum("nk,ndk->nd", z, mix[y]) + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--json")
    args = ap.parse_args()
    x = stand_in(args.n)
    print(f"load average before: {os.getloadavg()[0]:.2f}; {args.n} points, PCA to {args.dim}, K = {args.k}")
    rows = []
    for method in ("gmm", "bgmm"):
        for cov in ("full", "diag"):
            t0 = time.perf_counter()
            res = fit_partition(method, x, args.k, seed=0, pca_dim=args.dim,
                                options=PartitionOptions(max_fit_samples=args.n, covariance_type=cov))
            dt = time.perf_counter() - t0
            model = res.rule.model
            row = {"method": method, "covariance_type": cov, "seconds": dt, "em_iterations": int(model.n_iter_),
                   "converged": bool(model.converged_), "reg_covar": float(model.reg_covar),
                   "part_sizes": np.bincount(res.labels, minlength=args.k).tolist()}
            rows.append(row)
            print(f"{method} {cov}: {dt:.1f} s, {row['em_iterations']} EM iterations, converged {row['converged']}, "
                  f"reg_covar {row['reg_covar']:g}, parts {row['part_sizes']}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"n": args.n, "dim": args.dim, "k": args.k, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
