/// The dashboard's one page: HTML, CSS and JavaScript inline, nothing fetched from elsewhere (it
/// works offline). The script opens `/events` and draws what the stream pushes: the feed, the
/// chart of visits per decade and direction, the totals and the pipeline's health.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Timeline: live dashboard</title>
<style>
:root { --ink: #1a1a1a; --muted: #4a4a4a; --paper: #ffffff; --panel: #f4f5f7; --line: #c9ccd1; --focus: #0b57d0;
        --bad: #a4000f; --good: #1d6b2f; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: var(--paper); line-height: 1.45; font-size: 1rem; }
header { padding: .75rem 1rem; background: #20262e; color: #fff; display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: baseline; }
header h1 { font-size: 1.25rem; margin: 0; }
#connection { font-size: .95rem; }
main { display: grid; gap: 1rem; padding: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 26rem), 1fr)); max-width: 90rem; margin: 0 auto; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: .4rem; padding: .75rem 1rem; min-width: 0; }
h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
.totals { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; margin: 0 0 .5rem; }
.totals div { min-width: 7rem; }
.totals dt { color: var(--muted); font-size: .9rem; }
.totals dd { margin: 0; font-size: 1.5rem; font-weight: 600; font-variant-numeric: tabular-nums; }
ul.plain, ol.plain { list-style: none; padding: 0; margin: 0; }
#directions { max-height: 14rem; overflow-y: auto; }
#directions li { display: flex; gap: .5rem; align-items: center; padding: .15rem 0; }
.swatch { display: inline-block; width: .9rem; height: .9rem; border-radius: .15rem; flex: none; border: 1px solid #0006; }
.count { margin-left: auto; font-weight: 600; font-variant-numeric: tabular-nums; }
#legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; font-size: .9rem; margin-bottom: .4rem; }
#legend li { display: flex; gap: .35rem; align-items: center; }
#chart { width: 100%; height: auto; display: block; }
#chart text { font-size: 11px; fill: var(--ink); }
#chart rect { transition: height .3s ease, y .3s ease; }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
input[type=search] { width: 100%; font: inherit; padding: .45rem .6rem; border: 1px solid #6b7078; border-radius: .3rem; background: #fff; color: var(--ink); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.hint { color: var(--muted); font-size: .9rem; margin: .25rem 0 .5rem; }
#feed { max-height: 32rem; overflow-y: auto; border-top: 1px solid var(--line); }
#feed li { padding: .4rem 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
#feed li[hidden] { display: none; }
.meta { color: var(--muted); font-size: .88rem; }
.topic { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .25rem .4rem .25rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
td.n, th.n { text-align: right; }
.table-wrap { overflow-x: auto; }
#problems li { color: var(--bad); font-weight: 600; }
#problems li.ok { color: var(--good); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (prefers-reduced-motion: reduce) { * { transition: none !important; animation: none !important; scroll-behavior: auto !important; } }
</style>
</head>
<body>
<header>
  <h1>Timeline: live dashboard</h1>
  <p id="connection" role="status" aria-live="polite">Connecting…</p>
</header>
<main>
  <section aria-labelledby="totals-title">
    <h2 id="totals-title">Totals</h2>
    <dl class="totals">
      <div><dt>Events</dt><dd id="total-events">0</dd></div>
      <div><dt>Visits</dt><dd id="total-visits">0</dd></div>
      <div><dt>Behind the broker</dt><dd id="own-lag">0</dd></div>
    </dl>
    <h3 class="visually-hidden">Visits per direction</h3>
    <ul id="directions" class="plain" aria-label="Visits per direction" tabindex="0"></ul>
  </section>
  <section aria-labelledby="chart-title">
    <h2 id="chart-title">Visits per decade and direction</h2>
    <ul id="legend" class="plain" aria-hidden="true"></ul>
    <svg id="chart" viewBox="0 0 400 220" role="img" aria-labelledby="chart-title chart-desc">
      <desc id="chart-desc">No visits yet.</desc>
    </svg>
  </section>
  <section aria-labelledby="health-title">
    <h2 id="health-title">Pipeline health</h2>
    <ul id="problems" class="plain" aria-live="polite"><li class="ok">Waiting for the first reading…</li></ul>
    <h3>Brokers</h3>
    <div class="table-wrap"><table id="brokers">
      <thead><tr><th scope="col">Broker</th><th scope="col">Role, state</th><th scope="col" class="n">Log</th><th scope="col" class="n">Accepted/s</th></tr></thead>
      <tbody></tbody></table></div>
    <h3>Consumers</h3>
    <div class="table-wrap"><table id="consumers">
      <thead><tr><th scope="col">Consumer</th><th scope="col" class="n">Position</th><th scope="col" class="n">Lag</th><th scope="col" class="n">Events/s</th></tr></thead>
      <tbody></tbody></table></div>
    <p class="meta" id="server"></p>
  </section>
  <section aria-labelledby="feed-title">
    <h2 id="feed-title">Live feed</h2>
    <label for="topic-filter">Filter by topic prefix</label>
    <input id="topic-filter" type="search" autocomplete="off" spellcheck="false" placeholder="e.g. visit.MN or visit.KP.MN" aria-describedby="feed-count">
    <p class="hint" id="feed-count">No events yet.</p>
    <ol id="feed" class="plain" aria-labelledby="feed-title" tabindex="0"></ol>
  </section>
</main>
<script>
"use strict";
const palette = ["#1f5fa8", "#b3471d", "#2e7d32", "#6a3d9a", "#8a6d00", "#00727a"];
const other = "#6b7078";
const svgNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let feedCapacity = 200, lastSequence = 0, feed = [];
const number = (n) => Number(n).toLocaleString("en");
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
function directionKey(d) { return d.from + "-" + d.to; }

function filterText() { return $("topic-filter").value.trim(); }
function matches(topic) { const f = filterText(); return f === "" || topic.startsWith(f); }
// Text is written only when it changes: the DOM (and whatever reads it out) is left alone otherwise.
function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
function updateCount() {
  const shown = feed.filter((item) => matches(item.topic)).length;
  setText($("feed-count"), feed.length === 0 ? "No events yet."
    : (filterText() === "" ? `Showing the ${feed.length} most recent events.` : `Showing ${shown} of the ${feed.length} most recent events.`));
}
// The x of a centred label `text` long, moved so that it stays within the chart.
function inside(x, text, left, right) { const half = String(text).length * 3.4; return Math.min(right - half, Math.max(left + half, x)); }
function feedNode(item) {
  const e = item.event, li = el("li");
  li.dataset.topic = item.topic;
  li.dataset.sequence = item.sequence;
  const who = [e.guest, e.host].filter(Boolean).join(" → ") || e.description || "";
  const line = el("div");
  line.append(el("strong", `${item.fromName} → ${item.toName}`), document.createTextNode(" " + who + (e.place ? " @ " + e.place : "")));
  const meta = el("div", "", "meta");
  meta.append(document.createTextNode(`${e.date} · ${item.kind.replace(/_/g, " ")} · #${item.sequence} · `), el("span", item.topic, "topic"));
  li.append(line, meta);
  li.hidden = !matches(item.topic);
  return li;
}
function addEvent(item) {
  if (item.sequence <= lastSequence) return;   // already in the state this page drew
  lastSequence = item.sequence;
  feed.unshift(item);
  const list = $("feed");
  list.insertBefore(feedNode(item), list.firstChild);
  while (feed.length > feedCapacity) { feed.pop(); list.removeChild(list.lastChild); }
}
function renderFeed() {
  const list = $("feed");
  list.replaceChildren(...feed.map(feedNode));
  updateCount();
}
function renderStats(s) {
  setText($("total-events"), number(s.totalEvents));
  setText($("total-visits"), number(s.totalVisits));
  setText($("own-lag"), number(s.lag));
  const directions = s.visitsByDirection;
  // The chart's series come with the stats: the directions with the most visits, one colour each,
  // and "*" for the rest together.
  const names = {};
  directions.forEach((d) => { names[directionKey(d)] = `${d.fromName} → ${d.toName}`; });
  const colour = {};
  s.chart.series.forEach((d, i) => { if (d.from !== "*") colour[directionKey(d)] = palette[i]; });
  const list = $("directions");
  list.replaceChildren(...directions.map((d) => {
    const li = el("li");
    li.dataset.from = d.from; li.dataset.to = d.to; li.dataset.count = d.count;
    const swatch = el("span", undefined, "swatch"); swatch.style.background = colour[directionKey(d)] || other; swatch.setAttribute("aria-hidden", "true");
    li.append(swatch, el("span", `${d.fromName} → ${d.toName}`), el("span", number(d.count), "count"));
    return li;
  }));
  if (directions.length === 0) list.append(el("li", "No visits yet.", "meta"));
  const series = s.chart.series.map((d) => d.from === "*" ? { from: "*", to: "*", name: "Other directions", colour: other }
    : { from: d.from, to: d.to, name: names[directionKey(d)] || directionKey(d), colour: colour[directionKey(d)] });
  $("legend").replaceChildren(...series.map((d) => {
    const li = el("li"); const swatch = el("span", undefined, "swatch"); swatch.style.background = d.colour;
    li.append(swatch, el("span", d.name)); return li;
  }));
  drawChart(s, series);
  updateCount();
}
function drawChart(s, series) {
  const svg = $("chart");
  const decades = s.chart.decades.map((row) => row.decade);
  const counts = s.chart.decades.map((row) => row.counts);
  const max = Math.max(1, ...counts.flat());
  const left = 8, right = 392, top = 16, bottom = 190, groups = Math.max(1, decades.length);
  const groupWidth = (right - left) / groups, barWidth = Math.max(2, (groupWidth - 6) / Math.max(1, series.length));
  const desc = document.createElementNS(svgNS, "desc"); desc.id = "chart-desc";
  const nodes = [desc];
  const summary = [];
  decades.forEach((decade, g) => {
    const parts = [];
    series.forEach((d, i) => {
      const count = counts[g][i] || 0;
      const h = Math.round((bottom - top) * count / max);
      const x = left + g * groupWidth + 3 + i * barWidth;
      const rect = document.createElementNS(svgNS, "rect");
      rect.setAttribute("x", x.toFixed(1)); rect.setAttribute("y", bottom - h); rect.setAttribute("width", Math.max(1, barWidth - 1).toFixed(1));
      rect.setAttribute("height", h); rect.setAttribute("fill", d.colour);
      rect.dataset.decade = decade; rect.dataset.from = d.from; rect.dataset.to = d.to; rect.dataset.count = count;
      const title = document.createElementNS(svgNS, "title"); title.textContent = `${decade}s, ${d.name}: ${count}`;
      rect.append(title);
      nodes.push(rect);
      if (count > 0 && barWidth >= 9) {
        const label = document.createElementNS(svgNS, "text");
        label.setAttribute("x", inside(x + barWidth / 2, count, 0, 400).toFixed(1)); label.setAttribute("y", bottom - h - 3); label.setAttribute("text-anchor", "middle");
        label.textContent = count;
        nodes.push(label);
      }
      if (count > 0) parts.push(`${d.name} ${count}`);
    });
    if (groupWidth >= 28 || g % Math.ceil(28 / groupWidth) === 0) {
      const axis = document.createElementNS(svgNS, "text");
      axis.setAttribute("x", inside(left + g * groupWidth + groupWidth / 2, decade + "s", 0, 400).toFixed(1)); axis.setAttribute("y", bottom + 16); axis.setAttribute("text-anchor", "middle");
      axis.textContent = decade + "s";
      nodes.push(axis);
    }
    summary.push(`${decade}s: ${parts.join(", ") || "none"}`);
  });
  const base = document.createElementNS(svgNS, "line");
  base.setAttribute("x1", left); base.setAttribute("x2", right); base.setAttribute("y1", bottom); base.setAttribute("y2", bottom); base.setAttribute("stroke", "#4a4a4a");
  nodes.push(base);
  desc.textContent = summary.length ? "Visits per decade. " + summary.join("; ") + "." : "No visits yet.";
  svg.replaceChildren(...nodes);
}
function cell(text, numeric) { const td = el("td", text); if (numeric) td.className = "n"; return td; }
function rate(value) { return value === null || value === undefined ? "–" : number(Math.round(value)); }
function renderHealth(h) {
  const server = h.server;
  setText($("server"), `This dashboard: ${server.clients} open stream(s), ${server.resyncs} resync(s) of slow clients.`);
  const p = h.pipeline;
  if (!p) return;
  $("brokers").tBodies[0].replaceChildren(...p.brokers.map((b) => {
    const tr = el("tr");
    const st = b.statistics;
    const role = !st ? "no answer" : (st.pair ? `${st.pair.role}, ${st.pair.state}` : "single");
    tr.append(cell(b.endpoint), cell(role), cell(st ? number(st.lastSequence) : "–", true), cell(rate(b.acceptedPerSecond), true));
    return tr;
  }));
  const consumers = $("consumers").tBodies[0];
  consumers.replaceChildren(...p.consumers.map((c) => {
    const tr = el("tr");
    tr.dataset.name = c.name;
    tr.append(cell(c.name), cell(number(c.position), true), cell(number(c.lag), true), cell(rate(c.perSecond), true));
    return tr;
  }));
  if (p.consumers.length === 0) { const tr = el("tr"); const td = el("td", "No consumer has reported a position yet.", "meta"); td.colSpan = 4; tr.append(td); consumers.append(tr); }
  // A live region: rebuilt only when what it says changes, so an unchanged reading is not announced again.
  const problems = p.problems.length ? p.problems : ["Healthy: nothing wrong."];
  const list = $("problems");
  if (list.dataset.said !== JSON.stringify(problems)) {
    list.dataset.said = JSON.stringify(problems);
    list.replaceChildren(...(p.problems.length ? p.problems.map((t) => el("li", t)) : [el("li", problems[0], "ok")]));
  }
}
function applyState(s) {
  feedCapacity = s.feedCapacity;
  feed = s.feed;
  lastSequence = s.sequence;
  renderFeed();
  renderStats(s.stats);
  renderHealth(s.health);
}
$("topic-filter").addEventListener("input", () => {
  for (const li of $("feed").children) li.hidden = !matches(li.dataset.topic);
  updateCount();
});
const source = new EventSource("events");
source.addEventListener("open", () => { $("connection").textContent = "Live"; });
source.addEventListener("error", () => { $("connection").textContent = "Disconnected: reconnecting…"; });
source.addEventListener("state", (e) => applyState(JSON.parse(e.data)));
source.addEventListener("event", (e) => addEvent(JSON.parse(e.data)));
source.addEventListener("stats", (e) => renderStats(JSON.parse(e.data)));
source.addEventListener("health", (e) => renderHealth(JSON.parse(e.data)));
</script>
</body>
</html>
"""#
}
