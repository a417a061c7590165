"""Reliability of the workflow as a user runs it: determinism, bad input, non-finite values, unsafe
checkpoints (resume after SIGKILL: test_resume_workflow.py).

Every test here runs ``snakemake`` in a subprocess on ``tests/configs/tiny.yaml`` (a reduced embedded
default: digits with 300 training images and the App. C synthetic data, one seed, PRESTO and one
method of each kind), each in its own results folder and Snakemake working directory (``-d``), so
locks and metadata never touch the repository's ``.snakemake`` (helpers: tests/tiny_workflow.py).
"""
from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from prestorepro.catalogue import keys
from prestorepro.io import sha256_array, write_npz
from tiny_workflow import (DIGITS_RUN, TABLE1_METHODS, TINY_RULES, TRAINING_OUTPUTS, assert_same_metrics,
                           assert_same_weights, copy_inputs, normalised, result_files, run, run_whole, snakemake_cmd,
                           tiny_config, write_config)


@pytest.fixture(scope="module")
def two_runs(tiny_reference, tmp_path_factory):
    """The whole tiny workflow, twice from scratch into two results folders (the first is the session's
    shared reference run)."""
    base = tmp_path_factory.mktemp("two_runs")
    plan = run(snakemake_cmd(base / "work_plan", base / "plan", extra=["-n", "--quiet", "rules"]))  # rule all
    assert plan.returncode == 0, plan.stderr[-3000:]

    rules = set(re.findall(r"^(\w+)\s+\d+$", plan.stdout, re.M)) - {"total"}
    unexpected = {r for r in rules - TINY_RULES if not r.startswith(("make_", "summarize_"))}
    assert not unexpected, f"tests/configs/tiny.yaml now plans {unexpected}: keep the tiny run small"
    return [tiny_reference, run_whole(base, "b")]


def test_two_runs_give_identical_metrics_and_assignments(two_runs):
    a, b = two_runs
    files = result_files(a)
    assert files == result_files(b)
    assert set(TRAINING_OUTPUTS) <= set(files)
    metrics = [f for f in files if f.endswith("metrics.json")]
    for f in metrics:
        assert_same_metrics(a / f, b / f)
    arrays = [f for f in files if f.endswith(".npz") and not f.endswith("prepared.npz")]
    assert len(arrays) == len(TABLE1_METHODS) + 3  # assignments, PRESTO's and the MoE's synthetic rounds, features
    for f in arrays:
        assert filecmp.cmp(a / f, b / f, shallow=False), f"{f} differs between two identical runs"
    for f in files:
        if f.endswith("model.pt"):
            assert_same_weights(a / f, b / f)
    # the prepared data differ only in the provenance embedded in their meta
    for f in files:
        if f.endswith("prepared.npz"):
            with np.load(a / f) as za, np.load(b / f) as zb:
                assert za.files == zb.files
                for key in za.files:
                    if key != "meta_json":
                        assert np.array_equal(za[key], zb[key]), f"{f}:{key}"
                ma, mb = json.loads(str(za["meta_json"])), json.loads(str(zb["meta_json"]))
                assert normalised(ma) == normalised(mb)
    # nothing half-written is left behind (the one hidden file is the workflow's lock, prestorepro.lock)
    assert not [f for f in files if (Path(f).name.startswith(".") and f != ".lock") or f.endswith(".tmp")]
    assert not (a / "checkpoints").exists() or not any((a / "checkpoints").rglob("*.pt"))


# ----------------------------------------------------------------------------- bad input


def _failed(out: subprocess.CompletedProcess) -> str:
    assert out.returncode != 0, out.stdout[-2000:]
    return out.stdout + out.stderr


