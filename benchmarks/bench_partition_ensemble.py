"""Why a random partition can beat the clustering baselines and PRESTO under the combiner: the partitions'
label concentration against what the combiner reads, on the Table-1 runs' own components.

    python benchmarks/bench_partition_ensemble.py --results results --dataset digits --seeds 0 1 2 3 4 5 6 7 8 9 \\
        [--methods random equal_kmeans presto moe] [--json out.json]

For every (method, seed) the Table-1 run is repeated in process (``table1.run.run_method`` with the config's
settings: the same components, partition and scores as the workflow's job), plus one partition no method
makes, ``label_pure`` (part = class mod K: every part holds whole classes, the extreme of label concentration),
trained on the same budget and scored the same way. Reported per run:

- ``entropy``: the label entropy of the parts (bits, weighted by part size; log2(C) for parts that each hold
  the class mix of the whole set);
- ``alone``: the mean over the K components of one component's accuracy on every test point, each predicting
  alone (a component that has seen every class predicts them all; one that has seen two cannot);
- ``average``: the accuracy of the uniform average of the K components' class probabilities, no learned layer;
- ``combiner``, ``router``: the run's own test accuracies; ``combiner_train``: the combiner's training accuracy;
- ``out_of_part``: the accuracy, on the training points, of the components that did not train on them (the
  predictions the combiner reads that are not memorised).
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

COLUMNS = ("entropy", "alone", "average", "out_of_part", "combiner_train", "combiner", "router")


def label_entropy(parts: np.ndarray, y: np.ndarray, k: int, classes: int) -> float:
    """Size-weighted mean over the parts of the entropy (bits) of the labels in a part."""
    total = 0.0
    for j in range(k):
        counts = np.bincount(y[parts == j], minlength=classes).astype(float)
        if counts.sum() == 0:
            continue
        p = counts[counts > 0] / counts.sum()
        total += counts.sum() / len(y) * float(-(p * np.log2(p)).sum())
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--configfile", type=Path, default=ROOT / "config" / "config.yaml")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--methods", nargs="+", default=["random", "equal_kmeans", "presto", "moe", "label_pure"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import torch

    from prestorepro.catalogue import method as catalogue_method
    from prestorepro.config import load_config, validate_config
    from prestorepro.features import Features
    from prestorepro.presto.combiner import combiner_inputs, combiner_predict
    from prestorepro.streams import component_generators
    from prestorepro.table1.base import component_stack, train_fixed_partition, training_settings
    from prestorepro.table1.predictors import fit_combiner
    from prestorepro.table1.run import RunSpec, run_method
    from prestorepro.training.fused import component_outputs

    torch.set_num_threads(1)
    cfg = validate_config(load_config(args.configfile))
    ds = cfg["datasets"][args.dataset]
    emb = args.results / "embeddings" / args.dataset
    feats = Features.from_embedding(emb / "features.npz", emb / "features.json", torch.device("cpu"))
    presto = {k: v for k, v in cfg["presto"].items() if k not in ("k_sweep", "k_sweep_seeds", "predict")}
    k, classes = int(ds["k"]), feats.num_classes
    y_train, y_test = feats.train_y.numpy(), feats.test_y.numpy()
    rows = []
    for method in args.methods:
        for seed in args.seeds:
            t0 = time.perf_counter()
            section = None if method == "label_pure" else catalogue_method("table1", method).options
            # PRESTO at the compress stage's points runs in sequential mode in the workflow (and so here: float32
            # rounding differs between the two modes, and on digits it moves single runs by a few points)
            sequential = method == "presto" and "presto" in cfg["compress"]["methods"]
            spec = RunSpec(method=method, k=k, seed=seed, widths=tuple(cfg["components"]["widths"]), presto=presto,
                           table1=cfg["table1"], dataset=ds, other_gates=False,
                           options=dict(cfg["table1"][section]) if section else {},
                           compute_device=torch.device("cpu") if sequential else None)
            if method == "label_pure":
                parts = (y_train % k).astype(np.int64)
                model = component_stack(spec, feats)
                train_fixed_partition(model, feats, parts, training_settings(spec), component_generators(seed, k),
                                      log=lambda m: None, checkpoint_path=None, label=method)
                comb = fit_combiner(feats, model, presto, seed, label=method, log=None)
                combiner, router = comb["test_accuracy"], float("nan")
                combiner_model = comb["combiner"]
            else:
                out = run_method(feats, spec)
                model, parts = out["model"], np.asarray(out["assignment"])
                combiner = out["predictors"]["combiner"]["test_accuracy"]
                router = out["predictors"]["router"]["test_accuracy"]
                combiner_model = out["combiner"]
            with torch.no_grad():
                test_p = torch.softmax(component_outputs(model, feats.test_x), -1)  # (N, K, C)
                train_pred = component_outputs(model, feats.train_x).argmax(-1).numpy()  # (N, K)
            alone = float((test_p.argmax(-1).numpy() == y_test[:, None]).mean())
            average = float((test_p.mean(1).argmax(-1).numpy() == y_test).mean())
            others = np.ones_like(train_pred, dtype=bool)
            others[np.arange(len(parts)), parts] = False
            out_of_part = float((train_pred == y_train[:, None])[others].mean())
            train_in = combiner_inputs(model, feats.train_x)
            combiner_train = float((combiner_predict(combiner_model, train_in) == y_train).mean())
            row = {"method": method, "seed": seed, "entropy": label_entropy(parts, y_train, k, classes), "alone": alone,
                   "average": average, "out_of_part": out_of_part, "combiner_train": combiner_train,
                   "combiner": combiner, "router": router, "seconds": time.perf_counter() - t0}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| partition | label entropy (bits) | one component alone (%) | uniform average (%) | out-of-part on train (%) "
          "| combiner train (%) | combiner test (%) | router test (%) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for method in args.methods:
        rs = [r for r in rows if r["method"] == method]
        cells = []
        for col in COLUMNS:
            v = np.array([r[col] for r in rs], dtype=float) * (1 if col == "entropy" else 100)
            cells.append("–" if np.isnan(v).all() else f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1
                         else f"{v.mean():.2f}")
        print(f"| {method} | " + " | ".join(cells) + " |")
    every = [r for r in rows if r["method"] != "label_pure"]
    if len(every) > 2:
        r = np.corrcoef([x["entropy"] for x in every], [x["combiner"] for x in every])[0, 1]
        print(f"\ncorrelation of label entropy and combiner test accuracy over the {len(every)} runs of "
              f"{', '.join(m for m in args.methods if m != 'label_pure')}: r = {r:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"config": str(args.configfile), "dataset": args.dataset, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
