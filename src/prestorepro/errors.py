"""Errors a person has to act on, shared by every stage (no imports: any module may raise them)."""
from __future__ import annotations


class DataError(Exception):
    """A data problem a person has to fix: the message names the problem, the file and the fix."""


class ConfigError(ValueError):
    """A configuration problem, with the key, the value and the fix."""


def diverged(what: str, inputs: str = "the inputs") -> FloatingPointError:
    """The error of a training run whose loss went non-finite: ``what`` says where (run, round, epoch,
    step), the message ends with the fix every stage gives."""
    return FloatingPointError(f"{what}; lower the learning rate or check {inputs} for NaN/inf")
