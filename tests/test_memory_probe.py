"""MemoryProbe: a larger allocation gives a larger peak; no NVML is no failure."""
import mmap
import sys
import time

import numpy as np
import pytest
import torch

from prestorepro.compress import memory
from prestorepro.compress.memory import MemoryProbe, _open_nvml

MB = 1_000_000


def _allocate_and_hold(nbytes: int, hold_s: float = 0.05) -> float:
    # The array lives in fresh anonymous pages from the kernel: a plain np.ones may be served from
    # free memory malloc already holds (resident, so RSS would not move), depending on earlier tests.
    buf = mmap.mmap(-1, nbytes)
    a = np.frombuffer(buf, dtype=np.float64)
    a[:] = 1.0  # writes every page, so all of it becomes resident
    time.sleep(hold_s)  # long enough for several samples at 5 ms
    s = float(a[::4096].sum())
    del a
    buf.close()
    return s


@pytest.mark.parametrize("hwm", [True, False], ids=["vmhwm", "sampled-only"])
def test_larger_allocation_gives_larger_peak(monkeypatch, hwm):
    if not hwm:
        monkeypatch.setattr(memory, "_reset_vmhwm", lambda: False)
    results = {}
    for size in (50 * MB, 400 * MB):
        with MemoryProbe("cpu") as probe:
            _allocate_and_hold(size)
        results[size] = probe.result()
    small, large = results[50 * MB], results[400 * MB]
    for r in (small, large):
        assert r["kind"] == "cpu_rss" and r["device"] == "cpu"
        assert r["peak_mib"] == pytest.approx(r["baseline_mib"] + r["delta_mib"])
        assert r["samples"] >= 1
        assert r["peak_source"] == ("sampled+vmhwm" if hwm else "sampled")
    assert small["delta_mib"] >= 0.9 * 50 * MB / 2**20
    assert large["delta_mib"] >= 0.9 * 400 * MB / 2**20
    assert large["peak_mib"] > small["peak_mib"]
    assert large["delta_mib"] - small["delta_mib"] >= 0.8 * 350 * MB / 2**20


def test_vmhwm_catches_a_peak_between_samples():
    # a sampling interval far longer than the block: only the kernel's high-water mark can see it
    with MemoryProbe("cpu", interval_s=60.0) as probe:
        _allocate_and_hold(200 * MB, hold_s=0.0)
    r = probe.result()
    if r["peak_source"] != "sampled+vmhwm":
        pytest.skip("this kernel does not allow resetting the RSS high-water mark")
    assert r["delta_mib"] >= 0.9 * 200 * MB / 2**20


def test_torch_tensor_is_measured():
    with MemoryProbe(torch.device("cpu")) as probe:
        buf = mmap.mmap(-1, 100 * MB)
        t = torch.frombuffer(buf, dtype=torch.float32)
        t.fill_(1.0)
        time.sleep(0.03)
        del t
        buf.close()
    assert probe.result()["delta_mib"] >= 0.9 * 100 * MB / 2**20


def test_nvml_missing_is_recorded_not_raised(monkeypatch):
    import pynvml

    def no_library():
        raise pynvml.NVMLError_LibraryNotFound(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_library)
    mod, handle, status = _open_nvml(torch.device("cuda", 0))
    assert mod is None and handle is None and status.startswith("unavailable")
    monkeypatch.setitem(sys.modules, "pynvml", None)  # nvidia-ml-py not installed at all
    mod, handle, status = _open_nvml(torch.device("cuda", 0))
    assert mod is None and status.startswith("unavailable")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU driver")
def test_nvml_unavailable_without_gpu():
    assert _open_nvml(torch.device("cuda", 0))[2].startswith("unavailable")


def test_result_only_after_the_block_and_bad_arguments():
    probe = MemoryProbe("cpu")
    with pytest.raises(RuntimeError, match="with-block"):
        probe.result()
    with pytest.raises(ValueError, match="interval_s"):
        MemoryProbe("cpu", interval_s=0)


def test_nested_probes_do_not_reset_the_outer_peak():
    with MemoryProbe("cpu") as outer:
        _allocate_and_hold(150 * MB)
        with MemoryProbe("cpu") as inner:
            time.sleep(0.01)
    assert outer.result()["peak_source"] in ("sampled+vmhwm", "sampled")
    assert inner.result()["peak_source"] == "sampled"  # only the outermost probe owns the high-water mark
    assert outer.result()["delta_mib"] >= 0.9 * 150 * MB / 2**20
