"""The authors' PRESTO code beside this project's, on this project's embeddings, in one run.

The authors' code (github.com/parthsangani00/PRESTO, 2023-05-31) is downloaded by the user and never
copied into this repository:

    git clone https://github.com/parthsangani00/PRESTO /tmp/PRESTO
    snakemake --cores 2                                       # the embeddings: results/embeddings/digits
    python benchmarks/peers/authors_presto.py --authors /tmp/PRESTO --results results --dataset digits \\
        --seeds 0 1 2 --out benchmarks/peers/out

Per seed it runs, on the same split, K, leeway and epsilon (``--configfile``'s dataset entry):

- theirs: ``presto.py`` (PRESTO), ``presto.py --clustering_baseline --cluster_init EqKMeans`` (their
  Equal-KMeans baseline, evaluated like PRESTO with their external classifier), and ``presto.py`` with the
  sign of the classifier term of their reassignment score flipped; each in a fresh temporary folder
  (their code caches its initial partition in the working directory), on the CPU unless ``--cuda``;
- ours: the Table-1 jobs' PRESTO and Equal-KMeans runs (``table1.run.run_method``) with the
  config's settings, each evaluated under both test-time predictors (combiner and router).

Their script reads only their own datasets (CIFAR10/100 and STL10 "rotate" feature files); the adapter
adds one dataset, ``prestorepro``, that reads this project's feature maps, and one branch in ``presto.py``
that builds their models for it exactly as their CIFAR branches do (their ``ConvBlocks`` with this config's
widths; ``ConvBlocks_CIFAR10`` for a layer2 cut) with ``REG_LAMBDA`` = the dataset's epsilon. The patch is
applied to a copy at run time and printed as a diff. Unlike their dataset classes, the adapter's does not
reseed torch (theirs call ``seed_torch(0)`` and ``seed_torch(1)`` when built, after ``--seed`` was applied,
so their ``--seed`` changes nothing); with the adapter ``--seed`` seeds their run.

Printed: their final and test-selected ("Best Test Accuracy", the maximum over rounds of the test
accuracy) accuracy, the fraction of points that stay in their part per round, beside ours under both
predictors (ours selects nothing on the test split). ``--out`` gets report.json, report.md and their logs.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

THEIR_FILES = ("presto.py", "helperFunctionsJoint.py", "myModels.py", "myDatasets.py", "clustering.py", "arguments.py")
ADAPTER = '''"""This project's feature maps as a dataset of the authors' code (written by prestorepro's peer benchmark)."""
import numpy as np
import torch
from torch.utils.data.dataset import Dataset


class PRESTOREPRO(Dataset):
    def __init__(self, train):
        super().__init__()
        d = np.load("prestorepro_peer_data.npz")
        split = "train" if train else "test"
        self.train = train
        self.data = torch.tensor(d[split + "_x"], dtype=torch.float32)
        self.labels = torch.tensor(d[split + "_y"], dtype=torch.long)
        self.num_classes = int(d["num_classes"])
        self.num_features = self.num_attributes = int(self.data.shape[1])
        self.data_size = int(self.data.shape[0])

    def __getitem__(self, i):
        return i, self.data[i], self.labels[i]

    def __len__(self):
        return self.data.shape[0]
'''
# the lines of presto.py the patch anchors on (a different version of their code is refused, naming the line)
IMPORT_ANCHOR = "from arguments import myArgParse\n"
BRANCH_ANCHOR = "\nif args.get_param_count:\n"
SIGN_ANCHOR = "all_scores[:,bi] = all_scores[:,bi] + REG1_"


def model_expression(cut: str, widths) -> str:
    """Their component for a cut, as their own branches build it (ConvBlocks after layer1; the CIFAR10
    branch's ConvBlocks_CIFAR10 after layer2, which keeps the last two widths)."""
    w = [int(v) for v in widths]
    if cut == "layer1":
        return (f"ConvBlocks(input_dim=trainset.num_features, hidden_dim1={w[0]}, hidden_dim2={w[1]}, "
                f"hidden_dim3={w[2]}, output_dim=trainset.num_classes, is_downsample=True)")
    if cut == "layer2":
        return (f"ConvBlocks_CIFAR10(input_dim=trainset.num_features, hidden_dim1={w[1]}, hidden_dim2={w[2]}, "
                f"output_dim=trainset.num_classes, is_downsample=True)")
    raise ValueError(f"no model of the authors' code for cut {cut!r}")


def patch_presto(source: str, *, epsilon: float, cut: str, widths, flip_sign: bool = False) -> str:
    """Their presto.py with the ``prestorepro`` dataset branch (and, with ``flip_sign``, the classifier
    term of the reassignment score negated). Raises ValueError naming the line it needs if the file is
    not the version this patch was written for."""
    for anchor in (IMPORT_ANCHOR, BRANCH_ANCHOR, SIGN_ANCHOR):
        if source.count(anchor) != 1:
            raise ValueError(f"presto.py does not hold the line {anchor.strip()!r} exactly once: this is not the "
                             "version of the authors' code (github.com/parthsangani00/PRESTO, commit a2e2e18) the "
                             "adapter patches")
    branch = f'''
elif args.dataset == 'prestorepro':  # added by prestorepro's peer benchmark: this project's feature maps

    REG_LAMBDA = {float(epsilon)!r}

    trainset = PRESTOREPRO(train = True)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=SUBSET_TRAIN_BATCH_SIZE, shuffle = True)
    testset = PRESTOREPRO(train = False)
    testloader = torch.utils.data.DataLoader(testset, batch_size=SUBSET_TRAIN_BATCH_SIZE, shuffle = False)

    lrs = [lr for _ in range(NUM_BINS)]
    models = []
    for _ in range(NUM_BINS):
        models.append({model_expression(cut, widths)}.to(device))

    external_classifier = LinearNN(input_dim = NUM_BINS*trainset.num_classes, output_dim = trainset.num_classes).to(device)
