"""One workflow at a time on a results tree.

Snakemake locks the outputs of the runs started from one working directory (``.snakemake/locks``); two
checkouts, or two working directories, with one absolute ``results:`` share no lock, and both would run
the same job: the second resumes from the first's live checkpoint and wipes its log. The workflow's main
process therefore holds an exclusive ``flock`` on ``{results}/.lock`` from the moment it starts planning
jobs to run for as long as it lives. The kernel releases it when the process ends, however it ends
(``kill -9``, a power loss), so a stale lock never needs removing. The jobs Snakemake starts (SLURM jobs
re-read the Snakefile) run under their main process's lock and take none. A plan that runs nothing
(``-n``, ``--summary``, ``--dag``, ``--lint``) only checks the lock (``check_results``): it is refused while
another run holds it (its plan would show that run's jobs as incomplete) and makes no file.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import sys
import time
from pathlib import Path

from .errors import ConfigError

_HELD: dict[str, int] = {}  # results tree -> the file descriptor this process holds its lock through


class ResultsLocked(ConfigError):
    """Another workflow is running on the same results tree."""


def _damaged(path: Path, what: str) -> ConfigError:
    return ConfigError(
        f"{path} {what}; it is the workflow's lock file (one workflow at a time on a results tree), which holds "
        f"nothing else and which no running workflow holds now: remove it (rm -rf {path}) and run again")


def _open_lock(tree: Path, path: Path) -> tuple[int, bool]:
    """A file descriptor on the lock file, made if missing, and whether this user may write it (another
    user's is opened read-only: flock works on it, so its holder can still be named); a damaged one is
    named with the fix."""
    try:
        tree.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"config key results: cannot make the results tree {tree} ({exc.strerror}); name a "
                          "folder this user can write (--config results=...)") from None
    try:
        fd, writable = os.open(path, os.O_RDWR | os.O_CREAT, 0o644), True
    except IsADirectoryError:
        raise _damaged(path, "is a folder") from None
    except PermissionError:
        if not path.exists():
            raise ConfigError(f"config key results: this user cannot write the results tree {tree} (its lock file "
                              f"{path} cannot be made); name a folder this user can write (--config "
                              "results=...)") from None
        try:
            fd, writable = os.open(path, os.O_RDONLY), False
        except OSError:
            raise _unwritable(path) from None
    except OSError as exc:
        raise _damaged(path, f"cannot be opened ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _damaged(path, "is not a regular file")
    return fd, writable


def _unwritable(path: Path) -> ConfigError:
    st = path.stat()
    return ConfigError(
        f"{path}: this user (uid {os.geteuid()}) cannot write the workflow's lock file (owner uid {st.st_uid}, "
        f"mode {stat.S_IMODE(st.st_mode):o}); no running workflow holds it. Remove it (rm -f {path}) or run "
        "as its owner, or give this run another results folder (--config results=...)")


def _in_use(fd: int, tree: Path) -> ResultsLocked:
    """The refusal for a lock another process holds, naming it from the lock file; closes ``fd``."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, UnicodeDecodeError, OSError):
        holder = {}
    os.close(fd)
    who = (f"process {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
           f"{holder.get('started', '?')} from {holder.get('checkout', '?')}") if isinstance(holder, dict) and \
        holder else "another process"
    return ResultsLocked(
        f"results tree {tree} is in use by another snakemake ({who}); two workflows writing one tree would "
        "run the same jobs and overwrite each other's checkpoints and logs. Wait for it to finish, or give "
        "this run another results folder (--config results=...).")


def check_results(results: str | os.PathLike) -> None:
    """Raise ResultsLocked if another process holds the lock on ``results``, or ConfigError if the lock file
    is damaged (a folder, not a regular file); make and write nothing (no tree, no lock file). For a plan
    that runs no job."""
    tree = Path(results).resolve()
    path = tree / ".lock"
    if str(tree) in _HELD:
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # non-blocking: a FIFO would wait for a writer
    except FileNotFoundError:
        return  # nobody has held it
    except OSError:
        return  # unreadable: a run that writes names the problem (hold_results)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _damaged(path, "is a folder" if path.is_dir() else "is not a regular file")
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _in_use(fd, tree) from None
    os.close(fd)  # closing releases the shared lock at once


def hold_results(results: str | os.PathLike, checkout: str | os.PathLike) -> Path:
    """Take (or keep) this process's lock on ``results``; raise ResultsLocked, naming the other run's
    process, host, checkout and start time, if another process holds it, and ConfigError, with the fix, if
    the lock file is damaged (a folder, not a regular file, another user's)."""
    tree = Path(results).resolve()
    key = str(tree)
    path = tree / ".lock"
    if key in _HELD:
        return path
    fd, writable = _open_lock(tree, path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _in_use(fd, tree) from None
    if not writable:
        os.close(fd)
        raise _unwritable(path)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "checkout": str(checkout),
                              "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "command": " ".join(sys.argv)}).encode(), 0)
    _HELD[key] = fd  # kept open (and locked) until the process exits
    return path
