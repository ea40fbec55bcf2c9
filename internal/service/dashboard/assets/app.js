// The dashboard: one page per route of the URL's fragment, each polling
// the REST API under /v1/ and redrawing in place.

import { LineChart, shortNumber } from "./chart.js";
import { draw as drawGraph } from "./graph.js";

export const POLL_MS = 2000;

const main = document.getElementById("main");
const status = document.getElementById("status");

// h builds an element: h("td", {class: "num"}, "42").
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  return e;
}

class HTTPError extends Error {
  constructor(status, body) {
    const err = body && body.error;
    super(err && err.message ? err.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const text = await r.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = { error: { message: text } }; }
  }
  if (!r.ok) throw new HTTPError(r.status, data);
  return data;
}

const get = path => api("GET", path);

function setStatus(text, isError) {
  status.textContent = text;
  status.className = "status" + (isError ? " error" : "");
}

function badge(s) { return h("span", { class: "badge " + (s || "") }, s || "—"); }

function table(headers, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map(c => h("th", { scope: "col", class: c.num ? "num" : null }, c.label || c)))),
    h("tbody", {}, rows.length ? rows : [h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "none"))]));
}

function td(v, num) { return h("td", { class: num ? "num" : null }, v); }
function num(v) { return typeof v === "number" ? shortNumber(v) : (v ?? "—"); }
function dur(ms) {
  if (typeof ms !== "number") return "—";
  if (ms < 1000) return ms.toFixed(0) + " ms";
  return (ms / 1000).toFixed(1) + " s";
}
function bytes(b) {
  if (typeof b !== "number") return "—";
  if (b >= 1 << 30) return (b / (1 << 30)).toFixed(2) + " GiB";
  if (b >= 1 << 20) return (b / (1 << 20)).toFixed(1) + " MiB";
  if (b >= 1 << 10) return (b / (1 << 10)).toFixed(1) + " KiB";
  return b + " B";
}
function when(t) { return t ? new Date(t).toLocaleTimeString() : "—"; }
function link(href, text) { return h("a", { href }, text); }
function enc(s) { return encodeURIComponent(s); }

// rate turns successive counter readings into per-second rates.
class Rates {
  constructor() { this.last = new Map(); }
  rate(key, value, t) {
    const prev = this.last.get(key);
    this.last.set(key, { value, t });
    if (!prev || t <= prev.t || value < prev.value) return undefined;
    return (value - prev.value) / ((t - prev.t) / 1000);
  }
}

function errorBox(err) {
  return h("div", { class: "error-box", role: "alert" }, err.message || String(err));
}

// ---- pages --------------------------------------------------------------

async function overview() {
  const o = await get("/v1/overview");
  const byState = o.jobs || {};
  const total = Object.values(byState).reduce((a, b) => a + b, 0);
  const cards = [
    ["streams", o.streams], ["open shards", o.open_shards], ["delivery streams", o.delivery_streams],
    ["jobs", total], ["jobs running", byState.RUNNING || 0], ["jobs failed", byState.FAILED || 0],
  ].filter(c => c[1] !== undefined);
  const jobs = await get("/v1/jobs");
  return [
    h("h1", {}, "Overview"),
    h("div", { class: "cards" }, cards.map(([label, v]) =>
      h("div", { class: "card" }, h("div", { class: "value" }, num(v)), h("div", { class: "label" }, label)))),
    h("h2", {}, "Jobs"),
    jobsTable(jobs.jobs || []),
  ];
}

function jobsTable(jobs) {
  return table(["Job", "Name", "Kind", "Status", { label: "Restarts", num: true }, "Started"],
    jobs.map(j => h("tr", {}, td(link("#/jobs/" + enc(j.id), j.id)), td(j.name), td(j.kind), td(badge(j.state)),
      td(num(j.restarts), true), td(when(j.started)))));
}

