"""MediaWiki wikitext as a source: `timeline ingest` on a page of our own making (not a copy of a
real article), told from its content under a name that says nothing."""

import hashlib
import json
import shutil

from harness import ROOT

FIXTURE = ROOT / "Tests" / "Fixtures" / "wikitext" / "vietnam-mongolia.wiki"


def event_id(kind, date, source, target, guest, host, place):
    """The id of an event, computed here: the facts joined by U+001F, names lower-cased with blanks collapsed."""
    def normal(text):
        return " ".join(text.lower().split()) if text else ""

    fields = [kind, date, source, target, normal(guest), normal(host), normal(place)]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:32]


def expected_events(document):
    def event(kind, date, source, target, guest, host, place, description, cameo, section, line, row):
        return {"id": event_id(kind, date, source, target, guest, host, place), "kind": kind, "date": date,
                "from": source, "to": target, "guest": guest, "host": host, "place": place,
                "description": description, "cameo": cameo,
                "source": {"document": document, "section": section, "line": line, "row": row}}

    leaders, ministers = "Visits / Leaders", "Visits / Ministers"
    envoys = "Diplomatic missions / Vietnamese ambassadors to Mongolia"
    return [
        # `||` cells, a piped link, a flag icon, {{dts}}.
        event("visit", "1955-08-03", "MN", "VN", "Chairman Tsedenbal", "President Ho Chi Minh", "Hanoi", None, "042", leaders, 14, 1),
        # One cell per line, &ndash;, a named ref.
        event("visit", "1962-05-12/1962-05-14", "VN", "MN", "Prime Minister Pham Van Dong", "Chairman Tsedenbal", "Ulaanbaatar",
              None, "042", leaders, 16, 2),
        # Cell attributes, a place with diacritics, {{Start date}}.
        event("visit", "1985-11-20", "MN", "VN", "Chairman Batmönkh", "President Truong Chinh", "Hà Nội", None, "042", leaders, 21, 3),
        # A date spanning two rows belongs to both.
        event("visit", "1987-05-12", "MN", "VN", "Foreign Minister A", None, "Hanoi", "Talks", "042", ministers, 28, 1),
        event("visit", "1987-05-12", "VN", "MN", "Foreign Minister B", None, "Ulaanbaatar, Erdenet", "Signed a treaty", "042",
              ministers, 31, 2),
        event("ambassador_term", "1990/1994", "VN", "MN", "Nguyen Van A", None, None, "Ambassador of Vietnam to Mongolia", None,
              envoys, 38, None),
        event("ambassador_term", "2019/..", "VN", "MN", "Tran Thi B", None, None, "Ambassador of Vietnam to Mongolia", None,
              envoys, 39, None),
    ]


def test_ingest_reads_a_wikitext_page_told_by_content_into_exactly_the_expected_events(pipeline, tmp_path):
    page = tmp_path / "page-0001.txt"
    shutil.copy(FIXTURE, page)
    result = pipeline.run("ingest", str(page))
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == expected_events(str(page))
    assert f"{page}:33: error: the place 'Atlantis' is not in the gazetteer" in result.stderr


def test_a_folder_includes_wiki_files(pipeline, tmp_path):
    shutil.copy(FIXTURE, tmp_path / "page.wiki")
    events = pipeline.ingest(str(tmp_path))
    assert len(events) == 7


def test_a_wikitext_page_with_no_event_exits_65_naming_the_file(pipeline, tmp_path):
    page = tmp_path / "empty-page.wiki"
    page.write_text("{{Short description|Bilateral relations}}\n'''Mongolia–Vietnam relations''' are old.\n"
                    "{| class=\"wikitable\"\n! Guest !! Place !! Date\n|-\n| Somebody || Atlantis || 1990\n|}\n")
    result = pipeline.run("ingest", str(page))
    assert result.returncode == 65 and result.stdout == ""
    assert f"{page}:6: error: the place 'Atlantis' is not in the gazetteer" in result.stderr
    assert f"timeline: {page}: the source holds no events (1 error above)" in result.stderr
