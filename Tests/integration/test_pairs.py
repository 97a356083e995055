"""Reports by pair and period, the table of pairs and relations on a date, asked of a running
aggregator and read from its data folder, checked against figures computed here from the events
(a fixture made for this test: two pairs, every precision of date, facts with states)."""

import calendar
import datetime
import json

from harness import expected_statistics

EVENTS = [
    {"kind": "relations_established", "date": "1948-10-15", "from": "MN", "to": "KP"},
    {"kind": "visit", "date": "1956", "from": "MN", "to": "KP", "guest": "A"},
    {"kind": "visit", "date": "1956-07-16/1956-07-18", "from": "KP", "to": "MN", "guest": "B"},
    {"kind": "visit", "date": "1971-07", "from": "KP", "to": "MN", "guest": "C"},
    {"kind": "visit", "date": "1985-05-02", "from": "KP", "to": "MN", "guest": "D"},
    {"kind": "visit", "date": "1987-11-20", "from": "MN", "to": "KP", "guest": "E"},
    {"kind": "agreement_signed", "date": "1986", "from": "MN", "to": "KP", "description": "Treaty of friendship and cooperation"},
    {"kind": "agreement_ended", "date": "1995", "from": "MN", "to": "KP", "description": "The 1986 treaty is annulled"},
    {"kind": "ambassador_term", "date": "1992/1997", "from": "MN", "to": "KP", "guest": "Envoy One"},
    {"kind": "ambassador_term", "date": "1997/..", "from": "KP", "to": "MN", "guest": "Envoy Two"},
    {"kind": "visit", "date": "1998-05-02", "from": "MN", "to": "KP", "guest": "F"},
    {"kind": "visit", "date": "1999", "from": "MN", "to": "KP", "guest": "G"},
    {"kind": "embassy_closed", "date": "1999", "from": "KP", "to": "MN", "description": "Embassy closed"},
    {"kind": "aid", "date": "1952", "from": "MN", "to": "KP"},
    {"kind": "visit", "date": "2002-09", "from": "KP", "to": "MN", "guest": "H"},
    {"kind": "relations_established", "date": "1950-01-18", "from": "CN", "to": "VN"},
    {"kind": "visit", "date": "1955-06", "from": "VN", "to": "CN", "guest": "I"},
    {"kind": "visit", "date": "1991-11-05", "from": "VN", "to": "CN", "guest": "J"},
    {"kind": "visit", "date": "2006-11-15", "from": "CN", "to": "VN", "guest": "K"},
]


def start_year(date):
    start = date.split("/")[0]
    return int((date.split("/")[1] if start == ".." else start)[:4])


def span(date):
    """The first and last day a date (its start, for an interval) covers."""
    text = date.split("/")[0]
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 3:
        day = datetime.date(*parts)
        return day, day
    if len(parts) == 2:
        return datetime.date(parts[0], parts[1], 1), datetime.date(parts[0], parts[1], calendar.monthrange(*parts)[1])
    return datetime.date(parts[0], 1, 1), datetime.date(parts[0], 12, 31)


def expected_pairs(events):
    pairs = {}
    for event in events:
        key = tuple(sorted((event["from"], event["to"])))
        entry = pairs.setdefault(key, {"first": key[0], "second": key[1], "visitsFirstToSecond": 0, "visitsSecondToFirst": 0,
                                       "events": 0, "dates": []})
        entry["events"] += 1
        if event["kind"] == "visit":
            entry["visitsFirstToSecond" if event["from"] == key[0] else "visitsSecondToFirst"] += 1
            entry["dates"].append(event["date"].split("/")[0])
    rows = []
    for key in sorted(pairs):
        entry = pairs[key]
        dates = sorted(set(entry.pop("dates")), key=lambda d: span(d))
        larger = max(entry["visitsFirstToSecond"], entry["visitsSecondToFirst"])
        entry["reciprocity"] = round(min(entry["visitsFirstToSecond"], entry["visitsSecondToFirst"]) / larger, 2) if larger else None
        entry["firstVisit"] = dates[0] if dates else None
        entry["lastVisit"] = max(dates, key=lambda d: span(d)[1]) if dates else None
        best, latest = None, None
        for date in dates:
            if latest is not None:
                days = (span(date)[0] - span(latest)[1]).days - 1
                if days > (best["days"] if best else 0):
                    best = {"after": latest, "before": date, "days": days}
            if latest is None or span(date)[1] > span(latest)[1]:
                latest = date
        entry["longestGap"] = best
        rows.append(entry)
    return rows


def started(pipeline, tmp_path):
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps(event) + "\n" for event in EVENTS))
    _, endpoints = pipeline.broker()
    aggregator, query = pipeline.aggregator(endpoints)
    pipeline.produce(endpoints, str(source))
    pipeline.wait_events(query, len(EVENTS))
    return aggregator, query


def ask(pipeline, *args):
    result = pipeline.run(*args)
    assert result.returncode == 0, f"{args} failed ({result.returncode}): {result.stderr}"
    return result.stdout