@pytest.mark.parametrize("changes,needle", [
    ({"bogus": 1}, "config key (top level): unknown key(s) 'bogus'"),
    ({"presto.epochs": "ten"}, "config key presto.epochs: 'ten' has the wrong type, expected integer"),
    ({"datasets.digits.k": 1}, "config key datasets.digits.k: 1 is less than the minimum of 2"),
    # max_train 300, K = 3: parts of 100 +- 150 would allow empty parts
    ({"datasets.digits.leeway": 150}, "config key datasets.digits.leeway / datasets.digits.k: leeway 150 allows "
                                      "empty parts for N=300, K=3 (N/K=100): use leeway <= 99"),
    ({"table1.methods": ["presto", "kmeans"]},
     f"'kmeans' is not valid; valid values are: {', '.join(keys('table1'))}\n"),
    ({"datasets.digits.source": "mnist"},
     "'mnist' is not valid; valid values are: cifar10, svhn, pathmnist, dermamnist, digits, synthetic, npz"),
    ({"coreset.fractions": [0.5, 1.5]}, "config key coreset.fractions.1: 1.5 is greater than or equal to the maximum of 1"),
    ({"coreset.fractions": [0]}, "config key coreset.fractions.0: 0 is less than or equal to the minimum of 0"),
], ids=["unknown-key", "wrong-type", "k-below-2", "infeasible-leeway", "unknown-method", "unknown-dataset",
        "fraction-above-1", "fraction-0"])
def test_bad_config_stops_before_anything_runs(tmp_path, changes, needle):
    cfg = write_config(tmp_path / "bad.yaml", tiny_config(**changes))
    results = tmp_path / "results"
    text = _failed(run(snakemake_cmd(tmp_path / "work", results, config=cfg)))
    assert needle in text, text[-3000:]
    assert not results.exists()


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _medmnist_like(n=(12, 4, 4), labels=None):
    rng = np.random.default_rng(0)
    out = {}
    for split, m in zip(("train", "val", "test"), n):
        out[f"{split}_images"] = rng.integers(0, 256, (m, 28, 28), dtype=np.uint8)
        out[f"{split}_labels"] = (np.arange(m) % 3).reshape(-1, 1)
    if labels is not None:
        out["train_labels"] = labels
    return out


