// Figures: charts drawn as inline SVG (no chart library): cases by state per grid, alerts by hazard
// over time, false-alarm rate per camera, and the closed-loop figures of each grid.
import { api, h, label, query } from "../api.js";
import { STATES } from "../cases.js";

const NS = "http://www.w3.org/2000/svg";
const W = 800;
const PALETTE = ["#1f6feb", "#bf8700", "#cf222e", "#1a7f37", "#8250df", "#0a7ea4", "#e16f24", "#6e7781", "#bf3989", "#57606a", "#2da44e"];
// The loop in blues and greens as it advances; side states stand out.
const STATE_COLOUR = {
  reported: "#9ecbff", registered: "#54aeff", dispatched: "#0969da", accepted: "#8250df", in_progress: "#bf8700",
  resolved: "#4ac26b", verified: "#1a7f37", closed: "#116329", escalated: "#cf222e", reopened: "#e16f24", dismissed: "#8c959f",
};
const PERIODS = { 1: "last 24 hours", 7: "last 7 days", 30: "last 30 days", 90: "last 90 days" };

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function chart(id, height, title, ...children) {
  return s("svg", { id, class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": title }, s("title", {}, title), ...children);
}

function legend(entries) {
  return h("ul", { class: "legend" }, entries.map(([name, colour]) =>
    h("li", {}, h("span", { class: "swatch", style: `background:${colour}` }), label(name))));
}

// Run `work` over `items` with at most `n` at a time (a site may have a hundred grids).
async function pool(items, n, work) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await work(items[i]); }
  }));
  return out;
}

function gridsOf(tree) {
  const grids = [];
  const walk = (n) => { for (const g of n.grids) grids.push(g); n.children.forEach(walk); };
  tree.forEach(walk);
  return grids;
}

// Horizontal stacked bars: rows of {name, parts: [[key, value], ...]}.
function stackedRows(id, title, rows, colourOf) {
  const left = 150, right = 60, row = 26;
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((n, [, v]) => n + v, 0)));
  const scale = (W - left - right) / max;
  const height = rows.length * row + 10;
  return chart(id, height, title, rows.map((r, i) => {
    let x = left;
    const y = 5 + i * row;
    const total = r.parts.reduce((n, [, v]) => n + v, 0);
    const bars = r.parts.filter(([, v]) => v > 0).map(([key, v]) => {
      const rect = s("rect", { x, y, width: Math.max(v * scale, 1), height: row - 8, fill: colourOf(key), "data-key": key, "data-value": v },
        s("title", {}, `${r.name}: ${v} ${label(key)}`));
      x += v * scale;
      return rect;
    });
    return s("g", { "data-row": r.name, "data-total": total },
      s("text", { x: left - 8, y: y + row / 2, "text-anchor": "end", class: "chart-label" }, r.name),
      bars,
      s("text", { x: x + 6, y: y + row / 2, class: "chart-value" }, total));
  }));
}

// Stacked columns over time: buckets of {start, counts: {key: n}}.
function stackedColumns(id, title, buckets, keys, colourOf, fmt) {
  const left = 40, bottom = 30, top = 10, height = 260;
  const max = Math.max(1, ...buckets.map((b) => keys.reduce((n, k) => n + (b.counts[k] || 0), 0)));
  const plotH = height - top - bottom;
  const step = (W - left - 10) / Math.max(1, buckets.length);
  const every = Math.ceil(buckets.length / 10);
  const ticks = [0, Math.ceil(max / 2), max].filter((v, i, a) => a.indexOf(v) === i);
  return chart(id, height, title,
    ticks.map((t) => {
      const y = top + plotH - (t / max) * plotH;
      return s("g", {}, s("line", { x1: left, x2: W - 10, y1: y, y2: y, class: "chart-grid" }),
        s("text", { x: left - 6, y, "text-anchor": "end", class: "chart-label" }, t));
    }),
    buckets.map((b, i) => {
      let y = top + plotH;
      const x = left + i * step + step * 0.1;
      const parts = keys.filter((k) => b.counts[k]).map((k) => {
        const hgt = (b.counts[k] / max) * plotH;
        y -= hgt;
        return s("rect", { x, y, width: Math.max(step * 0.8, 1), height: hgt, fill: colourOf(k), "data-key": k, "data-value": b.counts[k] },
          s("title", {}, `${fmt(b.start)}: ${b.counts[k]} ${label(k)}`));
      });
      return s("g", { "data-bucket": b.start.toISOString() }, parts,
        i % every === 0 ? s("text", { x: x + step * 0.4, y: height - 10, "text-anchor": "middle", class: "chart-label" }, fmt(b.start)) : null);
    }));
}

function percent(v) { return v === null || v === undefined ? "—" : `${Math.round(v * 100)} %`; }
function duration(sec) {
  if (sec === null || sec === undefined) return "—";
  return sec >= 86400 ? `${(sec / 86400).toFixed(1)} d` : sec >= 3600 ? `${(sec / 3600).toFixed(1)} h` : `${Math.round(sec / 60)} min`;
}

