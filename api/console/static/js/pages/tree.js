// The site as street → community → property company → compound → camera, with each camera's health and,
// for cameras run by a remote worker, that worker; when camera shards report (/api/cluster), each camera's shard
// and that shard's state; the box's headroom and the workers' own health above the tree.
import { ApiError, allPages, api, errorMessage, fmtTime, h, healthBadge } from "../api.js";
import { fmtNumber, t, tParts, tv } from "../i18n.js";
import { activeSuspends, suspendText } from "../suspends.js";

function workerBadge(w) {
  if (!w) return null;
  return h("span", { class: `badge worker ${w.stale ? "health-offline" : "muted"}`, title: t("tree.workerTitle", { name: w.name, account: w.account }) },
    w.stale ? t("tree.workerStale", { name: w.name }) : t("tree.worker", { name: w.name }));
}

const SHARD_CLASS = { ok: "health-online", behind: "health-degraded", stale: "health-offline", "never reported": "health-unknown" };

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
  const title = [
    t("tree.shardTitle", { shard: s.shard, workers: s.workers.map((w) => w.worker).join(", ") || t("tree.shardNoWorker") }),
    missing ? t("tree.shardMissing") : "", s.delivery_state ? t("tree.delivery", { state: tv("delivery", s.delivery_state) }) : ""];
  return h("span", { class: `badge shard ${SHARD_CLASS[s.state] || "health-unknown"}`, "data-shard": s.shard, title: title.filter(Boolean).join(t("list.separator")) },
    t("tree.shard", { shard: s.shard, state: tv("shard", s.state) }));
}

// One line on the shards as a whole: how many, how many down, and whether two shard counts report at once.
function clusterNote(cluster) {
  if (!cluster || cluster.shard_count == null) return null;
  const current = cluster.shards.filter((s) => s.shard.endsWith(`/${cluster.shard_count}`));
  const down = current.filter((s) => s.state === "stale" || s.state === "never reported").length;
  const parts = [t("tree.shards", { count: fmtNumber(cluster.shard_count) })];
  if (down) parts.push(t("tree.shardsDown", { down: fmtNumber(down), unserved: fmtNumber(cluster.unserved_count) }));
  if (cluster.changing) parts.push(t("tree.shardsChanging", { counts: cluster.shard_counts.join(" / ") }));
  return h("p", { class: down || cluster.changing ? "health-degraded" : "muted", id: "cluster-note" }, parts.join(" · "));
}

// The active suspends by "camera:<id>" and "grid:<id>".
function suspendsOf(list) {
  return new Map(list.map((s) => [`${s.kind}:${s.target_id}`, s]));
}

function suspendBadge(s, label) {
  return s ? h("span", { class: "badge suspended", "data-suspend": s.id, title: suspendText(s) }, label) : null;
}

function cameraLeaf(node, health, runBy, shards, suspended) {
  return h("li", { class: "camera", "data-camera": node.id },
    h("a", { href: `#/camera/${encodeURIComponent(node.id)}` }, node.name),
    h("span", { class: "muted" }, node.id),
    healthBadge(health.get(node.id)),
    workerBadge(runBy.get(node.id)),
    shardBadge(shards.get(node.id)),
    suspendBadge(suspended.get(`camera:${node.id}`), t("tree.suspended")),
    node.enabled_cameras ? null : h("span", { class: "badge health-unknown" }, t("tree.disabled")));
}

function workersCard(workers) {
  if (!workers.length) return null;
  const row = (w) => h("tr", { "data-worker": `${w.account}/${w.name}`, class: w.stale ? "stale" : "" },
    h("td", {}, w.name, h("span", { class: "muted" }, ` ${w.account}`)),
    h("td", {}, w.stale ? h("span", { class: "badge health-offline" }, t("tree.notReporting")) : h("span", { class: "badge health-online" }, t("tree.reporting"))),
    h("td", {}, fmtNumber(w.cameras.length)),
    h("td", { class: "spool" }, w.spool_dropped
      ? t("tree.spoolDropped", { waiting: fmtNumber(w.spool_depth), dropped: fmtNumber(w.spool_dropped) })
      : t("tree.spool", { waiting: fmtNumber(w.spool_depth) })),
    h("td", {}, tv("delivery", w.delivery_state), w.latency_p95_s == null ? "" : ` · p95 ${fmtNumber(w.latency_p95_s, 1)} s`),
    h("td", {}, h("time", { datetime: w.last_seen }, fmtTime(w.last_seen))));
  return h("div", { class: "card", id: "workers" }, h("h2", {}, t("tree.workers")),
    h("table", {}, h("thead", {}, h("tr", {}, [t("tree.col.worker"), t("tree.col.state"), t("nav.cameras"), t("tree.col.spool"),
      t("tree.col.delivery"), t("tree.col.lastSeen")].map((name) => h("th", {}, name)))),
      h("tbody", {}, workers.map(row))));
}

