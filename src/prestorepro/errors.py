"""Errors a person has to act on, shared by every stage (no imports: any module may raise them)."""
from __future__ import annotations


class DataError(Exception):
    """A data problem a person has to fix: the message names the problem, the file and the fix."""
