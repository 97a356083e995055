"""`timeline produce --follow DIR`: each source file dropped into a folder (a GDELT export, a JSON Lines
file) is published once, also across a restart of the producer."""

import json

from harness import aggregator_status, broker_stats, wait_for
from test_gdelt import expected_events, write_export


def visit_line(guest: str, year: int) -> str:
    return json.dumps({"kind": "visit", "date": str(year), "from": "MN", "to": "KP", "guest": guest, "place": "Pyongyang"}) + "\n"


def drop(folder, name: str, write):
    """Writes the file under a temporary name, then renames it: the way to drop a file."""
    temporary = folder / (name + ".part")
    write(temporary)
    temporary.rename(folder / name)


def test_follow_dir_publishes_each_dropped_file_once_across_a_restart(pipeline, tmp_path):
    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    folder = tmp_path / "drop"
    folder.mkdir()
    producer_data = tmp_path / "producer"
    # A file there before the producer starts is published too.
    (folder / "a-first.jsonl").write_text(visit_line("Before", 1950))
    producer = pipeline.start("producer", "produce", "--frontend", endpoints["frontend"], "--replay", endpoints["replay"],
                              "--follow", str(folder), data_dir=producer_data)
    pipeline.wait_events(query, 1)

    drop(folder, "20240105120000.export.CSV", write_export)
    drop(folder, "b-second.jsonl", lambda path: path.write_text(visit_line("Second", 1961) + "not json\n" + visit_line("Third", 1962)))
    (folder / ".hidden.jsonl").write_text(visit_line("Hidden", 1970))
    (folder / "c.jsonl.part").write_text(visit_line("Unfinished", 1971))
    gdelt = expected_events(folder / "20240105120000.export.CSV")
    total = 1 + len(gdelt) + 2
    report = pipeline.wait_events(query, total)
    assert report["totalEvents"] == total
    log = producer.log()
    assert "Took a source file from the followed folder" in log and "b-second.jsonl" in log
    assert "b-second.jsonl:2: error: not valid JSON" in log
    assert "20240105120000.export.CSV:5: error:" in log
    rejected = (producer_data / "rejected.jsonl").read_text()
    assert "b-second.jsonl" in rejected and "20240105120000.export.CSV" in rejected

    # Every file is done once the broker logged its events; then a restart publishes nothing again.
    state_files = list(producer_data.glob("followed-folder-*.json"))
    assert len(state_files) == 1
    wait_for(lambda: not json.loads(state_files[0].read_text())["pending"], 30, "every file to be marked done")
    assert producer.alive()
    assert producer.terminate() == 0
    accepted = broker_stats(endpoints["replay"])["accepted"]
    assert accepted == total

    restarted = pipeline.start("producer", "produce", "--frontend", endpoints["frontend"], "--replay", endpoints["replay"],
                               "--follow", str(folder), data_dir=producer_data)
    drop(folder, "d-after-restart.jsonl", lambda path: path.write_text(visit_line("After", 1980)))
    report = pipeline.wait_events(query, total + 1)
    wait_for(lambda: "d-after-restart.jsonl" in restarted.log(), 30, "the restarted producer to take the new file")
    stats = broker_stats(endpoints["replay"])
    assert stats["accepted"] == total + 1, stats
    assert stats.get("duplicatesDropped", 0) == 0, stats
    assert aggregator_status(query)["events"] == total + 1
    assert pipeline.report(query)["totalEvents"] == total + 1
    assert "Took a source file" not in restarted.log().split("d-after-restart.jsonl")[0], "an old file was read again"
    assert restarted.terminate() == 0


def test_a_producer_killed_mid_file_publishes_the_rest_after_a_restart_and_nothing_twice(pipeline, tmp_path):
    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    folder = tmp_path / "drop"
    folder.mkdir()
    producer_data = tmp_path / "producer"
    # At 1,000 events a second the file takes 20 s to publish: the kill below, as soon as the broker
    # has logged 500 of them (asked over a socket, not by starting a process), lands well inside it.
    events = 20000
    made = pipeline.run("ingest", "--synthetic", str(events), "--seed", "61")
    assert made.returncode == 0, made.stderr
    args = ("produce", "--frontend", endpoints["frontend"], "--replay", endpoints["replay"], "--follow", str(folder), "--rate", "1000")
    producer = pipeline.start("producer", *args, data_dir=producer_data)
    drop(folder, "big.jsonl", lambda path: path.write_text(made.stdout))
    # Killed (no shutdown at all) while the file is half published: it is pending, in the spool.
    wait_for(lambda: broker_stats(endpoints["replay"])["accepted"] >= 500, 60, "part of the file to be logged", interval=0.02)
    producer.kill()
    state = json.loads(next(producer_data.glob("followed-folder-*.json")).read_text())
    assert [file["name"] for file in state["pending"]] == ["big.jsonl"]
    assert broker_stats(endpoints["replay"])["accepted"] < events

    restarted = pipeline.start("producer", *args[:-2], data_dir=producer_data)
    pipeline.wait_events(query, events)
    wait_for(lambda: not json.loads(next(producer_data.glob("followed-folder-*.json")).read_text())["pending"], 30, "the file to be done")
    assert "Publishing again the files taken before the restart" in restarted.log()
    assert restarted.log().count("Took a source file") == 0, "the file is published from the spool, not read again"
    stats = broker_stats(endpoints["replay"])
    assert stats["accepted"] == events, stats
    assert pipeline.report(query)["totalEvents"] == events
    assert restarted.terminate() == 0
