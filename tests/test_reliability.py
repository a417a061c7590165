"""Reliability building blocks: deterministic atomic outputs, safe checkpoint loading, stale
checkpoints, non-finite values named by run and round, and source checks that keep it so.

The workflow-level view (Snakemake runs) is in tests/test_reliability_workflow.py.
"""
from __future__ import annotations

import ast
import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from prestorepro.data import make_synthetic
from prestorepro.features import Features
from prestorepro.table1.run import train_fixed_partition
from prestorepro.io import (
    CheckpointError,
    atomic_path,
    fingerprint,
    load_torch,
    save_torch,
    write_json,
    write_npz,
)
from prestorepro.models.fused import FusedLinearSVM, FusedResNetTail
from prestorepro.presto.algorithm import PrestoStreams, RunHooks, run_presto
from presto_defaults import presto_settings

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "src" / "prestorepro").rglob("*.py")) + sorted((ROOT / "workflow" / "scripts").glob("*.py"))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


# ----------------------------------------------------------------------------- atomic, deterministic output


def test_write_npz_gives_the_same_bytes_at_any_time(tmp_path, monkeypatch):
    arrays = {"train_assignment": np.array([2, 0, 1, 1], dtype=np.int16),
              "x": np.linspace(0, 1, 12, dtype=np.float16).reshape(3, 4),
              "meta_json": np.asarray('{"a": 1}'), "num_classes": np.asarray(10, dtype=np.int64)}
    # np.savez stamps every member with the clock; two writes years apart must still agree
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)
    write_npz(tmp_path / "a.npz", **arrays)
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    write_npz(tmp_path / "b.npz", **arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "b.npz", allow_pickle=False) as z:
        assert z.files == list(arrays)
        for key, value in arrays.items():
            assert z[key].dtype == value.dtype and z[key].shape == value.shape
            assert np.array_equal(z[key], value)


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "assignment.npz"
    write_npz(target, a=np.arange(3))
    before = target.read_bytes()
    with pytest.raises(ValueError, match="array 'a' holds Python objects"):
        write_npz(target, a=np.array([{"x": 1}], dtype=object))  # would need pickle to read back
    assert target.read_bytes() == before
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(tmp_path / "metrics.json") as tmp:
            tmp.write_text('{"half": ')
            raise RuntimeError("disk full")
    assert not (tmp_path / "metrics.json").exists()
    assert _leftovers(tmp_path) == []
    write_json(tmp_path / "metrics.json", {"b": [1, 2], "a": np.float64(0.5)})
    assert (tmp_path / "metrics.json").read_text() == '{\n  "a": 0.5,\n  "b": [\n    1,\n    2\n  ]\n}\n'


def test_outputs_get_the_mode_of_an_ordinary_file(tmp_path):
    """Results are shared on clusters: a written file is 0666 minus the umask, as open() would make it,
    not mkstemp's private 0600."""
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"a": 1})
        os.umask(0o007)
        write_npz(tmp_path / "b.npz", a=np.arange(2))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.npz").stat().st_mode) == 0o660


# ----------------------------------------------------------------------------- checkpoints and weights