def test_filtered_reports_and_pairs_agree_with_counts_made_here_live_and_from_the_data_folder(pipeline, tmp_path):
    aggregator, query = started(pipeline, tmp_path)
    cases = [
        (["--pair", "MN-KP"], lambda e: {e["from"], e["to"]} == {"MN", "KP"}, {"pair": ["KP", "MN"]}),
        (["--country", "CN"], lambda e: "CN" in (e["from"], e["to"]), {"country": "CN"}),
        (["--from", "1980", "--to", "1999"], lambda e: 1980 <= start_year(e["date"]) <= 1999, {"from": 1980, "to": 1999}),
        (["--kind", "visit,embassy_closed"], lambda e: e["kind"] in ("visit", "embassy_closed"), {"kinds": ["embassy_closed", "visit"]}),
        (["--pair", "KP-MN", "--from", "1980", "--kind", "visit"],
         lambda e: {e["from"], e["to"]} == {"MN", "KP"} and start_year(e["date"]) >= 1980 and e["kind"] == "visit",
         {"pair": ["KP", "MN"], "from": 1980, "kinds": ["visit"]}),
    ]
    live = {}
    for args, keep, filter_object in cases:
        report = json.loads(ask(pipeline, "report", "--format", "json", "--query", query, *args))
        expected = expected_statistics([e for e in EVENTS if keep(e)])
        assert {k: report[k] for k in expected} == expected, args
        assert report["filter"] == filter_object
        live[tuple(args)] = report
    pairs = json.loads(ask(pipeline, "report", "--pairs", "--format", "json", "--query", query))
    assert pairs["pairs"] == expected_pairs(EVENTS)
    only_mn = json.loads(ask(pipeline, "report", "--pairs", "--country", "MN", "--format", "json", "--query", query))
    assert only_mn["pairs"] == expected_pairs([e for e in EVENTS if "MN" in (e["from"], e["to"])])

    # The same answers from the state the stopped aggregator left (restarted in between, so the
    # dates and facts went through the state file).
    assert aggregator.terminate() == 0
    folder = str(aggregator.data_dir)
    for args, _, _ in cases:
        offline = json.loads(ask(pipeline, "report", "--format", "json", "--data-dir", folder, *args))
        for report in (offline, live[tuple(args)]):
            report.pop("generatedAt")
        assert offline == live[tuple(args)], args
    offline_pairs = json.loads(ask(pipeline, "report", "--pairs", "--format", "json", "--data-dir", folder))
    assert offline_pairs["pairs"] == pairs["pairs"]


def test_relations_on_a_date_live_and_from_the_data_folder(pipeline, tmp_path):
    aggregator, query = started(pipeline, tmp_path)
    answer = json.loads(ask(pipeline, "at", "1999-06-01", "--pair", "MN-KP", "--format", "json", "--query", query))
    assert answer["pair"] == ["KP", "MN"] and answer["date"] == "1999-06-01"
    assert answer["relations"]["established"] == "yes" and answer["relations"]["fact"]["date"] == "1948-10-15"
    assert [(e["of"], e["closed"]) for e in answer["embassies"]] == [("KP", "undecided"), ("MN", "no")]
    assert [(t["signed"]["date"], t["inForce"], t["ended"]) for t in answer["treaties"]] == [("1986", "no", "1995")]
    assert [(a["person"], a["inPost"]) for a in answer["ambassadors"]] == [("Envoy Two", "yes")]
    assert [(v["from"], v["date"], v["undecided"]) for v in answer["lastVisits"]] == [
        ("KP", "1985-05-02", []), ("MN", "1998-05-02", ["1999"])]
    text = ask(pipeline, "at", "1999-06-01", "--pair", "MN-KP", "--query", query)
    assert "North Korea's embassy in Mongolia: too coarse to decide (closed during 1999): Embassy closed" in text
    in_1990 = json.loads(ask(pipeline, "at", "1990", "--pair", "KP-MN", "--format", "json", "--query", query))
    assert [t["inForce"] for t in in_1990["treaties"]] == ["yes"]
    assert [(a["person"], a["inPost"]) for a in in_1990["ambassadors"]] == []

    assert aggregator.terminate() == 0
    offline = json.loads(ask(pipeline, "at", "1999-06-01", "--pair", "MN-KP", "--format", "json", "--data-dir", str(aggregator.data_dir)))
    assert offline == answer


def test_bad_questions_are_refused_naming_what_is_wrong(pipeline, tmp_path):
    for args, message in [
        (["report", "--pair", "MN"], "'MN' is not a pair of two-letter country codes"),
        (["report", "--kind", "parade"], "unknown kind 'parade'"),
        (["report", "--from", "2000", "--to", "1990"], "--from 2000 is after --to 1990"),
        (["at", "1999-13-01", "--pair", "MN-KP"], "'1999-13-01' is not a date"),
        (["at", "1999", "--pair", "MN-MN"], "names the same country twice"),
    ]:
        result = pipeline.run(*args, "--data-dir", str(tmp_path))
        assert result.returncode == 64, (args, result.returncode, result.stderr)
        assert message in result.stderr, (args, result.stderr)
