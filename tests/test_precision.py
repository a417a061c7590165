"""``precision``: the training jobs' dtype (jobs.common.set_precision), and what float64 buys (docs/drift.md):
the same numbers whichever instruction set oneDNN's convolutions use."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from prestorepro.features import Features
from prestorepro.io import write_npz
from prestorepro.jobs.common import set_precision
from prestorepro.provenance import provenance

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def restore_dtype():
    before = torch.get_default_dtype()
    yield
    torch.set_default_dtype(before)


def test_set_precision_sets_the_default_dtype_and_refuses_other_names(restore_dtype):
    set_precision("float64")
    assert torch.get_default_dtype() == torch.float64 and torch.nn.Linear(2, 2).weight.dtype == torch.float64
    assert provenance()["precision"] == "float64"
    set_precision("float32")
    assert torch.get_default_dtype() == torch.float32 and provenance()["precision"] == "float32"
    with pytest.raises(ValueError, match="precision 'float16': use one of float32, float64"):
        set_precision("float16")


def test_features_load_in_the_training_precision(tmp_path, restore_dtype):
    rng = np.random.default_rng(0)
    arrays = {f"{s}_{p}": (rng.normal(size=(5, 4, 2, 2)).astype(np.float32) if p == "x" else np.arange(5) % 2)
              for s in ("train", "val", "test") for p in ("x", "y")}
    write_npz(tmp_path / "f.npz", **arrays)
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        set_precision(name)
        f = Features.load(tmp_path / "f.npz", "cpu", 2, "layer1")
        assert f.train_x.dtype == dtype and f.test_y.dtype == torch.int64
        # float32 on disk: float64 holds exactly the stored values
        np.testing.assert_array_equal(f.train_x.double().numpy(), arrays["train_x"].astype(np.float64))


# Algorithm 1 in sequential mode (nn.Conv2d on NCHW maps: oneDNN's convolutions) on random 64x8x8
# feature maps; prints a digest of the final partition and weights
_RUN = """
import hashlib, json, sys
import numpy as np, torch
from prestorepro.jobs.common import set_precision
from prestorepro.models.fused import FusedResNetTail
from prestorepro.presto.algorithm import PrestoStreams, run_presto
sys.path.insert(0, "tests")
from presto_defaults import presto_settings
set_precision(sys.argv[1]); torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
x = torch.randn(90, 64, 8, 8, generator=g).to(torch.get_default_dtype())
y = torch.randint(0, 3, (90,), generator=g)
torch.manual_seed(0)
m = FusedResNetTail(3, "layer1", (4, 8, 16), 3)
s = presto_settings(k=3, rounds=3, epochs=2, batch_size=16, lr=0.01, lam=1e-4, leeway=20)
a0 = np.arange(90) % 3
res = run_presto(m, x, y, a0, s, PrestoStreams([torch.Generator().manual_seed(j) for j in range(3)]),
                 compute_device=torch.device("cpu"))
h = hashlib.sha256(res.assignment.astype(np.int64).tobytes())
for p in m.parameters():
    h.update(p.detach().numpy().tobytes())
print(json.dumps({"digest": h.hexdigest(), "dtype": str(next(m.parameters()).dtype)}))
"""


def _run(precision: str, isa: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")}
    if isa:  # oneDNN's kernels and ATen's own vectorised ones both at that level
        env.update(ONEDNN_MAX_CPU_ISA=isa, ATEN_CPU_CAPABILITY=isa.lower())
    out = subprocess.run([sys.executable, "-c", _RUN, precision], cwd=ROOT, env=dict(env, OMP_NUM_THREADS="1"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_float64_gives_the_same_run_whichever_instruction_set_onednn_uses():
    # On a host with AVX-512, ONEDNN_MAX_CPU_ISA=AVX2 and ATEN_CPU_CAPABILITY=avx2 make torch run another
    # machine's kernels; float64 must come out bit for bit the same. (In float32 the three of default, AVX2 and SSE41 gave three
    # different digests on a 2-core AMD EPYC with AVX-512; docs/drift.md has what that does to the tables.)
    default, avx2 = _run("float64", None), _run("float64", "AVX2")
    assert default["dtype"] == "torch.float64"
    assert default["digest"] == avx2["digest"]