function streams() {
  const rates = new Rates();
  return async () => {
    const s = await get("/v1/streams");
    const t = Date.now();
    return [
      h("h1", {}, "Streams"),
      table(["Stream", "Status", "Mode", { label: "Open shards", num: true }, { label: "Records in", num: true }, { label: "Records in /s", num: true }, { label: "Bytes in /s", num: true }, "Retention"],
        (s.streams || []).map(st => h("tr", {}, td(link("#/streams/" + enc(st.name), st.name)), td(badge(st.status)), td(st.mode),
          td(num(st.open_shards), true), td(num(st.records_in), true), td(num(rates.rate("r" + st.name, st.records_in, t)), true),
          td(num(rates.rate("b" + st.name, st.bytes_in, t)), true),
          td(st.retention_hours !== undefined ? st.retention_hours + " h" : "—")))),
    ];
  };
}

function streamPage(name) {
  const chart = new LineChart({ title: "Incoming records per second, by open shard", unit: "/s" });
  const lag = new LineChart({ title: "Readers' lag (ms behind the tip), by consumer and polling shard", unit: " ms" });
  return async () => {
    const st = await get("/v1/streams/" + enc(name));
    const t = Date.now();
    const perShard = {};
    for (const sh of st.shards || []) if (sh.open) perShard[sh.id] = sh.records_per_second ?? 0;
    chart.push(t, perShard);
    const lags = {};
    for (const c of st.consumers || []) if (typeof c.millis_behind_latest === "number") lags[c.name] = c.millis_behind_latest;
    for (const sh of st.shards || []) if (typeof sh.millis_behind_latest === "number") lags["GetRecords " + sh.id] = sh.millis_behind_latest;
    lag.push(t, lags);
    return [
      h("h1", {}, "Stream ", name, " ", badge(st.status)),
      h("div", { class: "charts" }, chart.element, lag.element),
      h("h2", {}, "Shards"),
      table(["Shard", "State", "Hash key range", { label: "Records in /s", num: true }, { label: "Bytes in /s", num: true }, { label: "GetRecords ms behind", num: true }, "Parents"],
        (st.shards || []).map(sh => h("tr", {}, td(sh.id), td(badge(sh.open ? "OPEN" : "CLOSED")),
          td(h("small", {}, (sh.hash_key_start ?? "") + " – " + (sh.hash_key_end ?? ""))),
          td(num(sh.records_per_second), true), td(num(sh.bytes_per_second), true), td(num(sh.millis_behind_latest), true),
          td([sh.parent, sh.adjacent_parent].filter(Boolean).join(", "))))),
      h("h2", {}, "Consumers"),
      table(["Consumer", "Status", "Registered", { label: "Millis behind latest", num: true }],
        (st.consumers || []).map(c => h("tr", {}, td(c.name), td(badge(c.status)), td(when(c.created)), td(num(c.millis_behind_latest), true)))),
      (st.damage && st.damage.length) ? [h("h2", {}, "Damaged ranges"),
        h("p", {}, "Reads stop at these until an operator runs sluice log repair."),
        h("ul", {}, st.damage.map(d => h("li", {}, d.description)))] : null,
    ];
  };
}

async function deliveryStreams() {
  const d = await get("/v1/delivery-streams");
  return [
    h("h1", {}, "Delivery streams"),
    table(["Delivery stream", "Status", "Source", "Destination", { label: "Buffered", num: true }, { label: "Objects delivered", num: true }, { label: "Failures", num: true }],
      (d.delivery_streams || []).map(ds => h("tr", {}, td(link("#/delivery-streams/" + enc(ds.name), ds.name)), td(badge(ds.status)),
        td(ds.source), td(ds.destination), td(bytes(ds.buffered_bytes), true), td(num(ds.objects_delivered), true), td(num(ds.failures), true)))),
  ];
}

function deliveryStreamPage(name) {
  const chart = new LineChart({ title: "Buffered bytes", unit: " B" });
  return async () => {
    const ds = await get("/v1/delivery-streams/" + enc(name));
    chart.push(Date.now(), { buffered: ds.buffered_bytes ?? 0 });
    const rows = Object.entries(ds).filter(([, v]) => typeof v !== "object").map(([k, v]) => h("tr", {}, td(k), td(String(v))));
    return [
      h("h1", {}, "Delivery stream ", name, " ", badge(ds.status)),
      h("div", { class: "charts" }, chart.element),
      h("h2", {}, "Details"),
      table(["Field", "Value"], rows),
    ];
  };
}

