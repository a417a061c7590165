"""The steps of config/paper.yaml that do not grow linearly with N, timed at the paper's N on the stand-in
PathMNIST (89,996 training images, the largest paper dataset): what the cost forecast
(``prestorepro.forecast``), which scales a measured run's phases linearly in N, cannot project from a run
on smaller stand-ins.

    OMP_NUM_THREADS=2 python benchmarks/bench_scale_risks.py [--scale 1.0] [--json out.json]

Each step runs in a fresh process (its peak resident memory is that process's):

- ``embed``: the stand-in's ResNet18 layer1 features (64 x 7 x 7) of every split (the input of the rest);
- ``equal_kmeans``: Equal-KMeans (k-means-constrained, App. B.4) on all N points, K = 4, leeway 3000,
  one initialisation (config/paper.yaml runs n_init = 10 initialisations, one after another: x10);
- ``kmeans_pp``: scikit-learn's k-means++ with n_init = 10;
- ``agglomerative``: ward linkage on ``max_fit_samples`` = 20000 points (scipy's condensed distance matrix,
  m(m-1)/2 doubles = 1.5 GiB), the rest assigned to the nearest part centroid;
- ``gmm_full``: the Gaussian mixture with full covariances on 20000 points;
- ``loss_matrix_k6``: PRESTO's loss matrix with K = 6 components (Fig. 7's largest K) on all N points.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _embed(work: str, scale: float) -> dict:
    import numpy as np
    import torch

    from prestorepro.data import prepare_dataset
    from prestorepro.embed import build_trunk, extract_features

    data = prepare_dataset("standin", Path(work), 0, like="pathmnist", scale=scale)
    trunk = build_trunk("none", "layer1", seed=0)
    t0 = time.perf_counter()
    x = extract_features(data.train_x, trunk, batch_size=512, device=torch.device("cpu"))
    seconds = time.perf_counter() - t0
    np.save(Path(work) / "x.npy", x)
    np.save(Path(work) / "y.npy", data.train_y)
    return {"n": int(len(x)), "feature_shape": list(x.shape[1:]), "train_split_seconds": seconds}


def _partition(work: str, method: str, n_init: int, leeway: int) -> dict:
    import numpy as np

    from prestorepro.partitioners.base import fit_partition
    from prestorepro.partitioners.parts import PartitionOptions

    x = np.load(Path(work) / "x.npy").astype(np.float32)
    t0 = time.perf_counter()
    res = fit_partition(method, x, 4, 0, pca_dim=64, options=PartitionOptions(
        max_fit_samples=20000, leeway=leeway, n_init=n_init, covariance_type="full"))
    return {"n": int(len(x)), "n_init": n_init, "seconds": time.perf_counter() - t0,
            "part_sizes": np.bincount(res.labels, minlength=4).tolist()}


def _loss_matrix(work: str, k: int) -> dict:
    import numpy as np
    import torch

    from prestorepro.models.fused import FusedResNetTail
    from prestorepro.training.fused import loss_matrix

    x = torch.from_numpy(np.load(Path(work) / "x.npy").astype(np.float32))
    y = torch.from_numpy(np.load(Path(work) / "y.npy"))
    model = FusedResNetTail(k, "layer1", (4, 8, 16), 9)
    t0 = time.perf_counter()
    L = loss_matrix(model, x, y)
    return {"n": int(len(x)), "k": k, "seconds": time.perf_counter() - t0, "shape": list(L.shape)}


def _child(conn, fn, args):
    try:
        out = fn(*args)
    except Exception as exc:  # reported, the other steps still run
        out = {"error": f"{type(exc).__name__}: {exc}"}
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    conn.send(out)


def in_process(fn, *args) -> dict:
    parent, child = mp.Pipe()
    p = mp.get_context("fork").Process(target=_child, args=(child, fn, args))
    t0 = time.perf_counter()
    p.start()
    out = parent.recv()
    p.join()
    out["wall_seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of PathMNIST's N (1 = the paper's)")
    ap.add_argument("--json")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="scale_risks_")
    report = {"uptime_before": os.getloadavg(), "threads": os.environ.get("OMP_NUM_THREADS"), "steps": {}}
    leeway = int(3000 * a.scale)  # PathMNIST's (Table 5), scaled with N
    steps = [("embed", _embed, (work, a.scale)),
             ("equal_kmeans", _partition, (work, "equal_kmeans", 1, leeway)),
             ("kmeans_pp", _partition, (work, "kmeans_pp", 10, leeway)),
             ("agglomerative", _partition, (work, "agglomerative", 10, leeway)),
             ("gmm_full", _partition, (work, "gmm", 10, leeway)),
             ("loss_matrix_k6", _loss_matrix, (work, 6))]
    for name, fn, args in steps:
        r = in_process(fn, *args)
        report["steps"][name] = r
        print(name, json.dumps(r), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
