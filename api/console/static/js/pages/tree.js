// The site as street → community → property company → compound → camera, with each camera's health and,
// for cameras run by a remote worker, that worker; when camera shards report (/api/cluster), each camera's shard
// and that shard's state; the box's headroom and the workers' own health above the tree.
import { ApiError, allPages, api, fmtTime, h, healthBadge } from "../api.js";

const KIND = { street: "street", community: "community", property_company: "property company", compound: "compound" };

function workerBadge(w) {
  if (!w) return null;
  return h("span", { class: `badge worker ${w.stale ? "health-offline" : "muted"}`, title: `remote worker ${w.name} (${w.account})` },
    w.stale ? `worker ${w.name}: not reporting` : `worker ${w.name}`);
}

const SHARD_STATE = {
  ok: ["ok", "health-online"],
  behind: ["behind", "health-degraded"],
  stale: ["not reporting", "health-offline"],
  "never reported": ["never reported", "health-unknown"],
};

// The shard the site model gives each camera (of the shard count in use); a camera not yet running there says so.
function shardsOf(cluster) {
  const of = new Map();
  if (!cluster || cluster.shard_count == null) return of;
  for (const s of cluster.shards) {
    if (!s.shard.endsWith(`/${cluster.shard_count}`)) continue;
    for (const id of s.wanted) of.set(id, { shard: s, missing: s.missing.includes(id) });
  }
  return of;
}

function shardBadge(entry) {
  if (!entry) return null;
  const { shard: s, missing } = entry;
  const [label, cls] = SHARD_STATE[s.state] || [s.state, "health-unknown"];
  const title = [`camera shard ${s.shard}: ${s.workers.map((w) => w.worker).join(", ") || "no worker has reported it"}`,
    missing ? "this camera is not running on it yet" : "", s.delivery_state ? `delivery ${s.delivery_state}` : ""];
  return h("span", { class: `badge shard ${cls}`, "data-shard": s.shard, title: title.filter(Boolean).join("; ") },
    `shard ${s.shard} · ${label}`);
}

// One line on the shards as a whole: how many, how many down, and whether two shard counts report at once.
function clusterNote(cluster) {
  if (!cluster || cluster.shard_count == null) return null;
  const current = cluster.shards.filter((s) => s.shard.endsWith(`/${cluster.shard_count}`));
  const down = current.filter((s) => s.state === "stale" || s.state === "never reported").length;
  const parts = [`Camera shards: ${cluster.shard_count}`];
  if (down) parts.push(`${down} not reporting, ${cluster.unserved_count} camera${cluster.unserved_count === 1 ? "" : "s"} unserved`);
  if (cluster.changing) parts.push(`being changed (shards of ${cluster.shard_counts.join(" and ")} report)`);
  return h("p", { class: down || cluster.changing ? "health-degraded" : "muted", id: "cluster-note" }, parts.join(" · "));
}

function cameraLeaf(node, health, runBy, shards) {
  return h("li", { class: "camera", "data-camera": node.id },
    h("a", { href: `#/camera/${encodeURIComponent(node.id)}` }, node.name),
    h("span", { class: "muted" }, node.id),
    healthBadge(health.get(node.id)),
    workerBadge(runBy.get(node.id)),
    shardBadge(shards.get(node.id)),
    node.enabled_cameras ? null : h("span", { class: "badge health-unknown" }, "disabled"));
}

function workersCard(workers) {
  if (!workers.length) return null;
  const row = (w) => h("tr", { "data-worker": `${w.account}/${w.name}`, class: w.stale ? "stale" : "" },
    h("td", {}, w.name, h("span", { class: "muted" }, ` ${w.account}`)),
    h("td", {}, w.stale ? h("span", { class: "badge health-offline" }, "not reporting") : h("span", { class: "badge health-online" }, "reporting")),
    h("td", {}, String(w.cameras.length)),
    h("td", { class: "spool" }, `${w.spool_depth} waiting${w.spool_dropped ? `, ${w.spool_dropped} dropped` : ""}`),
    h("td", {}, w.delivery_state, w.latency_p95_s == null ? "" : ` · p95 ${w.latency_p95_s.toFixed(1)} s`),
    h("td", {}, h("time", { datetime: w.last_seen }, fmtTime(w.last_seen))));
  return h("div", { class: "card", id: "workers" }, h("h2", {}, "Remote workers"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Worker", "State", "Cameras", "Spool", "Delivery", "Last report"].map((t) => h("th", {}, t)))),
      h("tbody", {}, workers.map(row))));
}

