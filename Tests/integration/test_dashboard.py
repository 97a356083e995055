"""The live dashboard: `timeline dashboard` serves one page whose figures are pushed as
Server-Sent Events. A real headless Chromium (Debian's `chromium` and `chromium-driver`, driven by
Selenium) loads the page while events are published; raw sockets play the browsers that leave
mid-stream or never read."""

import http.client
import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from harness import broker_stats, expected_statistics, taken_port, wait_for

ANY = "127.0.0.1:*"
# No aggregator listens there: the health section says so, and no fixed port of the machine is asked.
NO_AGGREGATOR = "tcp://127.0.0.1:1"


def start_dashboard(pipeline, endpoints: dict, *extra: str, query: str = NO_AGGREGATOR):
    daemon = pipeline.start("dashboard", "dashboard", *pipeline.consumer_args(endpoints), "--query", query, "--listen", ANY, *extra)
    address = wait_for(lambda: daemon.wait_bound().get("dashboard"), 30, "the dashboard's address")
    return daemon, address


class EventStream:
    """A client of `/events`: reads messages as (event, data) pairs."""

    def __init__(self, address: str, timeout: float = 10):
        host, port = address.rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.connection.request("GET", "/events")
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type") == "text/event-stream"

    def next(self) -> tuple[str, dict]:
        name, data = None, []
        while True:
            line = self.response.fp.readline()
            assert line, "the stream ended"
            line = line.decode().rstrip("\n")
            if line == "":
                if name is not None:
                    return name, json.loads("\n".join(data))
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)

    def close(self):
        self.connection.close()


def first_state(address: str) -> dict:
    stream = EventStream(address)
    try:
        name, data = stream.next()
        assert name == "state"
        return data
    finally:
        stream.close()


def stats_chart(stats: dict) -> dict:
    """The chart's bars a `stats` message carries: (decade, from, to) to a count, "*" for the other directions."""
    series = stats["chart"]["series"]
    return {(row["decade"], d["from"], d["to"]): count
            for row in stats["chart"]["decades"] for d, count in zip(series, row["counts"]) if count}


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_the_stream_starts_with_the_state_then_pushes_events_stats_and_health(pipeline):
    _, endpoints = pipeline.broker()
    pipeline.produce(endpoints, "--synthetic", "500", "--seed", "70")
    dashboard, address = start_dashboard(pipeline, endpoints)
    # From the broker's start: the history is in the state.
    state = wait_for(lambda: (lambda s: s if s["stats"]["totalEvents"] == 500 else None)(first_state(address)), 20, "the history counted")
    assert state["sequence"] == 500 and state["feedCapacity"] == 200
    assert [item["sequence"] for item in state["feed"]] == list(range(500, 300, -1))
    # The stats carry the chart as the page draws it, not every cell.
    assert "visitsByDecade" not in state["stats"]
    assert stats_chart(state["stats"]) == expected_chart(expected_statistics(pipeline.ingest("--synthetic", "500", "--seed", "70")))

    stream = EventStream(address)
    try:
        name, data = stream.next()
        assert name == "state" and data["sequence"] == 500
        pipeline.produce(endpoints, "--synthetic", "20", "--seed", "71")
        seen, stats, health = [], None, None
        deadline = time.monotonic() + 15
        def reading(health):
            return health["pipeline"]["brokers"][0]["statistics"]["lastSequence"] if health and health["pipeline"] else 0

        # Until the events, their statistics and a health reading taken after them have come.
        while (len(seen) < 20 or stats is None or stats["totalEvents"] < 520 or reading(health) < 520) and time.monotonic() < deadline:
            name, data = stream.next()
            if name == "event":
                seen.append(data["sequence"])
                assert data["event"]["kind"] == data["kind"] and data["topic"].startswith(data["kind"])
            elif name == "stats":
                stats = data
            elif name == "health":
                health = data
        assert seen == list(range(501, 521))
        assert stats["totalEvents"] == 520 and stats["lag"] == 0
        broker = health["pipeline"]["brokers"][0]
        assert broker["answered"] and broker["state"] == "single" and broker["statistics"]["lastSequence"] == 520
        assert health["server"]["clients"] >= 1
    finally:
        stream.close()
    assert dashboard.alive()


