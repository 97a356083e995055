"""`--log-format json` (and `log.format`): every line a daemon writes on standard error is one JSON object."""

import json
import re

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def json_lines(text: str) -> list[dict]:
    """Every line of `text` parsed as a JSON object with the handler's fields; fails naming the line that is not."""
    lines = text.splitlines()
    assert lines, "no log line at all"
    objects = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise AssertionError(f"not a JSON line ({error}): {line!r}") from None
        assert isinstance(entry, dict), line
        assert TIMESTAMP.fullmatch(entry["ts"]), entry
        assert entry["level"] in {"trace", "debug", "info", "notice", "warning", "error", "critical"}, entry
        assert entry["logger"].startswith("timeline."), entry
        assert isinstance(entry["msg"], str) and entry["msg"], entry
        assert all(isinstance(value, (str, list, dict)) for value in entry.get("metadata", {}).values()), entry
        objects.append(entry)
    return objects


def test_a_broker_with_log_format_json_writes_only_json_lines_on_standard_error(pipeline):
    broker, endpoints = pipeline.broker(None, "--log-format", "json")
    pipeline.produce(endpoints, "--log-format", "json")
    assert broker.terminate() == 0
    entries = json_lines(broker.log())
    assert any(e["logger"] == "timeline.broker" and "metadata" in e for e in entries), entries
    assert entries[-1]["logger"] == "timeline.broker"


def test_a_producer_with_log_format_json_logs_json_with_dotted_metadata_keys(pipeline):
    _, endpoints = pipeline.broker()
    result = pipeline.produce(endpoints, "--log-format", "json")
    entries = json_lines(result.stderr)
    done = next(e for e in entries if e["msg"] == "Producer done")
    assert done["logger"] == "timeline.producer" and done["metadata"]["producer.acknowledged"] == "36"


def test_log_format_from_the_environment_and_the_flag_over_it(pipeline):
    _, endpoints = pipeline.broker()
    import os
    import subprocess

    command = pipeline.command("produce", "--frontend", endpoints["frontend"], "--replay", endpoints["replay"])
    env = {**os.environ, "TIMELINE_LOG_FORMAT": "json"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, cwd=pipeline.base)
    assert result.returncode == 0, result.stderr
    json_lines(result.stderr)
    result = subprocess.run([*command, "--log-format", "text"], capture_output=True, text=True, timeout=60, env=env, cwd=pipeline.base)
    assert result.returncode == 0, result.stderr
    assert "info timeline.producer:" in result.stderr and not result.stderr.lstrip().startswith("{")


def test_an_unknown_log_format_is_a_usage_error_naming_the_flag(pipeline, tmp_path):
    result = pipeline.run("broker", "--log-format", "xml", "--data-dir", str(tmp_path / "b"))
    assert result.returncode == 64
    assert "--log-format" in result.stderr and "xml" in result.stderr


def test_an_unknown_log_format_in_the_configuration_names_the_key(pipeline, tmp_path):
    result = pipeline.run("broker", "--set", "log.format=xml", "--data-dir", str(tmp_path / "b"))
    assert result.returncode == 78
    assert "key 'log.format'" in result.stderr and "'xml' is not a log format" in result.stderr
