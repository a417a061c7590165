"""The mixture of experts' training variants side by side on the Table-1 runs' data and budget: does the gate
spread the points over the K experts, and what does each predictor score?

    python benchmarks/bench_moe_variants.py --results results --dataset digits --seeds 0 1 2 3 4 5 6 7 8 9 \\
        --variants training=soft balance=1 gate_lr=0.0001 training=hard_em [--json out.json]
    python benchmarks/bench_moe_variants.py --results results --dataset synthetic --seeds 0 1 2 3 4 \\
        --variants training=soft synthetic_expert=hinge training=hard_em

A variant is ``key=value[,key=value...]`` over ``table1.moe``'s keys, the config's values elsewhere
(``training``: ``soft`` gradient descent on the mixture likelihood or ``hard_em``; ``balance``: the weight of
the load-balancing term; ``gate_lr``: the gate's learning rate; ``synthetic_expert``: on the synthetic data the
linear experts' likelihood, ``logistic`` or ``hinge``); ``default`` is the config's setting. Each run is the workflow job's (``table1.run.run_method``, or on a
synthetic dataset ``synthetic.mixture.run_synthetic_mixture``, with the config's settings and the variant's
options). Reported per variant, mean ± std over seeds: the test accuracy under the combiner, the router (top-1
by the gate) and the gate-weighted mixture (on the synthetic data: Err_S / pairs of the gate's partition, the
routed and the mixture's test accuracy); how many experts the gate routes any training point to after round 1
and at the end, and the largest part's share at the end.
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
    ap.add_argument("--variants", nargs="+", default=["default", "balance=1", "gate_lr=0.0001", "training=hard_em"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import torch

    from prestorepro.config import load_config, validate_config
    from prestorepro.features import Features
    from prestorepro.table1.run import RunSpec, run_method

    torch.set_num_threads(1)
    cfg = validate_config(load_config(args.configfile))
    ds = cfg["datasets"][args.dataset]
    if ds["source"] == "synthetic":
        return synthetic(args, cfg)
    emb = args.results / "embeddings" / args.dataset
    feats = Features.from_embedding(emb / "features.npz", emb / "features.json", torch.device("cpu"))
    presto = {k: v for k, v in cfg["presto"].items() if k not in ("k_sweep", "k_sweep_seeds", "predict")}
    n = feats.train_x.shape[0]
    rows = []
    for variant in args.variants:
        options = variant_options(cfg, variant)
        for seed in args.seeds:
            spec = RunSpec(method="moe", k=int(ds["k"]), seed=seed, widths=tuple(cfg["components"]["widths"]),
                           presto=presto, table1=cfg["table1"], dataset=ds, options=options)
            t0 = time.perf_counter()
            out = run_method(feats, spec)
            hist = out["history"]
            row = {"variant": variant, "seed": seed,
                   **{p: out["predictors"][p]["test_accuracy"] for p in ("combiner", "router", "mixture")},
                   "mixture_val": out["predictors"]["mixture"]["val_accuracy"],
                   "experts_round1": int(sum(s > 0 for s in hist[0]["part_sizes"])),
                   "gate_confidence_round1": hist[0]["gate_confidence"],
                   "experts_final": int(sum(s > 0 for s in np.bincount(out["assignment"], minlength=spec.k))),
                   "largest_share": float(np.bincount(out["assignment"]).max() / n),
                   "rounds_run": out["rounds_run"], "seconds": time.perf_counter() - t0}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| variant | mixture, val (%) | combiner (%) | router (%) | mixture (%) | gate confidence after round 1 "
          "| experts used after round 1 | at the end | largest part's share |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for variant in args.variants:
        rs = [r for r in rows if r["variant"] == variant]

        def cell(key, scale=100.0):
            v = scale * np.array([r[key] for r in rs], dtype=float)
            return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f}"

        print(f"| {variant} | {cell('mixture_val')} | {cell('combiner')} | {cell('router')} | {cell('mixture')} | "
              f"{cell('gate_confidence_round1', 1)} | {cell('experts_round1', 1)} | {cell('experts_final', 1)} | "
              f"{cell('largest_share')} |")
    if args.json:
        args.json.write_text(json.dumps({"config": str(args.configfile), "dataset": args.dataset, "rows": rows}, indent=1))


def variant_options(cfg, variant: str) -> dict:
    """``table1.moe`` with the variant's ``key=value`` pairs (numbers parsed) over it."""
    options = dict(cfg["table1"]["moe"])
    if variant != "default":
        for pair in variant.split(","):
            key, value = pair.split("=")
            if key not in options:
                raise SystemExit(f"unknown table1.moe key {key!r}; valid: {', '.join(options)}")
            options[key] = value if key in ("training", "synthetic_expert") else float(value)
    return options


def synthetic(args, cfg) -> None:
    import torch

    from prestorepro.data import load_prepared
    from prestorepro.synthetic.mixture import run_synthetic_mixture

    data = load_prepared(args.results / "data" / args.dataset / "prepared.npz")
    rows = []
    for variant in args.variants:
        options = variant_options(cfg, variant)
        for seed in args.seeds:
            t0 = time.perf_counter()
            metrics, arrays = run_synthetic_mixture(data, cfg["synthetic"], options, seed, torch.device("cpu"))
            f = metrics["final"]
            final = np.bincount(arrays["final"].astype(int), minlength=cfg["synthetic"]["k"])
            row = {"variant": variant, "seed": seed, "err_s": f["err_s_normalised"], "routed": f["test_accuracy_gated"],
                   "mixture": f["test_accuracy_mixture"],
                   "experts_round1": int(sum(s > 0 for s in metrics["history"][0]["part_sizes"])),
                   "experts_final": int((final > 0).sum()), "largest_share": float(final.max() / final.sum()),
                   "seconds": time.perf_counter() - t0}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| variant | Err_S / pairs | routed test (%) | mixture test (%) | experts used after round 1 | at the end "
          "| largest part's share |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant in args.variants:
        rs = [r for r in rows if r["variant"] == variant]

        def cell(key, scale=100.0, digits=2):
            v = scale * np.array([r[key] for r in rs], dtype=float)
            return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"

        print(f"| {variant} | {cell('err_s', 1, 3)} | {cell('routed')} | {cell('mixture')} | {cell('experts_round1', 1)} "
              f"| {cell('experts_final', 1)} | {cell('largest_share')} |")
    if args.json:
        args.json.write_text(json.dumps({"config": str(args.configfile), "dataset": args.dataset, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
