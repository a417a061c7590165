"""The GPU check's speed steps: the fused trainer against the per-model loop, one PRESTO round at the paper's
scale, torch.compile, the step's profile and its CUDA-graph replay."""
from __future__ import annotations

import time

import torch

from kit_common import ROOT, _features, _one_round, _sync  # noqa: F401


def check_bench_fused(dev: torch.device, scale: dict) -> dict:
    import bench_fused

    args = ["--device", str(dev), "--per-component", str(scale["bench_per_component"]), "--hw", "7",
            "--repeats", str(scale["bench_repeats"]), "--warmup", "1"]
    res = bench_fused.main(args)
    ratio = res["fused"]["ratio"]
    target = 10.0 if dev.type == "cuda" else None
    return {"ok": True, "ratio_fused_vs_loop": ratio, "target": target,
            "target_met": (ratio >= target) if target else None, "args": " ".join(args), **{
                f"{k}_median_s": v["median_s"] for k, v in res.items()}}


def check_presto_round_at_scale(dev: torch.device, scale: dict) -> dict:
    from prestorepro.compress.memory import MemoryProbe
    from prestorepro.presto.gate import GateSchedule, gate_routes, train_gate

    # PathMNIST's training size, K and leeway, 9 classes (config/paper.yaml; tiny: a small leeway)
    n, k, classes = scale["n_scale"], scale["k_scale"], 9
    x, y = _features(n, scale["hw"], classes, seed=2)
    from sklearn.cluster import KMeans  # a quick start partition; the real one is Equal-KMeans (Table 5)
    a0 = KMeans(k, n_init=1, random_state=0).fit(x[:, :, 3, 3].numpy()).labels_
    leeway = scale["leeway_scale"]
    _sync(dev)
    with MemoryProbe(dev) as probe:
        t0 = time.perf_counter()
        res, model = _one_round(dev, torch.float32, x, y, a0, k, scale["scale_epochs"], leeway, classes)
        _sync(dev)
        round_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        xd = x.to(dev)
        gate = train_gate(model, xd, res.assignment, GateSchedule(epochs=scale["gate_epochs"], lr=0.01, batch_size=256),
                          generator=torch.Generator().manual_seed(77))
        agreement = float((gate_routes(gate, model, xd, "ce") == res.assignment).mean())
        _sync(dev)
        gate_s = time.perf_counter() - t1
    mem = probe.result()
    per_round = {k_: round(v, 3) for k_, v in res.seconds.items()}
    return {"ok": True, "n": n, "k": k, "epochs": scale["scale_epochs"], "leeway": leeway,
            "round_seconds": round_s, "phase_seconds": per_round, "gate_seconds": gate_s,
            "gate_train_agreement": agreement, "moves": res.history[0]["moves"],
            "peak_memory_mib": mem["peak_mib"], "memory_kind": mem["kind"],
            f"projected_{scale['paper_rounds']}_rounds_plus_gate_minutes":
                (scale["paper_rounds"] * round_s + gate_s) / 60}


def check_compiled_step(dev: torch.device, scale: dict) -> dict:
    if not scale["compile_epochs"]:
        return {"ok": True, "skipped": "not at this scale"}
    from prestorepro.models.fused import FusedResNetTail
    from prestorepro.training.masked_adam import MaskedAdam
    from prestorepro.training.fused import ComponentTraining, train_components

    n, k, classes = scale["n_scale"], 4, 9
    x, y = _features(n, scale["hw"], classes, seed=3)
    x, y = x.to(dev), y.to(dev)
    a = (torch.arange(n) % k).to(dev)
    out = {}
    for label in ("eager", "compiled"):
        torch.manual_seed(0)
        model = FusedResNetTail(k, "layer1", (4, 8, 16), classes).to(dev)
        opt = MaskedAdam(list(model.parameters()), k, lr=0.01)
        run_model = torch.compile(model) if label == "compiled" else model
        run_model.k = k  # train_components reads the component count
        gens = [torch.Generator().manual_seed(j) for j in range(k)]
        times = []
        for _ in range(1 + scale["compile_epochs"]):  # the first epoch compiles
            _sync(dev)
            t0 = time.perf_counter()
            train_components(run_model, x, y, a, ComponentTraining(epochs=1, batch_size=256, optimizer=opt, lam=1e-4,
                                                                   generators=gens), capture=False)
            _sync(dev)
            times.append(time.perf_counter() - t0)
        out[label] = {"first_epoch_s": times[0], "epoch_s": min(times[1:])}
    out["speedup"] = out["eager"]["epoch_s"] / out["compiled"]["epoch_s"]
    return {"ok": True, **out}


