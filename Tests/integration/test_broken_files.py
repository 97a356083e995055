"""Broken sources and a full data folder: clear diagnostics, nothing good lost, the last good state kept."""

import json
import subprocess

from harness import aggregator_status, broker_stats, wait_for


def test_bad_lines_are_reported_dead_lettered_and_the_good_events_published(pipeline, tmp_path):
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join([
        json.dumps({"kind": "visit", "date": "1960", "from": "MN", "to": "KP", "guest": "A", "place": "Pyongyang"}),
        "{not json",
        json.dumps({"kind": "visit", "date": "1961-02-30", "from": "MN", "to": "KP"}),
        json.dumps({"kind": "visit", "date": "1962", "from": "MN", "to": "KP", "colour": "red"}),
        json.dumps({"kind": "visit", "date": "1963", "from": "KP", "to": "MN", "guest": "B", "place": "Ulaanbaatar"}),
    ]) + "\n")
    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    producer_dir = tmp_path / "producer"
    result = pipeline.produce(endpoints, str(source), "--data-dir", str(producer_dir))
    assert f"{source}:2: error: not valid JSON" in result.stderr
    assert f"{source}:3: error: key 'date'" in result.stderr
    assert f"{source}:4: error: key 'colour': unknown key" in result.stderr
    wait_for(lambda: aggregator_status(query)["events"] == 2, 30, "the two good events")
    rejected = [json.loads(line) for line in (producer_dir / "rejected.jsonl").read_text().splitlines()]
    assert [(r["line"], r["text"]) for r in rejected] == [(2, "{not json"), (3, source.read_text().splitlines()[2]), (4, source.read_text().splitlines()[3])]
    assert all(r["file"] == str(source) and r["reason"] for r in rejected)


def test_strict_rejects_the_whole_file_before_publishing_anything(pipeline, tmp_path):
    source = tmp_path / "mixed.jsonl"
    source.write_text(json.dumps({"kind": "visit", "date": "1960", "from": "MN", "to": "KP"}) + "\n{broken\n")
    _, endpoints = pipeline.broker()
    result = pipeline.produce(endpoints, str(source), "--strict", check=False)
    assert result.returncode == 65
    assert "nothing published (--strict)" in result.stderr
    assert broker_stats(endpoints["replay"])["accepted"] == 0
    ingest = pipeline.run("ingest", "--strict", str(source))
    assert ingest.returncode == 65 and ingest.stdout == ""


