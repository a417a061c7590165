"""The GPU check: one prepared command for a bare GPU machine, and the same command on the CPU as a test.

    python benchmarks/gpu/check.py --out /tmp/gpucheck                    # GPU machine: device cuda, paper scale
    python benchmarks/gpu/check.py --out /tmp/gpucheck --device cpu --scale tiny   # here (tests/test_gpu_kit.py)

It needs torch, numpy, scipy, scikit-learn, pandas, psutil, tqdm and nvidia-ml-py, and the package on
PYTHONPATH (``PYTHONPATH=src``), not a ``pip install`` (whose torch pin may not match the machine's
torch). PRESTO's constrained assignment step needs ortools: ``benchmarks/gpu/fetch_wheels.sh`` downloads
it, and snakemake with what it needs, into ``.whl/`` for machines without an index; the command that
runs this script installs them with ``pip install --no-index --no-deps --target``. Without snakemake the
end-to-end check is reported as skipped, not failed.

Checks, each timed and recorded even when it fails (a failure of one does not stop the others):

- ``environment``: python, torch, CUDA, the device's name and memory, the NVML driver version;
- ``fused_equals_sequential``: float64 training on the device, fused (K components at once) against
  sequential (one component on the device at a time), and Algorithm 1 in both modes;
- ``embedding_device_vs_cpu``: the ResNet18 trunk's features of the same images on the device and on
  the CPU (float32; cuDNN may use TF32, so the tolerance is relative, 1e-2);
- ``presto_round_device_vs_cpu``: one PRESTO round in float64 on the device and on the CPU (same
  partition, same objective to 1e-6), and in float32 (objective to 1e-3, partition agreement >= 0.99);
- ``memory_probe``: the pynvml probe (``compress/memory.py``) sees a tensor of known size;
- ``bench_fused``: fused K-component training against the per-model loop (target >= 10x on a GPU);
- ``presto_round_at_scale``: one round of Algorithm 1 and the gate at PathMNIST's N (89,996, 64x7x7,
  9 classes, K = 4, leeway 3000, 10 epochs, config/paper.yaml), per-phase seconds and peak memory,
  then extrapolated to config/paper.yaml's 30 rounds;
- ``compiled_step``: the fused model under ``torch.compile`` against eager, one epoch at that scale;
- ``fused_step_profile``: where an eager fused step's time goes (host launches against GPU kernels);
- ``captured_step``: the step replayed as a CUDA graph (the default on CUDA) against the eager step:
  the same parameters (within eager's own run-to-run noise) and the speed-up;
- ``snakemake_end_to_end``: tests/configs/tiny.yaml through Snakemake with ``device`` set to the
  device at hand, every output checked (skipped when snakemake cannot be imported);
- ``forecast``: config/rehearsal.yaml on stand-ins at 10% of the paper's N run on the device in the time
  left, and config/paper.yaml's cost forecast from it (``prestorepro.forecast``), into ``forecast.md``
  (skipped without snakemake).

Writes ``check.json`` and ``check.md`` into ``--out``; exits 1 when a check failed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

# sizes: "full" is the paper's scale on a GPU, "tiny" keeps the CPU test to seconds
SCALES = {
    "full": dict(n_small=600, n_scale=89996, scale_epochs=10, gate_epochs=10, hw=7, bench_per_component=8192,
                 bench_repeats=5, compile_epochs=1, probe_mib=1024, embed_images=512,
                 rehearsal=dict(scale=0.1, datasets=None, small=False)),
    "tiny": dict(n_small=120, n_scale=1500, scale_epochs=1, gate_epochs=1, hw=7, bench_per_component=256,
                 bench_repeats=1, compile_epochs=0, probe_mib=64, embed_images=32,
                 rehearsal=dict(scale=0.01, datasets=("dermamnist",), small=True)),
}
PAPER_ROUNDS = 30  # config/paper.yaml presto.rounds, for the extrapolation


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _features(n: int, hw: int, classes: int, seed: int, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-structured random feature maps (a class mean plus noise), as the trunk would give."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    means = torch.randn(classes, 64, hw, hw, generator=g, dtype=dtype)
    x = (means[y] + 2.0 * torch.randn(n, 64, hw, hw, generator=g, dtype=dtype)).relu_()
    return x, y


# --- checks ------------------------------------------------------------------------------------------

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
    from prestorepro.presto.algorithm import PrestoSettings, run_presto
    from prestorepro.training.fused import MaskedAdam, component_outputs, train_components
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
        train_components(fused, xd, yd, a.to(dev), epochs=2, batch_size=16, optimizer=opt_f, lam=1e-4,
                         generators=gens_f)
        train_components_sequential(seq, x, y, a, device=dev, epochs=2, batch_size=16, optimizer=opt_s,
                                    lam=1e-4, generators=gens_s)
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
        s = PrestoSettings(k=4, rounds=3, epochs=2, batch_size=16, lr=0.05, lam=1e-3, leeway=5, loss="hinge",
                           mode=mode)
        on_dev = mode == "fused"
        m = m.to(dev) if on_dev else m
        res = run_presto(m, xs.to(dev) if on_dev else xs, ys.to(dev) if on_dev else ys, a0, s,
                         [torch.Generator().manual_seed(j) for j in range(4)], compute_device=dev)
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


def _one_round(dev: torch.device, dtype, x: torch.Tensor, y: torch.Tensor, a0: np.ndarray, k: int, epochs: int,
               leeway: int, classes: int, rounds: int = 1):
    from prestorepro.models.fused import FusedResNetTail
    from prestorepro.presto.algorithm import PrestoSettings, run_presto

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = FusedResNetTail(k, "layer1", (4, 8, 16), classes).to(dtype=dtype)
    model = model.to(dev)
    s = PrestoSettings(k=k, rounds=rounds, epochs=epochs, batch_size=256, lr=0.01, lam=1e-4, leeway=leeway,
                       epsilon=0.003)
    res = run_presto(model, x.to(dev, dtype), y.to(dev), a0, s, [torch.Generator().manual_seed(j) for j in range(k)])
    return res, model


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
    from prestorepro.presto.gate import gate_routes, train_gate

    n, k, classes = scale["n_scale"], 4, 9
    x, y = _features(n, scale["hw"], classes, seed=2)
    from sklearn.cluster import KMeans  # a quick start partition; the real one is Equal-KMeans (Table 5)
    a0 = KMeans(k, n_init=1, random_state=0).fit(x[:, :, 3, 3].numpy()).labels_
    leeway = 3000 if n > 20000 else n // 20
    _sync(dev)
    with MemoryProbe(dev) as probe:
        t0 = time.perf_counter()
        res, model = _one_round(dev, torch.float32, x, y, a0, k, scale["scale_epochs"], leeway, classes)
        _sync(dev)
        round_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        xd = x.to(dev)
        gate = train_gate(model, xd, res.assignment, epochs=scale["gate_epochs"], lr=0.01, batch_size=256,
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
            f"projected_{PAPER_ROUNDS}_rounds_plus_gate_minutes": (PAPER_ROUNDS * round_s + gate_s) / 60}


def check_compiled_step(dev: torch.device, scale: dict) -> dict:
    if not scale["compile_epochs"]:
        return {"ok": True, "skipped": "not at this scale"}
    from prestorepro.models.fused import FusedResNetTail
    from prestorepro.training.fused import MaskedAdam, train_components

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
            train_components(run_model, x, y, a, epochs=1, batch_size=256, optimizer=opt, lam=1e-4, generators=gens,
                             capture=False)
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
    from prestorepro.training.fused import MaskedAdam, train_components

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
            train_components(model, x, y, a, epochs=1, batch_size=256, optimizer=opt, lam=1e-4, generators=gens,
                             capture=False)
            steps = -(-int(torch.bincount(a).max()) // 256)
            _sync(dev)
            t0 = time.perf_counter()
            train_components(model, x, y, a, epochs=1, batch_size=256, optimizer=opt, lam=1e-4, generators=gens,
                             capture=False)
            _sync(dev)
            epoch_s = time.perf_counter() - t0
            row = {"steps": steps, "epoch_s": epoch_s, "wall_ms_per_step": 1000 * epoch_s / steps}
            if label in ("equal", "unequal"):
                try:
                    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                        train_components(model, x, y, a, epochs=1, batch_size=256, optimizer=opt, lam=1e-4,
                                         generators=gens, capture=False)
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
    from prestorepro.training.fused import MaskedAdam, train_components

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
            info = train_components(model, x, y, a, epochs=2, batch_size=256, optimizer=opt, lam=1e-4,
                                    generators=gens, capture=capture)
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


def check_snakemake_end_to_end(dev: torch.device, scale: dict) -> dict:
    if not _has_snakemake():
        return {"ok": True, "skipped": "snakemake is not installed here (benchmarks/gpu/fetch_wheels.sh)"}
    tmp = Path(tempfile.mkdtemp(prefix="gpucheck_smk_"))
    results = tmp / "results"
    cores = str(min(8, os.cpu_count() or 1))
    cmd = [sys.executable, "-m", "snakemake", "--cores", cores, "--configfile", "tests/configs/tiny.yaml",
           "--config", f"results={results}", f"device={dev.type}", "--directory", str(ROOT)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    tables = sorted(p.name for p in (results / "tables").glob("*.csv")) if (results / "tables").exists() else []
    devices = set()
    for m in results.glob("table1/*/*/*/*/metrics.json"):
        try:
            devices.add(json.loads(m.read_text())["provenance"].get("device", "?"))
        except (OSError, ValueError, KeyError):
            devices.add("unreadable")
    ok = proc.returncode == 0 and bool(tables)
    return {"ok": ok, "returncode": proc.returncode, "seconds": seconds, "tables": tables,
            "devices_recorded": sorted(map(str, devices)), "log_tail": (proc.stdout + proc.stderr)[-3000:]}


def _has_snakemake() -> bool:
    if shutil.which("snakemake") is not None:
        return True
    try:
        import snakemake  # noqa: F401
    except ImportError:
        return False
    return True


def check_forecast(dev: torch.device, scale: dict, seconds_left: float = 600.0) -> dict:
    """config/rehearsal.yaml (stand-ins at the scale's fraction of the paper's N) run on the device, then
    config/paper.yaml forecast from it (``prestorepro.forecast``). A rehearsal cut short by the time left
    still gives a forecast: its missing jobs are projected from other jobs of their rule, or not at all
    (``not_measured``)."""
    if not _has_snakemake():
        return {"ok": True, "skipped": "snakemake is not installed here (benchmarks/gpu/fetch_wheels.sh)"}
    from prestorepro.forecast import forecast, reduced_rehearsal, to_markdown

    tmp = Path(tempfile.mkdtemp(prefix="gpucheck_forecast_"))
    reh = scale["rehearsal"]
    config = reduced_rehearsal(tmp, scale=reh["scale"], datasets=reh["datasets"], small=reh["small"],
                               device=dev.type)
    cores = str(min(8, os.cpu_count() or 1))
    cmd = [sys.executable, "-m", "snakemake", "--cores", cores, "--configfile", str(config), "--keep-going"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=max(30.0, seconds_left - 60.0))
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
    except subprocess.TimeoutExpired as exc:
        rc, tail = "timeout", str(exc.stdout or "")[-3000:]
    run_s = time.perf_counter() - t0
    fc = forecast("config/paper.yaml", config, tmp / "results")
    return {"ok": rc in (0, "timeout"), "rehearsal": reh, "rehearsal_config": str(config),
            "rehearsal_returncode": rc, "rehearsal_seconds": run_s,
            "total_hours": fc["total_hours"], "critical_path_hours": fc["critical_path_hours"],
            "not_measured": fc["not_measured"],
            "per_rule_hours": {r["rule"]: round(r["hours"], 3) for r in fc["per_rule"]},
            "forecast_md": to_markdown(fc), "log_tail": tail}


CHECKS = [
    ("environment", check_environment),
    ("fused_equals_sequential", check_fused_equals_sequential),
    ("embedding_device_vs_cpu", check_embedding_device_vs_cpu),
    ("presto_round_device_vs_cpu", check_presto_round_device_vs_cpu),
    ("memory_probe", check_memory_probe),
    ("bench_fused", check_bench_fused),
    ("presto_round_at_scale", check_presto_round_at_scale),
    ("compiled_step", check_compiled_step),
    ("fused_step_profile", check_fused_step_profile),
    ("captured_step", check_captured_step),
    ("snakemake_end_to_end", check_snakemake_end_to_end),
    ("forecast", check_forecast),
]


def markdown(report: dict) -> str:
    lines = [f"# GPU check: {report['device_name']}", "",
             f"{report['started']}, device `{report['device']}`, scale `{report['scale']}`, "
             f"{report['seconds']:.0f} s in all", "", "| check | result | seconds | figures |", "| --- | --- | --- | --- |"]
    for name, r in report["checks"].items():
        status = "skipped" if r.get("skipped") else ("pass" if r.get("ok") else "FAIL")
        figures = {k: v for k, v in r.items() if k not in ("ok", "seconds", "log_tail", "traceback", "forecast_md")}
        text = json.dumps(figures, default=str)
        lines.append(f"| {name} | {status} | {r.get('seconds', 0):.1f} | `{text[:600]}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for check.json and check.md")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--scale", default=None, choices=tuple(SCALES), help="default: full on cuda, tiny on cpu")
    ap.add_argument("--only", nargs="*", default=None, help="run only these checks")
    ap.add_argument("--budget-s", type=float, default=450.0,
                    help="skip the checks still to come once this many seconds have passed")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device (use --device cpu to run the check here)")
    dev = torch.device(args.device)
    scale = SCALES[args.scale or ("full" if dev.type == "cuda" else "tiny")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "device": str(dev),
              "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
              "scale": args.scale or ("full" if dev.type == "cuda" else "tiny"), "checks": {}}
    failed = False
    for name, fn in CHECKS:
        if args.only is not None and name not in args.only:
            continue
        if time.perf_counter() - t_start > args.budget_s:
            report["checks"][name] = {"ok": True, "skipped": f"time budget of {args.budget_s:.0f} s spent"}
            continue
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            if name == "forecast":
                r = fn(dev, scale, seconds_left=args.budget_s - (time.perf_counter() - t_start))
            else:
                r = fn(dev, scale)
        except Exception as exc:  # recorded; the other checks still run
            r = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
        r["seconds"] = time.perf_counter() - t0
        failed |= not r["ok"]
        report["checks"][name] = r
        if "forecast_md" in r:
            (out / "forecast.md").write_text(r["forecast_md"])
        print(json.dumps({k: v for k, v in r.items() if k not in ("log_tail", "forecast_md")}, default=str)[:2000],
              flush=True)
        (out / "check.json").write_text(json.dumps(report, indent=2, default=str))  # partial results survive a kill
    report["seconds"] = time.perf_counter() - t_start
    report["passed"] = not failed
    (out / "check.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "check.md").write_text(markdown(report))
    print(markdown(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
