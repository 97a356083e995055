"""The pipeline as a user runs it: real daemons, separate processes, TCP loopback."""

import json
import re
from pathlib import Path

from harness import expected_statistics, wait_for


def test_report_of_the_bundled_dataset_matches_statistics_computed_from_the_events(pipeline):
    events = pipeline.ingest()
    expected = expected_statistics(events)
    assert expected["totalVisits"] == 16
    report, _ = pipeline.produce_counted(expected["totalEvents"], "--workers", "3")
    assert report["totalEvents"] == expected["totalEvents"]
    assert report["totalVisits"] == expected["totalVisits"]
    assert report["visitsByDecade"] == expected["visitsByDecade"]
    assert report["eventsByKind"] == expected["eventsByKind"]


def test_a_producer_started_after_the_consumers_loses_none_of_its_first_events(pipeline):
    report, _ = pipeline.produce_counted(2000, "--synthetic", "2000", "--seed", "5")
    assert (report["totalEvents"], report["totalVisits"]) == (2000, 2000)


def test_monitor_prints_one_readable_line_per_event_and_filters_by_topic_prefix(pipeline):
    _, endpoints = pipeline.broker()
    everything = pipeline.monitor(endpoints, "--from-start")
    mongolian_visits = pipeline.monitor(endpoints, "--from-start", "--topic", "visit.MN")
    as_json = pipeline.monitor(endpoints, "--from-start", "--json", "--topic", "visit.KP.MN", "--topic", "embassy_closed")
    pipeline.produce(endpoints)
    wait_for(lambda: len(everything.output().splitlines()) >= 36, 30, "the full feed")
    wait_for(lambda: len(mongolian_visits.output().splitlines()) >= 8, 30, "the filtered feed")
    wait_for(lambda: len(as_json.output().splitlines()) >= 9, 30, "the JSON feed")
    for daemon in (everything, mongolian_visits, as_json):
        assert daemon.terminate() == 0

    lines = everything.output().splitlines()
    assert len(lines) == 36
    visit = next(line for line in lines if "Premier Kim Il Sung -> Chairman Yumjaagiin Tsedenbal" in line)
    assert re.match(r"^1956-07-16/1956-07-18\s+visit\s+KP -> MN\s+Premier Kim Il Sung -> Chairman Yumjaagiin Tsedenbal @ Ulaanbaatar$", visit)
    assert "\x1b[" not in everything.output(), "no colour when piped"

    filtered = mongolian_visits.output().splitlines()
    assert len(filtered) == 8
    assert all(re.search(r"\svisit\s+MN -> KP\s", line) for line in filtered)

    records = [json.loads(line) for line in as_json.output().splitlines()]
    assert len(records) == 9
    assert sorted({(r["kind"], r["from"], r["to"]) for r in records}) == [("embassy_closed", "KP", "MN"), ("visit", "KP", "MN")]


def test_monitor_count_exits_after_that_many_events(pipeline):
    _, endpoints = pipeline.broker()
    pipeline.produce(endpoints)
    monitor = pipeline.monitor(endpoints, "--from-start", "--count", "5", "--json")
    assert monitor.process.wait(timeout=30) == 0
    assert len(monitor.output().splitlines()) == 5


def test_snapshot_writer_writes_parsable_snapshots_and_a_final_one_on_sigterm(pipeline):
    _, endpoints = pipeline.broker()
    writer = pipeline.snapshot(endpoints, "--every-events", "10", "--every-seconds", "60", "--keep", "2")
    pipeline.produce(endpoints)
    folder = writer.data_dir / "snapshots"

    def latest_has_30():
        latest = folder / "latest.json"
        return latest.exists() and json.loads(latest.read_text())["eventCount"] >= 30

    wait_for(latest_has_30, 30, "a snapshot of 30 events")
    assert writer.terminate() == 0
    assert "Snapshot writer stopped" in writer.log()
    latest = json.loads((folder / "latest.json").read_text())
    snapshot = json.loads((folder / latest["file"]).read_text())
    assert latest["eventCount"] == 36 and snapshot["eventCount"] == 36 and len(snapshot["events"]) == 36
    assert snapshot["statistics"]["totalVisits"] == 16
    assert len({e["id"] for e in snapshot["events"]}) == 36
    files = sorted(p.name for p in folder.glob("snapshot-*.json"))
    assert len(files) <= 2, files
    assert not list(folder.glob("*.tmp-*")), "no temporary files left behind"


