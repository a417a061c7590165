"""Snakemake's own records in the working directory, checked before it reads them.

Snakemake keeps one JSON file per output in ``.snakemake/metadata`` (the rule, parameters and code that
made it) and reads each while it plans; a damaged one (a crash while writing, a disk error, a stray
copy) stops it with a UnicodeDecodeError or JSONDecodeError traceback that names no file. The
workflow reads them first and names each damaged one with the fix: deleting it loses nothing the
workflow needs, because every job's settings stamp (``prestorepro.stamps``) and its files' modification
times still tell what is up to date.
"""
from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from prestorepro.errors import ConfigError


def _output_of(record: Path) -> str:
    """The output a record is of: Snakemake names it by the output's path in base64."""
    try:
        return f"the record of {base64.urlsafe_b64decode(record.name + '=' * (-len(record.name) % 4)).decode()}: "
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def check_metadata(workdir: str | Path) -> None:
    folder = Path(workdir) / ".snakemake" / "metadata"
    if not folder.is_dir():
        return
    damaged = []
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_bytes().decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not a record")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            damaged.append((path, f"{type(exc).__name__}: {exc}"))
    if damaged:
        shown = "; ".join(f"{p} ({_output_of(p)}{why[:120]})" for p, why in damaged[:5])
        more = f" and {len(damaged) - 5} more" if len(damaged) > 5 else ""
        raise ConfigError(
            f"{len(damaged)} of Snakemake's records of how an output was made are damaged: {shown}{more}. Delete "
            f"them (rm {' '.join(str(p) for p, _ in damaged[:5])}{' ...' if more else ''}) and run again; nothing is "
            "lost, the settings stamps and modification times still tell what is up to date.")
