// The map: the caller's grids, compounds and cameras drawn from the site's own outlines (no tiles, no network
// beyond the API), grids coloured by open cases, alert rate or next week's risk. A grid opens a panel with its
// figures and the way to its cases; a camera opens its live page. #/map?grid=G-01&measure=risk selects both.
import { api, h, query } from "../api.js";
import { fmtNumber, t, tv } from "../i18n.js";

const NS = "http://www.w3.org/2000/svg";
const W = 1000; // drawing units across; the height follows the site's shape
const PAD = 24;
const DOT_PX = 5; // a camera's radius on screen, whatever the map's size; half that on a site of hundreds
const RAMP = ["#eef1f4", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]; // none, then four steps up
const BAND_COLOUR = { low: "#8fd19e", elevated: "#f2c14e", high: "#cf222e" };
const NO_FIGURE = "#d0d7de";
const MEASURES = () => ({ open_cases: t("map.measure.openCases"), alerts_24h: t("map.measure.alerts"), risk: t("map.measure.risk") });
const BANDS = () => ({ low: t("map.band.low"), elevated: t("map.band.elevated"), high: t("map.band.high") });

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Equirectangular, fitted to the box of every point drawn: across a sub-district the earth is flat enough.
function projection(points) {
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  const [west, east, south, north] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = Math.cos((((south + north) / 2) * Math.PI) / 180);
  const span = Math.max((east - west) * k, north - south, 1e-4);
  const scale = (W - 2 * PAD) / span;
  const width = (east - west) * k * scale;
  const height = Math.ceil((north - south) * scale + 2 * PAD);
  const x0 = PAD + (W - 2 * PAD - width) / 2;
  return {
    height,
    at: ([lon, lat]) => [x0 + (lon - west) * k * scale, PAD + (north - lat) * scale],
  };
}

function pathOf(rings, at) {
  return rings.map((ring) => `M${ring.map((p) => at(p).map((v) => v.toFixed(1)).join(",")).join("L")}Z`).join("");
}

function centre(rings) {
  const pts = rings.flat();
  return pts.length ? [pts.reduce((n, p) => n + p[0], 0) / pts.length, pts.reduce((n, p) => n + p[1], 0) / pts.length] : null;
}

// Up to four equal steps from 1 to the largest count; 0 has its own colour.
function steps(max) {
  if (max <= 0) return [];
  const size = Math.ceil(max / 4);
  const out = [];
  for (let from = 1; from <= max; from += size) out.push([from, Math.min(from + size - 1, max)]);
  return out;
}

function rangeName([from, to]) { return from === to ? fmtNumber(from) : t("map.range", { from: fmtNumber(from), to: fmtNumber(to) }); }

function legendOf(entries) {
  return h("ul", { class: "legend", id: "map-legend" }, entries.map(([key, name, colour]) =>
    h("li", { "data-class": key }, h("span", { class: "swatch", style: `background:${colour}` }), name)));
}

// The risk of every grid the caller may see, or why there is none: a server without forecasts (404), too short a
// history, or a caller who may not read them. Never an error on the page.
async function loadRisk() {
  try {
    const report = await api(`/api/risk${query({ level: "grid" })}`);
    if (!report.enough_history) {
      return {
        note: report.history_start === null
          ? t("map.riskNoHistory")
          : t("map.riskNotEnough", { weeks: fmtNumber(report.history_weeks), needed: fmtNumber(report.weeks_needed) }),
      };
    }
    return { units: new Map(report.units.map((u) => [u.id, u])) };
  } catch (e) {
    if (e.status === 401) throw e;
    return { note: t("map.riskUnavailable") };
  }
}

