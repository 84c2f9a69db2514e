// The site as street → community → property company → compound → camera, with each camera's health.
import { allPages, api, h, healthBadge } from "../api.js";

const KIND = { street: "street", community: "community", property_company: "property company", compound: "compound" };

function cameraLeaf(node, health) {
  return h("li", { class: "camera", "data-camera": node.id },
    h("a", { href: `#/camera/${encodeURIComponent(node.id)}` }, node.name),
    h("span", { class: "muted" }, node.id),
    healthBadge(health.get(node.id)),
    node.enabled_cameras ? null : h("span", { class: "badge health-unknown" }, "disabled"));
}

function branch(node, health, depth) {
  const cams = node.children.filter((c) => c.kind === "camera");
  const subs = node.children.filter((c) => c.kind !== "camera");
  const summary = h("summary", {},
    h("strong", {}, node.name),
    h("span", { class: "kind" }, `${KIND[node.kind] || node.kind} · ${node.cameras} camera${node.cameras === 1 ? "" : "s"}`));
  const grids = node.grids.length
    ? h("div", { class: "grids", "aria-label": "grids" }, node.grids.map((g) =>
      h("span", { class: "chip", title: `grid worker: ${g.grid_worker || "—"}, ${g.building_leaders} building leaders` },
        `${g.id} ${g.name} · ${g.cameras} cam · ${g.grid_worker || "no grid worker"}`)))
    : null;
  const list = h("ul", {}, subs.map((c) => h("li", {}, branch(c, health, depth + 1))), cams.map((c) => cameraLeaf(c, health)));
  return h("details", { open: depth < 4 || node.cameras <= 20, "data-node": node.id }, summary, grids, list);
}

export async function render(main) {
  const [tree, cameras] = await Promise.all([api("/api/site/tree?cameras=true"), allPages("/api/cameras")]);
  const health = new Map(cameras.map((c) => [c.id, c.health]));
  const total = tree.reduce((n, s) => n + s.cameras, 0);
  main.replaceChildren(
    h("h1", {}, "Site"),
    h("p", { class: "muted" }, `${total} camera${total === 1 ? "" : "s"} in your scope. Health shows “unknown” until the camera has been read.`),
    tree.length
      ? h("div", { class: "card" }, h("ul", { class: "tree", id: "site-tree" }, tree.map((s) => h("li", {}, branch(s, health, 0)))))
      : h("p", { class: "card" }, "Nothing here yet: the site is empty or outside your scope."),
  );
}
