"""Peak memory of a block of code: training or inference of one method (paper §4.2, Table 2, Fig. 3).

The paper reports "maximum GPU memory used during training" in MiB. ``MemoryProbe`` measures it
around any call:

- on CUDA: the memory NVML reports for this process (``nvmlDeviceGetComputeRunningProcesses``),
  sampled in a background thread — what ``nvidia-smi`` shows, CUDA context included — plus
  ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` (reset on entry). When NVML cannot
  see this process (PID namespaces in containers), the device-wide ``nvmlDeviceGetMemoryInfo().used``
  is sampled instead and the result says so; without NVML at all the torch numbers stand alone.
- on the CPU: the resident set size (RSS) of this process, labelled ``kind: "cpu_rss"`` — not GPU
  memory, and not comparable with the paper's MiB. It is sampled in a background thread and, on
  Linux, also read from the kernel's exact high-water mark (VmHWM, reset on entry through
  ``/proc/self/clear_refs``), which catches peaks shorter than the sampling interval.

RSS counts the pages a process has taken from the kernel: memory the C allocator reuses from its own
free lists does not raise it, so one measurement per fresh process is the clean protocol
(``benchmarks/bench_memory.py`` does that).

``peak_mib`` is the absolute peak, ``baseline_mib`` the value on entry, ``delta_mib`` their difference.
"""
from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import psutil
import torch

MIB = 1024.0 * 1024.0


def _open_nvml(device: torch.device) -> tuple[Any, Any, str]:
    """(pynvml module, device handle, status). Never raises: a missing library or driver gives
    (None, None, 'unavailable: <reason>')."""
    try:
        import pynvml
    except ImportError as exc:  # nvidia-ml-py not installed
        return None, None, f"unavailable: {exc}"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:  # NVMLError_LibraryNotFound on machines without a GPU driver
        return None, None, f"unavailable: {exc}"
    index = device.index if device.index is not None else torch.cuda.current_device()
    handle = None
    try:
        # CUDA_VISIBLE_DEVICES renumbers devices for torch but not for NVML: match by UUID.
        uuid = str(torch.cuda.get_device_properties(index).uuid)
        handle = pynvml.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")
    except Exception:  # older drivers / MIG: fall back to the index
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except pynvml.NVMLError as exc:
            pynvml.nvmlShutdown()
            return None, None, f"unavailable: {exc}"
    return pynvml, handle, "ok"


def _nvml_process_bytes(pynvml: Any, handle: Any, pid: int) -> int | None:
    """GPU memory NVML attributes to ``pid``, or None if NVML does not list it."""
    try:
        procs = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
    except pynvml.NVMLError:
        return None
    for p in procs:
        if p.pid == pid and p.usedGpuMemory is not None:
            return int(p.usedGpuMemory)
    return None