def check_fused_step_profile(dev: torch.device, scale: dict) -> dict:
    """Where a fused training step's time goes at PathMNIST scale: wall time per step against the GPU's
    kernel time per step (launch-bound when the first is much larger), kernels per step, the top
    kernels; equal parts (every step full) and unequal parts (masked batch norm on the trailing steps);
    and cuDNN's autotuner (``cudnn.benchmark``) on and off."""
    if dev.type != "cuda":
        return {"ok": True, "skipped": "a CUDA profile"}
    from torch.profiler import ProfilerActivity, profile

    from prestorepro.models.fused import FusedResNetTail
    from prestorepro.training.masked_adam import MaskedAdam
    from prestorepro.training.fused import ComponentTraining, train_components

    n, k, classes = scale["n_scale"], 4, 9
    x, y = _features(n, scale["hw"], classes, seed=4)
    x, y = x.to(dev), y.to(dev)
    equal = (torch.arange(n) % k).to(dev)
    sizes = [n // k - 3000, n // k - 1000, n // k + 1000]
    unequal = torch.cat([torch.full((s,), j) for j, s in enumerate(sizes)] + [torch.full((n - sum(sizes),), 3)]).to(dev)
    out = {}
    bench_before = torch.backends.cudnn.benchmark
    try:
        for label, a, bench in (("equal", equal, False), ("unequal", unequal, False), ("equal_cudnn_benchmark", equal, True)):
            torch.backends.cudnn.benchmark = bench
            torch.manual_seed(0)
            model = FusedResNetTail(k, "layer1", (4, 8, 16), classes).to(dev)
            opt = MaskedAdam(list(model.parameters()), k, lr=0.01)
            gens = [torch.Generator().manual_seed(j) for j in range(k)]
            train_components(model, x, y, a, ComponentTraining(epochs=1, batch_size=256, optimizer=opt, lam=1e-4,
                                                               generators=gens), capture=False)
            steps = -(-int(torch.bincount(a).max()) // 256)
            _sync(dev)
            t0 = time.perf_counter()
            train_components(model, x, y, a, ComponentTraining(epochs=1, batch_size=256, optimizer=opt, lam=1e-4,
                                                               generators=gens), capture=False)
            _sync(dev)
            epoch_s = time.perf_counter() - t0
            row = {"steps": steps, "epoch_s": epoch_s, "wall_ms_per_step": 1000 * epoch_s / steps}
            if label in ("equal", "unequal"):
                try:
                    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                        train_components(model, x, y, a, ComponentTraining(epochs=1, batch_size=256, optimizer=opt,
                                                                           lam=1e-4, generators=gens), capture=False)
                        _sync(dev)
                    events = [e for e in prof.key_averages() if getattr(e, "device_type", None) is not None
                              and str(e.device_type).endswith("CUDA")]
                    cuda_us = sum(e.self_device_time_total for e in events)
                    launches = sum(e.count for e in events)
                    top = sorted(events, key=lambda e: e.self_device_time_total, reverse=True)[:8]
                    row.update(gpu_kernel_ms_per_step=cuda_us / 1000 / steps, kernels_per_step=launches / steps,
                               top_kernels=[(e.key[:80], round(e.self_device_time_total / 1000 / steps, 3), e.count // steps)
                                            for e in top])
                except Exception as exc:  # the timing above stands without the profile
                    row["profile_error"] = f"{type(exc).__name__}: {exc}"
            out[label] = row
    finally:
        torch.backends.cudnn.benchmark = bench_before
    return {"ok": True, **out}


def check_captured_step(dev: torch.device, scale: dict) -> dict:
    """The fused step replayed as a CUDA graph (``train_components(capture=True)``, the default on CUDA)
    against the eager step: the same parameters after two epochs from the same state (compared with
    the difference between two eager runs, cuDNN's own run-to-run noise), and the time of those two
    epochs (graph capture included) on equal and unequal parts."""
    if dev.type != "cuda":
        return {"ok": True, "skipped": "CUDA graphs need a CUDA device"}
    from prestorepro.models.fused import FusedResNetTail
    from prestorepro.training.masked_adam import MaskedAdam
    from prestorepro.training.fused import ComponentTraining, train_components

    n, k, classes = scale["n_scale"], 4, 9
    x, y = _features(n, scale["hw"], classes, seed=5)
    x, y = x.to(dev), y.to(dev)
    sizes = [n // k - 3000, n // k - 1000, n // k + 1000]
    parts = {"equal": (torch.arange(n) % k).to(dev),
             "unequal": torch.cat([torch.full((m,), j) for j, m in enumerate(sizes)]
                                  + [torch.full((n - sum(sizes),), 3)]).to(dev)}
    out, ok = {}, True
    for label, a in parts.items():
        runs = {}
        for name, capture in (("eager", False), ("eager_again", False), ("captured", True)):
            torch.manual_seed(0)
            model = FusedResNetTail(k, "layer1", (4, 8, 16), classes).to(dev)
            opt = MaskedAdam(list(model.parameters()), k, lr=0.01)
            gens = [torch.Generator().manual_seed(j) for j in range(k)]
            _sync(dev)
            t0 = time.perf_counter()
            info = train_components(model, x, y, a, ComponentTraining(epochs=2, batch_size=256, optimizer=opt, lam=1e-4,
                                                                      generators=gens), capture=capture)
            _sync(dev)
            flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]
                             + [b.reshape(-1).float() for b in model.buffers()])
            runs[name] = (flat, time.perf_counter() - t0, info["last_loss"])
        scale_ = float(runs["eager"][0].abs().max())
        noise = float((runs["eager"][0] - runs["eager_again"][0]).abs().max()) / scale_
        diff = float((runs["eager"][0] - runs["captured"][0]).abs().max()) / scale_
        good = diff <= max(10 * noise, 1e-5)
        ok &= good
        out[label] = {"ok": good, "captured_vs_eager_relative": diff, "eager_vs_eager_relative": noise,
                      "eager_2_epochs_s": runs["eager"][1], "captured_2_epochs_s": runs["captured"][1],
                      "speedup": runs["eager"][1] / runs["captured"][1],
                      "last_loss": {name: r[2] for name, r in runs.items()}}
    return {"ok": ok, **out}
