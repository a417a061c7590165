"""Fetching and verifying raw dataset files (SPEC §1).

Every official file lives at ``root/<dataset>/<filename>`` and is checked against its md5 before it is
used. A root that already holds valid files needs no network. When a file is missing and downloads are
not allowed, or the download fails (offline), the error names the file, its URL and where to put it.

HTTP is left to torchvision's ``download_url``; checksums use its ``check_integrity`` / ``calculate_md5``.
A download goes to a temporary folder next to its destination and is renamed into place only after its
checksum matched, so an interrupted download never leaves a file that looks finished.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Mapping

from prestorepro.data.base import RawFile
from prestorepro.errors import DataError

log = logging.getLogger(__name__)


def expected_md5(raw: RawFile, checksums: Mapping[str, str] | None = None) -> str:
    """The md5 to check ``raw`` against: an entry of ``checksums`` (by file name) or the official one."""
    if checksums is not None and raw.filename in checksums:
        return checksums[raw.filename]
    return raw.md5


def _tv_utils():
    # torchvision costs about a second to import; only the download stage needs it.
    from torchvision.datasets import utils as tv_utils

    return tv_utils


def verify_file(raw: RawFile, path: Path, md5: str) -> None:
    """Raise DataError unless ``path`` exists and its md5 is ``md5``."""
    tv_utils = _tv_utils()
    if tv_utils.check_integrity(str(path), md5):
        return
    if not path.is_file():
        raise DataError(
            f"raw file {raw.filename!r} is missing: expected it at {path}. "
            f"Download it from {raw.url} and put it at {path}."
        )
    actual = tv_utils.calculate_md5(str(path))
    raise DataError(
        f"checksum mismatch for {path}: expected md5 {md5}, got {actual} "
        f"({path.stat().st_size} bytes) -- the file is truncated or corrupt. "
        f"Delete it and re-run the download, or fetch it from {raw.url} and put it at {path}."
    )


def _download(raw: RawFile, dest: Path, md5: str) -> None:
    tv_utils = _tv_utils()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".download-{raw.filename}-") as tmp:
        log.info("downloading %s from %s", raw.filename, raw.url)
        try:
            tv_utils.download_url(raw.url, tmp, filename=raw.filename, md5=None)
        except Exception as exc:  # URLError, HTTPError, OSError, timeouts: all mean "could not fetch"
            raise DataError(
                f"could not download {raw.filename!r} from {raw.url} ({type(exc).__name__}: {exc}). "
                f"If this machine is offline, fetch the file elsewhere and put it at {dest}, then re-run."
            ) from exc
        fetched = Path(tmp) / raw.filename
        if not tv_utils.check_integrity(str(fetched), md5):
            actual = tv_utils.calculate_md5(str(fetched)) if fetched.is_file() else "(no file written)"
            raise DataError(
                f"downloaded {raw.filename!r} from {raw.url} but its md5 is {actual}, expected {md5} "
                f"-- the download was cut short or the file changed upstream. Re-run the download, or "
                f"fetch the file by hand and put it at {dest}."
            )
        os.replace(fetched, dest)


def fetch_official(
    dataset: str,
    files: tuple[RawFile, ...],
    root: Path,
    allow_download: bool,
    checksums: Mapping[str, str] | None = None,
) -> list[Path]:
    """Make sure every file of ``files`` is at ``root/<dataset>/`` with the right md5; return their paths.

    Files already present are only verified (no network). Missing files are downloaded when
    ``allow_download`` is true; otherwise one DataError lists every missing file with its URL and
    destination.
    """
    folder = Path(root) / dataset
    paths = [folder / raw.filename for raw in files]
    missing = [(raw, path) for raw, path in zip(files, paths) if not path.is_file()]
    if missing and not allow_download:
        lines = "; ".join(f"{raw.filename} from {raw.url} -> put it at {path}" for raw, path in missing)
        raise DataError(
            f"dataset {dataset!r}: {len(missing)} raw file(s) missing and downloads are off. "
            f"Fetch {lines}. Or run the download step on a machine with network access."
        )
    for raw, path in zip(files, paths):
        md5 = expected_md5(raw, checksums)
        if path.is_file():
            verify_file(raw, path, md5)
        else:
            _download(raw, path, md5)
    return paths
