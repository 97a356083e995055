"""The failure suite's table of figures, printed at the end of the run and written as JSON."""

from harness import write_figures  # Tests/ is on the path: Tests/conftest.py

FIGURES: list[dict] = []


def pytest_terminal_summary(terminalreporter):
    columns = ["scenario", "events", "published", "live", "replayed", "duplicates", "lost", "recovery_s"]
    write_figures(terminalreporter, "failure suite figures", columns, FIGURES, "TIMELINE_FAILURE_REPORT")


import pytest  # noqa: E402


@pytest.fixture
def figures() -> list[dict]:
    """Where a scenario records its row of the table."""
    return FIGURES
