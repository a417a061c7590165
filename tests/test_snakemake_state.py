"""Snakemake's records and the file system around a run: a damaged .snakemake/metadata record is named
with the fix before Snakemake reads it (before: a UnicodeDecodeError traceback naming no file), and a
finished run's checkpoint that cannot be deleted is a warning, not a failed job."""
import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from prestorepro.errors import ConfigError
from prestorepro.jobs.common import drop_checkpoint, finish
from prestorepro.snakemake_state import check_metadata

ROOT = Path(__file__).resolve().parents[1]


def _record(work: Path, output: str, content: bytes) -> Path:
    folder = work / ".snakemake" / "metadata"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / base64.urlsafe_b64encode(output.encode()).decode().rstrip("=")
    path.write_bytes(content)
    return path


def test_damaged_records_are_named_with_their_outputs(tmp_path):
    _record(tmp_path, "results/data/digits/download.json", json.dumps({"rule": "download_data"}).encode())
    check_metadata(tmp_path)  # a sound record passes
    check_metadata(tmp_path / "elsewhere")  # no records at all
    bad = _record(tmp_path, "results/table1/digits/metrics.json", b"\x00\xff\xfejunk")
    half = _record(tmp_path, "results/x.json", b'{"rule": "tr')
    with pytest.raises(ConfigError) as err:
        check_metadata(tmp_path)
    text = str(err.value)
    assert text.startswith("2 of Snakemake's records of how an output was made are damaged: ")
    assert f"{bad} (the record of results/table1/digits/metrics.json: UnicodeDecodeError" in text
    assert f"{half} (the record of results/x.json: JSONDecodeError" in text
    assert f"Delete them (rm {half} {bad}) and run again" in text or f"Delete them (rm {bad} {half}) and run again" in text


def test_snakemake_is_told_which_record_is_damaged(tmp_path):
    work = tmp_path / "work"
    bad = _record(work, "results/data/digits/download.json", b"\x00\xff\xfejunk")
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-d", str(work), "-s", str(ROOT / "Snakefile"),
                          "--configfile", str(ROOT / "tests" / "configs" / "tiny.yaml"),
                          "--config", f"results={tmp_path / 'r'}"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode != 0
    assert f"1 of Snakemake's records of how an output was made are damaged: {bad}" in out.stdout + out.stderr


def test_a_checkpoint_that_cannot_be_deleted_is_a_warning(tmp_path, monkeypatch, capsys):
    ckpt = tmp_path / "checkpoints" / "run.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"state")

    def refuse(self, missing_ok=False):  # root may delete in a read-only folder, so the refusal is made here
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    finish({"accuracy": 1.0}, tmp_path / "metrics.json", ckpt)
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"accuracy": 1.0}
    assert ckpt.exists()
    assert (f"warning: could not delete the finished run's checkpoint {ckpt} (Permission denied); the results are "
            f"written. Make {ckpt.parent} writable and delete it by hand.") in capsys.readouterr().err
    monkeypatch.undo()
    drop_checkpoint(ckpt)
    assert not ckpt.exists()


@pytest.mark.slow
def test_jobs_write_nothing_under_home_or_tmpdir(tmp_path):
    # matplotlib's font cache went to $HOME/.cache/matplotlib (or $HOME/.config) and torch made an empty
    # $TMPDIR/torchinductor_<user>; both now sit under {results}/.cache. Snakemake's own source cache
    # ($XDG_CACHE_HOME or $HOME/.cache/snakemake) is written by Snakemake before the workflow is read.
    import os

    home, tmp, results = tmp_path / "home", tmp_path / "tmp", tmp_path / "r"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "TORCHINDUCTOR_CACHE_DIR", "XDG_CACHE_HOME",
                                                             "XDG_CONFIG_HOME")}
    env.update(HOME=str(home), TMPDIR=str(tmp), OMP_NUM_THREADS="1")
    targets = [results / "embeddings" / "digits" / "features.npz", results / "figures" / "fig6_synthetic.png"]
    out = subprocess.run([sys.executable, "-m", "snakemake", *map(str, targets), "-c2", "-d", str(tmp_path / "work"),
                          "-s", str(ROOT / "Snakefile"), "--configfile", str(ROOT / "tests" / "configs" / "tiny.yaml"),
                          "--config", f"results={results}"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert all(t.is_file() for t in targets)
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert all(p.startswith(".cache/snakemake/") for p in written), written
    assert not any(home.rglob("*matplotlib*"))
    assert list(tmp.iterdir()) == []
    assert (results / ".cache" / "matplotlib").is_dir()
