"""The tiny workflow (``tests/configs/tiny.yaml``) as the workflow-level reliability tests run it: Snakemake
in a subprocess, each run in its own results folder and working directory (``-d``), and how two runs'
results are compared.

What is compared between two runs: every metrics file (JSON) after dropping the fields listed in
``VOLATILE`` -- the provenance timestamp and measurements of time and memory -- and every array file
(``assignment.npz``, ``rounds.npz``, ``features.npz``) byte for byte; trained weights (``model.pt``)
tensor for tensor.

One whole run, the reference, is shared by every test file and pytest-xdist worker of a session
(``reference_run``): the first worker to ask makes it, under a file lock, and the others wait for it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"

# Fields that legitimately differ between two identical runs, and nothing else:
#   created                    provenance: when the file was written;
#   seconds, train_seconds,    wall-clock timings (Table 1 phases, rounds of Algorithm 1, epochs of
#   time_s, epoch_seconds,     the single-model trainer and of the guide / pruned / distilled networks,
#                              the embedding's splits, coreset selection / training) and the ratio
#   selection_training_ratio   of two of them;
#   memory, training_mib,      measured memory (compress: the memory ledger, also copied into the
#   inference_mib, peak_memory students' "guides"; coreset: the peak-memory probe).
# git_commit: provenance, not a result (it gains "-dirty" or a new hash if the checkout changes mid-test)
VOLATILE = {"created", "git_commit", "seconds", "train_seconds", "time_s", "epoch_seconds", "selection_training_ratio",
            "memory", "training_mib", "inference_mib", "peak_memory"}
# ... and between a resumed run and an uninterrupted one, also the epoch the run resumed from.
RESUME_VOLATILE = VOLATILE | {"resumed_from_epoch"}

DIGITS_RUN = "table1/digits/k3/{method}/seed0"
TABLE1_METHODS = tuple(yaml.safe_load(TINY.read_text())["table1"]["methods"])
ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")


# ----------------------------------------------------------------------------- helpers


def snakemake_cmd(work: Path, results: Path, *targets, config: Path = TINY, cores: int = 2, extra=()) -> list:
    # targets come first: --config takes every word after it
    return [sys.executable, "-m", "snakemake", *map(str, targets), "-s", str(ROOT / "Snakefile"),
            "-d", str(work), "--cores", str(cores), "--configfile", str(config), *extra,
            "--config", f"results={results}"]


def run(cmd, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


def normalised(obj, volatile=VOLATILE):
    """A metrics object without the volatile fields (at any depth)."""
    if isinstance(obj, dict):
        return {k: normalised(v, volatile) for k, v in obj.items() if k not in volatile}
    if isinstance(obj, list):
        return [normalised(v, volatile) for v in obj]
    return obj


def volatile_paths(a, b, path=""):
    """Paths of the leaves at which two JSON objects differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}" for k in set(a) ^ set(b)]
        for k in set(a) & set(b):
            out += volatile_paths(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in volatile_paths(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def assert_same_metrics(a: Path, b: Path, volatile=VOLATILE) -> None:
    ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
    diff = volatile_paths(ja, jb)
    unexpected = [p for p in diff if not set(p.replace("[", ".").split(".")) & volatile]
    assert not unexpected, f"{a} and {b} differ at {unexpected}"
    assert normalised(ja, volatile) == normalised(jb, volatile)


def assert_same_weights(a: Path, b: Path) -> None:
    from prestorepro.io import load_torch

    sa, sb = load_torch(a)["state_dict"], load_torch(b)["state_dict"]
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), f"{a}: {key} differs"


def result_files(results: Path) -> list[str]:
    """Every file under ``results`` except logs and benchmarks (what Snakemake could take for a result)."""
    return sorted(str(p.relative_to(results)) for p in results.rglob("*")
                  if p.is_file() and p.relative_to(results).parts[0] not in ("logs", "benchmarks"))


def copy_inputs(src: Path, dst: Path) -> None:
    """Prepared data and embeddings of a finished run, with the settings stamps they were made with
    (prestorepro.stamps: without them the copy's stamps would be newer than its data, which would be
    made again), so a test starts at the training stage."""
    for part in ("data", "embeddings", ".settings"):
        shutil.copytree(src / part, dst / part)


def tiny_config(**changes) -> dict:
    cfg = yaml.safe_load(TINY.read_text())
    for dotted, value in changes.items():
        node = cfg
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    t0 = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"snakemake exited ({proc.returncode}) before {path} appeared:\n{out[-3000:]}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail(f"{path} did not appear within {timeout} s")
        time.sleep(0.01)


# Rules the tiny config may run: data, embedding, the training stages, and reports (make_*, summarize_*).
TINY_RULES = {"all", "download_data", "prepare_data", "embed", "train_table1", "synthetic_experiment",
              "synthetic_method", "train_guide", "train_compress", "table1_point", "train_coreset",
              "train_coreset_full"}
# The outputs of every training job of the tiny config (the reports are built from these).
TRAINING_OUTPUTS = [
    *(f"{DIGITS_RUN.format(method=m)}/{f}" for m in TABLE1_METHODS for f in ("metrics.json", "assignment.npz")),
    "synthetic/synthetic/seed0/metrics.json", "synthetic/synthetic/seed0/rounds.npz",
    "synthetic/synthetic/moe/seed0/metrics.json", "synthetic/synthetic/moe/seed0/rounds.npz",
    "compress/digits/guide/teacher/seed0/metrics.json", "compress/digits/guide/teacher/seed0/model.pt",
    "compress/digits/snip/table2/seed0/metrics.json", "compress/digits/kd/table2/seed0/metrics.json",
    "compress/digits/presto/k3/seed0/metrics.json",
    "coreset/digits/craig/f0.5/seed0/metrics.json",
]


def run_whole(base: Path, name: str) -> Path:
    """Every training output of the tiny workflow from scratch into ``base / name``."""
    t0 = time.monotonic()
    targets = [base / name / f for f in TRAINING_OUTPUTS]
    out = run(snakemake_cmd(base / f"work_{name}", base / name, *targets), timeout=1200)
    assert out.returncode == 0, out.stderr[-5000:]
    print(f"tiny workflow run {name}: {time.monotonic() - t0:.0f} s")
    return base / name


def reference_run(tmp_path_factory, worker_id: str) -> Path:
    """The session's one reference run of the tiny workflow, made once for all pytest-xdist workers
    (the pattern of pytest-xdist's docs: the workers' temporary folders share a parent)."""
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent
    base, done = root / "tiny_reference", root / "tiny_reference.done"
    with FileLock(str(root / "tiny_reference.lock")):
        if not done.exists():
            shutil.rmtree(base, ignore_errors=True)  # a run that failed in another worker
            run_whole(base, "a")
            done.touch()
    return base / "a"
