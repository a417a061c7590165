"""Progress of long loops, readable in a job's log as well as on a terminal.

Every job's stderr goes into its log file (``prestorepro.jobs.common.job_log``). A tqdm bar there is
useless: tqdm redraws its bar with carriage returns, so a log file gets one unreadable line of
hundreds of redraws (or, with ``disable=None`` as the loops had it, nothing at all). ``progress``
therefore shows tqdm's bar only on a terminal, and elsewhere writes a few plain lines such as

    embed train: 120/500 batches (24%), 35s elapsed, ~1m50s left

The rate rule of the plain lines (also in ``progress``'s docstring): after an item, a line is written
when at least ``every_s`` seconds have passed since the previous line (or the start of the loop) *and*
at least a twentieth of the loop's items have been done since then; the last item is left to the
final line, written when the loop runs out. So a loop writes at most one line per ``every_s`` seconds
before its final line, and at most ``MAX_LINES`` (20) lines in all whatever its length; a loop shorter
than ``every_s`` writes its final line only (or nothing, for an inner loop).

Nothing here touches the loop's items or any random stream: a loop wrapped in ``progress`` computes
exactly what it computed before.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")

EVERY_S = 30.0   # at most one plain line per this many seconds
MAX_LINES = 20   # at most this many plain lines per loop, the final one included


def _monotonic() -> float:
    """The plain lines' clock (a test replaces this name, and ``EVERY_S``, to run without sleeping; both are
    read when a loop starts)."""
    return time.monotonic()


def duration(seconds: float) -> str:
    """``45s``, ``2m05s``, ``1h02m``: short enough for a log line, exact enough for a long job."""
    s = round(max(seconds, 0.0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed file
        return False


class PlainProgress(Generic[T]):
    """The non-terminal side of ``progress``: yields the items unchanged and writes the plain lines.

    Written here rather than taken from tqdm: tqdm's output off a terminal is still its bar, redrawn
    with carriage returns (or nothing, when disabled), not separate lines at a bounded rate. It has
    tqdm's ``set_postfix`` and ``close``, so a loop can treat both sides alike."""

    def __init__(self, iterable: Iterable[T], *, desc: str, total: int | None, unit: str,
                 write: Callable[[str], Any] | None, initial: int, final: bool):
        self.iterable, self.desc, self.total, self.unit = iterable, desc, total, unit
        self.write, self.initial, self.final = write, initial, final
        self.every_s, self.clock = float(EVERY_S), _monotonic
        self.postfix = ""

    def set_postfix(self, **values: Any) -> None:
        """Values shown after the counts of the next line (``loss=0.4123``), as tqdm's bar does."""
        self.postfix = "".join(f", {k}={v}" for k, v in values.items())

    def close(self) -> None:
        """Nothing to close (tqdm's bar needs it; here for a loop that calls it on either side)."""

    def line(self, done: int, elapsed: float, *, last: bool = False) -> str:
        """The text of one line after ``done`` items (counted from 0, ``initial`` included)."""
        if self.total is None:
            return f"{self.desc}: {done} {self.unit}, {duration(elapsed)} elapsed{self.postfix}"
        pct = int(100 * done / self.total) if self.total else 100
        text = f"{self.desc}: {done}/{self.total} {self.unit} ({pct}%), {duration(elapsed)} elapsed"
        ran = done - self.initial
        if not last and ran > 0 and done < self.total:
            text += f", ~{duration(elapsed / ran * (self.total - done))} left"
        return text + self.postfix

    def __iter__(self) -> Iterator[T]:
        if self.write is None:
            yield from self.iterable
            return
        clock = self.clock
        # the share rule: a twentieth of the items this run does (all of them after a resume's ``initial``)
        step = 1 if self.total is None else max(1, math.ceil((self.total - self.initial) / MAX_LINES))
        start = last_t = clock()
        done = last_n = self.initial
        for item in self.iterable:
            yield item
            done += 1
            if self.total is not None and done >= self.total:
                continue  # the final line reports the last item
            now = clock()
            if now - last_t >= self.every_s and done - last_n >= step:
                self.write(self.line(done, now - start))
                last_t, last_n = now, done
        elapsed = clock() - start
        if self.final or elapsed >= self.every_s:
            self.write(self.line(done, elapsed, last=True))


def progress(iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "items",
             log: Callable[[str], Any] | None = None, initial: int = 0, inner: bool = False, lines: bool = True):
    """``iterable``'s items, unchanged, with their progress shown: a drop-in for ``tqdm(iterable, ...)``.

    On a terminal (``sys.stderr.isatty()``, stderr as it is at the call, which inside ``job_log`` is the
    log file) this is a tqdm bar, as before. Elsewhere plain lines
    ``"<desc>: 120/500 batches (24%), 35s elapsed, ~1m50s left"`` go to ``log`` (a callable taking a
    str, such as a job logger's ``info``) when given, else to stderr, at this rate (``EVERY_S`` = 30 s):

    - after an item, a line when at least ``EVERY_S`` seconds have passed since the previous line (or
      the start) and at least ``ceil((total - initial) / 20)`` items have been done since it: at most
      one line per ``EVERY_S`` seconds and at most 19 such lines, whatever the loop's length;
    - the last item is left to the final line (``500/500 batches (100%), 2m25s elapsed``), written
      when the loop runs out. A loop left early (``break``, an exception) writes no final line;
    - ``total`` defaults to ``len(iterable)``; where it is unknown only the time rule applies.

    ``initial``: items done before (a resumed run: ``progress(range(start, n), total=n, initial=start)``);
    counts include it, elapsed time and the estimate of the time left cover this run's items only.
    ``inner``: a loop inside a longer one (a round's epochs): its bar does not stay on the terminal, and
    its final line is written only if it ran at least ``EVERY_S`` (an inner loop that ends quickly stays
    silent). ``lines=False``: no plain lines (a loop that logs every item itself), the bar still shows
    on a terminal.

    The result also has ``set_postfix(**values)`` (tqdm's; on the plain side the values join the next
    line) and ``close()``.
    """
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    stream = sys.stderr
    if _is_terminal(stream):
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, initial=initial, unit=unit, file=stream, leave=not inner,
                    disable=False)
    write = None
    if lines:
        write = log if log is not None else (lambda text: (stream.write(text + "\n"), stream.flush()))
    return PlainProgress(iterable, desc=desc, total=total, unit=unit, write=write, initial=int(initial),
                         final=not inner)