@pytest.fixture(scope="module")
def data_faults(tmp_path_factory):
    """One Snakemake run (--keep-going) over six datasets, each with one fault in its input."""
    tmp = tmp_path_factory.mktemp("data_faults")
    raw = tmp / "raw"
    (raw / "dermamnist").mkdir(parents=True)
    (raw / "dermamnist" / "dermamnist.npz").write_bytes(b"not the official file" * 10)
    good = _medmnist_like()
    whole = _npz(tmp / "whole.npz", **good).read_bytes()
    (tmp / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    _npz(tmp / "nokeys.npz", **{k: v for k, v in good.items() if k != "val_labels"})
    _npz(tmp / "counts.npz", **dict(good, test_labels=good["test_labels"][:-1]))
    _npz(tmp / "labels.npz", **_medmnist_like(labels=np.array([0, 1, 2, -1] * 3)))
    image = {"cut": "layer1", "k": 3, "init": "kmeans_pp", "leeway": 0, "epsilon": 0.0}
    datasets = {
        "offline": dict(image, source="pathmnist"),
        "badsum": dict(image, source="dermamnist"),
        **{name: dict(image, source="npz", path=str(tmp / f"{name}.npz"))
           for name in ("truncated", "nokeys", "counts", "labels")},
    }
    cfg = tiny_config(datasets=datasets, data_root=str(raw))
    results = tmp / "results"
    targets = [results / "data" / name / "prepared.npz" for name in datasets]
    out = run(snakemake_cmd(tmp / "work", results, *targets, config=write_config(tmp / "faults.yaml", cfg),
                            extra=["--keep-going"]))
    assert out.returncode != 0
    return results, out.stdout + out.stderr, raw


@pytest.mark.parametrize("name,needle", [
    ("offline", "dataset 'pathmnist': 1 raw file(s) missing and downloads are off. Fetch pathmnist.npz from "
                "https://zenodo.org/records/10519652/files/pathmnist.npz?download=1 -> put it at "
                "{raw}/pathmnist/pathmnist.npz"),
    ("badsum", "checksum mismatch for {raw}/dermamnist/dermamnist.npz: expected md5 "),
    ("truncated", "truncated.npz as an npz file"),
    ("nokeys", "nokeys.npz lacks key(s) val_labels"),
    ("counts", "counts.npz: test_images holds 4 images but test_labels holds 3 labels"),
    ("labels", "labels.npz: train_labels has negative labels (min -1)"),
], ids=["missing-offline", "checksum-mismatch", "truncated", "missing-keys", "count-mismatch", "label-range"])
def test_bad_data_fails_with_a_message_and_no_output(data_faults, name, needle):
    results, text, raw = data_faults
    needle = needle.format(raw=raw)
    assert needle in text, text[-4000:]
    log = (results / "logs" / "download_data" / f"{name}.log").read_text()
    assert needle in log
    folder = results / "data" / name
    assert not folder.exists() or not any(folder.iterdir()), f"{name}: files left in {folder}"


def _last_error(log: Path) -> str:
    """The exception line a failed job wrote last to its log."""
    lines = [ln for ln in log.read_text().splitlines() if re.match(r"^[\w.]*(Error|Exception)\b", ln)]
    return lines[-1] if lines else ""


def test_non_finite_losses_and_unsafe_checkpoint_stop_the_job(tiny_reference, tmp_path):
    """lr = 1e30 overflows the weights; a checkpoint holding pickled code is refused, never executed."""
    results = tmp_path / "results"
    copy_inputs(tiny_reference, results)
    marker = tmp_path / "executed"

    class Payload:  # what a tampered checkpoint would hold: unpickling it runs a command
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = results / "checkpoints" / "table1" / "digits" / "k3" / "gmm" / "seed0.pt"
    evil.parent.mkdir(parents=True)
    torch.save({"model_state": Payload()}, evil)
    cfg = write_config(tmp_path / "nan.yaml", tiny_config(**{"presto.lr": 1e30, "synthetic.lr": 1e30,
                                                             "compress.lr": 1e30, "coreset.lr": 1e30}))
    jobs = {  # target -> (log, what the user must read)
        # PRESTO at the compress stage's K and seed runs sequentially: its trainer names the component
        DIGITS_RUN.format(method="presto"): ("train_table1/digits/k3/presto/seed0.log",
                                             "FloatingPointError: [digits presto seed 0] round 1: component 0: "
                                             "non-finite training loss nan at epoch 1, step 2; lower the learning rate"),
        DIGITS_RUN.format(method="equal_kmeans"): ("train_table1/digits/k3/equal_kmeans/seed0.log",
                                                   "FloatingPointError: [digits equal_kmeans seed 0] round 1: non-finite "
                                                   "training loss nan at epoch 1, step 2; lower the learning rate"),
        DIGITS_RUN.format(method="moe"): ("train_table1/digits/k3/moe/seed0.log",
                                          "FloatingPointError: [digits moe seed 0] round 1, epoch 1: non-finite mixture "
                                          "likelihood (nan); lower the learning rate"),
        DIGITS_RUN.format(method="gmm"): ("train_table1/digits/k3/gmm/seed0.log",
                                          f"CheckpointError: refusing to load {evil}: it holds Python objects other than "
                                          f"tensors and plain containers (Trying to load unsupported GLOBAL posix.system"),
        "synthetic/synthetic/seed0": ("synthetic_experiment/synthetic/seed0.log",
                                      "FloatingPointError: dataset synthetic, method presto (linear SVMs), seed 0: "
                                      "[synthetic] round 1: non-finite training loss inf at epoch 1, step 2"),
    }
    # the compress and coreset stages: the job's dataset, method and seed, then the trainer's own words
    named = {
        "compress/digits/guide/teacher/seed0": ("train_guide/digits/teacher/seed0.log",
                                                "FloatingPointError: [digits teacher seed 0] ",
                                                ": non-finite training loss at epoch 1, step "),
        "coreset/digits/craig/f0.5/seed0": ("train_coreset/digits/craig/seed0.log",
                                            "FloatingPointError: [digits craig f=0.5 seed 0] epoch 1: ",
                                            "non-finite training loss (nan) at step "),
    }
    targets = [results / t / "metrics.json" for t in [*jobs, *named]]
    text = _failed(run(snakemake_cmd(tmp_path / "work", results, *targets, config=cfg, extra=["--keep-going"])))
    for target, (log, needle) in jobs.items():
        assert needle in _last_error(results / "logs" / log), _last_error(results / "logs" / log)
        assert needle.split(": ", 1)[1] in text  # also on Snakemake's stderr
    assert not marker.exists(), "the checkpoint's pickled code was executed"
    for t in targets:
        assert not t.parent.exists() or not any(t.parent.iterdir()), f"files left in {t.parent}"
    for target, (log, prefix, words) in named.items():
        err = _last_error(results / "logs" / log)
        assert err.startswith(prefix) and words in err and "lower the learning rate" in err, err


def test_nan_in_embeddings_names_dataset_method_and_round(tiny_reference, tmp_path):
    results = tmp_path / "results"
    copy_inputs(tiny_reference, results)
    features = results / "embeddings" / "digits" / "features.npz"
    with np.load(features) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["train_x"][7, 3, 2, 1] = np.nan
    write_npz(features, **arrays)
    # its sidecar records this file's checksums, as if the embedding stage had written it so (a file
    # altered behind its sidecar's back is refused before its values are read: test_reliability.py)
    sidecar = features.with_suffix(".json")
    side = json.loads(sidecar.read_text())
    side["checksums"] = {k: sha256_array(v) for k, v in arrays.items()}
    sidecar.write_text(json.dumps(side))
    jobs = {m: f"train_table1/digits/k3/{m}/seed0.log" for m in ("presto", "gmm")}
    # the other stages' jobs name dataset, method and seed as well
    named = {"compress/digits/guide/teacher/seed0": ("train_guide/digits/teacher/seed0.log", "[digits teacher seed 0]"),
             "coreset/digits/craig/f0.5/seed0": ("train_coreset/digits/craig/seed0.log", "[digits craig seed 0]")}
    targets = [results / DIGITS_RUN.format(method=m) / "metrics.json" for m in jobs]
    targets += [results / t / "metrics.json" for t in named]
    text = _failed(run(snakemake_cmd(tmp_path / "work", results, *targets, extra=["--keep-going"])))
    for method, log in jobs.items():
        needle = f"FloatingPointError: [digits {method} seed 0] before round 1: {features}: non-finite values in train_x"
        assert needle in _last_error(results / "logs" / log), _last_error(results / "logs" / log)
        assert needle.split(": ", 1)[1] in text
    for t in targets:
        assert not t.parent.exists() or not any(t.parent.iterdir())
    for target, (log, prefix) in named.items():
        err = _last_error(results / "logs" / log)
        assert err == f"FloatingPointError: {prefix} before training: {features}: non-finite values in train_x; " \
                      f"re-run the embedding stage", err


def test_a_replaced_bring_your_own_file_reruns_what_depends_on_it(tmp_path):
    # the file's content is an input: replaced in place after a run, its download (checksum) and prepare
    # jobs run again instead of "Nothing to be done"
    own = _npz(tmp_path / "own.npz", **_medmnist_like(n=(30, 9, 9)))
    image = {"cut": "layer1", "k": 3, "init": "kmeans_pp", "leeway": 0, "epsilon": 0.0}
    cfg = write_config(tmp_path / "own.yaml", tiny_config(datasets={"own": dict(image, source="npz", path=str(own))}))
    results = tmp_path / "results"
    target = results / "data" / "own" / "prepared.npz"
    assert run(snakemake_cmd(tmp_path / "work", results, target, config=cfg)).returncode == 0
    recorded = json.loads((results / "data" / "own" / "download.json").read_text())["files"][0]["sha256"]
    dry = run(snakemake_cmd(tmp_path / "work", results, target, config=cfg, extra=["-n"]))
    assert "Nothing to be done" in dry.stdout + dry.stderr
    time.sleep(1.1)  # a new modification time on file systems with one-second resolution
    _npz(own, **_medmnist_like(n=(30, 9, 9), labels=(np.arange(30) % 3)[::-1].reshape(-1, 1)))
    dry = run(snakemake_cmd(tmp_path / "work", results, target, config=cfg, extra=["-n"]))
    text = dry.stdout + dry.stderr
    assert dry.returncode == 0 and "download_data" in text and "prepare_data" in text, text[-2000:]
    assert run(snakemake_cmd(tmp_path / "work", results, target, config=cfg)).returncode == 0
    again = json.loads((results / "data" / "own" / "download.json").read_text())["files"][0]["sha256"]
    assert again != recorded
