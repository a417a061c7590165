"""The GPU check's agreement steps: the device computes what the CPU computes, and the memory probe sees an allocation."""
from __future__ import annotations

import os
import platform
import time

import numpy as np
import torch

from kit_common import ROOT, _features, _one_round, _sync  # noqa: F401


def check_environment(dev: torch.device, scale: dict) -> dict:
    out = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
           "device": str(dev), "cpus": os.cpu_count()}
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        out.update(name=props.name, memory_gib=round(props.total_memory / 2**30, 1),
                   multiprocessors=props.multi_processor_count, cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), tf32_conv=torch.backends.cudnn.allow_tf32,
                   tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    try:
        import pynvml
        pynvml.nvmlInit()
        out["nvml_driver"] = pynvml.nvmlSystemGetDriverVersion()
        pynvml.nvmlShutdown()
    except Exception as exc:  # no GPU or no library: recorded, not fatal
        out["nvml_driver"] = f"unavailable ({type(exc).__name__})"
    for pkg in ("ortools", "snakemake", "sklearn", "scipy", "pandas"):
        try:
            mod = __import__(pkg)
            out[pkg] = getattr(mod, "__version__", "present")
        except Exception as exc:
            out[pkg] = f"missing ({type(exc).__name__})"
    return {"ok": True, **out}


def check_fused_equals_sequential(dev: torch.device, scale: dict) -> dict:
    from prestorepro.data import make_synthetic
    from prestorepro.models.fused import FusedLinearSVM, FusedResNetTail
    from presto_defaults import presto_settings
    from prestorepro.presto.algorithm import PrestoStreams, run_presto
    from prestorepro.training.masked_adam import MaskedAdam
    from prestorepro.training.fused import ComponentTraining, component_outputs, train_components
    from prestorepro.training.sequential import component_outputs_sequential, train_components_sequential

    n = scale["n_small"]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 64, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (n,), generator=g)
    parts = [torch.randint(0, 3, (n,), generator=g) for _ in range(2)]  # round 2 re-partitions, warm-started
    torch.manual_seed(0)
    fused = FusedResNetTail(3, "layer1", (4, 8, 16), 4).double()
    seq = FusedResNetTail(3, "layer1", (4, 8, 16), 4).double()
    seq.load_state_dict(fused.state_dict())
    fused = fused.to(dev)
    opt_f = MaskedAdam(list(fused.parameters()), 3, lr=0.01)
    opt_s = MaskedAdam(list(seq.parameters()), 3, lr=0.01)
    gens_f = [torch.Generator().manual_seed(10 + j) for j in range(3)]
    gens_s = [torch.Generator().manual_seed(10 + j) for j in range(3)]
    xd, yd = x.to(dev), y.to(dev)
    for a in parts:
        train_components(fused, xd, yd, a.to(dev), ComponentTraining(epochs=2, batch_size=16, optimizer=opt_f,
                                                                     lam=1e-4, generators=gens_f))
        train_components_sequential(seq, x, y, a, ComponentTraining(epochs=2, batch_size=16, optimizer=opt_s,
                                                                    lam=1e-4, generators=gens_s), device=dev)
    param_diff = max(float((p.cpu() - q).abs().max()) for p, q in zip(fused.state_dict().values(),
                                                                        seq.state_dict().values()))
    out_diff = float((component_outputs(fused, xd).cpu() - component_outputs_sequential(seq, x, dev, 64)).abs().max())

    xs, ys, _ = make_synthetic(400, np.random.default_rng(0))
    xs, ys = torch.tensor(xs, dtype=torch.float64), torch.tensor(ys)
    a0 = np.random.default_rng(1).permutation(np.arange(400) % 4)
    runs = {}
    for mode in ("fused", "sequential"):
        torch.manual_seed(0)
        m = FusedLinearSVM(4, 2).double()
        s = presto_settings(k=4, rounds=3, epochs=2, batch_size=16, lr=0.05, lam=1e-3, leeway=5, loss="hinge")
        on_dev = mode == "fused"
        m = m.to(dev) if on_dev else m
        res = run_presto(m, xs.to(dev) if on_dev else xs, ys.to(dev) if on_dev else ys, a0, s,
                         PrestoStreams([torch.Generator().manual_seed(j) for j in range(4)]),
                         compute_device=None if on_dev else dev)
        runs[mode] = res
    same_partition = bool(np.array_equal(runs["fused"].assignment, runs["sequential"].assignment))
    g_f = [h["objective"] for h in runs["fused"].history]
    g_s = [h["objective"] for h in runs["sequential"].history]
    obj_rel = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(g_f, g_s)) if len(g_f) == len(g_s) else float("inf")
    ok = param_diff < 1e-9 and out_diff < 1e-9 and same_partition and obj_rel < 1e-9
    return {"ok": ok, "max_parameter_difference": param_diff, "max_output_difference": out_diff,
            "algorithm1_same_partition": same_partition, "algorithm1_objective_max_relative_difference": obj_rel,
            "tolerance": "1e-9 (float64)"}


