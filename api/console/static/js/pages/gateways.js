// GB/T 28181 gateways (wvp-GB28181-pro): the list with each one's last sync, a "sync now" that says what it changed
// (or why the gateway could not be listed, in the server's words), and the form that adds one. Site-wide writers only,
// as the API requires.
import { api, clearRefused, errorMessage, fmtTime, h, issueText, markRefused, serverText } from "../api.js";
import { fmtNumber, t } from "../i18n.js";
import { field, placeInputs } from "./camera-new.js";

const FIELDS = { id: "id", name: "name", url: "url", username: "username", password: "password", compound: "compound", grid: "grid" };

// Node names by id (compounds and grids), read from the site tree, for the table.
async function siteNames() {
  const names = new Map();
  const walk = (n) => {
    names.set(n.id, n.name);
    for (const g of n.grids) names.set(g.id, g.name);
    n.children.forEach(walk);
  };
  (await api("/api/site/tree")).forEach(walk);
  return names;
}

const cameraLink = (id) => h("a", { href: `#/camera/${encodeURIComponent(id)}` }, id);

// What one sync changed: the counts, then the cameras added, disabled and enabled again (each a link).
function syncReport(r) {
  const lists = [["added", r.added], ["removed", r.removed], ["restored", r.restored]].filter(([, ids]) => ids.length);
  return h("div", { class: "sync-report", "data-gateway": r.gateway },
    h("p", {}, t("gateways.synced", {
      gateway: r.gateway, channels: fmtNumber(r.channels), added: fmtNumber(r.added.length), removed: fmtNumber(r.removed.length),
      restored: fmtNumber(r.restored.length), updated: fmtNumber(r.updated), unchanged: fmtNumber(r.unchanged),
    })),
    lists.length ? h("ul", {}, lists.map(([kind, ids]) => h("li", { "data-kind": kind },
      `${kind === "added" ? t("gateways.addedCameras") : kind === "removed" ? t("gateways.removedCameras") : t("gateways.restoredCameras")} `,
      ids.flatMap((id, i) => (i ? [", ", cameraLink(id)] : [cameraLink(id)]))))) : null);
}