const BOX_REFRESH_MS = 5000;
const num = (v, digits = 1) => (v == null ? "—" : Number(v).toFixed(digits));
const BOX = [
  ["cameras", "Cameras online", (b) => `${b.online} / ${b.cameras}`],
  ["input_fps", "Input fps", (b) => num(b.input_fps)],
  ["analysed_fps", "Analysed fps", (b) => num(b.analysed_fps)],
  ["busy", "Model busy", (b) => (b.budget > 0
    ? `${Math.round((100 * b.busy) / b.budget)}% of budget (${num(b.busy, 2)} of ${num(b.budget, 2)} s/s)`
    : `${num(b.busy, 2)} s/s, no budget`)],
  ["latency_p95_s", "p95 capture → detections", (b) => (b.latency_p95_s == null ? "—" : `${num(b.latency_p95_s, 2)} s`)],
  ["cpu_percent", "CPU", (b) => (b.cpu_percent == null ? "—" : `${num(b.cpu_percent, 0)} %`)],
  ["rss_mib", "Memory", (b) => (b.rss_mib == null ? "—" : `${num(b.rss_mib, 0)} MiB`)],
  ["deferred", "Deferred frames", (b) => String(b.deferred)],
  ["starved", "Starved", (b) => String(b.starved)],
  ["skipped_quiet", "Quiet keyframes skipped", (b) => String(b.skipped_quiet)],
];

// The box's totals from /api/stats, refreshed while the page is open. Hidden for a scoped caller (box is
// null: whole-box figures are not theirs to see); one line saying why when the server has no live pipeline.
function boxCard() {
  const table = h("table", { class: "kv" });
  const note = h("p", { class: "muted", id: "box-note", hidden: true });
  const card = h("div", { class: "card", id: "box", hidden: true }, h("h2", {}, "Box"), table, note);
  let left = false;
  const refresh = async () => {
    let stats;
    try {
      stats = await api("/api/stats");
    } catch (e) {
      if (!(e instanceof ApiError) || left) return;
      table.replaceChildren();
      note.textContent = `No box figures: ${e.message}`;
      note.hidden = false;
      card.hidden = false;
      return;
    }
    if (left) return;
    card.hidden = !stats.box;
    note.hidden = true;
    if (!stats.box) return;
    table.replaceChildren(...BOX.map(([key, name, show]) =>
      h("tr", {}, h("th", { scope: "row" }, name), h("td", { "data-stat": key }, show(stats.box)))));
  };
  const timer = setInterval(() => refresh().catch(() => {}), BOX_REFRESH_MS);
  refresh().catch(() => {});
  return { card, stop: () => { left = true; clearInterval(timer); } };
}

function branch(node, health, runBy, shards, depth) {
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
  const list = h("ul", {},
    subs.map((c) => h("li", {}, branch(c, health, runBy, shards, depth + 1))),
    cams.map((c) => cameraLeaf(c, health, runBy, shards)));
  return h("details", { open: depth < 4 || node.cameras <= 20, "data-node": node.id }, summary, grids, list);
}

export async function render(main) {
  const [tree, cameras, workers, cluster] = await Promise.all([
    api("/api/site/tree?cameras=true"), allPages("/api/cameras"), api("/api/workers").catch(() => []),
    api("/api/cluster").catch(() => null)]);
  const shards = shardsOf(cluster);
  const health = new Map(cameras.map((c) => [c.id, c.health]));
  const runBy = new Map(workers.flatMap((w) => w.cameras.map((id) => [id, w])));
  const total = tree.reduce((n, s) => n + s.cameras, 0);
  const box = boxCard();
  main.replaceChildren(...[
    h("h1", {}, "Site"),
    h("p", { class: "muted" }, `${total} camera${total === 1 ? "" : "s"} in your scope. Health shows “unknown” until the camera has been read.`),
    box.card,
    clusterNote(cluster),
    workersCard(workers),
    tree.length
      ? h("div", { class: "card" }, h("ul", { class: "tree", id: "site-tree" }, tree.map((s) => h("li", {}, branch(s, health, runBy, shards, 0)))))
      : h("p", { class: "card" }, "Nothing here yet: the site is empty or outside your scope."),
  ].filter(Boolean)); // no workers card without workers (replaceChildren would show a null as text)
  return box.stop;
}