def test_an_article_with_bad_rows_names_file_line_and_reason(pipeline, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("= Mongolia–North Korea relations =\n| Guest | Host | Place of visit | Date of visit |\n"
                       "| A | B | Pyongyang | 1990 |\n| C | D | Atlantis | 1991 |\n| E | F | Pyongyang | 31 June 1992 |\n")
    result = pipeline.run("ingest", str(article))
    assert result.returncode == 0
    assert f"{article}:4: error: the place 'Atlantis' is not in the gazetteer" in result.stderr
    assert f"{article}:5: error: cannot read date '31 June 1992': no such day" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_unreadable_and_empty_sources_exit_with_their_documented_codes(pipeline, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert pipeline.run("ingest", str(empty)).returncode == 65
    missing = pipeline.run("ingest", str(tmp_path / "missing.txt"))
    assert missing.returncode == 66 and "missing.txt: cannot read the source" in missing.stderr


def test_a_full_data_folder_is_reported_and_the_last_good_snapshot_and_state_stay(pipeline, tmp_path):
    _, endpoints = pipeline.broker()
    # A file-size limit stands in for a full disk: writes beyond 200 KB fail with EFBIG.
    limited = ["bash", "-c", 'ulimit -f 200; exec "$@"', "limited"]
    snapshot_dir = tmp_path / "snapshot"
    aggregator_dir = tmp_path / "aggregator"
    snapshot_dir.mkdir()
    aggregator_dir.mkdir()
    consumer = [*pipeline.consumer_args(endpoints)]
    writer = subprocess.Popen(limited + pipeline.command("snapshot", *consumer, "--data-dir", str(snapshot_dir), "--every-events", "36",
                                                         "--every-seconds", "0.5"),
                              stderr=open(tmp_path / "snapshot.log", "wb"), stdout=subprocess.DEVNULL)
    aggregator = subprocess.Popen(limited + pipeline.command("aggregate", *consumer, "--data-dir", str(aggregator_dir), "--query",
                                                             "tcp://127.0.0.1:*", "--set", "aggregator.checkpointIntervalSeconds=0.2"),
                                  stderr=open(tmp_path / "aggregator.log", "wb"), stdout=subprocess.DEVNULL)
    try:
        query = wait_for(lambda: (aggregator_dir / "endpoints.json").exists() and json.loads((aggregator_dir / "endpoints.json").read_text())["query"],
                         20, "the aggregator")
        pipeline.produce(endpoints)
        latest = snapshot_dir / "snapshots" / "latest.json"
        wait_for(lambda: latest.exists() and json.loads(latest.read_text())["eventCount"] == 36, 30, "a snapshot of 36 events")
        wait_for(lambda: (aggregator_dir / "aggregator-state.bin").exists(), 30, "a first checkpoint")
        # 20,000 more events make both files larger than the limit.
        pipeline.produce(endpoints, "--synthetic", "20000")
        wait_for(lambda: aggregator_status(query)["events"] == 20036, 60, "every event counted in memory")
        log = lambda name: (tmp_path / name).read_text(errors="replace")
        wait_for(lambda: "Could not write a snapshot; the previous one stays" in log("snapshot.log"), 30, "the snapshot error")
        wait_for(lambda: "Could not save the aggregator state; the previous checkpoint stays" in log("aggregator.log"), 30, "the checkpoint error")
        assert "File too large" in log("snapshot.log")
        assert writer.poll() is None and aggregator.poll() is None, "both keep running"
        # The last snapshot and checkpoint that fitted are whole and readable; none has all 20,036.
        pointer = json.loads(latest.read_text())
        snapshot = json.loads((snapshot_dir / "snapshots" / pointer["file"]).read_text())
        assert snapshot["eventCount"] == len(snapshot["events"]) == pointer["eventCount"]
        assert 36 <= snapshot["eventCount"] < 20036
        assert not list((snapshot_dir / "snapshots").glob("*.tmp-*")), "no torn temporary file left"
        offline = pipeline.run("report", "--format", "json", "--data-dir", str(aggregator_dir))
        assert offline.returncode == 0, offline.stderr
        assert 36 <= json.loads(offline.stdout)["totalEvents"] < 20036
    finally:
        for process in (writer, aggregator):
            process.kill()
            process.wait()


def test_a_source_that_yields_no_event_exits_65_naming_the_file_for_ingest_and_produce(pipeline, tmp_path):
    # Wikitext whose lead names no pair the gazetteer knows, a file GDELT-like but wrong for every
    # reader, and a JSON Lines file whose every line is bad: each only errors, no event.
    wikitext = tmp_path / "article.wiki"
    wikitext.write_text("{{Short description|Bilateral relations}}\n'''Ruritania–Mongolia relations'''\n"
                        "{| class=\"wikitable\"\n! Guest !! Place\n|-\n| A || Pyongyang\n|}\n")
    tabbed = tmp_path / "export.tsv"
    tabbed.write_text("1\t20240101\tfoo\n2\t20240102\tbar\n")
    bad_lines = tmp_path / "bad.jsonl"
    bad_lines.write_text("{broken\n" + json.dumps({"kind": "visit", "date": "1960", "from": "MN"}) + "\n")
    _, endpoints = pipeline.broker()
    reasons = {
        wikitext: f"{wikitext}:1: error: the lead names no two countries the gazetteer knows",
        tabbed: f"{tabbed}:1: error: no '= A–B relations =' title line names the two countries",
        bad_lines: f"{bad_lines}:1: error: not valid JSON",
    }
    for source, reason in reasons.items():
        ingest = pipeline.run("ingest", str(source))
        assert ingest.returncode == 65, (source, ingest.stderr)
        assert ingest.stdout == ""
        assert f"timeline: {source}: the source holds no events" in ingest.stderr
        assert reason in ingest.stderr
        produce = pipeline.produce(endpoints, str(source), check=False)
        assert produce.returncode == 65, (source, produce.stderr)
        assert f"{source}: the source holds no events" in produce.stderr
        assert reason in produce.stderr
    assert broker_stats(endpoints["replay"])["accepted"] == 0


def test_a_source_with_no_event_stops_ingest_even_after_a_good_one(pipeline, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"kind": "visit", "date": "1960", "from": "MN", "to": "KP"}) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{broken\n")
    result = pipeline.run("ingest", str(good), str(bad))
    assert result.returncode == 65 and result.stdout == ""
    assert f"{bad}:1: error: not valid JSON" in result.stderr
    assert f"{bad}: the source holds no events (1 error above)" in result.stderr
