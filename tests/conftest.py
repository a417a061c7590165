"""Test-session settings shared by every test file."""
from __future__ import annotations

import pytest

# Files whose tests take minutes (test_resume_workflow.py kills and resumes seven jobs of the tiny workflow,
# test_reliability_workflow.py runs it a second time and feeds it bad input: about four minutes each on 2
# cores), started first: with one worker per core (pytest-xdist, files kept whole) a long file started last
# would leave the other workers idle at the end.
LONG_FIRST = ("test_rehearsal_run.py", "test_catalogue_extension.py",  # the slow suite's two longest
              "test_resume_workflow.py", "test_reliability_workflow.py", "test_codedeps.py", "test_forecast.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def tiny_reference(tmp_path_factory, worker_id):
    """One whole run of the tiny workflow, shared by the test files (and pytest-xdist workers) that compare
    with it: tests/tiny_workflow.py."""
    from tiny_workflow import reference_run

    return reference_run(tmp_path_factory, worker_id)
