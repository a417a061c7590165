"""What every job shares: its log, its thread count, the metrics header, and how it finishes."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Mapping

from prestorepro.io import write_json


PARENT_POLL_S = 2.0


def _stop(signum, frame):
    raise SystemExit(128 + signum)  # unwinds: atomic writes remove their temporary files


def die_with_parent(poll_s: float = PARENT_POLL_S) -> None:
    """End this job when the process that started it (Snakemake, or its job step on a cluster) dies:
    a ``kill -9`` of Snakemake would otherwise leave the job running, re-parented, and the next run would
    start a second copy beside it. A daemon thread watches the parent; when it changes, SIGTERM makes the
    main thread raise SystemExit, so the job stops the way an interrupted one does (no output half-written)."""
    if any(t.name == "die-with-parent" for t in threading.enumerate()):
        return  # one watcher per process
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


@contextlib.contextmanager
def _package_loggers(handler: logging.Handler) -> Iterator[None]:
    """The package modules' own loggers (``logging.getLogger(__name__)``: PBCS's steps, the facility
    location's switch to the stochastic greedy, the downloads) write through ``handler`` too. Without
    it their INFO lines reach only the root logger, whose WARNING level drops them."""
    package = logging.getLogger("prestorepro")
    level = package.level
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


@contextlib.contextmanager
def job_log(path: str | Path | None, name: str) -> Iterator[logging.Logger]:
    """A logger writing to the rule's log file; the package modules' loggers and stderr (the progress
    lines of ``prestorepro.progress``) go there too. The job ends if Snakemake dies (``die_with_parent``)."""
    die_with_parent()
    logger = logging.getLogger(f"prestorepro.{name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # its lines reach the handler once, not again through the package logger
    for h in list(logger.handlers):
        logger.removeHandler(h)
    if path is None:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        logger.addHandler(handler)
        with _package_loggers(handler):
            yield logger
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        with contextlib.redirect_stderr(stream), _package_loggers(handler):
            try:
                yield logger
            except Exception:
                logger.exception("job failed")
                raise
            finally:
                logger.removeHandler(handler)


def set_threads(n: int) -> None:
    import torch  # here, not at the top: the report jobs use job_log and need no torch

    torch.set_num_threads(max(1, int(n)))


PRECISIONS = ("float32", "float64")


def set_precision(name: str) -> None:
    """The training jobs' floating-point precision (config ``precision``): torch's default dtype, which
    every model, optimiser state and loaded feature map of the job then takes (features.Features, the
    synthetic data). float64 makes a CPU run independent of the instruction set oneDNN picks (docs/drift.md)."""
    import torch

    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r}: use one of {', '.join(PRECISIONS)}")
    torch.set_default_dtype(getattr(torch, name))


def header(*, dataset: str, dataset_config: Mapping, method: str, seed: int | None) -> dict:
    """The fields every metrics file starts with."""
    return {"dataset": dataset, "dataset_config": dict(dataset_config), "source": dataset_config["source"],
            "method": method, "seed": None if seed is None else int(seed)}


def finish(metrics: dict, out: str | Path, checkpoint: str | Path | None = None) -> dict:
    """Write a job's metrics (atomically), then drop its checkpoint: the run is over."""
    write_json(out, metrics)
    drop_checkpoint(checkpoint)
    return metrics


def drop_checkpoint(checkpoint: str | Path | None) -> None:
    """Delete a finished run's checkpoint. One that cannot be deleted (a read-only checkpoints folder) is
    left with a warning, not an error: the run's results are written, and a rerun with the same inputs
    only resumes from it to the same result."""
    if not checkpoint or not Path(checkpoint).exists():
        return
    try:
        Path(checkpoint).unlink()
    except OSError as exc:
        print(f"warning: could not delete the finished run's checkpoint {checkpoint} ({exc.strerror}); the "
              f"results are written. Make {Path(checkpoint).parent} writable and delete it by hand.", file=sys.stderr)


@contextlib.contextmanager
def named_errors(prefix: str):
    """Non-finite losses raised deep in a trainer name the dataset, method and seed of the job."""
    try:
        yield
    except FloatingPointError as exc:
        raise FloatingPointError(f"{prefix} {exc}") from exc


def run_script(snakemake, spec_type, job) -> None:
    """A job script's whole body: the job's spec (``prestorepro.jobs.specs``) from Snakemake's ``snakemake``
    object; for a job that computes with torch (``trains``) its thread count, and its precision where it has
    one; then ``job(spec, log)`` with the rule's log file."""
    spec = spec_type.from_snakemake(snakemake)
    if spec_type.trains:
        set_threads(snakemake.threads)
    if hasattr(spec, "precision"):
        set_precision(spec.precision)
    with job_log(snakemake.log[0], job.__name__) as log:
        job(spec, log)
