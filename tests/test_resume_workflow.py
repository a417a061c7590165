"""Resume after SIGKILL, as a user meets it: a job of the tiny workflow (``tests/configs/tiny.yaml``) is
killed once its first checkpoint exists -- the job alone (out-of-memory killer, preemption), or Snakemake with
it (a lost session or node) -- and run again; the resumed run's results equal the session's uninterrupted
reference run (tests/tiny_workflow.py), metrics minus timings, arrays byte for byte, weights tensor for
tensor."""
from __future__ import annotations

import filecmp
import os
import re
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from tiny_workflow import (DIGITS_RUN, RESUME_VOLATILE, ROOT, ENV, assert_same_metrics, assert_same_weights,
                           copy_inputs, run, snakemake_cmd, wait_for)


def _kill_midway(cmd, checkpoint: Path, whole_group: bool) -> None:
    """Start ``cmd``; once the job's first checkpoint exists, SIGKILL the job (or Snakemake with it)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_for(checkpoint, proc)
        if whole_group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.send_signal(signal.SIGKILL)
        proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0


@pytest.mark.parametrize("target,checkpoint,log,whole_group", [
    # Snakemake and the job both killed (a lost session or node): Snakemake's lock stays behind
    (DIGITS_RUN.format(method="presto"), "table1/digits/k3/presto/seed0.pt",
     "train_table1/digits/k3/presto/seed0.log", True),
    # the job alone killed (out-of-memory killer, preemption): Snakemake reports the failure
    (DIGITS_RUN.format(method="equal_kmeans"), "table1/digits/k3/equal_kmeans/seed0.pt",
     "train_table1/digits/k3/equal_kmeans/seed0.log", False),
    ("synthetic/synthetic/seed0", "synthetic/synthetic/seed0.pt", "synthetic_experiment/synthetic/seed0.log", False),
    # the mixture of experts' own trainer (checkpointed per round) and the one model's (per epoch)
    (DIGITS_RUN.format(method="moe"), "table1/digits/k3/moe/seed0.pt", "train_table1/digits/k3/moe/seed0.log", False),
    (DIGITS_RUN.format(method="single"), "table1/digits/k3/single/seed0.pt", "train_table1/digits/k3/single/seed0.log",
     False),
    ("compress/digits/guide/teacher/seed0", "compress/digits/guide/teacher/seed0.pt",
     "train_guide/digits/teacher/seed0.log", False),
    ("coreset/digits/craig/f0.5/seed0", "coreset/digits/craig/seed0/f0.5.pt", "train_coreset/digits/craig/seed0.log",
     False),
], ids=["presto-whole-run", "equal_kmeans-job", "synthetic-job", "moe-job", "single-job", "teacher-job", "craig-job"])
def test_resume_after_sigkill_equals_uninterrupted_run(tiny_reference, tmp_path, target, checkpoint, log, whole_group):
    reference = tiny_reference
    results, work = tmp_path / "results", tmp_path / "work"
    copy_inputs(reference, results)
    metrics = results / target / "metrics.json"
    cmd = snakemake_cmd(work, results, metrics, cores=1)
    ckpt = results / "checkpoints" / checkpoint

    _kill_midway(cmd, ckpt, whole_group)
    assert ckpt.exists()
    assert not (results / target).exists() or not any((results / target).iterdir()), \
        "a killed job left files in its output folder"

    again = run(cmd)
    if whole_group:
        # Snakemake cannot tell a killed instance from a running one; it says how to proceed
        assert again.returncode != 0
        assert "Directory cannot be locked" in again.stdout + again.stderr
        assert "--unlock" in again.stdout + again.stderr
        assert not metrics.exists()
        assert run(cmd[:-2] + ["--unlock", "--config", cmd[-1]]).returncode == 0
        again = run(cmd)
    assert again.returncode == 0, again.stderr[-4000:]
    text = (results / "logs" / log).read_text()
    assert re.search(rf"resumed from (checkpoint )?{re.escape(str(ckpt))} (after round|at epoch) [1-9]", text), \
        text[-2000:]
    assert_same_metrics(metrics, reference / target / "metrics.json", RESUME_VOLATILE)
    for name in ("assignment.npz", "rounds.npz"):
        if (reference / target / name).exists():
            assert filecmp.cmp(results / target / name, reference / target / name, shallow=False)
    if (reference / target / "model.pt").exists():
        assert_same_weights(results / target / "model.pt", reference / target / "model.pt")
    assert not ckpt.exists(), "the checkpoint of a finished job is deleted"
