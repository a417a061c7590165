"""GRAD-MATCH's OMP against the authors' CORDS 0.0.4 ``OrthogonalMP_REG_Parallel``, side by side in one
process on one thread: time and E_lambda = ||t - A w||^2 + lambda ||w||^2 on the same input.

    pip install --no-deps --target /tmp/cords cords==0.0.4
    OMP_NUM_THREADS=1 python benchmarks/bench_omp_cords.py --cords /tmp/cords [--repeats 3] [--json out.json]

Problems (GRAD-MATCH §4, the per-gradient last-layer proxy [p - y | (p - y) e] with 10 classes and a
64-dim embedding, so D = 10 + 640 = 650): the full problem, 5000 points, 500 picks, lambda 0.5,
tol 1e-10, non-negative weights; and per class (the per-class OMP of GRAD-MATCH), 500 points of one
class, the class's 65 columns, 50 picks. CORDS sets ``np.seterr(all='raise')`` when imported; numpy's
settings are restored after the import.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from prestorepro.coreset.omp import orthogonal_matching_pursuit  # noqa: E402


def last_layer_gradients(n: int, classes: int = 10, emb: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + 2.0 * np.eye(classes)[y]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    e = np.maximum(rng.normal(size=(n, emb)), 0.0)
    r = p - np.eye(classes)[y]
    return np.concatenate([r, (r[:, :, None] * e[:, None, :]).reshape(n, -1)], axis=1), y


def problems() -> dict:
    g, y = last_layer_gradients(5000)
    full = (g, g.sum(0), 500)
    c = 0
    cols = np.concatenate([[c], 10 + c * 64 + np.arange(64)])  # class c's output and its weight row
    gc = last_layer_gradients(5000, seed=1)[0][:, cols][:500]
    return {"full (5000 x 650, 500 picks)": full, "per class (500 x 65, 50 picks)": (gc, gc.sum(0), 50)}


def e_lambda(g: np.ndarray, t: np.ndarray, idx: np.ndarray, w: np.ndarray, lam: float) -> float:
    r = t - g[idx].T @ w
    return float(r @ r + lam * w @ w)


def run_ours(g, t, budget, lam, tol):
    res = orthogonal_matching_pursuit(g, t, budget, lam=lam, tol=tol)
    idx, w = res.nonzero()
    return idx, w


def run_cords(omp, g, t, budget, lam, tol):
    x = omp(torch.from_numpy(g.T.copy()), torch.from_numpy(t.copy()), tol=tol, nnz=budget, positive=True, lam=lam,
            device="cpu").numpy()
    idx = np.flatnonzero(x > 0)
    return idx, x[idx]


def timed(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cords", required=True, help="folder CORDS 0.0.4 was installed into (pip --target)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lam", type=float, default=0.5)
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    saved = np.geterr()
    sys.path.insert(0, args.cords)
    from cords.selectionstrategies.helpers.omp_solvers import OrthogonalMP_REG_Parallel  # noqa: E402
    np.seterr(**saved)
    rows = []
    print(f"load average before: {os.getloadavg()[0]:.2f}; threads: torch {torch.get_num_threads()}")
    for name, (g, t, budget) in problems().items():
        t_ours, (i_o, w_o) = timed(lambda: run_ours(g, t, budget, args.lam, args.tol), args.repeats)
        t_cords, (i_c, w_c) = timed(lambda: run_cords(OrthogonalMP_REG_Parallel, g, t, budget, args.lam, args.tol),
                                    args.repeats)
        row = {"problem": name, "ours_s": t_ours, "cords_s": t_cords, "ours_over_cords": t_ours / t_cords,
               "ours_e_lambda": e_lambda(g, t, i_o, w_o, args.lam), "cords_e_lambda": e_lambda(g, t, i_c, w_c, args.lam),
               "ours_support": int(i_o.size), "cords_support": int(i_c.size)}
        rows.append(row)
        print(f"{name}: ours {t_ours:.3f} s, CORDS {t_cords:.3f} s (ratio {row['ours_over_cords']:.2f}); "
              f"E_lambda ours {row['ours_e_lambda']:.6g}, CORDS {row['cords_e_lambda']:.6g}; "
              f"support {row['ours_support']} / {row['cords_support']}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "lam": args.lam, "tol": args.tol}, indent=1))


if __name__ == "__main__":
    main()