class _Payload:
    """What a tampered checkpoint would hold: unpickling it runs a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_pickled_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "executed"
    evil = tmp_path / "seed0.pt"
    torch.save({"model_state": _Payload(marker)}, evil)
    with pytest.raises(CheckpointError) as err:
        load_torch(evil)
    msg = str(err.value)
    assert f"refusing to load {evil}" in msg and "posix.system" in msg and "delete it and re-run" in msg
    assert not marker.exists()


def test_truncated_checkpoint_names_the_file_and_the_fix(tmp_path):
    good = tmp_path / "good.pt"
    save_torch(good, {"w": torch.arange(1000.0), "round": 3})
    state = load_torch(good)
    assert state["round"] == 3 and torch.equal(state["w"], torch.arange(1000.0))
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=rf"cannot read {cut} .*truncated or corrupt\. Delete it and re-run"):
        load_torch(cut)
    with pytest.raises(FileNotFoundError):
        load_torch(tmp_path / "missing.pt")


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            yield node, owner, name


def _kw(node, name):
    return next((k.value for k in node.keywords if k.arg == name), None)


def unsafe_loads(source: str, where: str) -> list[str]:
    """torch.load without weights_only=True, pickle/dill/joblib loads, allow_pickle=True, and hub
    downloads of weights (load_state_dict_from_url defaults to weights_only=False)."""
    problems = []
    for node, owner, name in _calls(ast.parse(source)):
        at = f"{where}:{node.lineno}"
        wo = _kw(node, "weights_only")
        weights_only = isinstance(wo, ast.Constant) and wo.value is True
        if (owner == "torch" and name == "load" or name == "load_state_dict_from_url") and not weights_only:
            problems.append(f"{at}: {name} without weights_only=True")
        if owner in ("pickle", "cPickle", "dill", "joblib") and name in ("load", "loads"):
            problems.append(f"{at}: {owner}.{name}")
        ap = _kw(node, "allow_pickle")
        if isinstance(ap, ast.Constant) and ap.value is True:
            problems.append(f"{at}: allow_pickle=True")
    return problems


def test_no_source_unpickles_anything_but_weights():
    bad = ("import torch, pickle, numpy as np\n"
           "torch.load(p)\ntorch.load(p, weights_only=False)\npickle.loads(b)\nnp.load(p, allow_pickle=True)\n"
           "torch.hub.load_state_dict_from_url(u)\ntorch.load(p, weights_only=True)\n")
    assert [p.split(": ", 1)[0] for p in unsafe_loads(bad, "x")] == ["x:2", "x:3", "x:4", "x:5", "x:6"]
    problems = [p for path in SOURCES for p in unsafe_loads(path.read_text(), str(path.relative_to(ROOT)))]
    assert problems == []


# Calls that write a file; each must target a temporary path from io.atomic_path (or be io.py itself).
_WRITERS = {"savez", "savez_compressed", "save", "savefig", "to_csv", "to_parquet", "to_latex", "write_text",
            "write_bytes", "dump", "tofile"}
# Deliberate non-atomic writes, each with its reason.
_ALLOWED = {
    ("compress/memory.py", "write_text"),  # writes to /proc/self/clear_refs (a kernel control file)
}


def _atomic_targets(tree) -> set[str]:
    """Names bound by ``with atomic_path(...) as name`` anywhere in the module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) == "atomic_path"
                        and isinstance(item.optional_vars, ast.Name)):
                    names.add(item.optional_vars.id)
    return names


def non_atomic_writes(source: str, rel: str) -> list[str]:
    """Calls that write a file other than through a temporary path of io.atomic_path."""
    tree = ast.parse(source)
    tmp_names = _atomic_targets(tree)
    problems = []
    for node, owner, name in _calls(tree):
        at = f"{rel}:{node.lineno}"
        if name == "open" and owner in ("", "io", "builtins"):
            mode = node.args[1] if len(node.args) > 1 else _kw(node, "mode")
            if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and set(mode.value) & set("wx"):
                problems.append(f"{at}: open(..., {mode.value!r})")
            continue
        # bare names (write_text, write_json, ...) are the atomic writers imported from io
        if name not in _WRITERS or not isinstance(node.func, ast.Attribute) or (rel, name) in _ALLOWED:
            continue
        if name in ("to_csv", "to_latex") and not node.args and _kw(node, "path_or_buf") is None \
                and _kw(node, "buf") is None:
            continue  # returns a string
        if name == "dump" and owner in ("json", "yaml") and len(node.args) < 2:
            continue
        if name == "save" and owner not in ("np", "numpy", "torch"):
            continue
        target = node.args[0] if node.args else None
        if name in ("write_text", "write_bytes", "tofile"):
            target = node.func.value
        if name == "dump":
            target = node.args[1] if len(node.args) > 1 else None
        if isinstance(target, ast.Name) and target.id in tmp_names:
            continue
        problems.append(f"{at}: {owner + '.' if owner else ''}{name} outside io.atomic_path")
    return problems


