// Cameras table (integrators' main view): search, health, zones; links to each camera.
import { allPages, h, healthBadge } from "../api.js";
import { fmtNumber, t, tv } from "../i18n.js";

export async function render(main, _params, { can, me }) {
  const cameras = await allPages("/api/cameras");
  const search = h("input", { type: "search", placeholder: t("cameras.search"), "aria-label": t("cameras.searchLabel") });
  const count = h("span", { class: "muted" });
  const body = h("tbody");
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const rows = cameras.filter((c) => !q || c.id.toLowerCase().includes(q) || c.name.toLowerCase().includes(q));
    count.textContent = t("cameras.count", { shown: fmtNumber(rows.length), total: fmtNumber(cameras.length) });
    body.replaceChildren(...rows.map((c) => h("tr", { "data-camera": c.id },
      h("td", {}, h("a", { href: `#/camera/${encodeURIComponent(c.id)}` }, c.id)),
      h("td", {}, c.name),
      h("td", {}, c.grid_id),
      h("td", {}, c.compound_id || "—"),
      h("td", {}, tv("cameraLevel", c.level)),
      h("td", {}, healthBadge(c.health)),
      h("td", {}, c.enabled ? t("common.yes") : t("common.no")),
      h("td", {}, fmtNumber(c.zones.length)))));
  };
  search.addEventListener("input", draw);
  draw();
  main.replaceChildren(
    h("h1", {}, t("nav.cameras")),
    h("div", { class: "toolbar" }, search, count,
      can("site:write") ? h("a", { class: "button primary", href: "#/cameras/new" }, t("nav.cameraNew")) : null,
      can("site:write") ? h("a", { class: "button", href: "#/cameras/onvif", id: "add-by-onvif" }, t("onvif.title")) : null,
      can("site:write") ? h("a", { class: "button", href: "#/cameras/import" }, t("nav.import")) : null,
      // gateways are site-wide: only for site writers whose scope is the whole site (as app.js's route)
      can("site:write") && me.grid_ids === null ? h("a", { class: "button", href: "#/gateways", id: "gateways-link" }, t("gateways.title")) : null),
    h("div", { class: "table-wrap" }, h("table", { id: "cameras-table" },
      h("thead", {}, h("tr", {}, [t("camera.id"), t("camera.name"), t("camera.grid"), t("camera.compound"), t("camera.level"), t("camera.health"),
        t("camera.enabled"), t("camera.zoneCount")].map((name) => h("th", { scope: "col" }, name)))),
      body)),
  );
}