def test_a_killed_snapshot_writer_continues_from_its_latest_snapshot_and_keeps_each_event_once(pipeline):
    _, endpoints = pipeline.broker()
    writer = pipeline.snapshot(endpoints, "--every-events", "1000", "--every-seconds", "60")
    folder = writer.data_dir / "snapshots"
    producer = pipeline.start_producer(endpoints, "--synthetic", "20000", "--seed", "8", "--rate", "5000")

    def latest():
        path = folder / "latest.json"
        return json.loads(path.read_text()) if path.exists() else {"eventCount": 0, "sequence": 0}

    wait_for(lambda: latest()["eventCount"] >= 3000, 60, "a snapshot of 3,000 events")
    writer.kill()
    assert producer.process.wait(timeout=60) == 0, producer.log()[-2000:]
    # The same events again under another producer id: logged by the broker, repeats for the writer.
    pipeline.produce(endpoints, "--synthetic", "500", "--seed", "8", "--producer-id", "again")

    restarted = pipeline.snapshot(endpoints, "--every-events", "1000", "--every-seconds", "0.2", data_dir=writer.data_dir)
    wait_for(lambda: latest()["sequence"] == 20500, 60, "a snapshot at the broker's last sequence")
    assert restarted.terminate() == 0
    assert "Continuing from the latest snapshot" in restarted.log()
    pointer = latest()
    snapshot = json.loads((folder / pointer["file"]).read_text())
    made = pipeline.ingest("--synthetic", "20000", "--seed", "8")
    assert pointer["eventCount"] == snapshot["eventCount"] == len(snapshot["events"]) == 20000
    # Every event once, in the order the broker logged them (one worker publishes them in order).
    assert [e["id"] for e in snapshot["events"]] == [e["id"] for e in made]
    assert snapshot["events"] == made
    expected = expected_statistics(made)
    for key in ("totalEvents", "totalVisits", "visitsByDecade", "eventsByKind"):
        assert snapshot["statistics"][key] == expected[key], key


def test_every_daemon_exits_0_on_sigterm_and_keeps_its_state(pipeline):
    broker, endpoints = pipeline.broker()
    aggregator, query = pipeline.aggregator(endpoints)
    writer = pipeline.snapshot(endpoints)
    monitor = pipeline.monitor(endpoints)
    pipeline.produce(endpoints)
    pipeline.wait_events(query, 36)
    for daemon in (monitor, writer, aggregator, broker):
        assert daemon.terminate() == 0, f"{daemon.name} exit code\n{daemon.log()[-2000:]}"
    offline = pipeline.run("report", "--format", "json", "--data-dir", str(aggregator.data_dir))
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["totalEvents"] == 36
    assert (writer.data_dir / "snapshots" / "latest.json").exists()


def test_report_formats_from_the_running_aggregator(pipeline, tmp_path):
    _, query = pipeline.produce_counted(36)
    html_path = tmp_path / "report.html"
    result = pipeline.run("report", "--format", "html", "--output", str(html_path), "--query", query)
    assert result.returncode == 0, result.stderr
    html = html_path.read_text()
    assert html.count("<svg") == 1 and 'class="bar"' in html
    csv = pipeline.report(query, "csv")
    assert "total_visits,,,,16" in csv
    markdown = pipeline.report(query, "markdown")
    assert "| 1950s |" in markdown or "| 1950 |" in markdown


def test_report_without_an_aggregator_fails_with_a_clear_message(pipeline):
    result = pipeline.run("report", "--query", "tcp://127.0.0.1:9", "--timeout", "0.5")
    assert result.returncode != 0
    assert "no aggregator answered at tcp://127.0.0.1:9" in result.stderr