def test_slow_and_vanishing_clients_leave_the_dashboard_alive_and_bounded(pipeline):
    _, endpoints = pipeline.broker()
    dashboard, address = start_dashboard(pipeline, endpoints)
    host, port = address.rsplit(":", 1)
    request = f"GET /events HTTP/1.1\r\nHost: {address}\r\n\r\n".encode()
    # A browser that never reads: a small receive window, and nothing taken from it.
    stalled = socket.create_connection((host, int(port)))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(request)
    try:
        producer = pipeline.start_producer(endpoints, "--synthetic", "100000", "--seed", "72", "--rate", "10000")
        # Browsers that leave mid-stream, while the events flow.
        left, resident_at_half = 0, None
        while producer.alive():
            # Memory once the first half has flowed (past the start's growth: buffers, the allocator's arenas).
            if resident_at_half is None and broker_stats(endpoints["replay"])["lastSequence"] >= 50000:
                resident_at_half = resident_bytes(dashboard.pid)
            leaving = socket.create_connection((host, int(port)))
            leaving.sendall(request)
            assert leaving.recv(4096)
            leaving.close()
            left += 1
            time.sleep(0.1)  # pacing the departures, not waiting for anything
        assert producer.process.wait() == 0, producer.log()[-2000:]
        assert left >= 5 and resident_at_half is not None
        state = wait_for(lambda: (lambda s: s if s["stats"]["totalEvents"] == 100000 else None)(first_state(address)), 60,
                         "the dashboard to count 100,000 events")
        server = wait_for(lambda: (lambda s: s if s["server"]["resyncs"] >= 1 else None)(first_state(address)["health"]), 30,
                          "the stalled client's queue to be dropped for a resync")
        resident_at_end = resident_bytes(dashboard.pid)
        assert dashboard.alive()
        # The clients that left are gone from the count (each at its first failed write): on one
        # stream, health readings until only the stalled client and this one remain.
        watcher = EventStream(address)
        try:
            deadline = time.monotonic() + 20
            clients = None
            while clients != 2 and time.monotonic() < deadline:
                name, data = watcher.next()
                if name == "health":
                    clients = data["server"]["clients"]
            assert clients == 2, f"{clients} clients still counted"
        finally:
            watcher.close()
        growth = resident_at_end - resident_at_half
        print(f"dashboard resident memory {resident_at_half / 2**20:.1f} -> {resident_at_end / 2**20:.1f} MiB over the second 50,000 events "
              f"with a stalled client ({server['server']['resyncs']} resyncs, {server['server']['droppedMessages']} messages dropped)")
        # A slow client costs at most its queue (1 MiB) and what the kernel holds; keeping the
        # second half's events would cost 16 MB and more. The bound leaves room for the
        # allocator's own noise (up to 6.4 MiB was seen over 25,000 events).
        assert growth < 8 * 2**20, growth
        assert state["stats"]["lag"] == 0
        # The stalled client does not hold up a graceful shutdown either.
        assert dashboard.terminate() == 0
        assert not (dashboard.data_dir / "endpoints.json").exists()
    finally:
        stalled.close()


def test_streams_beyond_the_cap_are_answered_503(pipeline):
    _, endpoints = pipeline.broker()
    _, address = start_dashboard(pipeline, endpoints)
    # 64 streams, each counted once it has its state.
    streams = []
    try:
        for _ in range(64):
            stream = EventStream(address)
            streams.append(stream)
            assert stream.next()[0] == "state"
        host, port = address.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/events")
        response = connection.getresponse()
        assert response.status == 503
        connection.close()
    finally:
        for stream in streams:
            stream.close()


