"use strict";
// The jobrelay dashboard: one page, live through /api/events, no build step.

const STATES = ["pending", "assigned", "running", "succeeded", "failed", "cancelled"];
const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const PAGE = 50;
const SERIES = [
  { key: "created", label: "created", color: "#4f46e5" },
  { key: "finished", label: "finished", color: "#059669" },
  { key: "failed", label: "failed", color: "#dc2626" },
];

const view = {
  snapshot: null,
  rows: new Map(),
  next: null,
  keep: PAGE,
  filters: { state: "", node: "", kind: "", search: "" },
  job: null,
  ticks: 0,
};

// ---- helpers ----------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "style") el.style.cssText = value; // CSSOM: allowed by the page's CSP
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (selector) => document.querySelector(selector);

function svg(tag, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, String(value));
  return el;
}

async function api(path, options) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return body;
}

function age(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
  seconds = Math.max(seconds, 0);
  if (seconds < 1) return "just now";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function clock(epoch) {
  if (!epoch) return "—";
  const date = new Date(epoch * 1000);
  return date.toLocaleString(undefined, { hour12: false }) + "." + String(date.getMilliseconds()).padStart(3, "0");
}

function rate(value) {
  if (value === null || value === undefined) return "—";
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

const now = () => (view.snapshot ? view.snapshot.at : Date.now() / 1000);
const badge = (state) => h("span", { class: `badge s-${state}` }, state);
const shortId = (id) => (id.length > 14 ? id.slice(0, 6) + "…" + id.slice(-6) : id);

function toast(message, bad) {
  const el = $("#toast");
  el.textContent = message;
  el.className = bad ? "toast bad" : "toast";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 5000);
}

// ---- live feed ----------------------------------------------------------------

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => setConn("live", "live"));
  source.addEventListener("error", () => setConn("down", "reconnecting"));
  source.addEventListener("snapshot", (event) => onSnapshot(JSON.parse(event.data)));
}

function setConn(state, text) {
  const el = $("#conn");
  el.dataset.state = state;
  el.lastElementChild.textContent = text;
}

function onSnapshot(snapshot) {
  const banner = $("#banner");
  banner.hidden = !snapshot.error;
  if (snapshot.error) {
    banner.textContent = `The state cannot be read right now: ${snapshot.error}`;
    setConn("down", "no data");
    return;
  }
  setConn("live", "live");
  view.snapshot = snapshot;
  view.ticks += 1;
  renderCards(snapshot.stats);
  renderRates(snapshot.stats.rates);
  renderNodes(snapshot.nodes);
  renderSchedulers(snapshot.schedulers);
  mergeJobs(snapshot.jobs);
  refreshJob(snapshot.jobs);
}

// ---- cards and chart -----------------------------------------------------------

function renderCards(stats) {
  const cards = STATES.map((state) =>
    h("div", { class: `card c-${state}`, "data-state": state },
      h("div", { class: "card-label" }, state),
      h("div", { class: "card-value" }, (stats.states[state] || 0).toLocaleString())));
  const created = stats.counters.created || 0;
  cards.push(h("div", { class: "card c-total" },
    h("div", { class: "card-label" }, "created total"),
    h("div", { class: "card-value" }, created.toLocaleString())));
  $("#cards").replaceChildren(...cards);
}

function renderRates(rates) {
  $("#legend").replaceChildren(...SERIES.map((s) =>
    h("span", { class: "legend-item" }, h("i", { style: `background:${s.color}` }),
      s.label, h("b", {}, rate(rates[`${s.key}_per_s`])), h("small", {}, "/s"))));
  drawChart($("#chart"), rates.history || []);
}

