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
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))  # presto_defaults: Algorithm 1's settings from the schema's defaults

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checks_agree import (check_embedding_device_vs_cpu, check_environment, check_fused_equals_sequential,  # noqa: E402
                          check_memory_probe, check_presto_round_device_vs_cpu)
from checks_runs import check_forecast, check_snakemake_end_to_end  # noqa: E402
from checks_speed import (check_bench_fused, check_captured_step, check_compiled_step,  # noqa: E402
                          check_fused_step_profile, check_presto_round_at_scale)
from kit_common import scales  # noqa: E402

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
    ap.add_argument("--scale", default=None, choices=("full", "tiny"), help="default: full on cuda, tiny on cpu")
    ap.add_argument("--only", nargs="*", default=None, help="run only these checks")
    ap.add_argument("--budget-s", type=float, default=450.0,
                    help="skip the checks still to come once this many seconds have passed")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device (use --device cpu to run the check here)")
    dev = torch.device(args.device)
    scale = scales()[args.scale or ("full" if dev.type == "cuda" else "tiny")]
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
