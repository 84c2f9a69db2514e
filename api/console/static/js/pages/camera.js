// One camera: live video through the server (WebRTC) with its zones drawn over the picture; the latest
// snapshot (refreshed while live video does not play), ingest figures and a connection test.
import { ApiError, api, errorMessage, h, healthBadge, serverText } from "../api.js";
import { fmtNumber, t, tParts, tv } from "../i18n.js";
import { framesDecoded, startLive } from "../live.js";
import { suspendCard } from "../suspends.js";

const SVG = "http://www.w3.org/2000/svg";

// Where the picture is inside an element of boxWidth × boxHeight that shows it with object-fit: contain:
// scaled to fit whole, centred, with bars above and below (a wider picture) or at the sides (a taller one).
// Zones are fractions of the picture, so they are drawn over this box and never over the bars.
export function contentBox(videoWidth, videoHeight, boxWidth, boxHeight) {
  if (!videoWidth || !videoHeight || !boxWidth || !boxHeight) return { x: 0, y: 0, width: boxWidth, height: boxHeight };
  const scale = Math.min(boxWidth / videoWidth, boxHeight / videoHeight);
  const width = videoWidth * scale;
  const height = videoHeight * scale;
  return { x: (boxWidth - width) / 2, y: (boxHeight - height) / 2, width, height };
}

// Keep `overlay` on the picture's content box of `video` as either changes size; returns stop().
function followPicture(video, overlay) {
  const fit = () => {
    const r = contentBox(video.videoWidth, video.videoHeight, video.clientWidth, video.clientHeight);
    Object.assign(overlay.style, {
      left: `${video.offsetLeft + r.x}px`, top: `${video.offsetTop + r.y}px`, width: `${r.width}px`, height: `${r.height}px`,
    });
  };
  const observer = new ResizeObserver(fit);
  observer.observe(video);
  video.addEventListener("loadedmetadata", fit);
  video.addEventListener("resize", fit); // the stream's own size changed (main ↔ sub)
  fit();
  return () => observer.disconnect();
}

function purpose(p) { return tv("purpose", p); }