def check_embedding_device_vs_cpu(dev: torch.device, scale: dict) -> dict:
    from prestorepro.embed import build_trunk, extract_features

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (scale["embed_images"], 28, 28, 3), dtype=np.uint8)
    trunk = build_trunk("none", "layer1", seed=0)
    t0 = time.perf_counter()
    on_dev = extract_features(images, trunk, batch_size=256, device=dev, desc="embed device")
    dev_s = time.perf_counter() - t0
    on_cpu = extract_features(images, build_trunk("none", "layer1", seed=0), batch_size=256,
                              device=torch.device("cpu"), desc="embed cpu")
    a, b = on_dev.astype(np.float32), on_cpu.astype(np.float32)
    rel = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))
    return {"ok": rel < 1e-2, "shape": list(on_dev.shape), "max_difference_relative_to_max": rel,
            "device_seconds": dev_s, "tolerance": "1e-2 relative (TF32 convolutions on the GPU)"}


def check_presto_round_device_vs_cpu(dev: torch.device, scale: dict) -> dict:
    """float64 and float32 without TF32 must agree with the CPU; float32 with TF32 (torch's default for
    cuDNN convolutions: a 10-bit mantissa) is reported, with a loose bound."""
    n, k = scale["n_small"], 3
    x, y = _features(n, 7, 9, seed=1)
    a0 = np.random.default_rng(0).permutation(np.arange(n) % k)
    out = {}
    ok = True
    tf32_before = torch.backends.cudnn.allow_tf32
    variants = (("float64", torch.float64, False, 1e-6, 1.0), ("float32", torch.float32, False, 1e-4, 0.99),
                ("float32_tf32", torch.float32, True, 1e-2, 0.9))
    try:
        for name, dtype, tf32, obj_tol, agree_min in variants:
            torch.backends.cudnn.allow_tf32 = tf32
            # two rounds: the second trains the partition the first round's assignment step proposed
            (r_dev, _), (r_cpu, _) = (_one_round(d, dtype, x, y, a0, k, 2, n // 20, 9, rounds=2)
                                      for d in (dev, torch.device("cpu")))
            g_dev = [h["objective"] for h in r_dev.history]
            g_cpu = [h["objective"] for h in r_cpu.history]
            agree = float(np.mean(r_dev.assignments_per_round[-1] == r_cpu.assignments_per_round[-1]))
            rel = abs(g_dev[0] - g_cpu[0]) / max(abs(g_cpu[0]), 1e-12)
            good = rel < obj_tol and agree >= agree_min
            ok &= good
            out[name] = {"ok": good, "objective_device": g_dev, "objective_cpu": g_cpu,
                         "round1_relative_difference": rel, "round2_partition_agreement": agree,
                         "moves_device": r_dev.history[0]["moves"], "moves_cpu": r_cpu.history[0]["moves"],
                         "tolerance": obj_tol, "agreement_min": agree_min}
    finally:
        torch.backends.cudnn.allow_tf32 = tf32_before
    return {"ok": ok, **out}


def check_memory_probe(dev: torch.device, scale: dict) -> dict:
    from prestorepro.compress.memory import MemoryProbe

    mib = scale["probe_mib"]
    with MemoryProbe(dev) as probe:
        t = torch.ones(mib * 2**20 // 4, dtype=torch.float32, device=dev)
        _sync(dev)
        time.sleep(0.2)  # a few samples while it is held
        del t
    r = probe.result()
    ok = r["delta_mib"] >= 0.95 * mib
    if dev.type == "cuda":
        ok &= r["kind"].startswith("nvml")
    return {"ok": bool(ok), "allocated_mib": mib, **r}