'''
    out = source.replace(IMPORT_ANCHOR, IMPORT_ANCHOR + "from prestorepro_peer_data import PRESTOREPRO\n")
    out = out.replace(BRANCH_ANCHOR, branch + BRANCH_ANCHOR)
    if flip_sign:
        out = out.replace(SIGN_ANCHOR, "all_scores[:,bi] = -all_scores[:,bi] + REG1_")
    return out


def parse_log(text: str) -> dict:
    """Their per-round test accuracy, their "Best Test Accuracy", and per round the part sizes and the
    fraction of points that stayed in their part (the trace of their "Bin transfer" matrix)."""
    tests = [float(v) for v in re.findall(r"^Test Accuracy :\s+([-0-9.eE]+) %", text, flags=re.M)]
    best = re.search(r"^Best Test Accuracy :\s+([-0-9.eE]+)", text, flags=re.M)
    stayed, sizes = [], []
    for block in re.findall(r"Bin transfer :\s+(\[\[.*?\]\])", text, flags=re.S):
        m = np.array([[float(v) for v in row.split()] for row in re.findall(r"\[([^\[\]]+)\]", block)])
        if m.sum() > 0:
            stayed.append(float(np.trace(m) / m.sum()))
    for row in re.findall(r"^Bin counts :\s+\[([^\]]+)\]", text, flags=re.M):
        sizes.append([int(float(v)) for v in row.split()])
    if not tests:
        raise ValueError("the authors' run printed no 'Test Accuracy' line; see its log")
    return {"test_accuracy_per_round": tests, "final": tests[-1],
            "best": float(best.group(1)) if best else max(tests), "stayed_per_round": stayed,
            "part_sizes_per_round": sizes}


def run_theirs(authors: Path, data: Path, patched: str, args: list[str], log: Path, timeout: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="presto-peer-") as tmp:
        work = Path(tmp)
        for name in THEIR_FILES:
            shutil.copy(authors / name, work / name)
        (work / "presto.py").write_text(patched)
        (work / "prestorepro_peer_data.py").write_text(ADAPTER)
        shutil.copy(data, work / "prestorepro_peer_data.npz")
        env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "presto.py", *args], cwd=work, capture_output=True, text=True,
                              timeout=timeout, env=env)
        seconds = time.perf_counter() - t0
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"the authors' presto.py {' '.join(args)} failed (exit {proc.returncode}); "
                           f"its output: {log}\n{proc.stderr[-2000:]}")
    return {**parse_log(proc.stdout), "seconds": seconds, "args": args}


def run_ours(feats, cfg: dict, name: str, method: str, seed: int) -> dict:
    from prestorepro.table1.run import RunSpec, run_method

    ds = cfg["datasets"][name]
    spec = RunSpec(method=method, k=int(ds["k"]), seed=seed, widths=tuple(cfg["components"]["widths"]),
                   presto={k: v for k, v in cfg["presto"].items() if k not in ("k_sweep", "k_sweep_seeds", "predict")},
                   table1=cfg["table1"], dataset=ds, other_gates=False, label=f"ours {method} seed {seed}")
    t0 = time.perf_counter()
    out = run_method(feats, spec)
    n = feats.train_x.shape[0]
    return {"combiner": 100 * out["predictors"]["combiner"]["test_accuracy"],
            "router": 100 * out["predictors"]["router"]["test_accuracy"],
            "stayed_per_round": [1 - h["moves"] / n for h in out["history"]],
            "part_sizes": np.bincount(out["assignment"], minlength=spec.k).tolist(),
            "seconds": time.perf_counter() - t0}


def _ms(values) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():.2f} ± {a.std(ddof=1):.2f}" if len(a) > 1 else f"{a.mean():.2f}"


def report(results: dict) -> str:
    seeds = sorted(results["seeds"])
    per = results["runs"]
    lines = [f"# The authors' PRESTO code beside ours: {results['dataset']}, K = {results['k']}, leeway "
             f"{results['leeway']}, epsilon {results['epsilon']}, seeds {seeds}", "",
             f"- theirs: {results['their_budget']}", f"- ours: {results['our_budget']}", "",
             "| run | predictor | final test accuracy (%) | test-selected (max over rounds) | points staying in their part per round |",
             "|---|---|---:|---:|---|"]
    for key, label in (("presto", "their PRESTO (presto.py)"), ("equal_kmeans", "their Equal-KMeans (--clustering_baseline)"),
                       ("presto_flipped", "their PRESTO, classifier term's sign flipped")):
        rs = [per[str(s)]["theirs"][key] for s in seeds]
        stay = [f"{min(r['stayed_per_round']):.2f}-{max(r['stayed_per_round']):.2f}" if r["stayed_per_round"] else "-"
                for r in rs]
        lines.append(f"| {label} | external classifier | {_ms([r['final'] for r in rs])} | "
                     f"{_ms([r['best'] for r in rs])} | {', '.join(stay)} |")
    for key, label in (("presto", "our PRESTO (Algorithm 1)"), ("equal_kmeans", "our Equal-KMeans")):
        rs = [per[str(s)]["ours"][key] for s in seeds]
        stay = [f"{min(r['stayed_per_round']):.2f}-{max(r['stayed_per_round']):.2f}" if r["stayed_per_round"] else "-"
                for r in rs]
        for predictor in ("combiner", "router"):
            lines.append(f"| {label} | {predictor} | {_ms([r[predictor] for r in rs])} | – | "
                         f"{', '.join(stay) if predictor == 'combiner' else ''} |")
    lines += ["", "Per seed (final test accuracy, %):", ""]
    lines.append("| seed | their PRESTO | their Equal-KMeans | their PRESTO flipped | our PRESTO combiner | "
                 "our PRESTO router | our Equal-KMeans combiner | our Equal-KMeans router |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in seeds:
        t, o = per[str(s)]["theirs"], per[str(s)]["ours"]
        lines.append(f"| {s} | {t['presto']['final']:.2f} | {t['equal_kmeans']['final']:.2f} | "
                     f"{t['presto_flipped']['final']:.2f} | {o['presto']['combiner']:.2f} | {o['presto']['router']:.2f} | "
                     f"{o['equal_kmeans']['combiner']:.2f} | {o['equal_kmeans']['router']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--authors", required=True, type=Path, help="a checkout of github.com/parthsangani00/PRESTO")
    ap.add_argument("--results", default="results", type=Path, help="a results tree holding embeddings/<dataset>")
    ap.add_argument("--configfile", default=ROOT / "config" / "config.yaml", type=Path)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--cuda", type=int, default=-1, help="their --cuda: a GPU index, -1 for the CPU")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per run of their script")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "peers" / "out")
    args = ap.parse_args()

    import torch

    from prestorepro.config import load_config, validate_config
    from prestorepro.features import Features

    missing = [f for f in THEIR_FILES if not (args.authors / f).is_file()]
    if missing:
        sys.exit(f"{args.authors} is not a checkout of the authors' code (missing {', '.join(missing)}); "
                 "git clone https://github.com/parthsangani00/PRESTO and pass its folder as --authors")
    cfg = validate_config(load_config(args.configfile))
    if args.dataset not in cfg["datasets"] or cfg["datasets"][args.dataset]["source"] == "synthetic":
        sys.exit(f"--dataset {args.dataset!r} is not an image dataset of {args.configfile}")
    ds = cfg["datasets"][args.dataset]
    emb = args.results / "embeddings" / args.dataset
    if not (emb / "features.npz").is_file():
        sys.exit(f"{emb / 'features.npz'} does not exist: run the workflow first (snakemake --cores 2), or pass the "
                 "results tree that holds it as --results")
    torch.set_num_threads(1)
    feats = Features.from_embedding(emb / "features.npz", emb / "features.json", torch.device("cpu"))
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / "prestorepro_peer_data.npz"
    np.savez(data, train_x=feats.train_x.float().numpy(), train_y=feats.train_y.numpy(),
             test_x=feats.test_x.float().numpy(), test_y=feats.test_y.numpy(), num_classes=feats.num_classes)
    source = (args.authors / "presto.py").read_text()
    patched = {flip: patch_presto(source, epsilon=ds["epsilon"], cut=feats.cut, widths=cfg["components"]["widths"],
                                  flip_sign=flip) for flip in (False, True)}
    for flip, text in patched.items():
        print(f"--- the patch applied to presto.py{' (sign flipped)' if flip else ''} ---")
        sys.stdout.writelines(difflib.unified_diff(source.splitlines(True), text.splitlines(True),
                                                   "presto.py", "presto.py (patched)", n=1))
    print("--- the adapter's dataset (prestorepro_peer_data.py), added beside their files ---")
    print(ADAPTER)
    k, leeway = int(ds["k"]), int(ds["leeway"])
    common = ["--dataset", "prestorepro", "--n_bins", str(k), "--lee_way", str(leeway), "--cuda", str(args.cuda)]
    runs = {}
    for seed in args.seeds:
        s = ["--seed", str(seed), "--ckpt", "ckpt"]
        theirs = {
            "presto": run_theirs(args.authors, data, patched[False], [*common, *s, "--cluster_init", "EqKMeans"],
                                 args.out / "logs" / f"presto_seed{seed}.log", args.timeout),
            "equal_kmeans": run_theirs(args.authors, data, patched[False],
                                       [*common, *s, "--cluster_init", "EqKMeans", "--clustering_baseline"],
                                       args.out / "logs" / f"equal_kmeans_seed{seed}.log", args.timeout),
            "presto_flipped": run_theirs(args.authors, data, patched[True], [*common, *s, "--cluster_init", "EqKMeans"],
                                         args.out / "logs" / f"presto_flipped_seed{seed}.log", args.timeout),
        }
        ours = {m: run_ours(feats, cfg, args.dataset, m, seed) for m in ("presto", "equal_kmeans")}
        runs[str(seed)] = {"theirs": theirs, "ours": ours}
        print(f"seed {seed}: theirs PRESTO {theirs['presto']['final']:.2f} (best {theirs['presto']['best']:.2f}), "
              f"Equal-KMeans {theirs['equal_kmeans']['final']:.2f}, flipped {theirs['presto_flipped']['final']:.2f}; "
              f"ours PRESTO combiner {ours['presto']['combiner']:.2f} router {ours['presto']['router']:.2f}, "
              f"Equal-KMeans combiner {ours['equal_kmeans']['combiner']:.2f} router {ours['equal_kmeans']['router']:.2f}",
              flush=True)
    p = cfg["presto"]
    results = {"dataset": args.dataset, "k": k, "leeway": leeway, "epsilon": ds["epsilon"], "seeds": args.seeds,
               "config": str(args.configfile), "cut": feats.cut, "train": int(feats.train_x.shape[0]),
               "test": int(feats.test_x.shape[0]),
               "their_budget": "10 rounds of 10 epochs per component and 10 of their external classifier, batch 256, "
                               "Adam lr 0.01, weight decay 1e-4, one-cycle schedule (their presto.py, unchanged)",
               "our_budget": (f"{p['rounds']} rounds of {p['epochs']} epochs, batch {p['batch_size']}, Adam lr {p['lr']}; "
                              f"combiner {p['combiner_epochs']} epochs, gate {p['gate_epochs']} epochs ({args.configfile})"),
               "runs": runs}
    (args.out / "report.json").write_text(json.dumps(results, indent=1))
    text = report(results)
    (args.out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
