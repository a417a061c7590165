"""A result depends on its inputs' contents and its parameters whatever the state of Snakemake's
metadata (prestorepro.stamps): a bring-your-own npz replaced by another file of the same size with its
old modification time, and a config edit after the tree was copied with ``cp -a`` or after
``.snakemake/metadata`` is gone, both re-plan the jobs they affect (before: "Nothing to be done")."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from prestorepro.stamps import evaluate_params, stamp_path, write_stamp

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def _snakemake(work: Path, results: Path, config: Path, *targets, extra=()) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", *map(str, targets), "-s", str(ROOT / "Snakefile"), "-d", str(work),
           "--cores", "1", "--configfile", str(config), *extra, "--config", f"results={results}"]
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)


def _planned(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    return out.stdout + out.stderr


def _config(path: Path, **datasets) -> Path:
    cfg = yaml.safe_load(TINY.read_text())
    cfg["datasets"] = datasets
    path.write_text(yaml.safe_dump(cfg))
    return path


def _own_npz(path: Path, flip: bool = False) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, m in (("train", 30), ("val", 9), ("test", 9)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (m, 28, 28), dtype=np.uint8)
        labels = np.arange(m) % 3
        arrays[f"{split}_labels"] = (labels[::-1] if flip else labels).reshape(-1, 1)
    np.savez(path, **arrays)
    return path


# ----------------------------------------------------------------------------- building blocks


def test_a_stamp_is_rewritten_only_when_its_content_changes(tmp_path):
    first = write_stamp(tmp_path, "train", {"seed": "0", "dataset": "d"}, {"lr": 0.01, "k": [3, 4]})
    assert Path(first) == tmp_path / ".settings" / "train" / "dataset=d" / "seed=0" / "settings.json"
    os.utime(first, ns=(10**18, 10**18))
    assert write_stamp(tmp_path, "train", {"dataset": "d", "seed": "0"}, {"k": [3, 4], "lr": 0.01}) == first
    assert os.stat(first).st_mtime_ns == 10**18  # same content: untouched, so nothing re-runs
    write_stamp(tmp_path, "train", {"dataset": "d", "seed": "0"}, {"k": [3, 4], "lr": 0.02})
    assert os.stat(first).st_mtime_ns != 10**18
    assert json.loads(Path(first).read_text())["params"] == {"k": [3, 4], "lr": 0.02}
    assert stamp_path(tmp_path, "make_table", {}) == tmp_path / ".settings" / "make_table" / "settings.json"


def test_a_stamp_holds_the_digest_of_a_file_even_when_size_and_mtime_are_restored(tmp_path):
    own = _own_npz(tmp_path / "own.npz")
    stamp = Path(write_stamp(tmp_path / "r", "download_data", {"dataset": "own"}, {}, [str(own)]))
    before = json.loads(stamp.read_text())["files"][str(own)]
    st = own.stat()
    _own_npz(own, flip=True)
    os.utime(own, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert own.stat().st_size == st.st_size and own.stat().st_mtime_ns == st.st_mtime_ns
    write_stamp(tmp_path / "r", "download_data", {"dataset": "own"}, {}, [str(own)])
    after = json.loads(stamp.read_text())["files"][str(own)]
    assert after != before and len(after) == 64


def test_parameters_are_evaluated_per_job_and_results_paths_made_relative():
    params = {"dataset": lambda w: {"k": int(w["k"]), "name": w["dataset"]},
              "stem": lambda w, output: output[0],  # derived from the outputs: not a setting
              "checkpoint": "/abs/results/checkpoints/x.pt", "lr": 0.1, "widths": (4, 8)}
    values = evaluate_params(params, {"dataset": "d", "k": "3"}, results="/abs/results")
    assert values == {"dataset": {"k": 3, "name": "d"}, "checkpoint": "{results}/checkpoints/x.pt", "lr": 0.1,
                      "widths": [4, 8]}
    with pytest.raises(TypeError, match="parameter obj: parameter value <object object at .*> of type object cannot be recorded in a settings stamp"):
        evaluate_params({"obj": object()}, {})


# ----------------------------------------------------------------------------- workflow


def test_a_same_size_replacement_with_its_old_mtime_reruns_the_download(tmp_path):
    own = _own_npz(tmp_path / "own.npz")
    image = {"cut": "layer1", "k": 3, "init": "kmeans_pp", "leeway": 0, "epsilon": 0.0}
    cfg = _config(tmp_path / "own.yaml", own=dict(image, source="npz", path=str(own)))
    results, work = tmp_path / "results", tmp_path / "work"
    target = results / "data" / "own" / "prepared.npz"
    _planned(_snakemake(work, results, cfg, target))
    assert "Nothing to be done" in _planned(_snakemake(work, results, cfg, target, extra=["-n"]))
    st = own.stat()
    _own_npz(own, flip=True)  # what cp -p, rsync -a and tar x do: other bytes, same size, the old mtime
    os.utime(own, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert own.stat().st_size == st.st_size
    text = _planned(_snakemake(work, results, cfg, target, extra=["-n"]))
    assert "rule download_data:" in text and "rule prepare_data:" in text, text[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["metadata-deleted", "copied-with-cp-a"])
def test_a_config_edit_replans_whatever_the_metadata(tmp_path, how):
    cfg = _config(tmp_path / "digits.yaml", digits={"source": "digits", "cut": "layer1", "k": 3,
                                                      "init": "equal_kmeans", "leeway": 20, "epsilon": 0.003,
                                                      "max_train": 300})
    results, work = tmp_path / "results", tmp_path / "work"
    target = results / "data" / "digits" / "prepared.npz"
    _planned(_snakemake(work, results, cfg, target))
    if how == "metadata-deleted":
        shutil.rmtree(work / ".snakemake" / "metadata")
    else:
        results, work = tmp_path / "copy" / "results", tmp_path / "copy" / "work"
        results.parent.mkdir()
        subprocess.run(["cp", "-a", str(tmp_path / "results"), str(results.parent)], check=True)
        target = results / "data" / "digits" / "prepared.npz"
    assert "Nothing to be done" in _planned(_snakemake(work, results, cfg, target, extra=["-n"]))
    data = yaml.safe_load(cfg.read_text())
    data["split_seed"] = data.get("split_seed", 0) + 1
    cfg.write_text(yaml.safe_dump(data))
    text = _planned(_snakemake(work, results, cfg, target, extra=["-n"]))
    assert "rule prepare_data:" in text and "rule download_data:" not in text, text[-2000:]


@pytest.mark.slow
def test_a_dry_run_with_other_settings_leaves_the_next_plan_alone(tmp_path):
    # previewing another setting must not make the next real run re-run jobs whose settings never changed
    cfg = _config(tmp_path / "digits.yaml", digits={"source": "digits", "cut": "layer1", "k": 3, "init": "equal_kmeans",
                                                      "leeway": 20, "epsilon": 0.003, "max_train": 300})
    results, work = tmp_path / "results", tmp_path / "work"
    target = results / "data" / "digits" / "prepared.npz"
    _planned(_snakemake(work, results, cfg, target))
    shutil.rmtree(work / ".snakemake" / "metadata")  # only the stamps can tell
    preview = [sys.executable, "-m", "snakemake", str(target), "-s", str(ROOT / "Snakefile"), "-d", str(work), "-n",
               "--configfile", str(cfg), "--config", f"results={results}", "split_seed=7"]
    out = subprocess.run(preview, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert "rule prepare_data:" in _planned(out)
    assert "Nothing to be done" in _planned(_snakemake(work, results, cfg, target, extra=["-n"]))
    assert "Nothing to be done" in _planned(_snakemake(work, results, cfg, target))