function zoneLayer(zones) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 1000 1000");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-label", t("camera.zones"));
  for (const z of zones) {
    const poly = document.createElementNS(SVG, "polygon");
    poly.setAttribute("points", z.points.map(([x, y]) => `${x * 1000},${y * 1000}`).join(" "));
    poly.setAttribute("class", `zone zone-${z.purpose}`);
    poly.dataset.zone = z.id;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${z.name} (${purpose(z.purpose)})`;
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
    const text = document.createElementNS(SVG, "text");
    text.setAttribute("x", `${Math.min(x * 100 + 1, 90)}%`);
    text.setAttribute("y", `${Math.min(y * 100 + 4, 97)}%`);
    text.setAttribute("class", "zone-label");
    text.textContent = z.name || z.id;
    svg.append(text);
  }
  return svg;
}

const REFRESH_MS = 4000;
const STATS = () => [
  ["input_fps", t("stats.inputFps")], ["analysed_fps", t("stats.analysedFps")], ["decoded_fps", t("stats.decodedFps")],
  ["dropped", t("stats.dropped")], ["motion_ratio", t("stats.motionRatio")], ["decode_ms", t("stats.decodeMs")],
  ["last_frame_age_s", t("stats.lastFrameAge")], ["decode_mode", t("stats.decodeMode")], ["inference_ms", t("stats.inferenceMs")],
  ["need", t("stats.need")], ["deferred", t("stats.deferred")], ["starved", t("stats.starved")],
  ["skipped_quiet", t("stats.skippedQuiet")],
];

// A figure as the table shows it: numbers in the language's way, the decode mode in words.
function statValue(key, v) {
  if (v === undefined || v === null) return "—";
  if (key === "decode_mode") return tv("decodeMode", v);
  return typeof v === "number" ? fmtNumber(v) : String(v);
}

// The snapshot as a blob URL, or the server's reason when there is none (503 says why).
async function loadSnapshot(cameraId, img, note) {
  const res = await fetch(`/api/cameras/${encodeURIComponent(cameraId)}/snapshot?width=640`, { credentials: "same-origin" });
  if (!res.ok) {
    let detail = t("error.http", { status: res.status });
    try {
      const body = await res.json();
      if (body.detail) detail = serverText(body.detail);
    } catch { /* not JSON */ }
    img.hidden = true;
    note.replaceChildren(detail);
    return;
  }
  const url = URL.createObjectURL(await res.blob());
  img.onload = () => { URL.revokeObjectURL(url); img.hidden = false; note.textContent = ""; };
  img.src = url;
}

async function loadStats(cameraId, table) {
  try {
    const s = await api(`/api/cameras/${encodeURIComponent(cameraId)}/stats`);
    table.replaceChildren(...STATS().map(([key, name]) =>
      h("tr", {}, h("th", { scope: "row" }, name), h("td", { "data-stat": key }, statValue(key, s[key])))));
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    table.replaceChildren(h("tr", {}, h("td", { class: "muted" }, errorMessage(e))));
  }
}

function testOutcome(r) {
  if (!r.ok) return t("camera.testFailed", { reason: tv("offline", r.reason), detail: r.detail });
  const parts = [`${r.codec} ${r.width}×${r.height}`];
  if (r.fps) parts.push(`${fmtNumber(r.fps)} fps`);
  if (r.keyframe_interval_s) parts.push(t("camera.keyframeEvery", { s: fmtNumber(r.keyframe_interval_s) }));
  parts.push(t("camera.firstPicture", { ms: fmtNumber(Math.round(r.first_frame_ms)) }));
  return t("camera.testOk", { stream: tv("streamKind", r.stream), parts: parts.join(t("list.separator")) });
}

export async function render(main, [cameraId], { can }) {
  const cam = await api(`/api/cameras/${encodeURIComponent(cameraId)}`);
  const video = h("video", { autoplay: true, muted: true, playsinline: true });
  video.muted = true;
  const status = h("span", { class: "live-status", role: "status" }, t("camera.connecting"));
  const overlay = h("div", { class: "zones", id: "zones" }, zoneLayer(cam.zones), labelLayer(cam.zones));
  const box = h("div", { class: "live", id: "live" }, video, overlay, status);
  const liveText = () => t("camera.live", { stream: tv("streamKind", session.stream) });
  video.addEventListener("playing", () => { if (session) status.textContent = liveText(); });
  video.addEventListener("loadedmetadata", () => {
    if (video.videoWidth && video.videoHeight) box.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
  });
  const streamSelect = cam.streams.sub
    ? h("select", { id: "stream", "aria-label": t("camera.stream") }, h("option", { value: "sub" }, t("camera.subStream")), h("option", { value: "main" }, t("camera.mainStream")))
    : null;
  const legend = h("ul", { class: "legend" }, cam.zones.map((z) =>
    h("li", {}, h("span", { class: "swatch", style: `background: var(--${z.purpose})` }), `${z.name || z.id} — ${purpose(z.purpose)}`)));
  const facts = h("dl", { class: "facts" },
    h("dt", {}, t("camera.id")), h("dd", {}, cam.id),
    h("dt", {}, t("camera.grid")), h("dd", {}, cam.grid_id),
    h("dt", {}, t("camera.compound")), h("dd", {}, cam.compound_id || "—"),
    h("dt", {}, t("camera.level")), h("dd", {}, tv("cameraLevel", cam.level)),
    h("dt", {}, t("camera.health")), h("dd", {}, healthBadge(cam.health)),
    h("dt", {}, t("camera.enabled")), h("dd", {}, cam.enabled ? t("common.yes") : t("common.no")),
    h("dt", {}, t("camera.zoneCount")), h("dd", {}, fmtNumber(cam.zones.length)));
  const snapshot = h("img", { id: "snapshot", alt: t("camera.snapshotOf", { name: cam.name }), hidden: true, style: "width:100%" });
  const snapshotNote = h("p", { class: "muted", id: "snapshot-note" }, t("common.loading"));
  const statsTable = h("table", { id: "stats", class: "kv" }, h("tr", {}, h("td", { class: "muted" }, t("common.loading"))));
  const testResult = h("p", { id: "test-result", role: "status" });
  const testButton = can("cameras:test") ? h("button", { id: "test-connection", type: "button" }, t("camera.test")) : null;
  if (testButton) {
    testButton.addEventListener("click", async () => {
      testButton.disabled = true;
      testResult.textContent = t("camera.testing");
      try {
        const r = await api(`/api/cameras/${encodeURIComponent(cam.id)}/test`, { method: "POST" });
        testResult.textContent = testOutcome(r);
        testResult.dataset.ok = String(r.ok);
      } catch (e) {
        testResult.replaceChildren(...tParts("camera.testNotRun", { reason: errorMessage(e) }));
      } finally {
        testButton.disabled = false;
      }
    });
  }
  const suspends = suspendCard(cam, can("alerts:handle"));
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/tree" }, `← ${t("nav.tree")}`)),
    h("h1", {}, cam.name),
    h("div", { class: "grid-2" },
      h("section", {}, box, h("div", { class: "toolbar", style: "margin-top:.5rem" }, streamSelect), cam.zones.length ? legend : h("p", { class: "muted" }, t("camera.noZones"))),
      h("section", {},
        h("div", { class: "card" }, facts),
        suspends.card,
        h("div", { class: "card" }, h("h2", {}, t("camera.snapshot")), snapshot, snapshotNote),
        h("div", { class: "card" }, h("h2", {}, t("camera.stats")), statsTable),
        testButton ? h("div", { class: "card" }, testButton, testResult) : null)),
  );

  let session = null;
  let timer = null;
  let left = false;
  const connect = async () => {
    if (session) session.close();
    session = null;
    status.textContent = t("camera.connecting");
    if (!can("live:view")) { status.textContent = t("camera.notForRole"); return; }
    try {
      session = await startLive(cam.id, video, {
        stream: streamSelect ? streamSelect.value : "sub",
        onState: (s) => { if (s === "failed" || s === "disconnected") status.textContent = tv("connection", s); },
      });
      window.gridwatch = { ...(window.gridwatch || {}), livePeer: session.pc };
      if (left) session.close();
    } catch (e) {
      status.replaceChildren(...tParts("camera.unavailable", { reason: errorMessage(e) }));
    }
  };
  let playing = false;
  timer = setInterval(async () => {
    if (!session) { playing = false; return; }
    const frames = await framesDecoded(session.pc);
    playing = frames > 0;
    if (playing) status.textContent = liveText();
  }, 1000);
  const refresh = async () => {
    if (left) return;
    await Promise.all([playing ? null : loadSnapshot(cam.id, snapshot, snapshotNote), loadStats(cam.id, statsTable)]);
  };
  const figures = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  refresh().catch(() => {});
  if (streamSelect) streamSelect.addEventListener("change", connect);
  connect();
  const unfollow = followPicture(video, overlay);
  return () => { left = true; unfollow(); clearInterval(timer); clearInterval(figures); if (session) session.close(); };
}
