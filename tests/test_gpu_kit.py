"""The GPU check (benchmarks/gpu/) runs here on the CPU, so it cannot rot between GPU sessions."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "benchmarks" / "gpu"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, KIT / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_check_runs_on_the_cpu_and_every_check_passes(tmp_path):
    # the Snakemake end-to-end check is the tiny config, run by the reliability tests already
    only = ["environment", "fused_equals_sequential", "embedding_device_vs_cpu", "presto_round_device_vs_cpu",
            "memory_probe", "bench_fused", "presto_round_at_scale", "compiled_step", "fused_step_profile",
            "captured_step"]
    proc = subprocess.run([sys.executable, str(KIT / "check.py"), "--out", str(tmp_path), "--device", "cpu",
                           "--only", *only], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["passed"] and list(report["checks"]) == only
    checks = report["checks"]
    # on the CPU the "device" side is the CPU itself: fused and sequential agree to rounding, the
    # device-vs-CPU comparisons are exact
    assert checks["fused_equals_sequential"]["max_parameter_difference"] < 1e-12
    assert checks["fused_equals_sequential"]["algorithm1_same_partition"]
    assert checks["embedding_device_vs_cpu"]["max_difference_relative_to_max"] == 0.0
    for variant in ("float64", "float32", "float32_tf32"):
        v = checks["presto_round_device_vs_cpu"][variant]
        assert v["round1_relative_difference"] == 0.0 and v["round2_partition_agreement"] == 1.0
        assert len(v["objective_device"]) == 2  # two rounds, the second on the proposed partition
    probe = checks["memory_probe"]
    assert probe["kind"] == "cpu_rss" and probe["delta_mib"] >= 0.95 * probe["allocated_mib"]
    assert checks["bench_fused"]["ratio_fused_vs_loop"] > 0
    scale = checks["presto_round_at_scale"]
    assert scale["n"] == 1500 and scale["k"] == 4 and 0 < scale["round_seconds"]
    assert set(scale["phase_seconds"]) >= {"train", "loss_matrix", "assignment"}
    assert checks["fused_step_profile"]["skipped"] and checks["compiled_step"]["skipped"]
    assert checks["captured_step"]["skipped"]
    md = (tmp_path / "check.md").read_text()
    assert md.count("| pass |") == 7 and md.count("| skipped |") == 3


def test_check_refuses_cuda_without_a_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = subprocess.run([sys.executable, str(KIT / "check.py"), "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "torch sees no CUDA device" in proc.stderr


def test_a_failing_check_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    check = _module("check")

    def broken(dev, scale):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(check, "CHECKS", [("planted", broken)] + [c for c in check.CHECKS if c[0] == "environment"])
    assert check.main(["--out", str(tmp_path), "--device", "cpu"]) == 1
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["checks"]["planted"]["ok"] is False
    assert "planted failure" in report["checks"]["planted"]["error"]
    assert report["checks"]["environment"]["ok"] and report["passed"] is False
    assert "| planted | FAIL |" in (tmp_path / "check.md").read_text()


def test_wheel_list_is_the_requirement_closure_minus_what_the_gpu_machine_has():
    fetch = _module("fetch_wheels")
    names = fetch.closure(["snakemake", "ortools"])
    from importlib import metadata

    assert names["snakemake"] == metadata.version("snakemake")
    assert names["ortools"] == metadata.version("ortools")
    # snakemake's own requirements are walked, transitively
    assert {"snakemake-interface-common", "platformdirs", "smmap"} <= set(names)
    # what the GPU machine holds is never fetched; protobuf is (ortools pins it narrowly)
    assert {"numpy", "torch", "pandas"} <= fetch.ON_DEVICE and "protobuf" not in fetch.ON_DEVICE
    assert fetch.norm("Typing_Extensions") == "typing-extensions"
