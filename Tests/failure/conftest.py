"""The failure suite's table of figures, printed at the end of the run and written as JSON."""

import json
import os

FIGURES: list[dict] = []


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    columns = ["scenario", "events", "published", "live", "replayed", "duplicates", "lost", "recovery_s"]
    widths = {c: max(len(c), *(len(str(f.get(c, ""))) for f in FIGURES)) for c in columns}
    terminalreporter.section("failure suite figures")
    terminalreporter.write_line("  ".join(c.ljust(widths[c]) for c in columns))
    for figure in FIGURES:
        terminalreporter.write_line("  ".join(str(figure.get(c, "")).ljust(widths[c]) for c in columns))
    path = os.environ.get("TIMELINE_FAILURE_REPORT")
    if path:
        with open(path, "w") as handle:
            json.dump(FIGURES, handle, indent=2)
        terminalreporter.write_line(f"figures written to {path}")


import pytest  # noqa: E402


@pytest.fixture
def figures() -> list[dict]:
    """Where a scenario records its row of the table."""
    return FIGURES