async function jobs() {
  const j = await get("/v1/jobs");
  return [h("h1", {}, "Jobs"), h("p", {}, link("#/sql", "Submit a SQL pipeline")), jobsTable(j.jobs || [])];
}

function jobPage(id) {
  const throughput = new LineChart({ title: "Records out per second, by operator", unit: "/s" });
  const watermark = new LineChart({ title: "Watermark lag (ms behind the wall clock)", unit: " ms" });
  const rates = new Rates();
  const busyRates = new Rates();
  let notice = null;
  const action = async (what, body) => {
    try {
      const r = await api("POST", "/v1/jobs/" + enc(id) + "/" + what, body);
      notice = h("p", { role: "status" }, what + ": " + (r && (r.path || r.state) ? (r.path || r.state) : "done"));
    } catch (e) {
      notice = errorBox(e);
    }
  };
  return async () => {
    const j = await get("/v1/jobs/" + enc(id));
    const t = Date.now();
    const g = j.graph || { nodes: [], edges: [] };
    const perOp = new Map();
    for (const o of j.operators || []) {
      perOp.set(o.id, { in: o.records_in || 0, out: o.records_out || 0, bp: o.backpressured_ms || 0, idle: o.idle_ms || 0,
        n: Math.max(1, (o.subtasks || []).length), lag: o.watermark_lag_ms });
    }
    const outRates = {}, wmLag = {};
    const ops = (g.nodes || []).map(o => {
      const m = perOp.get(o.id) || { in: 0, out: 0, bp: 0, idle: 0, n: 1, lag: null };
      const r = rates.rate(o.id, m.out, t);
      if (r !== undefined && o.kind !== "sink") outRates[o.name] = r;
      if (typeof m.lag === "number") wmLag[o.name] = Math.max(0, m.lag);
      // Busy and backpressured as shares of the last interval's time.
      const bpRate = busyRates.rate("bp" + o.id, m.bp, t);
      const idleRate = busyRates.rate("idle" + o.id, m.idle, t);
      const share = v => v === undefined ? 0 : Math.min(1, v / 1000 / Math.max(1, m.n));
      const backpressured = share(bpRate), idle = share(idleRate);
      return { id: o.id, name: o.name, kind: o.kind, parallelism: o.parallelism, recordsIn: m.in, recordsOut: m.out,
        backpressured, busy: Math.max(0, 1 - idle - backpressured) };
    });
    throughput.push(t, outRates);
    watermark.push(t, wmLag);
    const graphEl = drawGraph(ops, g.edges || []);
    const cps = (j.checkpoints && j.checkpoints.history) || [];
    return [
      h("h1", {}, "Job ", j.name || id, " ", badge(j.state)),
      h("div", { class: "row" },
        h("span", { class: "muted" }, `id ${j.id} · ${j.kind || ""} · restarts ${j.restarts ?? 0}`),
        h("button", { type: "button", onclick: () => action("savepoint") }, "Take savepoint"),
        h("button", { type: "button", class: "secondary", onclick: () => action("stop", { savepoint: true }) }, "Stop with savepoint")),
      notice,
      h("h2", {}, "Graph"),
      h("div", { class: "graph-wrap" }, graphEl),
      h("div", { class: "legend" }, h("span", {}, "colour: "),
        h("span", {}, h("i", { class: "sw-idle" }), "idle"),
        h("span", {}, h("i", { class: "sw-busy" }), "busy"),
        h("span", {}, h("i", { class: "sw-bp" }), "backpressured")),
      h("div", { class: "charts" }, throughput.element, watermark.element),
      h("h2", {}, "Operators"),
      table(["Operator", "Kind", { label: "Parallelism", num: true }, { label: "Records in", num: true }, { label: "Records out", num: true }, { label: "Backpressured", num: true }],
        ops.map(o => h("tr", {}, td(o.name), td(o.kind), td(o.parallelism, true), td(num(o.recordsIn), true), td(num(o.recordsOut), true),
          td(Math.round(o.backpressured * 100) + "%", true)))),
      h("h2", {}, "Checkpoints"),
      table([{ label: "Id", num: true }, "Completed", { label: "Duration", num: true }, { label: "Size", num: true }, { label: "Alignment", num: true }],
        cps.slice().reverse().slice(0, 20).map(c => h("tr", {}, td(c.id, true), td(when(c.completed)), td(dur(c.duration_ms), true),
          td(bytes(c.size_bytes), true), td(dur(c.alignment_ms), true)))),
      (j.exceptions && j.exceptions.length) ? [h("h2", {}, "Exceptions"),
        j.exceptions.map(e => h("div", { class: "error-box" }, when(e.time) + "  " + (e.message || "")))] : null,
    ];
  };
}

