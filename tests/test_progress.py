"""Progress of long loops (prestorepro.progress): the plain lines' rate rule on a fake clock, the tqdm bar on a
terminal, and the lines in a real job's log file."""
from __future__ import annotations

import contextlib
import io
import itertools
import logging
import re
from unittest import mock

import numpy as np
import pytest
import torch

import prestorepro.progress as prog
from prestorepro.progress import MAX_LINES, PlainProgress, duration, progress


class FakeClock:
    """Seconds kept in whole milliseconds, so that differences such as 60 - 30 are exact."""

    def __init__(self, step_s: float = 0.0):
        self.ms, self.step_ms = 0, round(step_s * 1000)

    def __call__(self) -> float:
        return self.ms / 1000

    def advance(self, s: float) -> None:
        self.ms += round(s * 1000)


class Ticking(FakeClock):
    """Moves ``step_s`` forward at every reading."""

    def __call__(self) -> float:
        now = self.ms / 1000
        self.ms += self.step_ms
        return now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def shown(iterable, *, every_s=30.0, clock=None, stream=None, final=True, leave=True, **kw):
    """``progress`` with the module's pace and clock replaced (``EVERY_S``, ``_monotonic``: read when a
    loop starts) and stderr as ``stream`` (when given) while it starts; ``final=False`` or ``leave=False``
    is an inner loop."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(prog, "EVERY_S", every_s))
        if clock is not None:
            stack.enter_context(mock.patch.object(prog, "_monotonic", clock))
        if stream is not None:
            stack.enter_context(contextlib.redirect_stderr(stream))
        return progress(iterable, inner=not (final and leave), **kw)


def run(n_items, per_item_s, *, every_s=30.0, total=None, iterable=None, **kw):
    """The lines of a loop over ``n_items`` items that each take ``per_item_s`` fake seconds."""
    clock, lines, seen = FakeClock(), [], []
    items = list(range(n_items)) if iterable is None else iterable
    for i in shown(items, desc="work", unit="batches", log=lines.append, every_s=every_s, total=total,
                      stream=io.StringIO(), clock=clock, **kw):
        seen.append(i)
        clock.advance(per_item_s)
    assert seen == list(range(n_items))  # the items, unchanged and in order
    return lines


def test_1000_items_over_300s_write_a_line_every_30s_and_the_final_one():
    lines = run(1000, 0.3, every_s=30)
    assert len(lines) == 10
    assert lines[0] == "work: 100/1000 batches (10%), 30s elapsed, ~4m30s left"
    assert lines[4] == "work: 500/1000 batches (50%), 2m30s elapsed, ~2m30s left"
    assert lines[8] == "work: 900/1000 batches (90%), 4m30s elapsed, ~30s left"
    assert lines[-1] == "work: 1000/1000 batches (100%), 5m00s elapsed"


def test_a_slow_loop_writes_at_most_twenty_lines():
    # every item takes longer than every_s: the time rule alone would write 999 lines, the share rule
    # (a twentieth of the items since the last line) keeps 19 of them, plus the final line
    lines = run(1000, 10.0, every_s=30)
    assert len(lines) == MAX_LINES == 20
    assert [int(re.match(r"work: (\d+)/", line)[1]) for line in lines] == list(range(50, 1001, 50))
    assert lines[-1] == "work: 1000/1000 batches (100%), 2h46m elapsed"


@pytest.mark.parametrize("n, per_item_s, every_s", [(1, 100.0, 30), (7, 31.0, 30), (21, 1.0, 0.5),
                                                    (100, 3.0, 1), (5000, 0.01, 0), (333, 2.0, 10), (40, 0.7, 30)])
def test_never_more_than_twenty_lines_nor_more_than_one_per_every_s(n, per_item_s, every_s):
    clock, written = FakeClock(), []
    for _ in shown(range(n), desc="work", log=lambda text: written.append((clock(), text)), every_s=every_s,
                      stream=io.StringIO(), clock=clock):
        clock.advance(per_item_s)
    assert 1 <= len(written) <= MAX_LINES
    assert written[-1][1].startswith(f"work: {n}/{n} items (100%)")
    # the lines before the final one: each at least every_s after the one before it (or the start)
    times = [0.0] + [t for t, _ in written[:-1]]
    assert all(b - a >= every_s for a, b in itertools.pairwise(times))


def test_the_time_rule_alone_when_items_are_few_per_line():
    lines = run(100, 1.0, every_s=30)
    assert lines == ["work: 30/100 batches (30%), 30s elapsed, ~1m10s left",
                     "work: 60/100 batches (60%), 1m00s elapsed, ~40s left",
                     "work: 90/100 batches (90%), 1m30s elapsed, ~10s left",
                     "work: 100/100 batches (100%), 1m40s elapsed"]


def test_a_short_loop_writes_its_final_line_only_and_nothing_with_final_false():
    assert run(10, 0.0) == ["work: 10/10 batches (100%), 0s elapsed"]
    assert run(10, 2.0) == ["work: 10/10 batches (100%), 20s elapsed"]
    assert run(10, 2.0, final=False) == []
    # final=False: a loop that ran at least every_s still says it has ended
    assert run(10, 3.0, final=False) == ["work: 10/10 batches (100%), 30s elapsed"]
    assert run(0, 1.0) == ["work: 0/0 batches (100%), 0s elapsed"]


def test_unknown_length_uses_the_time_rule():
    lines = run(100, 1.0, iterable=(i for i in range(100)))
    assert lines == ["work: 30 batches, 30s elapsed", "work: 60 batches, 1m00s elapsed",
                     "work: 90 batches, 1m30s elapsed", "work: 100 batches, 1m40s elapsed"]


def test_a_resumed_loop_counts_from_initial_and_estimates_from_this_runs_items():
    clock, lines = FakeClock(), []
    for _ in shown(range(40, 100), desc="train", total=100, initial=40, unit="epochs", log=lines.append,
                      every_s=10, stream=io.StringIO(), clock=clock):
        clock.advance(1.0)
    assert lines[0] == "train: 50/100 epochs (50%), 10s elapsed, ~50s left"
    assert lines[-1] == "train: 100/100 epochs (100%), 1m00s elapsed"
    assert len(lines) == 6


def test_postfix_joins_the_next_line():
    clock, lines = FakeClock(), []
    bar = shown(range(3), desc="fit", unit="epochs", log=lines.append, every_s=1, stream=io.StringIO(), clock=clock)
    for epoch in bar:
        clock.advance(1.0)
        bar.set_postfix(loss=f"{1.0 / (epoch + 1):.4f}")
    bar.close()
    assert lines == ["fit: 1/3 epochs (33%), 1s elapsed, ~2s left, loss=1.0000",
                     "fit: 2/3 epochs (66%), 2s elapsed, ~1s left, loss=0.5000",
                     "fit: 3/3 epochs (100%), 3s elapsed, loss=0.3333"]


def test_a_loop_left_early_writes_no_final_line():
    clock, lines = FakeClock(), []
    for i in shown(range(10), desc="w", log=lines.append, every_s=1, stream=io.StringIO(), clock=clock):
        clock.advance(1.0)
        if i == 4:
            break
    assert lines == [f"w: {n}/10 items ({10 * n}%), {n}s elapsed, ~{10 - n}s left" for n in (1, 2, 3, 4)]
    lines.clear()
    with pytest.raises(RuntimeError):
        for i in shown(range(10), desc="w", log=lines.append, every_s=100, stream=io.StringIO(), clock=clock):
            raise RuntimeError("job failed")
    assert lines == []


def test_without_log_the_lines_go_to_stderr_as_it_is_at_the_call():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert list(progress(range(4), desc="embed", unit="batches")) == [0, 1, 2, 3]
    assert err.getvalue() == "embed: 4/4 batches (100%), 0s elapsed\n"
    out = io.StringIO()
    list(shown(range(4), desc="embed", stream=out, clock=Ticking(40.0)))
    assert out.getvalue().splitlines()[0] == "embed: 1/4 items (25%), 40s elapsed, ~2m00s left"


def test_lines_false_writes_nothing_off_a_terminal():
    out, lines = io.StringIO(), []
    p = shown(range(5), desc="epochs", log=lines.append, stream=out, lines=False, clock=Ticking(100.0))
    assert isinstance(p, PlainProgress) and list(p) == list(range(5))
    assert lines == [] and out.getvalue() == ""


def test_a_terminal_gets_the_tqdm_bar_and_no_plain_line():
    from tqdm.auto import tqdm

    tty, lines = Terminal(), []
    bar = shown(range(5), desc="embed train", unit="batches", log=lines.append, stream=tty, every_s=0,
                   clock=Ticking(100.0))
    assert isinstance(bar, tqdm)
    assert list(bar) == list(range(5))
    assert lines == []
    text = tty.getvalue()
    assert "embed train" in text and "5/5" in text and "\r" in text  # tqdm's redrawn bar
    # tqdm's own keywords pass through: a bar that is not left on the screen
    bar = shown(range(2), desc="x", total=4, initial=2, stream=Terminal(), leave=False)
    assert bar.n == 2 and bar.total == 4 and not bar.leave
    list(bar)


def test_the_default_clock_is_the_modules_and_can_be_patched(monkeypatch):
    monkeypatch.setattr(prog, "_monotonic", Ticking(50.0))
    lines = []
    list(shown(range(2), desc="d", log=lines.append, stream=io.StringIO()))
    assert lines == ["d: 1/2 items (50%), 50s elapsed, ~50s left", "d: 2/2 items (100%), 1m40s elapsed"]


def test_duration():
    assert [duration(s) for s in (0, 0.4, 45, 59.6, 125, 3599, 3600, 3725, 90000)] == [
        "0s", "0s", "45s", "1m00s", "2m05s", "59m59s", "1h00m", "1h02m", "25h00m"]


# --- in real jobs ---------------------------------------------------------------------------------------------

STAMP = r"\d\d:\d\d:\d\d "  # job_log's time stamp


@pytest.fixture(autouse=True)
def _no_parent_watch(monkeypatch):
    # job_log's die_with_parent would install a SIGTERM handler and a watcher thread in the test process
    import prestorepro.jobs.common as common

    monkeypatch.setattr(common, "die_with_parent", lambda: None)


def test_the_embedding_writes_its_progress_into_the_jobs_log(tmp_path, monkeypatch):
    from prestorepro.embed import build_trunk, extract_features
    from prestorepro.jobs.common import job_log

    monkeypatch.setattr(prog, "_monotonic", Ticking(10.0))  # every batch "takes" 10 s
    trunk = build_trunk("none", "layer1", seed=0)
    images = np.random.default_rng(0).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    log_path = tmp_path / "logs" / "embed.log"
    with job_log(log_path, "test_progress_embed") as log:
        feats = extract_features(images, trunk, batch_size=2, device=torch.device("cpu"), desc="embed train",
                                 log=log.info)
        # no log given: the lines go to stderr, which job_log sends to the same file
        extract_features(images[:4], trunk, batch_size=2, device=torch.device("cpu"), desc="embed val")
    lines = log_path.read_text().splitlines()
    assert re.fullmatch(STAMP + r"embed train: 3/6 batches \(50%\), 30s elapsed, ~30s left", lines[0]), lines
    assert re.fullmatch(STAMP + r"embed train: 6/6 batches \(100%\), 1m00s elapsed", lines[1]), lines
    assert re.fullmatch(STAMP + r"embed train: 12 images -> features \(12, 64, 8, 8\) float16", lines[2]), lines
    assert lines[3:] == ["embed val: 2/2 batches (100%), 20s elapsed"]
    # the same features as without progress lines
    monkeypatch.undo()
    np.testing.assert_array_equal(feats, extract_features(images, trunk, batch_size=2, device=torch.device("cpu")))


def test_train_single_logs_its_epochs_once(tmp_path, monkeypatch):
    from prestorepro.jobs.common import job_log
    from prestorepro.training.single import Recipe, RunRecord, TrainingSet, train_single

    monkeypatch.setattr(prog, "_monotonic", Ticking(40.0))
    torch.manual_seed(0)
    x, y = torch.randn(40, 4), torch.arange(40) % 2

    def fit(log):
        model = torch.nn.Sequential(torch.nn.Linear(4, 2))
        with torch.random.fork_rng():
            torch.manual_seed(1)
            model[0].reset_parameters()
        train_single(model, TrainingSet(x, y), recipe=Recipe(3, 8, 0.01), device="cpu",
                     generator=torch.Generator().manual_seed(0), record=RunRecord("guide", log))
        return model[0].weight.detach().clone()

    log_path = tmp_path / "train.log"
    with job_log(log_path, "test_progress_train") as log:
        w_logged = fit(log)
        w_silent = fit(None)  # no log: progress lines to stderr, the same file
    lines = [re.sub("^" + STAMP, "", line) for line in log_path.read_text().splitlines()]
    assert [line.split(" loss")[0] for line in lines[:3]] == [f"guide: epoch {e}/3" for e in (1, 2, 3)]
    assert lines[3:] == ["guide: 1/3 epochs (33%), 40s elapsed, ~1m20s left, loss=" + lines[3].rsplit("=", 1)[1],
                         "guide: 2/3 epochs (66%), 1m20s elapsed, ~40s left, loss=" + lines[4].rsplit("=", 1)[1],
                         "guide: 3/3 epochs (100%), 2m00s elapsed, loss=" + lines[5].rsplit("=", 1)[1]]
    assert torch.equal(w_logged, w_silent)


def test_craig_selection_progress_is_silent_when_quick_and_changes_no_choice(monkeypatch):
    from prestorepro.coreset.craig import select_craig

    rng = np.random.default_rng(0)
    grads, labels = rng.normal(size=(90, 3)), np.arange(90) % 3

    def select():
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            idx, w = select_craig(12, grads=grads, labels=labels, rng=np.random.default_rng(1))
        return idx, w, err.getvalue()

    idx, w, quiet = select()
    assert quiet == ""  # a quick selection writes nothing
    monkeypatch.setattr(prog, "_monotonic", Ticking(40.0))  # every class "takes" 40 s
    idx2, w2, text = select()
    assert text.splitlines() == ["craig selection: 1/3 classes (33%), 40s elapsed, ~1m20s left",
                                 "craig selection: 2/3 classes (66%), 1m20s elapsed, ~40s left",
                                 "craig selection: 3/3 classes (100%), 2m00s elapsed"]
    np.testing.assert_array_equal(idx, idx2)
    np.testing.assert_array_equal(w, w2)


def test_the_package_modules_loggers_reach_the_jobs_log(tmp_path):
    from prestorepro.jobs.common import job_log

    package = logging.getLogger("prestorepro")
    before = (list(package.handlers), package.level)
    with job_log(tmp_path / "job.log", "test_progress_pkg") as log:
        log.info("job line")
        logging.getLogger("prestorepro.coreset.pbcs").info("pbcs step 1/50")
    lines = [re.sub("^" + STAMP, "", line) for line in (tmp_path / "job.log").read_text().splitlines()]
    assert lines == ["job line", "pbcs step 1/50"]  # each once
    assert (list(package.handlers), package.level) == before