def test_every_output_is_written_through_an_atomic_path():
    bad = ("import numpy as np, json\nfrom prestorepro.io import atomic_path, write_text\n"
           "np.savez(out, a=a)\nopen(out, 'w')\nPath(out).write_text(t)\nfig.savefig(out)\njson.dump(d, f)\n"
           "with atomic_path(out) as tmp:\n    np.savez(tmp, a=a)\n    fig.savefig(tmp)\n"
           "write_text(out, t)\ns = df.to_csv(index=False)\nopen(out)\n")
    assert [p.split(": ", 1)[0] for p in non_atomic_writes(bad, "x")] == ["x:3", "x:4", "x:5", "x:6", "x:7"]
    problems = []
    for path in SOURCES:
        rel = str(path.relative_to(ROOT / "src" / "prestorepro") if "src" in path.parts else path.relative_to(ROOT))
        if rel != "io.py":
            problems += non_atomic_writes(path.read_text(), rel)
    assert problems == []


# ----------------------------------------------------------------------------- stale checkpoints, fingerprint


def test_fingerprint_separates_runs_and_ignores_nothing_it_is_given():
    x = torch.arange(12.0).reshape(4, 3)
    base = dict(settings={"lr": 0.01, "epochs": 2}, x=x, generators=[torch.Generator().manual_seed(1).get_state()])
    key = fingerprint(**base)
    assert key == fingerprint(**dict(base, x=x.clone()))
    x2 = x.clone()
    x2[3, 2] += 1e-3
    variants = [dict(base, x=x2), dict(base, x=x.double()), dict(base, settings={"lr": 0.02, "epochs": 2}),
                dict(base, generators=[torch.Generator().manual_seed(2).get_state()]),
                dict(base, x=x.reshape(3, 4))]
    keys = {fingerprint(**v) for v in variants}
    assert key not in keys and len(keys) == len(variants)


