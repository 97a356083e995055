"""GDELT event exports as a source: `timeline ingest` and `timeline produce` on a file made here
(not a copy of a real export), told from its content under a name that says nothing."""

import hashlib
import json

from harness import expected_statistics


def gdelt_row(event_id, date, code, actor1, actor2, place="", place_fips="", url="", columns=61):
    """One row in the GDELT Event Codebook's column order: 61 columns (2.0), 58 (1.0 daily) or 57
    (1.0 historical). An actor is (name, CAMEO country code, FIPS code of its place)."""
    row = [str(event_id), date, date[:6], date[:4], date[:4] + ".0137"]
    for name, country, _ in (actor1, actor2):
        row += [country + "GOV", name, country, "", "", "", "", "GOV", "", ""]
    row += ["1", code, code[:3], code[:2], "1", "1.9", "6", "1", "6", "-0.8"]
    for kind, name, fips in (("1", actor1[0], actor1[2]), ("1", actor2[0], actor2[2]), ("4", place, place_fips)):
        row += [kind, name, fips, fips] + ([""] if columns == 61 else []) + ["39.0", "125.7", "-1"]
    row.append(date + "120000" if columns == 61 else date)
    if columns != 57:
        row.append(url)
    assert len(row) == columns
    return "\t".join(row)


MONGOLIA = ("MONGOLIA", "MNG", "MG")
NORTH_KOREA = ("NORTH KOREA", "PRK", "KN")


def event_id(kind, date, source, target, cameo):
    """The id of a GDELT event, computed here: kind, date, direction, three empty fields, the code."""
    fields = [kind, date, source, target, "", "", "", "cameo:" + cameo]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:32]


def write_export(path):
    rows = [
        gdelt_row(1001, "20240105", "042", MONGOLIA, NORTH_KOREA, "Pyongyang, P'yongyang-si, North Korea", "KN", "https://news.example/a"),
        gdelt_row(1002, "20240105", "043", NORTH_KOREA, MONGOLIA, "Pyongyang, P'yongyang-si, North Korea", "KN", "https://news.example/b"),
        gdelt_row(1003, "20240110", "042", NORTH_KOREA, MONGOLIA, "Ulaanbaatar, Ulaanbaatar, Mongolia", "MG", "https://news.example/c"),
        gdelt_row(1004, "20240110", "057", MONGOLIA, NORTH_KOREA, "Mongolia", "MG", "https://news.example/d"),
        gdelt_row(1005, "20240111", "042", MONGOLIA, MONGOLIA, "Mongolia", "MG", "https://news.example/e"),
        "\t".join(["1006", "20240111", "042"]),
    ]
    path.write_text("\n".join(rows) + "\n")


def expected_events(path):
    document = str(path)

    def event(kind, date, source, target, guest, host, place, description, cameo, line):
        return {"id": event_id(kind, date, source, target, cameo), "kind": kind, "date": date, "from": source, "to": target,
                "guest": guest, "host": host, "place": place, "description": description, "cameo": cameo,
                "source": {"document": document, "section": "GDELT 2.0", "line": line, "row": None}}

    return [
        event("visit", "2024-01-05", "MN", "KP", "MONGOLIA", "NORTH KOREA", "Pyongyang",
              "GDELT events 1001, 1002; sources: https://news.example/a https://news.example/b", "042", 1),
        event("visit", "2024-01-10", "KP", "MN", "NORTH KOREA", "MONGOLIA", "Ulaanbaatar",
              "GDELT event 1003; source: https://news.example/c", "042", 3),
        event("agreement_signed", "2024-01-10", "MN", "KP", None, None, "Mongolia",
              "GDELT event 1004; source: https://news.example/d", "057", 4),
    ]


def test_ingest_reads_a_gdelt_export_told_by_content_into_exactly_the_expected_events(pipeline, tmp_path):
    export = tmp_path / "drop-0001.dat"
    write_export(export)
    result = pipeline.run("ingest", str(export))
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == expected_events(export)
    assert f"{export}:2: note: repeats the event of line 1 (GDELT event 1002); counted once" in result.stderr
    assert f"{export}:5: error: Actor1 and Actor2 are both MN; an event between two countries needs two" in result.stderr
    assert f"{export}:6: error: the row has 3 tab-separated columns; a GDELT event export has 61 (GDELT 2.0)" in result.stderr


def test_gdelt_1_0_daily_and_2_0_files_of_the_same_visits_are_the_same_events(pipeline, tmp_path):
    visit = ("20240105", "042", MONGOLIA, NORTH_KOREA, "Pyongyang, North Korea", "KN", "https://news.example/a")
    v2 = tmp_path / "20240105120000.export.CSV"
    v2.write_text(gdelt_row(1, *visit) + "\n")
    v1 = tmp_path / "20240105.export.CSV"
    v1.write_text(gdelt_row(2, *visit, columns=58) + "\n")
    result = pipeline.run("ingest", str(v2), str(v1))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert f"{v1}:1: note: the same event as {v2}:1" in result.stderr


def test_a_gdelt_export_with_an_invalid_byte_is_read_with_a_warning_but_an_article_is_not(pipeline, tmp_path):
    export = tmp_path / "20240105.export.CSV"
    row = gdelt_row(1, "20240105", "042", MONGOLIA, NORTH_KOREA, "Pyongyang, North Korea", "KN", "https://news.example/caf\u00e9")
    export.write_bytes(row.encode("latin-1") + b"\n")
    result = pipeline.run("ingest", str(export))
    assert result.returncode == 0, result.stderr
    assert f"{export}: warning: not valid UTF-8: invalid bytes were read as U+FFFD" in result.stderr
    [event] = [json.loads(line) for line in result.stdout.splitlines()]
    assert event["description"] == "GDELT event 1; source: https://news.example/caf\ufffd"
    article = tmp_path / "article.txt"
    article.write_bytes("= Mongolia–North Korea relations =\n".encode() + b"caf\xe9\n")
    result = pipeline.run("ingest", str(article))
    assert result.returncode == 66 and f"{article}: cannot read the source: not UTF-8 text" in result.stderr


def test_a_gdelt_export_of_only_bad_rows_exits_65(pipeline, tmp_path):
    export = tmp_path / "20240105.export.CSV"
    export.write_text(gdelt_row(1, "20240105", "042", MONGOLIA, ("EUROPE", "EUR", "")) + "\n")
    result = pipeline.run("ingest", str(export))
    assert result.returncode == 65 and result.stdout == ""
    assert f"{export}:1: error: Actor2CountryCode 'EUR' is not a country the gazetteer knows" in result.stderr
    assert f"{export}: the source holds no events (1 error above)" in result.stderr


def test_produce_publishes_a_gdelt_export_and_the_aggregator_counts_exactly_its_events(pipeline, tmp_path):
    export = tmp_path / "drop-0001.dat"
    write_export(export)
    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    producer_dir = tmp_path / "producer"
    result = pipeline.produce(endpoints, str(export), "--data-dir", str(producer_dir))
    assert f"{export}:5: error:" in result.stderr
    expected = expected_statistics(expected_events(export))
    report = pipeline.wait_events(query, expected["totalEvents"])
    assert report["totalEvents"] == expected["totalEvents"] == 3
    assert report["visitsByDecade"] == expected["visitsByDecade"]
    assert report["eventsByKind"] == expected["eventsByKind"]
    rejected = [json.loads(line) for line in (producer_dir / "rejected.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejected] == [5, 6]