const BOX_REFRESH_MS = 5000;
const num = (v, digits = 1) => (v == null ? "—" : fmtNumber(v, digits));
const BOX = () => [
  ["cameras", t("tree.box.online"), (b) => `${fmtNumber(b.online)} / ${fmtNumber(b.cameras)}`],
  ["input_fps", t("stats.inputFps"), (b) => num(b.input_fps)],
  ["analysed_fps", t("stats.analysedFps"), (b) => num(b.analysed_fps)],
  ["busy", t("tree.box.busy"), (b) => (b.budget > 0
    ? t("tree.box.busyOf", { percent: fmtNumber(Math.round((100 * b.busy) / b.budget)), busy: num(b.busy, 2), budget: num(b.budget, 2) })
    : t("tree.box.noBudget", { busy: num(b.busy, 2) }))],
  ["latency_p95_s", t("tree.box.latency"), (b) => (b.latency_p95_s == null ? "—" : `${num(b.latency_p95_s, 2)} s`)],
  ["cpu_percent", t("tree.box.cpu"), (b) => (b.cpu_percent == null ? "—" : `${num(b.cpu_percent, 0)} %`)],
  ["rss_mib", t("tree.box.memory"), (b) => (b.rss_mib == null ? "—" : `${num(b.rss_mib, 0)} MiB`)],
  ["deferred", t("stats.deferred"), (b) => fmtNumber(b.deferred)],
  ["starved", t("stats.starved"), (b) => fmtNumber(b.starved)],
  ["skipped_quiet", t("stats.skippedQuiet"), (b) => fmtNumber(b.skipped_quiet)],
];

// The box's totals from /api/stats, refreshed while the page is open. Hidden for a scoped caller (box is
// null: whole-box figures are not theirs to see); one line saying why when the server has no live pipeline.
function boxCard() {
  const table = h("table", { class: "kv" });
  const note = h("p", { class: "muted", id: "box-note", hidden: true });
  const card = h("div", { class: "card", id: "box", hidden: true }, h("h2", {}, t("tree.boxTitle")), table, note);
  let left = false;
  const refresh = async () => {
    let stats;
    try {
      stats = await api("/api/stats");
    } catch (e) {
      if (!(e instanceof ApiError) || left) return;
      table.replaceChildren();
      note.replaceChildren(...tParts("tree.box.none", { reason: errorMessage(e) }));
      note.hidden = false;
      card.hidden = false;
      return;
    }
    if (left) return;
    card.hidden = !stats.box;
    note.hidden = true;
    if (!stats.box) return;
    table.replaceChildren(...BOX().map(([key, name, show]) =>
      h("tr", {}, h("th", { scope: "row" }, name), h("td", { "data-stat": key }, show(stats.box)))));
  };
  const timer = setInterval(() => refresh().catch(() => {}), BOX_REFRESH_MS);
  refresh().catch(() => {});
  return { card, stop: () => { left = true; clearInterval(timer); } };
}

function branch(node, health, runBy, shards, suspended, depth) {
  const cams = node.children.filter((c) => c.kind === "camera");
  const subs = node.children.filter((c) => c.kind !== "camera");
  const summary = h("summary", {},
    h("strong", {}, node.name),
    h("span", { class: "kind" }, t("tree.kindCameras", { kind: tv("kind", node.kind), count: fmtNumber(node.cameras) })));
  const grids = node.grids.length
    ? h("div", { class: "grids", "aria-label": t("tree.grids") }, node.grids.map((g) =>
      h("span", { class: "chip", "data-grid": g.id, title: t("tree.gridTitle", { worker: g.grid_worker || "—", leaders: fmtNumber(g.building_leaders) }) },
        t("tree.grid", { id: g.id, name: g.name, cameras: fmtNumber(g.cameras), worker: g.grid_worker || t("tree.noGridWorker") }),
        suspendBadge(suspended.get(`grid:${g.id}`), t("tree.suspended")))))
    : null;
  const list = h("ul", {},
    subs.map((c) => h("li", {}, branch(c, health, runBy, shards, suspended, depth + 1))),
    cams.map((c) => cameraLeaf(c, health, runBy, shards, suspended)));
  return h("details", { open: depth < 4 || node.cameras <= 20, "data-node": node.id }, summary, grids, list);
}

export async function render(main) {
  const [tree, cameras, workers, cluster, suspendList] = await Promise.all([
    api("/api/site/tree?cameras=true"), allPages("/api/cameras"), api("/api/workers").catch(() => []),
    api("/api/cluster").catch(() => null), activeSuspends()]);
  const suspended = suspendsOf(suspendList);
  const shards = shardsOf(cluster);
  const health = new Map(cameras.map((c) => [c.id, c.health]));
  const runBy = new Map(workers.flatMap((w) => w.cameras.map((id) => [id, w])));
  const total = tree.reduce((n, s) => n + s.cameras, 0);
  const box = boxCard();
  main.replaceChildren(...[
    h("h1", {}, t("nav.tree")),
    h("p", { class: "muted" }, t("tree.intro", { count: fmtNumber(total), unknown: tv("health", "unknown") })),
    box.card,
    clusterNote(cluster),
    workersCard(workers),
    tree.length
      ? h("div", { class: "card" }, h("ul", { class: "tree", id: "site-tree" }, tree.map((s) => h("li", {}, branch(s, health, runBy, shards, suspended, 0)))))
      : h("p", { class: "card" }, t("tree.empty")),
  ].filter(Boolean)); // no workers card without workers (replaceChildren would show a null as text)
  return box.stop;
}