def test_fingerprint_reads_values_not_memory_layout():
    # a channels-last copy (the fused trainer's CPU layout) is the same data: same key, also in chunks
    x = torch.randn(9, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    cl = x.contiguous(memory_format=torch.channels_last)
    assert fingerprint(x=cl) == fingerprint(x=x)
    from prestorepro.io import _hash_value
    import hashlib
    h1, h2 = hashlib.sha256(), hashlib.sha256()
    _hash_value(h1, x, chunk_rows=4)
    _hash_value(h2, cl, chunk_rows=2)
    assert h1.hexdigest() == h2.hexdigest()
    assert fingerprint(x=cl.permute(0, 2, 3, 1)) != fingerprint(x=x)  # another shape is another array
    assert fingerprint(x=torch.tensor(3.0)) != fingerprint(x=torch.tensor(4.0))  # 0-d tensors hash too


def _svm_run(tmp_path, lr=0.05, rounds=4, ckpt=True, logs=None):
    x, y, _ = make_synthetic(200, np.random.default_rng(0))
    x, y = torch.tensor(x), torch.tensor(y)
    a0 = np.random.default_rng(0).permutation(np.arange(200) % 4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = FusedLinearSVM(4, 2)
    s = presto_settings(k=4, rounds=rounds, epochs=2, batch_size=32, lr=lr, lam=1e-3, epsilon=3e-3, leeway=5,
                        loss="hinge")
    gens = [torch.Generator().manual_seed(100 + j) for j in range(4)]
    log = logs.append if logs is not None else (lambda m: None)
    res = run_presto(model, x, y, a0, s, PrestoStreams(gens),
                     hooks=RunHooks(log=log, checkpoint_path=tmp_path / "p.pt" if ckpt else None,
                                    label="synthetic presto seed 0"))
    return res, model


def test_presto_ignores_a_checkpoint_of_a_run_with_other_settings(tmp_path):
    _svm_run(tmp_path, lr=0.2, rounds=2)  # "killed" after round 2 under another learning rate
    assert (tmp_path / "p.pt").exists()
    logs: list[str] = []
    res, model = _svm_run(tmp_path, lr=0.05, logs=logs)
    fresh, fresh_model = _svm_run(tmp_path, lr=0.05, ckpt=False)
    assert any("ignoring checkpoint" in m and "other settings, data or seed" in m for m in logs)
    assert not any("resumed from checkpoint" in m for m in logs)
    assert [h["objective"] for h in res.history] == [h["objective"] for h in fresh.history]
    for a, b in zip(model.parameters(), fresh_model.parameters()):
        assert torch.equal(a, b)
    # the same settings with more rounds do resume (rounds may be extended)
    logs.clear()
    (tmp_path / "p.pt").unlink()
    _svm_run(tmp_path, lr=0.05, rounds=2)
    longer, _ = _svm_run(tmp_path, lr=0.05, rounds=4, logs=logs)
    assert any("resumed from checkpoint" in m and "after round 2" in m for m in logs)
    assert [h["objective"] for h in longer.history] == [h["objective"] for h in fresh.history]


def test_presto_non_finite_loss_names_the_run_and_round(tmp_path):
    with pytest.raises(FloatingPointError, match=r"^\[synthetic presto seed 0\] round 1: non-finite training loss "
                                                 r".* at epoch 1, step \d+; lower the learning rate"):
        _svm_run(tmp_path, lr=1e30, ckpt=False)


def _features(n=30, seed=0) -> Features:
    g = torch.Generator().manual_seed(seed)
    t = {}
    for split, m in (("train", n), ("val", 9), ("test", 9)):
        t[f"{split}_x"] = torch.randn(m, 64, 8, 8, generator=g)
        t[f"{split}_y"] = torch.arange(m) % 3
    return Features(**t, num_classes=3, cut="layer1")


def _fixed_run(tmp_path, feats, rounds=3, lr=0.01, logs=None, ckpt=True):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = FusedResNetTail(2, "layer1", (2, 2, 2), 3)
    s = presto_settings(k=2, rounds=rounds, epochs=1, batch_size=8, lr=lr, leeway=None)
    gens = [torch.Generator().manual_seed(j) for j in range(2)]
    log = logs.append if logs is not None else (lambda m: None)
    train_fixed_partition(model, feats, np.arange(len(feats.train_y)) % 2, s, gens, log=log,
                          checkpoint_path=tmp_path / "fixed.pt" if ckpt else None, label="digits gmm seed 0")
    return model


def test_fixed_partition_resumes_exactly_and_ignores_stale_checkpoints(tmp_path):
    feats = _features()
    full = _fixed_run(tmp_path, feats, ckpt=False)
    _fixed_run(tmp_path, feats, rounds=1)  # "killed" after round 1
    logs: list[str] = []
    resumed = _fixed_run(tmp_path, feats, logs=logs)
    assert "[digits gmm seed 0] resumed from checkpoint" in "\n".join(logs) and "after round 1" in "\n".join(logs)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    # a checkpoint left by a run on other embeddings is not spliced in
    (tmp_path / "fixed.pt").unlink()
    _fixed_run(tmp_path, _features(seed=1), rounds=1)
    logs.clear()
    fresh = _fixed_run(tmp_path, feats, logs=logs)
    assert any("ignoring checkpoint" in m for m in logs)
    for a, b in zip(full.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_fixed_partition_non_finite_loss_names_the_run_and_round(tmp_path):
    with pytest.raises(FloatingPointError, match=r"^\[digits gmm seed 0\] round 1: non-finite training loss"):
        _fixed_run(tmp_path, _features(), lr=1e30, ckpt=False)


def test_embedding_overflowing_float16_fails_and_writes_nothing(tmp_path, monkeypatch):
    import logging

    import prestorepro.embed as embed_mod
    from prestorepro.data import prepare_dataset, write_prepared
    from prestorepro.jobs.embed import embed
    from prestorepro.jobs.specs import EmbedJob

    prepared = tmp_path / "prepared.npz"
    write_prepared(prepared, prepare_dataset("digits", tmp_path, 0))

    def overflowing(images, trunk, **kw):  # feature maps above float16's largest value, 65504
        return np.full((len(images), 64, 8, 8), np.float16(np.inf))

    monkeypatch.setattr(embed_mod, "extract_features", overflowing)
    out = tmp_path / "emb" / "features.npz"
    with pytest.raises(FloatingPointError, match=r"train split are non-finite after conversion to float16"):
        embed(EmbedJob(prepared=str(prepared), dataset_config={"source": "digits", "cut": "layer1"},
                       embedding={"weights": "none", "batch_size": 64, "seed": 0}, device="cpu", out_npz=str(out),
                       out_json=str(tmp_path / "emb" / "f.json")), logging.getLogger("test"))
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_cached_imagenet_weights_are_never_unpickled(tmp_path, monkeypatch):
    """A tampered file in torch's weights cache must be refused, not executed."""
    from torchvision.models import ResNet18_Weights

    from prestorepro.embed import build_trunk

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(ResNet18_Weights.IMAGENET1K_V1.url).name
    cached.parent.mkdir(parents=True)
    marker = tmp_path / "executed"
    torch.save({"conv1.weight": _Payload(marker)}, cached)
    with pytest.raises(Exception):
        build_trunk("imagenet", "layer1")
    assert not marker.exists(), "the cached weights file's pickled code was executed"


def test_gate_does_not_depend_on_the_global_generator():
    """torch seeds its global generator differently in every process: the gate must not draw from it."""
    from prestorepro.presto.gate import GateInput, GateSchedule, train_gate

    x, y, _ = make_synthetic(200, np.random.default_rng(0))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = FusedLinearSVM(4, 2)
    part = np.arange(200) % 4
    gates = []
    with torch.random.fork_rng(devices=[]):
        for global_seed in (1, 2):
            torch.manual_seed(global_seed)  # what another process would start from
            gates.append(train_gate(model, torch.tensor(x), part, GateSchedule(epochs=2, lr=0.05, batch_size=50),
                                    generator=torch.Generator().manual_seed(7), reads=GateInput(loss="hinge")))
    for a, b in zip(gates[0].state_dict().values(), gates[1].state_dict().values()):
        assert torch.equal(a, b)


def test_cuda_without_a_gpu_falls_back_to_the_cpu_and_says_so(monkeypatch, capsys):
    import torch

    from prestorepro import device
    from prestorepro.provenance import provenance

    monkeypatch.setattr(device, "_FALLBACK", {})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "device_fallback" not in provenance({}, 0, "cpu")
    assert device.resolve_device("auto") == torch.device("cpu") and device.fallback_note() is None  # auto: no note
    assert device.resolve_device("cuda") == torch.device("cpu")
    assert device.resolve_device("cuda") == torch.device("cpu")
    err = capsys.readouterr().err
    assert err.count("device: cuda was asked for, but no CUDA device is visible") == 1  # once per process (job)
    assert provenance({}, 0, "cpu")["device_fallback"] == device.fallback_note()


def test_altered_or_unreadable_features_are_refused_naming_the_file(tmp_path):
    import json

    from prestorepro.data import DataError
    from prestorepro.features import Features
    from prestorepro.io import sha256_array, write_npz

    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 12), ("val", 4), ("test", 4)):
        arrays[f"{split}_x"] = rng.normal(size=(n, 2, 3, 3)).astype(np.float16)
        arrays[f"{split}_y"] = np.arange(n) % 3
    side = {"num_classes": 3, "cut": "layer1", "shapes": {s: list(arrays[f"{s}_x"].shape) for s in ("train", "val", "test")},
            "checksums": {k: sha256_array(v) for k, v in arrays.items()}}
    npz, js = tmp_path / "features.npz", tmp_path / "features.json"
    js.write_text(json.dumps(side))
    write_npz(npz, **arrays)
    assert Features.from_embedding(npz, js, "cpu").train_x.shape == (12, 2, 3, 3)
    cases = {
        "permuted labels": (dict(arrays, train_y=arrays["train_y"][::-1].copy()), "train_y does not match the sha256"),
        "wrong shape": (dict(arrays, val_x=arrays["val_x"][:3]), r"val_x has shape \[3, 2, 3, 3\], features.json records"),
        "missing key": ({k: v for k, v in arrays.items() if k != "test_y"}, "lacks key\\(s\\) test_y"),
    }
    for name, (changed, needle) in cases.items():
        write_npz(npz, **changed)
        with pytest.raises(DataError, match=needle) as err:
            Features.from_embedding(npz, js, "cpu")
        assert str(npz) in str(err.value) and "snakemake --forcerun embed" in str(err.value), name
    write_npz(npz, **arrays)
    whole = npz.read_bytes()
    for name, data in (("truncated", whole[: len(whole) // 2]), ("empty", b""),
                       ("crc", whole[:200] + bytes([whole[200] ^ 0xFF]) + whole[201:])):
        npz.write_bytes(data)
        with pytest.raises(DataError, match="truncated or corrupt|does not match the sha256") as err:
            Features.from_embedding(npz, js, "cpu")
        assert str(npz) in str(err.value), name
    npz.unlink()
    with pytest.raises(DataError, match="do not exist"):
        Features.from_embedding(npz, js, "cpu")


def test_checkpoints_and_models_carry_a_digest_of_their_contents(tmp_path):
    # one flipped bit in a saved tensor, or a valid re-save by other code, is refused, never resumed
    import torch

    from prestorepro.io import CheckpointError, load_torch, save_torch

    state = {"w": torch.arange(64, dtype=torch.float32).reshape(8, 8), "epoch": 3}
    path = tmp_path / "ckpt.pt"
    save_torch(path, state)
    back = load_torch(path)
    assert torch.equal(back["w"], state["w"]) and back["epoch"] == 3
    raw = bytearray(path.read_bytes())
    # flip one bit inside the saved weights (the float 1.0 = 0x3f800000 of w[0, 1], in the payload)
    at = raw.find(np.float32(1.0).tobytes())
    assert at > 0
    raw[at + 1] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="do not match the sha256 recorded when it was written") as err:
        load_torch(path)
    assert str(path) in str(err.value)
    altered = dict(state, w=state["w"].clone())
    altered["w"][0, 0] = 100.0
    torch.save(altered, path)  # a valid file, written by other code
    with pytest.raises(CheckpointError, match="carries no digest of its contents"):
        load_torch(path)


def test_a_full_disk_an_unwritable_folder_and_a_corrupt_checkpoint_each_say_so(tmp_path, monkeypatch):
    import errno
    import os
    import tempfile

    from prestorepro.io import CheckpointError, atomic_path, load_torch, save_torch

    target = tmp_path / "ckpt.pt"
    save_torch(target, {"epoch": 1})
    # a real ENOSPC from the OS (/dev/full), inside an atomic write: said so, the previous file kept
    with pytest.raises(OSError, match=f"no space left on the device holding {target}") as err:
        with atomic_path(target) as _tmp, open("/dev/full", "wb") as f:
            f.write(b"x" * 1_000_000)
    assert err.value.errno == errno.ENOSPC
    assert load_torch(target) == {"epoch": 1} and os.listdir(tmp_path) == ["ckpt.pt"]

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=f"cannot write {tmp_path / 'out.json'}: the folder {tmp_path} is not "
                                              "writable"):
        save_torch(tmp_path / "out.json", {})
    monkeypatch.undo()
    for name, data in (("random", bytes(range(256)) * 3), ("operand", bytes([0x80, 0x02, 141]) + bytes(100))):
        bad = tmp_path / f"{name}.pt"
        bad.write_bytes(data)
        with pytest.raises(CheckpointError, match="corrupt") as err:
            load_torch(bad)
        assert str(bad) in str(err.value) and "delete it and re-run" in str(err.value)


def test_a_job_ends_when_the_snakemake_that_started_it_is_killed(tmp_path):
    # kill -9 of the parent: the job (here: sleeping inside job_log) stops within a few seconds instead of
    # running on, re-parented, beside the next run's copy of it
    import os
    import signal
    import subprocess
    import sys
    import time

    pidfile = tmp_path / "job.pid"
    job = (f"import os, time\nfrom prestorepro.jobs.common import job_log\n"
           f"with job_log({str(tmp_path / 'job.log')!r}, 'sleeper') as log:\n"
           f"    open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', {job!r}])\ntime.sleep(120)\n"])
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text()):
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.1)
    pid = int(pidfile.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        if open(f"/proc/{pid}/stat").read().split()[2] == "Z":  # exited, waiting to be reaped by init
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the job outlived the process that started it by 15 s")
