// Access audit (admins): who watched which camera live, opened which evidence or attachment, exported
// or imported cameras, changed which account or token. Filters go to the address, so a filtered view can
// be shared; the CSV link downloads every matching row.
import { api, h, query } from "../api.js";
import { fmtDate, fmtNumber, t, tv } from "../i18n.js";

const ACTIONS = [
  "live_view", "live_view_ended", "evidence_opened", "attachment_opened", "reporter_viewed", "cameras_exported", "credentials_sent", "cameras_imported",
  "user_created", "user_changed", "user_disabled", "user_enabled", "password_reset", "token_created", "token_revoked",
];
const PAGE = 100;

// A datetime-local value ("2026-03-01T09:30") as an ISO moment with the browser's time zone.
function moment(value) {
  return value ? new Date(value).toISOString() : "";
}

function fmtFull(iso) {
  return fmtDate(new Date(iso), { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export async function render(main) {
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "");
  const actor = h("input", { type: "search", id: "audit-actor", placeholder: t("audit.whoPlaceholder"), "aria-label": t("audit.who"), value: wanted.get("actor") || "" });
  const action = h("select", { id: "audit-action", "aria-label": t("audit.action") },
    h("option", { value: "" }, t("audit.allActions")),
    ACTIONS.map((a) => h("option", { value: a, selected: a === wanted.get("action") }, tv("auditAction", a))));
  const target = h("input", { type: "search", id: "audit-target", placeholder: t("audit.whatPlaceholder"), "aria-label": t("audit.what"), value: wanted.get("target") || "" });
  const since = h("input", { type: "datetime-local", id: "audit-since", "aria-label": t("audit.from") });
  const until = h("input", { type: "datetime-local", id: "audit-until", "aria-label": t("audit.until") });
  const csv = h("a", { class: "button", id: "audit-csv", download: "access-audit.csv" }, t("audit.csv"));
  const summary = h("span", { class: "muted", id: "audit-summary" });
  const body = h("tbody");
  const more = h("button", { type: "button", id: "audit-more", hidden: true }, t("audit.more"));
  let cursor = null;
  let shown = 0;

  const filters = () => ({
    actor: actor.value.trim(), action: action.value, target: target.value.trim(), since: moment(since.value), until: moment(until.value),
  });

  const row = (e) => h("tr", { "data-action": e.action, "data-actor": e.actor, "data-target": e.target },
    h("td", { title: fmtDate(new Date(e.at), { dateStyle: "full", timeStyle: "long" }) }, fmtFull(e.at)),
    h("td", { class: "actor" }, e.actor, " ", h("span", { class: "muted" }, tv("role", e.actor_role))),
    h("td", { class: "action" }, tv("auditAction", e.action)),
    h("td", { class: "target" }, e.target),
    h("td", { class: "detail" }, e.detail || "—"),
    h("td", { class: "muted" }, e.address || "—"));

  async function load(first) {
    const f = filters();
    const page = await api(`/api/audit${query({ ...f, limit: PAGE, cursor: first ? "" : cursor })}`);
    if (first) { body.replaceChildren(); shown = 0; }
    body.append(...page.items.map(row));
    shown += page.items.length;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    summary.textContent = shown ? t("audit.rows", { count: `${fmtNumber(shown)}${cursor ? "+" : ""}` }) : t("audit.none");
    csv.href = `/api/audit.csv${query(f)}`;
  }

  const apply = () => {
    const f = filters();
    history.replaceState(null, "", `#/audit${query({ actor: f.actor, action: f.action, target: f.target })}`);
    load(true).catch((e) => { summary.textContent = e.message; });
  };
  const form = h("form", { class: "toolbar", id: "audit-filters", onsubmit: (ev) => { ev.preventDefault(); apply(); } },
    actor, action, target,
    h("label", { class: "inline" }, t("audit.from"), " ", since), h("label", { class: "inline" }, t("audit.untilInline"), " ", until),
    h("button", { type: "submit", class: "primary" }, t("audit.filter")), csv, summary);
  action.addEventListener("change", apply);
  more.addEventListener("click", () => load(false).catch((e) => { summary.textContent = e.message; }));

  main.replaceChildren(
    h("h1", {}, t("nav.audit")),
    h("p", { class: "muted" }, t("audit.intro")),
    form,
    h("div", { class: "table-wrap" }, h("table", { id: "audit-table" },
      h("thead", {}, h("tr", {}, [t("audit.when"), t("audit.who"), t("audit.action"), t("audit.what"), t("audit.detail"), t("audit.address")]
        .map((name) => h("th", { scope: "col" }, name)))),
      body)),
    more);
  await load(true);
}