function sqlEditor() {
  const text = h("textarea", { id: "sql-text", "aria-label": "SQL pipeline", spellcheck: "false" },
    "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10');\n" +
    "CREATE TABLE snk (id BIGINT) WITH ('connector' = 'blackhole');\n" +
    "INSERT INTO snk SELECT id FROM src;\n");
  const name = h("input", { type: "text", id: "sql-name", "aria-label": "Job name", placeholder: "job name (optional)" });
  const out = h("div", { id: "sql-result", "aria-live": "polite" });
  const submit = async () => {
    out.textContent = "";
    try {
      const body = { sql: text.value };
      if (name.value.trim()) body.name = name.value.trim();
      const r = await api("POST", "/v1/jobs", body);
      location.hash = "#/jobs/" + enc(r.id);
    } catch (e) {
      out.appendChild(errorBox(e));
    }
  };
  const page = [
    h("h1", {}, "SQL editor"),
    h("p", { class: "muted" }, "A pipeline in Flink's SQL dialect, run as a job of this server."),
    text,
    h("div", { class: "row" }, name, h("button", { type: "button", id: "sql-submit", onclick: submit }, "Submit")),
    out,
  ];
  return { once: page };
}

// ---- routing ------------------------------------------------------------

function route() {
  const parts = (location.hash.replace(/^#\/?/, "") || "").split("/").map(decodeURIComponent);
  switch (parts[0]) {
    case "": return { section: "overview", poll: overview };
    case "streams": return { section: "streams", poll: parts[1] ? streamPage(parts[1]) : streams() };
    case "delivery-streams": return parts[1] ? { section: "delivery-streams", poll: deliveryStreamPage(parts[1]) } : { section: "delivery-streams", poll: deliveryStreams };
    case "jobs": return parts[1] ? { section: "jobs", poll: jobPage(parts[1]) } : { section: "jobs", poll: jobs };
    case "sql": return { section: "sql", ...sqlEditor() };
  }
  return { section: "", once: [h("h1", {}, "Not found"), h("p", {}, "No page at ", location.hash, ". ", link("#/", "Overview"))] };
}

let current = 0;

async function show() {
  const gen = ++current;
  const r = route();
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.section === r.section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (r.once) {
    main.replaceChildren(...r.once.flat().filter(Boolean));
    setStatus("");
    return;
  }
  const tick = async () => {
    if (gen !== current) return;
    try {
      const content = await r.poll();
      if (gen !== current) return;
      const focused = document.activeElement && main.contains(document.activeElement) ? document.activeElement.textContent : null;
      main.replaceChildren(...content.flat().filter(Boolean));
      if (focused) {
        for (const b of main.querySelectorAll("button")) if (b.textContent === focused) { b.focus(); break; }
      }
      setStatus("updated " + new Date().toLocaleTimeString());
    } catch (e) {
      if (gen !== current) return;
      if (e instanceof HTTPError && e.status === 404) {
        main.replaceChildren(h("h1", {}, "Not found"), errorBox(e));
      } else {
        setStatus("cannot reach the server: " + e.message, true);
      }
    }
    if (gen === current) setTimeout(tick, POLL_MS);
  };
  await tick();
}

window.addEventListener("hashchange", show);
show();
