// Cameras table (integrators' main view): search, health, zones; links to each camera.
import { allPages, h, healthBadge } from "../api.js";

export async function render(main, _params, { can }) {
  const cameras = await allPages("/api/cameras");
  const search = h("input", { type: "search", placeholder: "Search id or name", "aria-label": "Search cameras" });
  const count = h("span", { class: "muted" });
  const body = h("tbody");
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const rows = cameras.filter((c) => !q || c.id.toLowerCase().includes(q) || c.name.toLowerCase().includes(q));
    count.textContent = `${rows.length} of ${cameras.length}`;
    body.replaceChildren(...rows.map((c) => h("tr", { "data-camera": c.id },
      h("td", {}, h("a", { href: `#/camera/${encodeURIComponent(c.id)}` }, c.id)),
      h("td", {}, c.name),
      h("td", {}, c.grid_id),
      h("td", {}, c.compound_id || "—"),
      h("td", {}, c.level),
      h("td", {}, healthBadge(c.health)),
      h("td", {}, c.enabled ? "yes" : "no"),
      h("td", {}, String(c.zones.length)))));
  };
  search.addEventListener("input", draw);
  draw();
  main.replaceChildren(
    h("h1", {}, "Cameras"),
    h("div", { class: "toolbar" }, search, count,
      can("site:write") ? h("a", { class: "button primary", href: "#/cameras/new" }, "Add camera") : null,
      can("site:write") ? h("a", { class: "button", href: "#/cameras/import" }, "Import CSV") : null),
    h("div", { class: "table-wrap" }, h("table", { id: "cameras-table" },
      h("thead", {}, h("tr", {}, ["Id", "Name", "Grid", "Compound", "Level", "Health", "Enabled", "Zones"].map((t) => h("th", { scope: "col" }, t)))),
      body)),
  );
}