export async function render(main) {
  const period = h("select", { id: "figures-period", "aria-label": "Period" },
    Object.entries(PERIODS).map(([d, t]) => h("option", { value: d, selected: d === "7" }, t)));
  const body = h("div", { id: "figures" });
  const tree = await api("/api/site/tree");
  const grids = gridsOf(tree);

  async function draw() {
    const days = Number(period.value);
    const until = new Date();
    const since = new Date(until.getTime() - days * 86400e3);
    const range = { since: since.toISOString(), until: until.toISOString() };
    // Alert buckets start at `since`: aligned to the local hour or midnight, they are local hours or days.
    const hourly = days <= 2;
    const start = new Date(since);
    if (hourly) start.setMinutes(0, 0, 0); else start.setHours(0, 0, 0, 0);
    const alertRange = { since: start.toISOString(), until: until.toISOString(), bucket: hourly ? "hour" : "day" };
    const [counts, alerts, perGrid, falseAlarms] = await Promise.all([
      pool(grids, 4, (g) => api(`/api/cases/counts${query({ grid_id: g.id })}`)),
      api(`/api/figures/alerts${query(alertRange)}`),
      api(`/api/figures${query({ level: "grid", ...range })}`),
      api(`/api/figures/false-alarms${query(range)}`),
    ]);

    // 1. cases by state per grid (as they stand now)
    const usedStates = STATES.filter((st) => counts.some((c) => c[st]));
    const byGrid = stackedRows("chart-case-states", "Cases by state per grid",
      grids.map((g, i) => ({ name: g.id, parts: STATES.map((st) => [st, counts[i][st] || 0]) })), (k) => STATE_COLOUR[k]);

    // 2. alerts by hazard over time (counted by the server)
    const buckets = alerts.buckets.map((b) => ({ start: new Date(b.start), counts: b.counts }));
    const hazards = alerts.hazards;
    const hazardColour = (k) => PALETTE[hazards.indexOf(k) % PALETTE.length];
    const fmt = hourly
      ? (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : (d) => d.toLocaleDateString([], { day: "numeric", month: "short" });
    const overTime = stackedColumns("chart-alert-hazards", "Alerts by hazard over time", buckets, hazards, hazardColour, fmt);

    // 3. false-alarm rate per camera: dismissed alerts / all alerts of the camera in the period
    const camRows = alerts.cameras.map((c) => ({ id: c.camera_id, name: c.camera_name, total: c.alerts, dismissed: c.dismissed }));
    const left = 150, row = 26;
    const rates = chart("chart-false-alarms", camRows.length * row + 10, "False-alarm rate per camera",
      camRows.map((c, i) => {
        const y = 5 + i * row;
        const rate = c.dismissed / c.total;
        const wdt = rate * (W - left - 140);
        return s("g", { "data-camera": c.id, "data-rate": rate.toFixed(3) },
          s("text", { x: left - 8, y: y + row / 2, "text-anchor": "end", class: "chart-label" }, c.id),
          s("rect", { x: left, y, width: W - left - 140, height: row - 8, class: "chart-track" }),
          s("rect", { x: left, y, width: Math.max(wdt, rate ? 1 : 0), height: row - 8, fill: "#cf222e" }, s("title", {}, `${c.name}: ${c.dismissed} of ${c.total} dismissed`)),
          s("text", { x: W - 130, y: y + row / 2, class: "chart-value" }, `${Math.round(rate * 100)} % (${c.dismissed}/${c.total})`));
      }));

    const reasons = falseAlarms.length
      ? h("div", { class: "table-wrap" }, h("table", { id: "false-alarm-reasons" },
        h("thead", {}, h("tr", {}, ["Camera", "Hazard", "Reason", "Count"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, falseAlarms.map((f) => h("tr", {}, h("td", {}, f.camera_id), h("td", {}, label(f.hazard)), h("td", {}, f.reason), h("td", {}, String(f.count)))))))
      : null;

    const loop = h("div", { class: "table-wrap" }, h("table", { id: "grid-figures" },
      h("thead", {}, h("tr", {}, ["Grid", "Received", "Closed", "Dismissed", "Completion", "On time", "Mean time to close", "p90"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, perGrid.map((u) => h("tr", { "data-unit": u.unit_id },
        h("td", {}, u.unit_id), h("td", {}, String(u.received)), h("td", {}, String(u.closed)), h("td", {}, String(u.dismissed)),
        h("td", {}, percent(u.completion_rate)), h("td", {}, percent(u.on_time_rate)),
        h("td", {}, duration(u.mean_close_s)), h("td", {}, duration(u.p90_close_s)))))));

    body.replaceChildren(
      h("section", { class: "card" }, h("h2", {}, "Cases by state per grid"), h("p", { class: "muted" }, "Every case as it stands now."),
        grids.length ? byGrid : h("p", { class: "muted" }, "No grids in your scope."), legend(usedStates.map((st) => [st, STATE_COLOUR[st]]))),
      h("section", { class: "card" }, h("h2", {}, "Alerts by hazard"), h("p", { class: "muted" }, `${alerts.total} alert${alerts.total === 1 ? "" : "s"} received in the ${PERIODS[days]}, per ${hourly ? "hour" : "day"}.`),
        overTime, legend(hazards.map((k) => [k, hazardColour(k)]))),
      h("section", { class: "card" }, h("h2", {}, "False-alarm rate per camera"), h("p", { class: "muted" }, "Alerts dismissed as false alarms, of all alerts of the camera in the period."),
        camRows.length ? rates : h("p", { class: "muted" }, "No alerts in the period."), reasons),
      h("section", { class: "card" }, h("h2", {}, "Closed loop per grid"), h("p", { class: "muted" }, "Cases created in the period: completion = closed / (received − dismissed); on time = closed by the first deadline."), loop));
  }
  period.addEventListener("change", () => draw().catch((e) => body.replaceChildren(h("p", { class: "error" }, e.message))));
  main.replaceChildren(h("h1", {}, "Figures"), h("div", { class: "toolbar" }, period), body);
  await draw();
}
