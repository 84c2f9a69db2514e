// Access audit (admins): who watched which camera live, opened which evidence or attachment, exported
// or imported cameras, changed which account or token. Filters go to the address, so a filtered view can
// be shared; the CSV link downloads every matching row.
import { api, h, label, query } from "../api.js";

const ACTIONS = [
  "live_view", "live_view_ended", "evidence_opened", "attachment_opened", "cameras_exported", "credentials_sent", "cameras_imported",
  "user_created", "user_changed", "user_disabled", "user_enabled", "password_reset", "token_created", "token_revoked",
];
const PAGE = 100;

// A datetime-local value ("2026-03-01T09:30") as an ISO moment with the browser's time zone.
function moment(value) {
  return value ? new Date(value).toISOString() : "";
}

function fmtFull(iso) {
  const d = new Date(iso);
  return `${d.toLocaleDateString([], { day: "numeric", month: "short", year: "numeric" })} ${d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })}`;
}

export async function render(main) {
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "");
  const actor = h("input", { type: "search", id: "audit-actor", placeholder: "Who (user name)", "aria-label": "Who", value: wanted.get("actor") || "" });
  const action = h("select", { id: "audit-action", "aria-label": "Action" },
    h("option", { value: "" }, "All actions"),
    ACTIONS.map((a) => h("option", { value: a, selected: a === wanted.get("action") }, label(a))));
  const target = h("input", { type: "search", id: "audit-target", placeholder: "What (camera id, alert 7, user)", "aria-label": "What", value: wanted.get("target") || "" });
  const since = h("input", { type: "datetime-local", id: "audit-since", "aria-label": "From" });
  const until = h("input", { type: "datetime-local", id: "audit-until", "aria-label": "Until" });
  const csv = h("a", { class: "button", id: "audit-csv", download: "access-audit.csv" }, "Download CSV");
  const summary = h("span", { class: "muted", id: "audit-summary" });
  const body = h("tbody");
  const more = h("button", { type: "button", id: "audit-more", hidden: true }, "Show more");
  let cursor = null;
  let shown = 0;

  const filters = () => ({
    actor: actor.value.trim(), action: action.value, target: target.value.trim(), since: moment(since.value), until: moment(until.value),
  });

  const row = (e) => h("tr", { "data-action": e.action, "data-actor": e.actor, "data-target": e.target },
    h("td", { title: e.at }, fmtFull(e.at)),
    h("td", { class: "actor" }, e.actor, " ", h("span", { class: "muted" }, label(e.actor_role))),
    h("td", { class: "action" }, label(e.action)),
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
    summary.textContent = shown ? `${shown}${cursor ? "+" : ""} row${shown === 1 ? "" : "s"}` : "Nothing recorded for these filters.";
    csv.href = `/api/audit.csv${query(f)}`;
  }

  const apply = () => {
    const f = filters();
    history.replaceState(null, "", `#/audit${query({ actor: f.actor, action: f.action, target: f.target })}`);
    load(true).catch((e) => { summary.textContent = e.message; });
  };
  const form = h("form", { class: "toolbar", id: "audit-filters", onsubmit: (ev) => { ev.preventDefault(); apply(); } },
    actor, action, target,
    h("label", { class: "inline" }, "From ", since), h("label", { class: "inline" }, "until ", until),
    h("button", { type: "submit", class: "primary" }, "Filter"), csv, summary);
  action.addEventListener("change", apply);
  more.addEventListener("click", () => load(false).catch((e) => { summary.textContent = e.message; }));

  main.replaceChildren(
    h("h1", {}, "Access audit"),
    h("p", { class: "muted" }, "Who watched a camera live, opened evidence or an attachment, exported or imported cameras, or changed an account or token."),
    form,
    h("div", { class: "table-wrap" }, h("table", { id: "audit-table" },
      h("thead", {}, h("tr", {}, ["When", "Who", "Action", "What", "Detail", "From"].map((t) => h("th", { scope: "col" }, t)))),
      body)),
    more);
  await load(true);
}
