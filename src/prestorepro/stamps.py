"""Settings stamps: each job's parameters (and a bring-your-own file's sha256) as a small file that is
one of the job's inputs, rewritten only when its content changes.

Snakemake notices changed parameters only through its metadata (``.snakemake/metadata``), and changed
inputs only through their modification times. A finished tree copied with ``cp -a``, or one whose
metadata is gone, plans nothing after a config edit; a bring-your-own npz replaced by another file of
the same size with its old mtime (``cp -p``, ``rsync -a``, ``tar x``) plans nothing either. A stamp
turns both into an mtime Snakemake always sees: when the workflow plans a job it writes the job's
parameters to ``{results}/.settings/<rule>/<wildcards>/settings.json``, and only if they differ from what the
file holds, so an edit makes the stamp newer than the job's outputs and the job (and everything after
it) runs again, whatever the metadata's state. An unchanged config leaves every stamp untouched.

Code stamps do the same for the package code a job runs (``code_stamp``): one small file per job script
holding the sha256 of each module of its import closure (``prestorepro.codedeps``), so the plan lists one
code input per job instead of every module, and an edit still re-runs exactly the jobs that import it.

A plan that runs no job (``-n``, ``--summary``, ``--dag``, ``--rulegraph``, ``--report``) writes nothing into
the results tree: a stamp that would change is written under a scratch folder instead (Snakemake's own
temporary folder, removed when it exits) and that path returned, so the plan shows the job as it would run.
"""
from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping

from .io import read_json, sha256_file, write_json

STAMPS = ".settings"
CODE = ".code"  # {results}/.settings/.code/<script>/code.json: no rule is named with a leading dot


def _canonical(value: Any, results: str) -> Any:
    """JSON-able, deterministic form of a parameter value (mappings sorted, tuples as lists), with a
    path inside the results tree written relative to it (``{results}/...``): a tree that moves, and
    the config's ``results`` with it, keeps its stamps."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, results) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, results) for v in value]
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and results and value.startswith(results.rstrip("/") + "/"):
        return "{results}/" + value[len(results.rstrip("/")) + 1:]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"parameter value {value!r} of type {type(value).__name__} cannot be recorded in a settings "
                    "stamp; give the rule a plain (JSON) value")


def evaluate_params(params: Mapping[str, Any], wildcards: Mapping[str, str], results: str = "") -> dict[str, Any]:
    """A rule's parameters for one job. A parameter given as a function of the wildcards alone is
    called; one that also needs the job's input or output files (a path derived from them) is left
    out: the paths are part of the stamp's own name already."""
    values = {}
    for name, value in params.items():
        if callable(value):
            if len(inspect.signature(value).parameters) != 1:
                continue
            value = value(wildcards)
        try:
            values[name] = _canonical(value, results)
        except TypeError as exc:
            raise TypeError(f"parameter {name}: {exc}") from None
    return values


def _digest(path: Path, cache_dir: Path, keep: bool = True) -> str:
    """sha256 of a file, cached by everything a rewrite changes (inode, size, mtime and ctime: ``cp -p``
    can restore an mtime but not a ctime), so a large npz is hashed once, not at every plan; with
    ``keep=False`` (a plan that runs nothing) the cache is read but not written."""
    st = path.stat()
    key = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    cache = cache_dir / "digests.json"
    try:
        known = read_json(cache)
    except (OSError, ValueError):
        known = {}
    entry = known.get(str(path.resolve())) if isinstance(known, dict) else None
    if isinstance(entry, dict) and entry.get("stat") == key and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = sha256_file(path)
    known = known if isinstance(known, dict) else {}
    known[str(path.resolve())] = {"stat": key, "sha256": digest}
    if keep:
        write_json(cache, known)
    return digest