def test_an_unknown_path_is_404_and_the_page_needs_nothing_from_elsewhere(pipeline):
    _, endpoints = pipeline.broker()
    _, address = start_dashboard(pipeline, endpoints)
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/nothing-here")
    assert connection.getresponse().status == 404
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/html")
    page = response.read().decode()
    assert "<script src" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert 'new EventSource("events")' in page


def test_a_taken_dashboard_port_stops_it_at_start_naming_the_key(pipeline, tmp_path):
    with taken_port() as port:
        data = tmp_path / "refused-dashboard"
        result = pipeline.run("dashboard", "--data-dir", str(data), "--replay", NO_AGGREGATOR, "--listen", f"127.0.0.1:{port}")
        assert result.returncode == 78, result.stderr
        assert "dashboard.listen" in result.stderr and "in use" in result.stderr
        assert not (data / "endpoints.json").exists()


# The browser.


@pytest.fixture
def browser():
    def missing(what: str):
        message = f"{what} (Scripts/install-deps installs chromium, chromium-driver and selenium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    try:
        from selenium import webdriver
    except ImportError:
        missing("selenium is not installed")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        missing("chromium or chromedriver is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    session = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver), options=options)
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture
def artifacts(tmp_path) -> Path:
    folder = Path(os.environ["TIMELINE_ARTIFACTS"]) if os.environ.get("TIMELINE_ARTIFACTS") else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def page_figures(browser) -> dict:
    """What the page shows: totals, the chart's bars, the feed's items and which are visible."""
    return browser.execute_script("""
        const q = (s) => [...document.querySelectorAll(s)];
        return {
          events: document.getElementById('total-events').textContent,
          visits: document.getElementById('total-visits').textContent,
          directions: q('#directions li[data-from]').map(li => [li.dataset.from, li.dataset.to, +li.dataset.count]),
          bars: q('#chart rect').map(r => [+r.dataset.decade, r.dataset.from, r.dataset.to, +r.dataset.count]),
          feed: q('#feed li').map(li => [+li.dataset.sequence, li.dataset.topic, !li.hidden]),
          consumers: q('#consumers tr[data-name]').map(tr => tr.dataset.name),
        };""")


def chart_counts(figures: dict) -> dict:
    return {(decade, source, target): count for decade, source, target, count in figures["bars"] if count}


def expected_chart(statistics: dict, series: int = 6) -> dict:
    """The bars the page should draw: the `series` directions with the most visits (ties in the
    order of their codes), and the rest together as `*`."""
    totals: dict = {}
    for entry in statistics["visitsByDecade"]:
        totals[(entry["from"], entry["to"])] = totals.get((entry["from"], entry["to"]), 0) + entry["count"]
    charted = set(sorted(sorted(totals), key=lambda key: -totals[key])[:series])
    bars: dict = {}
    for entry in statistics["visitsByDecade"]:
        direction = (entry["from"], entry["to"]) if (entry["from"], entry["to"]) in charted else ("*", "*")
        bars[(entry["decade"], *direction)] = bars.get((entry["decade"], *direction), 0) + entry["count"]
    return bars


def test_events_published_after_the_page_loaded_appear_in_the_feed_and_chart(pipeline, browser, artifacts, capsys):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    pipeline.produce(endpoints)  # the bundled dataset: the history the chart starts from
    history = pipeline.ingest()
    dashboard, address = start_dashboard(pipeline, endpoints, query=query)

    browser.get(f"http://{address}/")
    assert browser.title == "Timeline: live dashboard"
    label = browser.find_element(By.CSS_SELECTOR, "label[for=topic-filter]")
    assert label.text == "Filter by topic prefix"
    wait_for(lambda: page_figures(browser)["events"] == str(len(history)), 10, "the page to show the history")
    before = page_figures(browser)
    wanted = expected_statistics(history)
    assert chart_counts(before) == expected_chart(wanted)

    # Every label of the chart (decades, figures) lies within it, the first and the last too.
    spans = browser.execute_script("""
        return [...document.querySelectorAll('#chart text')].map(t => { const b = t.getBBox(); return [t.textContent, b.x, b.x + b.width]; });""")
    assert spans and all(start >= 0 and end <= 400 for _, start, end in spans), [s for s in spans if s[1] < 0 or s[2] > 400]
    # The filter's count describes the field and is not a live region (it changes with every event).
    assert browser.find_element(By.ID, "feed-count").get_attribute("aria-live") is None

    # The problems' live region, as the first reading left it: later readings saying the same leave it alone.
    wait_for(lambda: "Waiting" not in browser.find_element(By.ID, "problems").text, 10, "the first health reading")
    browser.execute_script("window.problems = [document.getElementById('problems').textContent, document.querySelector('#problems li')];")

    # Published after the page loaded: 300 synthetic events.
    synthetic = pipeline.ingest("--synthetic", "300", "--seed", "73")
    pipeline.produce(endpoints, "--synthetic", "300", "--seed", "73")
    produced = time.monotonic()
    total = len(history) + 300
    after = wait_for(lambda: (lambda f: f if f["events"] == f"{total:,}" and f["feed"] and f["feed"][0][0] == total else None)(page_figures(browser)),
                     10, "the new events on the page", interval=0.01)
    delay = time.monotonic() - produced
    with capsys.disabled():
        print(f"\ndashboard: 300 events appeared in the page's feed and totals {delay * 1000:.0f} ms after the producer finished (target 1 s)")

    wanted = expected_statistics(history + synthetic)
    assert after["visits"] == f"{wanted['totalVisits']:,}"
    assert chart_counts(after) == expected_chart(wanted)
    directions: dict = {}
    for d in wanted["visitsByDecade"]:
        directions[(d["from"], d["to"])] = directions.get((d["from"], d["to"]), 0) + d["count"]
    assert {(f, t): c for f, t, c in after["directions"]} == directions
    # The feed: the newest 200, all of them new, newest first.
    assert [sequence for sequence, _, _ in after["feed"]] == list(range(total, total - 200, -1))
    topics = {event["kind"] + "." + event["from"] + "." + event["to"] for event in synthetic}
    assert {topic for _, topic, _ in after["feed"]} <= topics

    # The filter, typed: only the items under the prefix stay visible; cleared, all are back.
    prefix = "visit.MN.KP"
    box = browser.find_element(By.ID, "topic-filter")
    box.click()
    box.send_keys(prefix)
    filtered = page_figures(browser)["feed"]
    visible = [topic for _, topic, shown in filtered if shown]
    hidden = [topic for _, topic, shown in filtered if not shown]
    assert visible and all(topic.startswith(prefix) for topic in visible)
    assert hidden and not any(topic.startswith(prefix) for topic in hidden)
    assert f"Showing {len(visible)} of the 200" in browser.find_element(By.ID, "feed-count").text
    browser.save_screenshot(str(artifacts / "dashboard-filtered.png"))
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    assert all(shown for _, _, shown in page_figures(browser)["feed"])

    # The health section lists the aggregator's reported position once it checkpoints.
    wait_for(lambda: "aggregator" in page_figures(browser)["consumers"], 15, "the aggregator in the consumers' table")
    same_text, same_node = browser.execute_script(
        "return [document.getElementById('problems').textContent === window.problems[0], document.querySelector('#problems li') === window.problems[1]];")
    assert same_node == same_text, "the problems were rebuilt though they said the same" if same_text else "the problems changed but not their list"

    screenshot = artifacts / "dashboard.png"
    browser.save_screenshot(str(screenshot))
    # 360 px wide: nothing wider than the window, the chart within it.
    browser.set_window_size(360, 800)
    width = browser.execute_script("return window.innerWidth")
    assert width <= 400, f"the window is {width} px wide"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    assert browser.find_element(By.ID, "chart").rect["width"] <= width
    narrow = artifacts / "dashboard-360.png"
    browser.save_screenshot(str(narrow))
    with capsys.disabled():
        print(f"dashboard screenshots: {screenshot}, {narrow}, {artifacts / 'dashboard-filtered.png'}")
    assert dashboard.alive()
