"""How many epochs the combiner needs on a dataset: the Table-1 runs' components trained once per (method,
seed), the combiner then trained from the same seed for each budget, train and test accuracy reported.

    python benchmarks/bench_combiner_budget.py --results results --dataset digits --seeds 0 1 2 3 4 5 6 7 8 9 \\
        --epochs 10 25 50 100 [--methods presto equal_kmeans] [--json out.json]

App. B.3 trains the additional classifier 10 epochs; on the paper's 45,000-90,000 training points at batch
256 that is 1,760-3,520 steps, on digits' 1,079 at the embedded default's batch 64 it is 170. The same
question was asked of the router's gate (docs/results.md: 10 epochs left it at 82-96 % agreement on digits, 50 at
98 %). Components, partition and seeds are the Table-1 jobs' (``table1.run.run_method`` with the
config's settings); only the combiner's budget changes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--configfile", type=Path, default=ROOT / "config" / "config.yaml")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--epochs", type=int, nargs="+", default=[10, 25, 50, 100])
    ap.add_argument("--methods", nargs="+", default=["presto", "equal_kmeans"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import torch

    from prestorepro.config import load_config, validate_config
    from prestorepro.table1.run import RunSpec, run_method
    from prestorepro.features import Features
    from prestorepro.presto.combiner import (CombinerSchedule, combiner_inputs, combiner_predict, new_combiner,
                                             train_combiner)
    from prestorepro.streams import generator

    torch.set_num_threads(1)
    cfg = validate_config(load_config(args.configfile))
    ds = cfg["datasets"][args.dataset]
    emb = args.results / "embeddings" / args.dataset
    feats = Features.from_embedding(emb / "features.npz", emb / "features.json", torch.device("cpu"))
    presto = {k: v for k, v in cfg["presto"].items() if k not in ("k_sweep", "k_sweep_seeds", "predict")}
    rows = []
    for method in args.methods:
        for seed in args.seeds:
            spec = RunSpec(method=method, k=int(ds["k"]), seed=seed, widths=tuple(cfg["components"]["widths"]),
                           presto=presto, table1=cfg["table1"], dataset=ds, other_gates=False)
            t0 = time.perf_counter()
            out = run_method(feats, spec)
            model = out["model"]
            train_in, test_in = combiner_inputs(model, feats.train_x), combiner_inputs(model, feats.test_x)
            row = {"method": method, "seed": seed, "router": out["predictors"]["router"]["test_accuracy"],
                   "run_seconds": time.perf_counter() - t0}
            for epochs in args.epochs:
                stream = generator(seed, "combiner")
                schedule = CombinerSchedule(epochs=epochs, lr=presto["lr"],
                                            weight_decay=presto["combiner_weight_decay"],
                                            batch_size=presto["batch_size"])
                comb, info = train_combiner(new_combiner(model.k, feats.num_classes, stream.initial_seed()), train_in,
                                            feats.train_y, schedule, generator=stream, device=torch.device("cpu"))
                row[f"train_{epochs}"] = float((combiner_predict(comb, train_in) == feats.train_y.numpy()).mean())
                row[f"test_{epochs}"] = float((combiner_predict(comb, test_in) == feats.test_y.numpy()).mean())
                row[f"loss_{epochs}"] = info["best_loss"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| method | combiner epochs | train accuracy (%) | training loss | test accuracy (%) |")
    print("|---|---:|---:|---:|---:|")
    for method in args.methods:
        rs = [r for r in rows if r["method"] == method]
        for epochs in args.epochs:
            tr = 100 * np.array([r[f"train_{epochs}"] for r in rs])
            te = 100 * np.array([r[f"test_{epochs}"] for r in rs])
            lo = np.array([r[f"loss_{epochs}"] for r in rs])
            print(f"| {method} | {epochs} | {tr.mean():.2f} ± {tr.std(ddof=1):.2f} | {lo.mean():.4f} | "
                  f"{te.mean():.2f} ± {te.std(ddof=1):.2f} |")
        ro = 100 * np.array([r["router"] for r in rs])
        print(f"| {method} | router | | | {ro.mean():.2f} ± {ro.std(ddof=1):.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"config": str(args.configfile), "dataset": args.dataset, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
