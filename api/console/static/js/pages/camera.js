// One camera: live video through the server (WebRTC) with its zones drawn over the picture; the latest
// snapshot (refreshed while live video does not play), ingest figures and a connection test.
import { ApiError, api, h, healthBadge, label } from "../api.js";
import { framesDecoded, startLive } from "../live.js";

const SVG = "http://www.w3.org/2000/svg";
const PURPOSE = {
  crowd: "Crowd area",
  structure: "Structure / wall",
  restricted: "Restricted area",
  fire_lane: "Fire lane (no standing vehicles)",
  entrance: "Entrance / corridor / lift (no e-bikes)",
  mask: "Mask (ignored)",
};

function zoneLayer(zones) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 1000 1000");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-label", "zones");
  for (const z of zones) {
    const poly = document.createElementNS(SVG, "polygon");
    poly.setAttribute("points", z.points.map(([x, y]) => `${x * 1000},${y * 1000}`).join(" "));
    poly.setAttribute("class", `zone zone-${z.purpose}`);
    poly.dataset.zone = z.id;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${z.name} (${PURPOSE[z.purpose] || z.purpose})`;
    poly.append(title);
    svg.append(poly);
  }
  return svg;
}

// Labels in a second layer that keeps its aspect ratio, so text is never stretched.
function labelLayer(zones) {
  const svg = document.createElementNS(SVG, "svg");
  for (const z of zones) {
    const [x, y] = z.points.reduce(([a, b], [px, py]) => [Math.min(a, px), Math.min(b, py)], [1, 1]);
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", `${Math.min(x * 100 + 1, 90)}%`);
    t.setAttribute("y", `${Math.min(y * 100 + 4, 97)}%`);
    t.setAttribute("class", "zone-label");
    t.textContent = z.name;
    svg.append(t);
  }
  return svg;
}

const REFRESH_MS = 4000;
const STATS = [
  ["input_fps", "Input fps"], ["analysed_fps", "Analysed fps"], ["decoded_fps", "Decoded fps"],
  ["dropped", "Dropped"], ["motion_ratio", "Motion ratio"], ["decode_ms", "Decode ms"],
  ["last_frame_age_s", "Last frame age s"], ["decode_mode", "Decode mode"], ["inference_ms", "Inference ms"],
  ["need", "Scheduler need"], ["deferred", "Deferred frames"], ["starved", "Starved"],
  ["skipped_quiet", "Quiet keyframes skipped"],
];

// The snapshot as a blob URL, or the server's reason when there is none (503 says why).
async function loadSnapshot(cameraId, img, note) {
  const res = await fetch(`/api/cameras/${encodeURIComponent(cameraId)}/snapshot?width=640`, { credentials: "same-origin" });
  if (!res.ok) {
    let detail = `HTTP ${res.status}`;
    try { detail = (await res.json()).detail || detail; } catch { /* not JSON */ }
    img.hidden = true;
    note.textContent = detail;
    return;
  }
  const url = URL.createObjectURL(await res.blob());
  img.onload = () => { URL.revokeObjectURL(url); img.hidden = false; note.textContent = ""; };
  img.src = url;
}

async function loadStats(cameraId, table) {
  try {
    const s = await api(`/api/cameras/${encodeURIComponent(cameraId)}/stats`);
    table.replaceChildren(...STATS.map(([key, name]) =>
      h("tr", {}, h("th", { scope: "row" }, name), h("td", { "data-stat": key }, s[key] ?? "—"))));
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    table.replaceChildren(h("tr", {}, h("td", { class: "muted" }, e.message)));
  }
}

function testOutcome(r) {
  if (!r.ok) return `failed: ${label(r.reason)} — ${r.detail}`;
  const parts = [`${r.codec} ${r.width}×${r.height}`];
  if (r.fps) parts.push(`${r.fps} fps`);
  if (r.keyframe_interval_s) parts.push(`keyframe every ${r.keyframe_interval_s} s`);
  parts.push(`first picture after ${Math.round(r.first_frame_ms)} ms`);
  return `ok (${r.stream} stream): ${parts.join(", ")}`;
}

export async function render(main, [cameraId], { can }) {
  const cam = await api(`/api/cameras/${encodeURIComponent(cameraId)}`);
  const video = h("video", { autoplay: true, muted: true, playsinline: true });
  video.muted = true;
  const status = h("span", { class: "live-status", role: "status" }, "connecting…");
  const box = h("div", { class: "live", id: "live" }, video, zoneLayer(cam.zones), labelLayer(cam.zones), status);
  video.addEventListener("playing", () => { if (session) status.textContent = `live · ${session.stream} stream`; });
  video.addEventListener("loadedmetadata", () => {
    if (video.videoWidth && video.videoHeight) box.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
  });
  const streamSelect = cam.streams.sub
    ? h("select", { id: "stream", "aria-label": "Stream" }, h("option", { value: "sub" }, "Sub stream"), h("option", { value: "main" }, "Main stream"))
    : null;
  const legend = h("ul", { class: "legend" }, cam.zones.map((z) =>
    h("li", {}, h("span", { class: "swatch", style: `background: var(--${z.purpose})` }), `${z.name} — ${PURPOSE[z.purpose] || z.purpose}`)));
  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Id"), h("dd", {}, cam.id),
    h("dt", {}, "Grid"), h("dd", {}, cam.grid_id),
    h("dt", {}, "Compound"), h("dd", {}, cam.compound_id || "—"),
    h("dt", {}, "Level"), h("dd", {}, cam.level),
    h("dt", {}, "Health"), h("dd", {}, healthBadge(cam.health)),
    h("dt", {}, "Enabled"), h("dd", {}, cam.enabled ? "yes" : "no"),
    h("dt", {}, "Zones"), h("dd", {}, String(cam.zones.length)));
  const snapshot = h("img", { id: "snapshot", alt: `Latest snapshot of ${cam.name}`, hidden: true, style: "width:100%" });
  const snapshotNote = h("p", { class: "muted", id: "snapshot-note" }, "loading…");
  const statsTable = h("table", { id: "stats", class: "kv" }, h("tr", {}, h("td", { class: "muted" }, "loading…")));
  const testResult = h("p", { id: "test-result", role: "status" });
  const testButton = can("cameras:test") ? h("button", { id: "test-connection", type: "button" }, "Test connection") : null;
  if (testButton) {
    testButton.addEventListener("click", async () => {
      testButton.disabled = true;
      testResult.textContent = "testing…";
      try {
        const r = await api(`/api/cameras/${encodeURIComponent(cam.id)}/test`, { method: "POST" });
        testResult.textContent = testOutcome(r);
        testResult.dataset.ok = String(r.ok);
      } catch (e) {
        testResult.textContent = `test not run: ${e.message}`;
      } finally {
        testButton.disabled = false;
      }
    });
  }
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/tree" }, "← Site")),
    h("h1", {}, cam.name),
    h("div", { class: "grid-2" },
      h("section", {}, box, h("div", { class: "toolbar", style: "margin-top:.5rem" }, streamSelect), cam.zones.length ? legend : h("p", { class: "muted" }, "No zones drawn.")),
      h("section", {},
        h("div", { class: "card" }, facts),
        h("div", { class: "card" }, h("h2", {}, "Latest snapshot"), snapshot, snapshotNote),
        h("div", { class: "card" }, h("h2", {}, "Stats"), statsTable),
        testButton ? h("div", { class: "card" }, testButton, testResult) : null)),
  );

  let session = null;
  let timer = null;
  let left = false;
  const connect = async () => {
    if (session) session.close();
    session = null;
    status.textContent = "connecting…";
    if (!can("live:view")) { status.textContent = "live view is not available for your role"; return; }
    try {
      session = await startLive(cam.id, video, {
        stream: streamSelect ? streamSelect.value : "sub",
        onState: (s) => { if (s === "failed" || s === "disconnected") status.textContent = `connection ${s}`; },
      });
      window.gridwatch = { ...(window.gridwatch || {}), livePeer: session.pc };
      if (left) session.close();
    } catch (e) {
      status.textContent = `live view unavailable: ${e.message}`;
    }
  };
  let playing = false;
  timer = setInterval(async () => {
    if (!session) { playing = false; return; }
    const frames = await framesDecoded(session.pc);
    playing = frames > 0;
    if (playing) status.textContent = `live · ${session.stream} stream`;
  }, 1000);
  const refresh = async () => {
    if (left) return;
    await Promise.all([playing ? null : loadSnapshot(cam.id, snapshot, snapshotNote), loadStats(cam.id, statsTable)]);
  };
  const figures = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  refresh().catch(() => {});
  if (streamSelect) streamSelect.addEventListener("change", connect);
  connect();
  return () => { left = true; clearInterval(timer); clearInterval(figures); if (session) session.close(); };
}
