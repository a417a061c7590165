"""The report's reading of the files the training jobs wrote, never trusted: a truncated or empty file,
one that is not a mapping, one without a key a table needs, or a measured score that is not a finite
number (a run never writes one: its trainers refuse non-finite losses) stops the report job with a
message naming the file, the key and the fix, instead of a JSONDecodeError or a KeyError without the
file, or a table printing ``nan ± nan``."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from prestorepro.errors import DataError

# keys of the measured scores the tables and figures print
MEASURED = re.compile(r"(^|_)(accuracy|macro_f1)$")


def _fix(path) -> str:
    return f"delete {path} and run snakemake again (the job that wrote it runs again)"


class Metrics(dict):
    """A mapping read from ``path``: a missing key, or a measured score that is not finite, raises a
    DataError naming the file and the key (nested mappings alike, with their dotted key)."""

    def __init__(self, data: dict, path: str, where: str = ""):
        super().__init__(data)
        self.path, self.where = path, where

    def _wrap(self, key, value):
        if isinstance(value, dict) and not isinstance(value, Metrics):
            return Metrics(value, self.path, f"{self.where}{key}.")
        if isinstance(key, str) and MEASURED.search(key) and not (
                isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
            raise DataError(f"{self.path}: {self.where}{key} is {value!r}, not a finite score; a run never writes "
                            f"that, so the file was altered or damaged: {_fix(self.path)}")
        return value

    def __getitem__(self, key):
        try:
            value = super().__getitem__(key)
        except KeyError:
            raise DataError(f"{self.path} has no {self.where}{key!r} (it has: {', '.join(map(str, self)) or 'nothing'}); "
                            f"it was written by another version of the workflow, or altered: {_fix(self.path)}") from None
        return self._wrap(key, value)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def items(self):
        return [(k, self[k]) for k in self]

    def values(self):
        return [self[k] for k in self]


def read_metrics(path: str | Path) -> Metrics:
    """A JSON mapping a job wrote, checked as it is used (``Metrics``)."""
    path = str(path)
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({type(exc).__name__}: {exc}); {_fix(path)}") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"cannot read {path} as JSON ({exc}): it is truncated or corrupt; {_fix(path)}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds a JSON {type(obj).__name__}, not the mapping a job writes; {_fix(path)}")
    return Metrics(obj, path)

