// Risk foresight: each grid's or compound's expected events for a week, with the reasons behind it,
// early warnings (a rise beyond the unit's own history) and hot hours. Ranks and bands are the site's.
import { api, h, query } from "../api.js";
import { fmtDate, fmtNumber, t, tv } from "../i18n.js";

const LEVELS = () => ({ grid: t("risk.level.grid"), compound: t("risk.level.compound") });
const BANDS = () => ({ high: t("risk.bandName.high"), elevated: t("risk.bandName.elevated"), low: t("risk.bandName.low") });

const pct = (x) => `${fmtNumber(Math.round(x * 100))}%`;
const hourRange = (hour) => `${String(hour).padStart(2, "0")}:00–${String((hour + 1) % 24).padStart(2, "0")}:00`;

function reasonText(r) {
  const hazard = r.hazard === "other" ? t("risk.otherHazard") : tv("hazard", r.hazard);
  return t("risk.reason", { source: tv("source", r.source), hazard, share: pct(r.share) });
}

function warningCell(w) {
  if (!w) return h("span", { class: "muted" }, t("risk.noTest"));
  const rates = t("risk.rates", { recent: fmtNumber(w.recent_rate, 1), earlier: fmtNumber(w.earlier_rate, 1) });
  return w.warning
    ? h("span", { class: "badge risk-warning", title: `p = ${w.p_value.toPrecision(2)}` }, t("risk.rising"), " ", rates)
    : h("span", { class: "muted" }, rates);
}

// A grid links to its cases on the board, for those who have the board (grid workers work from their tasks).
function unitLink(level, u, board) {
  return level === "grid" && board ? h("a", { href: `#/cases?grid=${encodeURIComponent(u.id)}` }, u.name) : u.name;
}

function table(level, units, board) {
  return h("div", { class: "table-wrap" }, h("table", { id: "risk-table" },
    h("thead", {}, h("tr", {}, [t("risk.rank"), LEVELS()[level], t("risk.expected"), t("risk.band"), t("risk.warning"),
      t("risk.reasons"), t("risk.hotHours")].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, units.map((u) => h("tr", { "data-unit": u.id, "data-band": u.band },
      h("td", {}, fmtNumber(u.rank)),
      h("td", {}, unitLink(level, u, board), h("div", { class: "muted" }, u.id)),
      h("td", {}, fmtNumber(u.expected, 1)),
      h("td", {}, h("span", { class: `badge band-${u.band}` }, BANDS()[u.band] || u.band)),
      h("td", {}, warningCell(u.warning)),
      h("td", {}, u.reasons.length ? u.reasons.map((r) => h("div", {}, reasonText(r))) : h("span", { class: "muted" }, "—")),
      h("td", {}, u.hot_hours.length
        ? u.hot_hours.slice(0, 3).map((x) => h("div", {}, `${hourRange(x.hour)} (${pct(x.share)})`))
        : h("span", { class: "muted" }, "—")))))));
}

export async function render(main, _params, { me }) {
  const has = (p) => me.permissions.includes(p);
  const board = has("cases:read") && !(has("cases:work") && !has("cases:manage"));
  const level = h("select", { id: "risk-level", "aria-label": t("risk.levelLabel") },
    Object.entries(LEVELS()).map(([value, name]) => h("option", { value }, name)));
  // Empty at first: the server's today decides the week, and the picker then shows that week's Monday.
  const week = h("input", { id: "risk-week", type: "date", "aria-label": t("risk.week") });
  const body = h("div", {});

  async function draw() {
    const report = await api(`/api/risk${query({ level: level.value, week: week.value || undefined })}`);
    if (!week.value) week.value = report.week_start.slice(0, 10);
    // Days as the site counts them (the report's time zone), not the browser's.
    const day = (d) => fmtDate(d, { dateStyle: "medium", timeZone: report.time_zone });
    const span = `${day(new Date(report.week_start))} – ${day(new Date(new Date(report.week_end) - 1))}`;
    if (!report.enough_history) {
      const why = report.history_start === null
        ? t("risk.noHistory")
        : t("risk.notEnough", { weeks: fmtNumber(report.history_weeks), needed: fmtNumber(report.weeks_needed) });
      body.replaceChildren(h("section", { class: "card", id: "risk-not-enough" }, h("h2", {}, span), h("p", {}, why)));
      return;
    }
    const warned = report.units.filter((u) => u.warning && u.warning.warning).length;
    body.replaceChildren(
      h("section", { class: "card" },
        h("h2", {}, span),
        h("p", { class: "muted" }, t("risk.summary", { weeks: fmtNumber(report.history_weeks), units: fmtNumber(report.units.length), warned: fmtNumber(warned) })),
        report.units.length ? table(level.value, report.units, board) : h("p", { class: "muted" }, t("risk.noUnits"))),
      h("section", { class: "card" }, h("h2", {}, t("risk.method")), h("p", { class: "muted" }, t("risk.methodText"))));
  }
  const redraw = () => draw().catch((e) => body.replaceChildren(h("p", { class: "error" }, e.message)));
  level.addEventListener("change", redraw);
  week.addEventListener("change", redraw);
  main.replaceChildren(h("h1", {}, t("nav.risk")), h("div", { class: "toolbar" }, level, week), body);
  await draw();
}
