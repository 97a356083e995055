"""Progress of long work on standard error: a bar redrawn in place on a terminal, none on a pipe."""

import os
import pty
import subprocess

# 3,000 events at 2,000 a second take at least 1.5 s: longer than the second before a bar shows.
LONG_RUN = ("--synthetic", "3000", "--rate", "2000")


def test_produce_with_standard_error_on_a_pipe_draws_no_bar(pipeline):
    _, endpoints = pipeline.broker()
    result = pipeline.produce(endpoints, *LONG_RUN)
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr, result.stderr
    assert "Producer done" in result.stderr


def run_on_a_terminal(pipeline, *args: str) -> tuple[int, str]:
    """Runs `timeline *args` with standard error on a pseudo-terminal; returns the exit status and
    everything written there, read until the process closed it."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(pipeline.command(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=terminal,
                               cwd=pipeline.base, env={k: v for k, v in os.environ.items() if k != "TIMELINE_PROGRESS"})
    os.close(terminal)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
        status = process.wait(timeout=60)
    return status, b"".join(chunks).decode(errors="replace")


def test_produce_on_a_terminal_draws_a_bar_with_a_rate_and_finishes_on_a_line_of_its_own(pipeline):
    _, endpoints = pipeline.broker()
    status, text = run_on_a_terminal(pipeline, "produce", "--frontend", endpoints["frontend"], "--replay", endpoints["replay"],
                                     "--log-level", "warning", *LONG_RUN)
    assert status == 0, text
    redraws = [part for part in text.split("\r") if part.startswith("producing [")]
    assert redraws, f"no bar drawn: {text!r}"
    assert all("/s " in part for part in redraws), redraws
    final = redraws[-1]
    assert "100% 3000/3000 events" in final and " in " in final, final
    # The terminal turns the newline after the final state into CR LF.
    assert text.endswith(final + "\r\n"), repr(text[-200:])
    assert any(" eta " in part for part in redraws[:-1]), redraws


def test_no_progress_turns_the_bar_off_on_a_terminal(pipeline):
    _, endpoints = pipeline.broker()
    status, text = run_on_a_terminal(pipeline, "produce", "--frontend", endpoints["frontend"], "--replay", endpoints["replay"],
                                     "--log-level", "warning", "--no-progress", *LONG_RUN)
    assert status == 0, text
    assert "producing" not in text and "\r" not in text.replace("\r\n", "\n"), text
