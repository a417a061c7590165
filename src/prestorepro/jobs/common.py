"""What every job shares: its log, its thread count, the metrics header, and how it finishes."""
from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Iterator, Mapping

from prestorepro.io import write_json


@contextlib.contextmanager
def job_log(path: str | Path | None, name: str) -> Iterator[logging.Logger]:
    """A logger writing to the rule's log file; stderr (tqdm progress bars) goes there too."""
    logger = logging.getLogger(f"prestorepro.{name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
    if path is None:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        logger.addHandler(handler)
        yield logger
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        with contextlib.redirect_stderr(stream):
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


def header(*, dataset: str, dataset_config: Mapping, method: str, seed: int | None) -> dict:
    """The fields every metrics file starts with."""
    return {"dataset": dataset, "dataset_config": dict(dataset_config), "source": dataset_config["source"],
            "method": method, "seed": None if seed is None else int(seed)}


def finish(metrics: dict, out: str | Path, checkpoint: str | Path | None = None) -> dict:
    """Write a job's metrics (atomically), then drop its checkpoint: the run is over."""
    write_json(out, metrics)
    if checkpoint and Path(checkpoint).exists():
        Path(checkpoint).unlink()
    return metrics


@contextlib.contextmanager
def named_errors(prefix: str):
    """Non-finite losses raised deep in a trainer name the dataset, method and seed of the job."""
    try:
        yield
    except FloatingPointError as exc:
        raise FloatingPointError(f"{prefix} {exc}") from exc