export async function render(main, _params, { me }) {
  const has = (p) => me.permissions.includes(p);
  const fieldOnly = has("cases:work") && !has("cases:manage");
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "");
  const data = await api("/api/map");
  const figures = data.grids.some((g) => g.open_cases !== null);
  const measure = h("select", { id: "map-measure", "aria-label": t("map.measure") },
    Object.entries(MEASURES()).map(([value, name]) => h("option", { value, selected: value === (wanted.get("measure") || "open_cases") }, name)));
  const note = h("p", { class: "muted", id: "map-note" });
  const legendBox = h("div", {});
  const panel = h("section", { class: "card", id: "map-panel", "aria-live": "polite" });
  const list = h("tbody", {});
  const valueHead = h("th", { scope: "col" });
  let risk = null;
  let selected = wanted.get("grid");

  // Every point drawn decides the map's extent.
  const compounds = new Map(data.compounds.map((k) => [k.id, k]));
  const rings = [...data.streets.map((st) => st.outline), ...data.compounds.map((k) => k.outline), ...data.grids.flatMap((g) => g.shapes)]
    .filter((r) => r.length);
  const placeOf = (c) => {
    if (c.lat !== null && c.lon !== null) return { at: [c.lon, c.lat], placed: false };
    const k = c.compound_id && compounds.get(c.compound_id);
    const grid = data.grids.find((g) => g.id === c.grid_id);
    const where = centre(k && k.outline.length ? [k.outline] : grid ? grid.shapes : []);
    return where ? { at: where, placed: true } : null;
  };
  const places = data.cameras.map((c) => [c, placeOf(c)]);
  const points = [...rings.flat(), ...places.filter(([, p]) => p).map(([, p]) => p.at)];

  const svg = s("svg", { id: "site-map", class: "site-map", role: "img" });
  const gridShapes = new Map();
  const dots = [];
  if (points.length) {
    const proj = projection(points);
    svg.setAttribute("viewBox", `0 0 ${W} ${proj.height}`);
    svg.setAttribute("aria-label", t("map.title", { grids: fmtNumber(data.grids.length), cameras: fmtNumber(data.cameras.length) }));
    svg.append(
      ...data.streets.filter((st) => st.outline.length).map((st) =>
        s("path", { class: "street-outline", d: pathOf([st.outline], proj.at), "data-street": st.id }, s("title", {}, st.name))),
      ...data.grids.filter((g) => g.shapes.length).map((g) => {
        const shape = s("path", { class: "grid-shape", d: pathOf(g.shapes, proj.at), "data-grid": g.id, tabindex: 0, role: "button", "aria-label": g.name },
          s("title", {}, g.name));
        shape.addEventListener("click", () => select(g.id));
        shape.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(g.id); } });
        gridShapes.set(g.id, shape);
        return shape;
      }),
      ...data.compounds.filter((k) => k.outline.length).map((k) =>
        s("path", { class: "compound-outline", d: pathOf([k.outline], proj.at), "data-compound": k.id })),
      ...places.filter(([, p]) => p).map(([c, p]) => {
        const [x, y] = proj.at(p.at);
        const title = p.placed ? t("map.placedTitle", { name: c.name }) : `${c.name} · ${tv("health", c.state)}`;
        const dot = s("circle", { class: `camera-dot state-${c.state}${p.placed ? " placed" : ""}`, cx: x.toFixed(1), cy: y.toFixed(1), r: 8,
          "data-camera": c.id, tabindex: 0, role: "link", "aria-label": title }, s("title", {}, title));
        const open = () => { location.hash = `#/camera/${encodeURIComponent(c.id)}`; };
        dot.addEventListener("click", open);
        dot.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
        dots.push(dot);
        return dot;
      }));
  }
  // Dots keep their size on screen as the map scales with the window (a phone or a wall).
  const dotPx = dots.length > 300 ? DOT_PX / 2 : DOT_PX;
  const resize = new ResizeObserver(() => {
    const width = svg.getBoundingClientRect().width;
    if (width > 0) for (const dot of dots) dot.setAttribute("r", ((dotPx * W) / width).toFixed(2));
  });
  const showCameras = h("input", { type: "checkbox", id: "map-cameras", checked: true });
  showCameras.addEventListener("change", () => svg.classList.toggle("no-cameras", !showCameras.checked));
  resize.observe(svg);

  const unplaced = places.filter(([, p]) => !p).length;
  const unshaped = data.grids.filter((g) => !g.shapes.length).length;

  function valueOf(g) {
    if (measure.value === "risk") return risk && risk.units ? risk.units.get(g.id) || null : null;
    return g[measure.value];
  }

  function shown(g) {
    const v = valueOf(g);
    if (v === null || v === undefined) return "—";
    return measure.value === "risk" ? t("map.riskValue", { band: BANDS()[v.band] || v.band, expected: fmtNumber(v.expected, 1) }) : fmtNumber(v);
  }

  // The colour of each grid and the legend, for the measure chosen.
  function paint() {
    let colourOf;
    let entries;
    let why = "";
    if (measure.value === "risk") {
      why = risk.note || "";
      colourOf = (g) => { const u = valueOf(g); return u ? [u.band, BAND_COLOUR[u.band] || NO_FIGURE] : ["none", NO_FIGURE]; };
      entries = risk.units ? Object.entries(BANDS()).map(([band, name]) => [band, name, BAND_COLOUR[band]]) : [];
    } else if (!figures) {
      why = t("map.noFigures");
      colourOf = () => ["none", NO_FIGURE];
      entries = [];
    } else {
      const classes = steps(Math.max(0, ...data.grids.map((g) => g[measure.value] || 0)));
      colourOf = (g) => {
        const v = g[measure.value] || 0;
        const i = classes.findIndex(([, to]) => v <= to);
        return v === 0 ? ["0", RAMP[0]] : [rangeName(classes[i]), RAMP[i + 1]];
      };
      entries = [["0", fmtNumber(0), RAMP[0]], ...classes.map((c, i) => [rangeName(c), rangeName(c), RAMP[i + 1]])];
    }
    if (entries.length && data.grids.some((g) => colourOf(g)[0] === "none")) entries.push(["none", t("map.noValue"), NO_FIGURE]);
    for (const g of data.grids) {
      const [key, colour] = colourOf(g);
      const shape = gridShapes.get(g.id);
      if (shape) {
        shape.setAttribute("fill", colour);
        shape.dataset.class = key;
        if (measure.value === "risk") shape.dataset.band = valueOf(g) ? valueOf(g).band : "none";
        else delete shape.dataset.band;
        shape.querySelector("title").textContent = `${g.name}: ${shown(g)}`;
      }
    }
    const notes = [why, unshaped ? t("map.unshaped", { count: fmtNumber(unshaped) }) : "", unplaced ? t("map.unplaced", { count: fmtNumber(unplaced) }) : ""];
    note.textContent = notes.filter(Boolean).join(" ");
    valueHead.textContent = MEASURES()[measure.value];
    legendBox.replaceChildren(entries.length ? legendOf(entries) : "");
    list.replaceChildren(...data.grids.map((g) => h("tr", { "data-grid": g.id, class: g.id === selected ? "selected" : null },
      h("td", {}, h("button", { class: "link", type: "button", onclick: () => select(g.id) }, g.name), h("div", { class: "muted" }, g.id)),
      h("td", {}, shown(g)))));
  }

  function showPanel() {
    const g = data.grids.find((x) => x.id === selected);
    for (const [id, shape] of gridShapes) shape.classList.toggle("selected", id === selected);
    if (!g) {
      panel.replaceChildren(h("p", { class: "muted" }, t("map.pick")));
      return;
    }
    const u = risk && risk.units ? risk.units.get(g.id) : null;
    const cams = data.cameras.filter((c) => c.grid_id === g.id);
    const fact = (name, value, key) => [h("dt", {}, name), h("dd", { "data-fact": key }, value)];
    const link = fieldOnly
      ? h("a", { class: "button", href: "#/tasks" }, t("nav.tasks"))
      : has("cases:read") ? h("a", { class: "button primary", id: "map-cases", href: `#/cases${query({ grid: g.id })}` }, t("map.casesLink")) : null;
    panel.replaceChildren(
      h("h2", {}, g.name),
      h("dl", { class: "facts" },
        fact(t("map.grid"), g.id, "id"),
        fact(t("map.community"), g.community_name, "community"),
        fact(t("map.cameras"), fmtNumber(g.cameras), "cameras"),
        g.open_cases !== null ? fact(t("map.measure.openCases"), fmtNumber(g.open_cases), "open_cases") : [],
        g.alerts_24h !== null ? fact(t("map.alerts24h"), fmtNumber(g.alerts_24h), "alerts_24h") : [],
        u ? fact(t("map.measure.risk"), t("map.riskValue", { band: BANDS()[u.band] || u.band, expected: fmtNumber(u.expected, 1) }), "risk") : []),
      link ? h("p", {}, link) : "",
      cams.length ? h("ul", { class: "map-cameras" }, cams.map((c) => h("li", {},
        h("a", { href: `#/camera/${encodeURIComponent(c.id)}` }, c.name), " ",
        h("span", { class: `badge health-${c.state}` }, tv("health", c.state))))) : "");
  }

  function select(id) {
    selected = id;
    history.replaceState(null, "", `#/map${query({ grid: id, measure: measure.value === "open_cases" ? "" : measure.value })}`);
    showPanel();
    paint();
  }

  async function change() {
    if (measure.value === "risk" && !risk) risk = await loadRisk();
    history.replaceState(null, "", `#/map${query({ grid: selected, measure: measure.value === "open_cases" ? "" : measure.value })}`);
    paint();
    showPanel();
  }
  measure.addEventListener("change", () => change().catch((e) => { note.textContent = e.message; }));

  main.replaceChildren(
    h("h1", {}, t("nav.map")),
    h("div", { class: "toolbar" }, measure, h("label", { class: "check inline" }, showCameras, t("map.showCameras"))),
    note,
    h("div", { class: "grid-2" },
      h("div", {}, points.length ? h("div", { class: "map-box" }, svg) : h("p", { class: "card muted", id: "map-empty" }, t("map.empty")), legendBox),
      panel),
    h("h2", {}, t("map.gridsTable")),
    h("div", { class: "table-wrap" }, h("table", { id: "map-grids", class: "kv" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("map.grid")), valueHead)), list)));
  await change();
  return () => resize.disconnect();
}