export async function render(main) {
  const [names, place] = await Promise.all([siteNames(), placeInputs()]);
  const status = h("div", { id: "sync-result", role: "status" });
  const body = h("tbody");
  const empty = h("p", { class: "muted", id: "gateways-empty", hidden: true }, t("gateways.none"));
  const table = h("div", { class: "table-wrap", style: "margin-bottom:1rem" });
  const named = (id) => (id ? `${id} ${names.get(id) || ""}`.trim() : "—");

  const sync = async (g, button) => {
    button.disabled = true;
    status.replaceChildren(h("p", { class: "muted" }, t("gateways.syncing", { gateway: g.id })));
    try {
      const report = await api(`/api/gateways/${encodeURIComponent(g.id)}/sync`, { method: "POST" });
      status.replaceChildren(syncReport(report));
      await load();
    } catch (e) {
      // 503: the gateway could not be listed (unreachable, login refused…); 422: channels that cannot be cameras.
      status.replaceChildren(h("div", { class: "error", role: "alert", "data-gateway": g.id },
        h("p", {}, t("gateways.syncFailed", { gateway: g.id })),
        e.errors && e.errors.length ? h("ul", {}, e.errors.map((it) => h("li", {}, issueText(it)))) : h("p", {}, errorMessage(e))));
    } finally {
      button.disabled = false;
    }
  };

  const row = (g) => {
    const button = h("button", { type: "button", class: "sync-now" }, t("gateways.syncNow"));
    button.addEventListener("click", () => sync(g, button));
    return h("tr", { "data-gateway": g.id },
      h("td", {}, g.id),
      h("td", {}, g.name),
      h("td", {}, g.url),
      h("td", {}, named(g.compound_id)),
      h("td", {}, g.grid_id ? named(g.grid_id) : t("gateways.gridByCompound")),
      h("td", { class: "synced-at" }, g.synced_at ? h("time", { datetime: g.synced_at }, fmtTime(g.synced_at)) : t("gateways.never")),
      h("td", { class: "sync-summary" }, g.sync_summary ? serverText(g.sync_summary) : "—"),
      h("td", { class: "retired" }, g.retired.length
        ? h("details", {}, h("summary", {}, fmtNumber(g.retired.length)), h("ul", {}, g.retired.map((id) => h("li", {}, cameraLink(id)))))
        : fmtNumber(0)),
      h("td", {}, button));
  };

  const load = async () => {
    const gateways = await api("/api/gateways");
    body.replaceChildren(...gateways.map(row));
    empty.hidden = gateways.length > 0;
    table.hidden = !empty.hidden;
  };

  // The add form: the compound is required, the grid optional (by the compound, or each channel's coordinates).
  place.compound.options[0].textContent = t("gateways.chooseCompound");
  const f = {
    id: h("input", { name: "id", required: true, maxlength: 31, placeholder: "GW-01", autocomplete: "off" }),
    name: h("input", { name: "name", maxlength: 200 }),
    url: h("input", { name: "url", required: true, maxlength: 500, placeholder: "http://10.1.2.3:18080" }),
    username: h("input", { name: "username", required: true, autocomplete: "off" }),
    password: h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" }),
    compound: place.compound,
    grid: place.grid,
  };
  const labels = {
    id: t("gateways.id"), name: t("gateways.name"), url: t("gateways.url"), username: t("cameraNew.username"),
    password: t("cameraNew.password"), compound: t("camera.compound"), grid: t("camera.grid"),
  };
  const fieldNames = Object.fromEntries(Object.entries(FIELDS).map(([where, name]) => [where, labels[name]]));
  const summary = h("div", { class: "error", role: "alert", id: "form-errors" });
  const addButton = h("button", { type: "submit", class: "primary", id: "gateway-add" }, t("gateways.add"));
  const form = h("form", { class: "card", id: "gateway-form", novalidate: true },
    h("h2", {}, t("gateways.addTitle")),
    h("p", { class: "muted" }, t("gateways.addIntro")),
    h("div", { class: "form-grid" },
      field(labels.id, f.id, t("gateways.idHint")), field(labels.name, f.name, t("gateways.nameHint")),
      field(labels.url, f.url, t("gateways.urlHint")), h("span"),
      field(labels.username, f.username), field(labels.password, f.password, t("gateways.passwordHint")),
      field(labels.compound, f.compound), field(labels.grid, f.grid, t("cameraNew.gridHint"))),
    summary, addButton);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearRefused(form, summary);
    const v = (k) => f[k].value.trim();
    const spec = { id: v("id"), kind: "wvp", url: v("url"), username: v("username"), compound: v("compound") };
    if (v("name")) spec.name = v("name");
    if (f.password.value) spec.password = f.password.value;
    if (v("grid")) spec.grid = v("grid");
    addButton.disabled = true;
    try {
      const added = await api("/api/gateways", { method: "POST", json: spec });
      form.reset();
      status.replaceChildren(h("p", {}, t("gateways.addedOne", { gateway: added.id })));
      await load();
    } catch (e) {
      markRefused(e, { fields: f, map: FIELDS, names: fieldNames, summary, heading: t("gateways.refused") });
    } finally {
      addButton.disabled = false;
    }
  });

  table.append(h("table", { id: "gateways-table" },
    h("thead", {}, h("tr", {}, [t("gateways.id"), t("gateways.name"), t("gateways.url"), t("camera.compound"), t("camera.grid"),
      t("gateways.syncedAt"), t("gateways.summary"), t("gateways.retired"), ""].map((n) => h("th", { scope: "col" }, n)))),
    body));
  await load();
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/cameras" }, `← ${t("nav.cameras")}`)),
    h("h1", {}, t("gateways.title")),
    h("p", { class: "muted" }, t("gateways.intro")),
    status,
    table,
    empty,
    form);
}
