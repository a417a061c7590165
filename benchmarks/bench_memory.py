"""Peak memory of training and inference, per method of the resource-constrained comparison (§4.2).

Every measurement runs in a fresh process (multiprocessing "spawn"), so memory kept by the allocator
from an earlier measurement cannot hide a later one. Inside it, ``MemoryProbe`` wraps building the
model(s), putting the synthetic features on the device and the call itself — what the paper's
"maximum GPU memory used during training" counts. On the CPU the figures are the process RSS
(``kind: cpu_rss``), which includes the Python interpreter and torch (the baseline column).

    python benchmarks/bench_memory.py                     # CPU, small synthetic features
    python benchmarks/bench_memory.py --device cuda --n 2048 --json out.json

Methods: one PRESTO component (4, 8, 16) — PRESTO's sequential mode holds one component and its
part on the device at a time (§2.4); the K = 4 total is 4 components plus the gate; the KD student scaled to the PRESTO budget, trained with
its teacher (128, 256, 512) resident; DGKD with teacher and assistant (32, 64, 128); SNIP and GraSP
on the reference network (256, 512, 1024), scoring included. Teachers are not trained here (their
weights do not change the memory), only used.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

WIDTHS = {"presto": (4, 8, 16), "teacher": (128, 256, 512), "assistant": (32, 64, 128), "reference": (256, 512, 1024)}


def _measure(job: dict) -> dict:
    import torch

    torch.set_num_threads(job["threads"])
    from prestorepro.compress.distill import Distiller, match_student_widths
    from prestorepro.compress.memory import MemoryProbe
    from prestorepro.compress.pruning import PRUNING_CRITERIA, class_balanced_sample, prune_to_budget
    from prestorepro.models import ResNetTail, count_parameters
    from prestorepro.models.parameters import CUT_CHANNELS
    from prestorepro.training.single import Recipe, TrainingSet, predict, train_single

    dev = torch.device(job["device"])
    cut, c, n, hw = job["cut"], job["classes"], job["n"], job["hw"]
    g = torch.Generator().manual_seed(0)
    x_cpu = torch.randn(n, CUT_CHANNELS[cut], hw, hw, generator=g)
    y_cpu = torch.arange(n) % c
    method, phase = job["method"], job["phase"]
    info: dict = {}
    with MemoryProbe(dev) as probe:
        x, y = x_cpu.to(dev), y_cpu.to(dev)
        guides = []
        masks = None
        if method == "presto":
            model = ResNetTail(cut, WIDTHS["presto"], c)
        elif method in ("kd", "dgkd"):
            model = ResNetTail(cut, match_student_widths(job["budget"], cut, c), c)
            if phase == "train":  # the teachers guide training only; inference runs the student alone
                guides = [ResNetTail(cut, WIDTHS["teacher"], c).to(dev)]
            if method == "dgkd" and phase == "train":
                guides.append(ResNetTail(cut, WIDTHS["assistant"], c).to(dev))
        else:  # snip / grasp on the reference network
            model = ResNetTail(cut, WIDTHS["reference"], c)
            if phase == "train":
                sample = class_balanced_sample(y_cpu, 4, torch.Generator().manual_seed(1))
                scores = PRUNING_CRITERIA.get(method)(model, x[sample.to(dev)], y[sample.to(dev)],
                                                      batch_size=len(sample) // 2 or 1, device=dev)
                masks = prune_to_budget(model, scores, job["budget"])
                del scores
        info["parameters"] = count_parameters(model)
        if phase == "train":
            distill = Distiller(guides, T=5.0, a=0.9) if guides else None
            hist = train_single(model, TrainingSet(x, y), recipe=Recipe(job["epochs"], job["batch_size"], 1e-3),
                                device=dev, generator=torch.Generator().manual_seed(2), distill=distill,
                                masks=masks)
            info["seconds"] = sum(hist["time_s"])
        else:
            predict(model, x, batch_size=job["batch_size"], device=dev)
    return {**job, **info, **probe.result()}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--methods", default="presto,kd,dgkd,snip,grasp")
    ap.add_argument("--phases", default="train,infer")
    ap.add_argument("--cut", default="layer1", choices=("layer1", "layer2"))
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--budget", type=int, default=55138, help="parameter budget (paper §4.2: SVHN, K=4)")
    ap.add_argument("--n", type=int, default=64, help="synthetic training rows")
    ap.add_argument("--hw", type=int, default=8, help="feature-map side (8 at 32 px after layer1)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)

    jobs = [dict(method=m, phase=p, device=args.device, cut=args.cut, classes=args.classes, budget=args.budget,
                 n=args.n, hw=args.hw, batch_size=args.batch_size, epochs=args.epochs, threads=args.threads)
            for m in args.methods.split(",") for p in args.phases.split(",")]
    ctx = mp.get_context("spawn")
    rows = []
    print(f"{'method':8s} {'phase':6s} {'params':>10s} {'kind':>18s} {'peak MiB':>10s} {'baseline':>10s} "
          f"{'delta MiB':>10s} {'torch max alloc':>16s}", flush=True)
    for job in jobs:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:  # a fresh process per measurement
            r = pool.submit(_measure, job).result()
        rows.append(r)
        torch_alloc = f"{r['torch_max_allocated_mib']:.1f}" if "torch_max_allocated_mib" in r else "-"
        print(f"{r['method']:8s} {r['phase']:6s} {r['parameters']:10d} {r['kind']:>18s} {r['peak_mib']:10.1f} "
              f"{r['baseline_mib']:10.1f} {r['delta_mib']:10.1f} {torch_alloc:>16s}", flush=True)
    if args.json:
        from prestorepro.io import write_json

        write_json(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
