"""Shared fixtures of the Python test suites (integration and failure tests)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Pipeline  # noqa: E402


@pytest.fixture
def pipeline(tmp_path):
    """A harness whose daemons are all stopped when the test ends, whatever happened."""
    harness = Pipeline(tmp_path)
    try:
        yield harness
    finally:
        harness.cleanup()