def _read_vmhwm_bytes() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_vmhwm() -> bool:
    # Writing 5 to clear_refs resets the peak RSS of this process (Linux >= 4.0).
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class MemoryProbe:
    """Context manager measuring peak memory of the enclosed code on ``device``.

    >>> with MemoryProbe(device) as probe:
    ...     train_single(model, TrainingSet(x, y), ...)
    >>> probe.result()["peak_mib"]
    """

    _active_cpu_probes = 0  # the RSS high-water mark is per process: only the outermost probe resets it
    _lock = threading.Lock()

    def __init__(self, device: torch.device | str, interval_s: float = 0.005):
        if not interval_s > 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.device = torch.device(device)
        self.interval_s = float(interval_s)
        self._result: dict | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # sampling ---------------------------------------------------------------------------------
    def _loop(self, sample: Callable[[], int | None]) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                v = sample()
            except Exception:  # a failed reading is skipped: the probe must never break the measured code
                continue
            if v is not None:
                self._peak = max(self._peak, v)
                self._samples += 1

    def _start_thread(self, sample: Callable[[], int | None]) -> None:
        self._sample = sample
        self._thread = threading.Thread(target=self._loop, args=(sample,), name="memory-probe", daemon=True)
        self._thread.start()

    def _stop_thread(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        v = self._sample()  # one last sample after the enclosed code
        if v is not None:
            self._peak = max(self._peak, v)
            self._samples += 1

    # context ----------------------------------------------------------------------------------
    def __enter__(self) -> "MemoryProbe":
        # Garbage awaiting the cycle collector would otherwise sit in the baseline and could be
        # freed during the block, hiding part of the block's own allocation.
        gc.collect()
        self._result = None
        self._stop.clear()
        self._samples = 0
        self._t0 = time.perf_counter()
        if self.device.type == "cuda":
            self._enter_cuda()
        elif self.device.type == "cpu":
            self._enter_cpu()
        else:
            raise ValueError(f"MemoryProbe measures cpu or cuda devices, got {self.device}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            self._exit_cuda()
        else:
            self._exit_cpu()

    def _enter_cpu(self) -> None:
        proc = psutil.Process(os.getpid())
        with MemoryProbe._lock:
            self._outermost = MemoryProbe._active_cpu_probes == 0
            MemoryProbe._active_cpu_probes += 1
        self._hwm = self._outermost and _reset_vmhwm() and _read_vmhwm_bytes() is not None
        self._baseline = proc.memory_info().rss
        self._peak = self._baseline
        self._start_thread(lambda: proc.memory_info().rss)

    def _exit_cpu(self) -> None:
        self._stop_thread()
        hwm = _read_vmhwm_bytes() if self._hwm else None
        with MemoryProbe._lock:
            MemoryProbe._active_cpu_probes -= 1
        peak = max(self._peak, hwm) if hwm is not None else self._peak
        self._result = {
            "kind": "cpu_rss", "device": "cpu",
            "peak_mib": peak / MIB, "baseline_mib": self._baseline / MIB, "delta_mib": (peak - self._baseline) / MIB,
            "peak_source": "sampled+vmhwm" if hwm is not None else "sampled",
            "samples": self._samples, "duration_s": time.perf_counter() - self._t0,
        }

    def _enter_cuda(self) -> None:
        dev = self.device
        torch.cuda.synchronize(dev)  # creates the context, so NVML lists this process from here on
        torch.cuda.reset_peak_memory_stats(dev)
        self._torch_baseline = torch.cuda.memory_allocated(dev)
        self._nvml, self._handle, status = _open_nvml(dev)
        pid = os.getpid()
        self._kind = "torch_cuda_reserved"
        sample: Callable[[], int | None] = lambda: None
        if self._nvml is not None:
            nv, h = self._nvml, self._handle
            if _nvml_process_bytes(nv, h, pid) is not None:
                self._kind, status = "nvml_process", "process"
                sample = lambda: _nvml_process_bytes(nv, h, pid)
            else:
                # NVML does not list this PID (container PID namespace): the whole device's use,
                # which includes other processes — said so in the result.
                self._kind, status = "nvml_device_used", "device-wide (process not listed)"
                sample = lambda: int(nv.nvmlDeviceGetMemoryInfo(h).used)
        self._nvml_status = status
        first = sample()
        self._baseline = first if first is not None else torch.cuda.memory_reserved(dev)
        self._peak = self._baseline
        self._start_thread(sample)

    def _exit_cuda(self) -> None:
        dev = self.device
        torch.cuda.synchronize(dev)
        self._stop_thread()
        max_alloc = torch.cuda.max_memory_allocated(dev)
        max_res = torch.cuda.max_memory_reserved(dev)
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError:
                pass
        peak = self._peak if self._kind != "torch_cuda_reserved" else max(self._peak, max_res)
        self._result = {
            "kind": self._kind, "device": f"{dev} ({torch.cuda.get_device_name(dev)})", "nvml": self._nvml_status,
            "peak_mib": peak / MIB, "baseline_mib": self._baseline / MIB, "delta_mib": (peak - self._baseline) / MIB,
            "torch_max_allocated_mib": max_alloc / MIB, "torch_max_reserved_mib": max_res / MIB,
            "torch_allocated_at_enter_mib": self._torch_baseline / MIB,
            "samples": self._samples, "duration_s": time.perf_counter() - self._t0,
        }

    def result(self) -> dict:
        if self._result is None:
            raise RuntimeError("MemoryProbe.result() is available once the with-block has ended")
        return dict(self._result)