def stamp_path(results: str | os.PathLike, rule: str, wildcards: Mapping[str, str]) -> Path:
    """``{results}/.settings/<rule>/<wildcard>=<value>/.../settings.json``: one folder per job. Snakemake
    lists a folder once while it plans and takes the listing for the truth, so a stamp written into a
    folder it had already listed (another job's) would be reported missing."""
    parts = [f"{k}={v}" for k, v in sorted(wildcards.items())]
    return Path(results, STAMPS, rule, *parts, "settings.json")


def _settle(path: Path, content: dict, scratch: Path | None, results: str | os.PathLike,
            new_mtime: float | None = None) -> str:
    """Write ``content`` to the stamp ``path`` if it differs from what the file holds, and return the path;
    with ``scratch`` (a plan that runs nothing) a stamp that would change is written under ``scratch``
    instead and that path returned. ``new_mtime``: the modification time a stamp that did not exist gets
    (instead of now)."""
    try:
        current = read_json(path)
    except (OSError, ValueError):
        current = None
    if current == json.loads(json.dumps(content)):
        return os.fspath(path)
    made = current is None and not path.exists()
    if scratch is not None:
        path = Path(scratch, path.relative_to(Path(results)))
    write_json(path, content)
    if made and new_mtime is not None:
        os.utime(path, (new_mtime, new_mtime))
    return os.fspath(path)


def write_stamp(results: str | os.PathLike, rule: str, wildcards: Mapping[str, str], params: Mapping[str, Any],
                files: list[str] = (), scratch: str | os.PathLike | None = None) -> str:
    """Write the stamp of one job (its parameters, and the sha256 of each of ``files``) if its content
    differs from the file's; return its path. With ``scratch`` (a plan that runs nothing: ``-n``,
    ``--summary``, ``--dag``) the results tree is left alone and a changed stamp is written under
    ``scratch``, whose path is returned: the plan shows the job, and previewing another setting
    (``snakemake -n --config ...``) neither writes into the tree nor makes the next real run re-run jobs
    whose settings never changed."""
    path = stamp_path(results, rule, wildcards)
    content = {"rule": rule, "wildcards": dict(sorted(wildcards.items())), "params": dict(params)}
    if files:
        content["files"] = {os.fspath(f): _digest(Path(f), Path(results) / STAMPS, keep=scratch is None)
                            for f in files}
    return _settle(path, content, Path(scratch) if scratch is not None else None, results)


def code_stamp(results: str | os.PathLike, script: str, closure: Mapping[str, Path],
               scratch: str | os.PathLike | None = None) -> str:
    """The code stamp of job script ``script``: ``{results}/.settings/.code/<script>/code.json``, holding the
    sha256 of each module of ``closure`` (its name inside the package -> its file), rewritten only when one
    of them changes, is added or is removed; ``scratch`` as for ``write_stamp``. A stamp made for the first
    time (a new tree, or one from before code stamps) is dated like the newest module of its closure,
    not now: the outputs made from that code are not re-run for the stamp's sake."""
    files = {name: sha256_file(path) for name, path in sorted(closure.items())}
    newest = max((Path(p).stat().st_mtime for p in closure.values()), default=None)
    return _settle(Path(results, STAMPS, CODE, script, "code.json"), {"script": script, "modules": files},
                   Path(scratch) if scratch is not None else None, results, new_mtime=newest)


def settings_input(results: str, rule: Any, files: Callable[[Any], list[str]] | None = None,
                   scratch: Callable[[], str | os.PathLike | None] = lambda: None) -> Callable[[Any], str]:
    """An input function for the Snakemake ``rule``: its stamp, written from the rule's own ``params``
    (read when the job is planned, so the stamp records exactly what the job is given) and ``files``'
    digests; ``scratch()`` is None when this plan runs jobs, else the folder for stamps that would change
    (known once Snakemake plans, not when it parses)."""

    def stamp(wildcards) -> str:
        params = evaluate_params(dict(rule.params.items()), wildcards, os.fspath(results))
        own = [f for f in (files(wildcards) if files else []) if Path(f).is_file()]
        return write_stamp(results, rule.name, dict(wildcards.items()), params, own, scratch())

    return stamp
