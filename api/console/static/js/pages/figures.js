// Figures: charts drawn as inline SVG (no chart library): cases by state per grid, alerts by hazard
// over time, false-alarm rate per camera, and the closed-loop figures of each grid.
import { api, h, query } from "../api.js";
import { STATES } from "../cases.js";
import { fmtDate, fmtNumber, t, tv } from "../i18n.js";

const NS = "http://www.w3.org/2000/svg";
const W = 800;
const PALETTE = ["#1f6feb", "#bf8700", "#cf222e", "#1a7f37", "#8250df", "#0a7ea4", "#e16f24", "#6e7781", "#bf3989", "#57606a", "#2da44e"];
// The loop in blues and greens as it advances; side states stand out.
const STATE_COLOUR = {
  reported: "#9ecbff", registered: "#54aeff", dispatched: "#0969da", accepted: "#8250df", in_progress: "#bf8700",
  resolved: "#4ac26b", verified: "#1a7f37", closed: "#116329", escalated: "#cf222e", reopened: "#e16f24", dismissed: "#8c959f",
};
const PERIODS = () => ({ 1: t("figures.period1"), 7: t("figures.period7"), 30: t("figures.period30"), 90: t("figures.period90") });

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function chart(id, height, title, ...children) {
  return s("svg", { id, class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": title }, s("title", {}, title), ...children);
}

// Entries of [name in words, colour].
function legend(entries) {
  return h("ul", { class: "legend" }, entries.map(([name, colour]) =>
    h("li", {}, h("span", { class: "swatch", style: `background:${colour}` }), name)));
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
function stackedRows(id, title, rows, colourOf, nameOf) {
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
        s("title", {}, `${r.name}: ${nameOf(key)} ${fmtNumber(v)}`));
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
function stackedColumns(id, title, buckets, keys, colourOf, nameOf, fmt) {
  const left = 40, bottom = 30, top = 10, height = 260;
  const max = Math.max(1, ...buckets.map((b) => keys.reduce((n, k) => n + (b.counts[k] || 0), 0)));
  const plotH = height - top - bottom;
  const step = (W - left - 10) / Math.max(1, buckets.length);
  const every = Math.ceil(buckets.length / 10);
  const ticks = [0, Math.ceil(max / 2), max].filter((v, i, a) => a.indexOf(v) === i);
  return chart(id, height, title,
    ticks.map((tick) => {
      const y = top + plotH - (tick / max) * plotH;
      return s("g", {}, s("line", { x1: left, x2: W - 10, y1: y, y2: y, class: "chart-grid" }),
        s("text", { x: left - 6, y, "text-anchor": "end", class: "chart-label" }, fmtNumber(tick)));
    }),
    buckets.map((b, i) => {
      let y = top + plotH;
      const x = left + i * step + step * 0.1;
      const parts = keys.filter((k) => b.counts[k]).map((k) => {
        const hgt = (b.counts[k] / max) * plotH;
        y -= hgt;
        return s("rect", { x, y, width: Math.max(step * 0.8, 1), height: hgt, fill: colourOf(k), "data-key": k, "data-value": b.counts[k] },
          s("title", {}, `${fmt(b.start)}: ${nameOf(k)} ${fmtNumber(b.counts[k])}`));
      });
      return s("g", { "data-bucket": b.start.toISOString() }, parts,
        i % every === 0 ? s("text", { x: x + step * 0.4, y: height - 10, "text-anchor": "middle", class: "chart-label" }, fmt(b.start)) : null);
    }));
}

function percent(v) { return v === null || v === undefined ? "—" : `${fmtNumber(Math.round(v * 100))} %`; }
function duration(sec) {
  if (sec === null || sec === undefined) return "—";
  if (sec >= 86400) return t("figures.days", { n: fmtNumber(sec / 86400, 1) });
  return sec >= 3600 ? t("figures.hours", { n: fmtNumber(sec / 3600, 1) }) : t("figures.minutes", { n: fmtNumber(Math.round(sec / 60)) });
}
const stateName = (st) => tv("state", st);
const hazardName = (hz) => tv("hazard", hz);

const HELD = ["cooldown", "suspend:camera", "suspend:grid", "cap"];

// What the alert-fatigue controls held back in the last 7 days (alerts for cooldowns and suspends, deliveries
// for caps); nothing when the server keeps no notifications.
async function heldBackCard() {
  const since = new Date(Date.now() - 7 * 86400e3);
  let held;
  try {
    held = await api(`/api/notifications/held-back${query({ since: since.toISOString() })}`);
  } catch (e) {
    if (e.status === 401) throw e;
    return null;
  }
  return h("section", { class: "card" }, h("h2", {}, t("figures.heldBack")), h("p", { class: "muted" }, t("figures.heldBackNote")),
    h("table", { id: "held-back", class: "kv" }, h("tbody", {}, HELD.map((k) =>
      h("tr", { "data-held": k }, h("th", { scope: "row" }, tv("held", k)), h("td", {}, fmtNumber(held.counts[k] || 0)))))));
}

export async function render(main) {
  const period = h("select", { id: "figures-period", "aria-label": t("figures.period") },
    Object.entries(PERIODS()).map(([d, name]) => h("option", { value: d, selected: d === "7" }, name)));
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
    const [counts, alerts, perGrid, falseAlarms, held, perCompany, perUnit] = await Promise.all([
      pool(grids, 4, (g) => api(`/api/cases/counts${query({ grid_id: g.id })}`)),
      api(`/api/figures/alerts${query(alertRange)}`),
      api(`/api/figures${query({ level: "grid", ...range })}`),
      api(`/api/figures/false-alarms${query(range)}`),
      heldBackCard(),
      api(`/api/figures${query({ level: "property_company", ...range })}`),
      api(`/api/figures${query({ level: "partner_unit", ...range })}`),
    ]);

    // 1. cases by state per grid (as they stand now)
    const usedStates = STATES.filter((st) => counts.some((c) => c[st]));
    const byGrid = stackedRows("chart-case-states", t("figures.caseStates"),
      grids.map((g, i) => ({ name: g.id, parts: STATES.map((st) => [st, counts[i][st] || 0]) })), (k) => STATE_COLOUR[k], stateName);

    // 2. alerts by hazard over time (counted by the server)
    const buckets = alerts.buckets.map((b) => ({ start: new Date(b.start), counts: b.counts }));
    const hazards = alerts.hazards;
    const hazardColour = (k) => PALETTE[hazards.indexOf(k) % PALETTE.length];
    const fmt = hourly
      ? (d) => fmtDate(d, { hour: "2-digit", minute: "2-digit" })
      : (d) => fmtDate(d, { day: "numeric", month: "short" });
    const overTime = stackedColumns("chart-alert-hazards", t("figures.alertHazardsChart"), buckets, hazards, hazardColour, hazardName, fmt);

    // 3. false-alarm rate per camera: dismissed alerts / all alerts of the camera in the period
    const camRows = alerts.cameras.map((c) => ({ id: c.camera_id, name: c.camera_name, total: c.alerts, dismissed: c.dismissed }));
    const left = 150, row = 26;
    const rates = chart("chart-false-alarms", camRows.length * row + 10, t("figures.falseAlarms"),
      camRows.map((c, i) => {
        const y = 5 + i * row;
        const rate = c.dismissed / c.total;
        const wdt = rate * (W - left - 140);
        return s("g", { "data-camera": c.id, "data-rate": rate.toFixed(3) },
          s("text", { x: left - 8, y: y + row / 2, "text-anchor": "end", class: "chart-label" }, c.id),
          s("rect", { x: left, y, width: W - left - 140, height: row - 8, class: "chart-track" }),
          s("rect", { x: left, y, width: Math.max(wdt, rate ? 1 : 0), height: row - 8, fill: "#cf222e" }, s("title", {}, t("figures.dismissedOf", { name: c.name, dismissed: fmtNumber(c.dismissed), total: fmtNumber(c.total) }))),
          s("text", { x: W - 130, y: y + row / 2, class: "chart-value" }, `${percent(rate)} (${fmtNumber(c.dismissed)}/${fmtNumber(c.total)})`));
      }));

    const reasons = falseAlarms.length
      ? h("div", { class: "table-wrap" }, h("table", { id: "false-alarm-reasons" },
        h("thead", {}, h("tr", {}, [t("case.camera"), t("case.hazard"), t("figures.reason"), t("figures.count")].map((name) => h("th", { scope: "col" }, name)))),
        h("tbody", {}, falseAlarms.map((f) => h("tr", {}, h("td", {}, f.camera_id), h("td", {}, hazardName(f.hazard)), h("td", {}, f.reason), h("td", {}, fmtNumber(f.count)))))))
      : null;

    const loop = h("div", { class: "table-wrap" }, h("table", { id: "grid-figures" },
      h("thead", {}, h("tr", {}, [t("case.grid"), t("figures.received"), t("figures.closed"), t("figures.dismissed"), t("figures.completion"),
        t("figures.onTime"), t("figures.meanClose"), "p90"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, perGrid.map((u) => h("tr", { "data-unit": u.unit_id },
        h("td", {}, u.unit_id), h("td", {}, fmtNumber(u.received)), h("td", {}, fmtNumber(u.closed)), h("td", {}, fmtNumber(u.dismissed)),
        h("td", {}, percent(u.completion_rate)), h("td", {}, percent(u.on_time_rate)),
        h("td", {}, duration(u.mean_close_s)), h("td", {}, duration(u.p90_close_s)))))));

    // The same figures per holder: property companies (collective matters) and partner units (dispatched to).
    const holderTable = (id, units) => h("div", { class: "table-wrap" }, h("table", { id },
      h("thead", {}, h("tr", {}, [t("figures.unit"), t("figures.received"), t("figures.closed"), t("figures.completion"),
        t("figures.onTime"), t("figures.meanClose")].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, units.map((u) => h("tr", { "data-unit": u.unit_id },
        h("td", {}, u.unit_id), h("td", {}, fmtNumber(u.received)), h("td", {}, fmtNumber(u.closed)),
        h("td", {}, percent(u.completion_rate)), h("td", {}, percent(u.on_time_rate)), h("td", {}, duration(u.mean_close_s)))))));
    const holders = perCompany.length || perUnit.length
      ? h("section", { class: "card", id: "holder-figures" }, h("h2", {}, t("figures.holders")), h("p", { class: "muted" }, t("figures.holdersNote")),
        perCompany.length ? [h("h3", {}, t("figures.companies")), holderTable("company-figures", perCompany)] : null,
        perUnit.length ? [h("h3", {}, t("figures.partnerUnits")), holderTable("partner-figures", perUnit)] : null)
      : null;
    const totals = { count: fmtNumber(alerts.total), period: PERIODS()[days] };
    body.replaceChildren(
      h("section", { class: "card" }, h("h2", {}, t("figures.caseStates")), h("p", { class: "muted" }, t("figures.caseStatesNote")),
        grids.length ? byGrid : h("p", { class: "muted" }, t("figures.noGrids")), legend(usedStates.map((st) => [stateName(st), STATE_COLOUR[st]]))),
      h("section", { class: "card" }, h("h2", {}, t("figures.alertHazards")),
        h("p", { class: "muted" }, (hourly ? t("figures.alertsPerHour", totals) : t("figures.alertsPerDay", totals))),
        overTime, legend(hazards.map((k) => [hazardName(k), hazardColour(k)]))),
      h("section", { class: "card" }, h("h2", {}, t("figures.falseAlarms")), h("p", { class: "muted" }, t("figures.falseAlarmsNote")),
        camRows.length ? rates : h("p", { class: "muted" }, t("figures.noAlerts")), reasons),
      h("section", { class: "card" }, h("h2", {}, t("figures.loop")), h("p", { class: "muted" }, t("figures.loopNote")), loop),
      holders || "",
      held || "");
  }
  period.addEventListener("change", () => draw().catch((e) => body.replaceChildren(h("p", { class: "error" }, e.message))));
  main.replaceChildren(h("h1", {}, t("nav.figures")), h("div", { class: "toolbar" }, period), body);
  await draw();
}