function drawChart(el, points) {
  const width = Math.max(el.clientWidth, 300), height = 160, top = 10, bottom = 18, left = 40;
  el.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const peak = Math.max(1, ...points.flatMap((p) => SERIES.map((s) => p[s.key])));
  const scale = niceCeil(peak);
  const y = (v) => top + (height - top - bottom) * (1 - v / scale);
  const span = Math.max(points.length - 1, 1);
  const x = (i) => left + (width - left - 6) * (i / span);
  const parts = [];
  for (const tick of [0, scale / 2, scale]) {
    parts.push(svg("line", { x1: left, x2: width, y1: y(tick), y2: y(tick), class: "grid" }));
    const label = svg("text", { x: left - 6, y: y(tick) + 4, class: "axis", "text-anchor": "end" });
    label.textContent = rate(tick);
    parts.push(label);
  }
  if (points.length < 2) {
    const note = svg("text", { x: width / 2, y: height / 2, class: "axis", "text-anchor": "middle" });
    note.textContent = "collecting samples…";
    parts.push(note);
  }
  for (const s of SERIES) {
    if (points.length < 2) break;
    const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p[s.key]).toFixed(1)}`);
    if (s.key === "created") {
      const area = `${path.join("")}L${x(points.length - 1)},${y(0)}L${x(0)},${y(0)}Z`;
      parts.push(svg("path", { d: area, fill: s.color, opacity: 0.08 }));
    }
    parts.push(svg("path", { d: path.join(""), stroke: s.color, fill: "none", "stroke-width": 2,
      "vector-effect": "non-scaling-stroke", "stroke-linejoin": "round" }));
  }
  const caption = svg("text", { x: width - 6, y: height - 4, class: "axis", "text-anchor": "end" });
  caption.textContent = points.length ? `last ${points.length} samples · jobs per second` : "";
  parts.push(caption);
  el.replaceChildren(...parts);
}

function niceCeil(value) {
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

// ---- nodes -----------------------------------------------------------------------

function renderNodes(nodes) {
  $("#node-count").textContent = nodes.length ? String(nodes.length) : "";
  const rows = nodes.map((node) => h("tr", { "data-node": node.node_id },
    h("td", {}, h("div", { class: "strong mono" }, node.node_id),
      node.hostname ? h("div", { class: "muted small" }, node.hostname) : null),
    h("td", {}, h("span", { class: `badge n-${node.status}` }, node.status),
      node.restarts ? h("div", { class: "muted small", title: "times its agent process started again" },
        `${node.restarts} restart${node.restarts === 1 ? "" : "s"}`) : null),
    h("td", {}, chips(node.capabilities)),
    h("td", {}, chips(Object.entries(node.labels).map(([k, v]) => `${k}=${v}`), "label")),
    h("td", {}, slotsBar(node)),
    h("td", { class: "small" }, `${Math.round(node.cpu_percent)}% / ${Math.round(node.memory_percent)}%`),
    h("td", { class: "small nowrap" }, age(now() - node.last_seen)),
    h("td", { class: "actions" }, node.status === "offline" ? null :
      h("button", { class: "btn small", type: "button",
        onclick: () => drain(node.node_id, !node.draining) }, node.draining ? "Resume" : "Drain"))));
  if (!rows.length) rows.push(emptyRow(8, "No node has sent a heartbeat yet."));
  $("#nodes tbody").replaceChildren(...rows);
  fillNodeFilter(nodes);
}

function chips(items, kind) {
  if (!items.length) return h("span", { class: "muted" }, "—");
  return h("div", { class: "chips" }, items.map((item) => h("span", { class: `chip ${kind || ""}` }, item)));
}

function slotsBar(node) {
  const total = Math.max(node.slots, 1);
  const free = Math.max(node.slots - node.running - node.reserved, 0);
  const part = (cls, n) => h("span", { class: cls, style: `width:${(100 * n) / total}%` });
  return h("div", { class: "slots", title: `${node.running} running, ${node.reserved} reserved, ${free} free` },
    h("div", { class: "bar" }, part("running", node.running), part("reserved", node.reserved)),
    h("span", { class: "small nowrap" }, `${node.running + node.reserved}/${node.slots}`,
      node.reserved ? h("span", { class: "muted" }, ` (${node.reserved} reserved)`) : null));
}

function fillNodeFilter(nodes) {
  const select = $("#filters [name=node]");
  const known = new Set([...select.options].map((o) => o.value));
  for (const node of nodes) if (!known.has(node.node_id)) select.append(h("option", {}, node.node_id));
}

async function drain(nodeId, draining) {
  try {
    await api(`/api/nodes/${encodeURIComponent(nodeId)}/drain?draining=${draining}`, { method: "POST" });
    toast(draining ? `Node ${nodeId} is draining.` : `Node ${nodeId} takes jobs again.`);
  } catch (error) {
    toast(error.message, true);
  }
}

// ---- scheduler workers -------------------------------------------------------------

function renderSchedulers(workers) {
  $("#scheduler-count").textContent = workers.length ? String(workers.length) : "";
  const rows = workers.map((worker) => h("tr", { "data-scheduler": worker.name, "data-status": worker.status },
    h("td", { class: "strong mono" }, worker.name),
    h("td", { class: "small" }, worker.hostname),
    h("td", { class: "num mono small" }, String(worker.pid)),
    h("td", { class: "small" }, worker.mode),
    h("td", { class: "small nowrap" }, `${worker.pool} × ${worker.concurrency}`),
    h("td", {}, h("span", { class: `badge n-${worker.status}` }, worker.status)),
    h("td", {}, worker.sweeping
      ? h("span", { class: "chip sweep", title: "runs the sweep: timeouts, lost nodes, backlog" }, "sweeping")
      : h("span", { class: "muted" }, "—")),
    h("td", { class: "small nowrap", title: clock(worker.last_seen) }, age(worker.heartbeat_age_s))));
  if (!rows.length) rows.push(emptyRow(8, "No scheduler worker has described itself yet."));
  $("#schedulers tbody").replaceChildren(...rows);
}

// ---- jobs table --------------------------------------------------------------------

function matches(job) {
  const f = view.filters;
  if (f.state && job.state !== f.state) return false;
  if (f.node && job.node_id !== f.node) return false;
  if (f.kind && job.kind !== f.kind) return false;
  return !f.search || job.job_id === f.search || job.request_id === f.search;
}

async function loadJobs(append) {
  const params = new URLSearchParams({ limit: String(PAGE), brief: "true" });
  for (const [name, value] of Object.entries(view.filters)) if (value) params.set(name, value);
  if (append && view.next) params.set("before", view.next);
  try {
    const page = await api(`/api/jobs?${params}`);
    if (!append) view.rows.clear();
    for (const job of page.jobs) view.rows.set(job.job_id, job);
    view.keep = append ? view.keep + PAGE : PAGE;
    view.next = page.next;
    renderJobs();
  } catch (error) {
    toast(error.message, true);
  }
}

function mergeJobs(jobs) {
  for (const job of jobs) {
    if (view.rows.has(job.job_id) || matches(job)) view.rows.set(job.job_id, job);
  }
  const ids = [...view.rows.keys()].sort().reverse();
  if (ids.length > view.keep) {
    for (const id of ids.slice(view.keep)) view.rows.delete(id);
    view.next = ids[view.keep - 1];
  }
  renderJobs();
}

function renderJobs() {
  const jobs = [...view.rows.values()].sort((a, b) => (a.job_id < b.job_id ? 1 : -1));
  const rows = jobs.map((job) => h("tr", { "data-job": job.job_id, "data-state": job.state, class: "link-row",
      onclick: (event) => { if (!event.target.closest("a")) go(`/jobs/${job.job_id}`); } },
    h("td", {}, h("a", { href: `/jobs/${job.job_id}`, "data-route": true, class: "mono", title: job.job_id }, shortId(job.job_id))),
    h("td", { class: "mono small", title: job.request_id }, job.request_id),
    h("td", {}, job.kind),
    h("td", {}, badge(job.state)),
    h("td", { class: "mono small" }, job.node_id || h("span", { class: "muted" }, "—")),
    h("td", { class: "num" }, String(job.attempt)),
    h("td", { class: "small nowrap", title: clock(job.created_at) }, age(now() - job.created_at)),
    h("td", { class: "small nowrap", title: clock(job.updated_at) }, age(now() - job.updated_at))));
  if (!rows.length) rows.push(emptyRow(8, anyFilter() ? "No job matches these filters." : "No jobs yet."));
  $("#jobs tbody").replaceChildren(...rows);
  $("#jobs-info").textContent = jobs.length ? `${jobs.length} shown, newest first` : "";
  $("#more").hidden = !view.next;
}

const anyFilter = () => Object.values(view.filters).some(Boolean);
const emptyRow = (span, text) => h("tr", { class: "empty" }, h("td", { colspan: span }, text));

function watchFilters() {
  const form = $("#filters");
  let timer = null;
  const apply = () => {
    const data = new FormData(form);
    for (const name of Object.keys(view.filters)) view.filters[name] = String(data.get(name) || "").trim();
    loadJobs(false);
  };
  form.addEventListener("change", apply);
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(apply, 300); });
  form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  $("#more").addEventListener("click", () => loadJobs(true));
}

// ---- job page -------------------------------------------------------------------------

async function showJob(jobId) {
  view.job = { job_id: jobId, loading: true };
  $("#job").replaceChildren(h("p", { class: "muted" }, "Loading…"));
  await fetchJob(jobId);
}

async function fetchJob(jobId) {
  try {
    const job = await api(`/api/jobs/${encodeURIComponent(jobId)}`);
    if (!view.job || view.job.job_id !== jobId) return;
    view.job = job;
    renderJob(job);
  } catch (error) {
    $("#job").replaceChildren(h("div", { class: "panel notice" }, error.message));
  }
}

function refreshJob(feedJobs) {
  const shown = view.job;
  if (!shown || shown.loading || $("#jobview").hidden) return;
  const fresh = feedJobs.find((job) => job.job_id === shown.job_id);
  const stale = fresh ? fresh.updated_at !== shown.updated_at : !FINAL.has(shown.state) && view.ticks % 3 === 0;
  if (stale) fetchJob(shown.job_id);
  else renderJob(shown);
}

function renderJob(job) {
  const waited = job.started_at ? job.started_at - job.created_at : null;
  const ran = job.started_at && job.finished_at ? job.finished_at - job.started_at : null;
  const head = h("div", { class: "job-head" },
    h("div", {}, h("div", { class: "muted small" }, "Job"), h("h1", { class: "mono" }, job.job_id)),
    h("div", { class: "job-head-right" }, badge(job.state),
      FINAL.has(job.state) ? null : h("button", { class: "btn danger", type: "button", onclick: () => cancel(job.job_id) }, "Cancel")));
  const facts = h("section", { class: "panel" }, h("h2", {}, "Placement"), grid([
    ["Request", h("span", { class: "mono" }, job.request_id)],
    ["Kind", job.kind],
    ["Node", job.node_id ? h("span", { class: "mono" }, job.node_id) : h("span", { class: "muted" }, "none yet")],
    ["Attempt", `${job.attempt} of ${job.max_attempts}`],
    ["Tried nodes", chips(job.tried_nodes)],
    ["Priority", String(job.priority)],
    ["Requires", chips(job.requires)],
    ["Selector", chips(Object.entries(job.selector).map(([k, v]) => `${k}=${v}`), "label")],
    ["Preferred node", job.preferred_node ? h("span", { class: "mono" }, job.preferred_node) : h("span", { class: "muted" }, "—")],
    ["Excluded nodes", chips(job.exclude_nodes)],
    ["Timeout", job.timeout_s ? duration(job.timeout_s) : "none"],
  ]));
  const times = h("section", { class: "panel" }, h("h2", {}, "Timings"), grid([
    ["Created", clock(job.created_at)],
    ["Assigned", clock(job.assigned_at)],
    ["Started", clock(job.started_at)],
    ["Finished", clock(job.finished_at)],
    ["Waited", duration(waited)],
    ["Ran", duration(ran)],
    ["Last change", `${clock(job.updated_at)} (${age(now() - job.updated_at)})`],
  ]));
  const outcome = h("section", { class: "panel" }, h("h2", {}, "Outcome"), outcomeOf(job));
  $("#job").replaceChildren(head, h("div", { class: "job-grid" }, facts, times), outcome);
}

function outcomeOf(job) {
  const parts = [];
  if (job.explanation) {
    parts.push(h("div", { class: "explain" }, h("div", { class: "muted small" }, "Why it waited (selector)"), job.explanation));
  }
  if (job.error) parts.push(h("div", { class: "muted small" }, job.state === "pending" ? "Last requeue reason" : "Error"), h("pre", { class: "error" }, job.error));
  if (job.state === "succeeded") parts.push(h("div", { class: "muted small" }, "Result"), h("pre", {}, JSON.stringify(job.result, null, 2)));
  if (!parts.length) parts.push(h("p", { class: "muted" }, FINAL.has(job.state) ? "No result." : "Not finished yet."));
  return parts;
}

function grid(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

async function cancel(jobId) {
  try {
    view.job = await api(`/api/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST" });
    renderJob(view.job);
    toast(`Job ${jobId} is ${view.job.state}.`);
  } catch (error) {
    toast(error.message, true);
  }
}

// ---- routing ----------------------------------------------------------------------------

function go(path) {
  history.pushState(null, "", path);
  route();
}

function route() {
  const match = location.pathname.match(/^\/jobs\/([A-Za-z0-9._:-]{1,200})$/);
  $("#dashboard").hidden = Boolean(match);
  $("#jobview").hidden = !match;
  if (match) {
    document.title = `Job ${match[1]} · jobrelay`;
    showJob(match[1]);
  } else {
    document.title = "jobrelay monitor";
    view.job = null;
  }
}

function start() {
  // The server keeps a ?token= in an HttpOnly cookie; drop it from the address bar.
  const url = new URL(location.href);
  if (url.searchParams.has("token")) {
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-route]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    go(link.getAttribute("href"));
  });
  window.addEventListener("popstate", route);
  watchFilters();
  route();
  loadJobs(false);
  connect();
}

document.addEventListener("DOMContentLoaded", start);
