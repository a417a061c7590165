"""Test-session settings shared by every test file."""
from __future__ import annotations

# Files whose tests take minutes (test_reliability_workflow.py runs the tiny pipeline twice and kills and
# resumes five jobs: about five minutes on 2 cores), started first: with one worker per core
# (pytest-xdist, files kept whole) a long file started last would leave the other workers idle at the end.
LONG_FIRST = ("test_rehearsal_run.py", "test_catalogue_extension.py",  # the slow suite's two longest
              "test_reliability_workflow.py", "test_codedeps.py", "test_forecast.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))  # stable: the rest keep their order
