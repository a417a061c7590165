"""float32 against float64 (config ``precision``) for the embedded default's PRESTO run on digits (K = 4),
under the CPU's own oneDNN kernels and under another instruction set's (``ONEDNN_MAX_CPU_ISA``, with ``--aten`` also ATen's own kernels'
``ATEN_CPU_CAPABILITY``): what each
precision costs in time and whether the run comes out the same (docs/drift.md).

    python benchmarks/bench_precision.py --results results --seed 0 [--isa AVX2] [--aten avx2] [--json out.json]

Needs a finished embedding of digits under RESULTS (``snakemake --cores 2`` or just its
``results/embeddings/digits/features.npz``). Each run is a fresh interpreter with one thread running
``jobs.presto.train_table1`` with the embedded default's settings, in fused mode (Table 1's runs) and in
sequential mode (the run that is also Table 2's PRESTO point); it prints the seconds, the test accuracy
under both predictors and a digest of the final partition and of the test routes. Same digest under two
instruction sets: the same run, bit for bit, wherever it is run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_RUN = r"""
import hashlib, json, logging, sys, tempfile, time
from pathlib import Path
import numpy as np, torch
from prestorepro.config import load_config
from prestorepro.jobs.common import set_precision, set_threads
from prestorepro.jobs.presto import train_table1
from prestorepro.jobs.specs import Embeddings, Table1Job
from prestorepro.plan.base import Run
results, precision, sequential, seed = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
set_threads(1); set_precision(precision)
cfg = load_config("config/config.yaml"); cfg["results"] = results
plan = Run(cfg)
out = Path(tempfile.mkdtemp())
emb = Path(results) / "embeddings" / "digits"
t = time.perf_counter()
job = Table1Job(embeddings=Embeddings(str(emb / "features.npz"), str(emb / "features.json")), dataset="digits",
                dataset_config=cfg["datasets"]["digits"], method="presto", k=cfg["datasets"]["digits"]["k"],
                seed=seed, presto=plan.train_presto, table1=plan.train_table1, options={},
                widths=cfg["components"]["widths"], embedding=cfg["embedding"], device="cpu", precision=precision,
                out_metrics=str(out / "m.json"), out_assignment=str(out / "a.npz"), checkpoint=None,
                sequential=sequential)
m = train_table1(job, logging.getLogger("bench"))
seconds = time.perf_counter() - t
with np.load(out / "a.npz") as a:
    digest = hashlib.sha256(a["train_assignment"].tobytes() + a["test_routes"].tobytes()).hexdigest()[:16]
print(json.dumps({"seconds": round(seconds, 2), "digest": digest,
                  "test_accuracy": {p: v["test_accuracy"] for p, v in m["predictors"].items()}}))
"""


def run(results: str, precision: str, sequential: bool, seed: int, isa: str | None, aten: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if isa:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    if aten:
        env["ATEN_CPU_CAPABILITY"] = aten
    out = subprocess.run([sys.executable, "-c", _RUN, results, precision, "1" if sequential else "0", str(seed)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--isa", default="AVX2", help="the other instruction set (ONEDNN_MAX_CPU_ISA)")
    ap.add_argument("--aten", default=None,
                    help="also run ATen's own kernels at this level (ATEN_CPU_CAPABILITY: default, avx2, avx512)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    print(f"host: {os.uname().machine}, {os.cpu_count()} CPUs; load average {os.getloadavg()}")
    rows = []
    for mode in ("fused", "sequential"):
        for precision in ("float32", "float64"):
            own = run(args.results, precision, mode == "sequential", args.seed, None)
            other = run(args.results, precision, mode == "sequential", args.seed, args.isa, args.aten)
            rows.append({"mode": mode, "precision": precision, "own": own, args.isa: other,
                         "same": own["digest"] == other["digest"] and own["test_accuracy"] == other["test_accuracy"]})
            acc = " / ".join(f"{p} {100 * own['test_accuracy'][p]:.2f} vs {100 * other['test_accuracy'][p]:.2f}"
                             for p in own["test_accuracy"])
            print(f"{mode:10s} {precision}: {own['seconds']:6.1f} s (own ISA) {other['seconds']:6.1f} s ({args.isa}); "
                  f"same run: {rows[-1]['same']}; test accuracy {acc}")
    for mode in ("fused", "sequential"):
        t32, t64 = (next(r for r in rows if r["mode"] == mode and r["precision"] == p)["own"]["seconds"]
                    for p in ("float32", "float64"))
        print(f"{mode}: float64 / float32 time {t64 / t32:.2f}x")
    print(f"load average at end {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
