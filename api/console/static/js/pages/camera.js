// One camera: live video through the server (WebRTC) with its zones drawn over the picture.
import { api, h, healthBadge } from "../api.js";
import { framesDecoded, startLive } from "../live.js";

const SVG = "http://www.w3.org/2000/svg";
const PURPOSE = { crowd: "Crowd area", structure: "Structure / wall", restricted: "Restricted area", mask: "Mask (ignored)" };

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
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/tree" }, "← Site")),
    h("h1", {}, cam.name),
    h("div", { class: "grid-2" },
      h("section", {}, box, h("div", { class: "toolbar", style: "margin-top:.5rem" }, streamSelect), cam.zones.length ? legend : h("p", { class: "muted" }, "No zones drawn.")),
      h("section", { class: "card" }, facts)),
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
  timer = setInterval(async () => {
    if (!session) return;
    const frames = await framesDecoded(session.pc);
    if (frames > 0) status.textContent = `live · ${session.stream} stream`;
  }, 1000);
  if (streamSelect) streamSelect.addEventListener("change", connect);
  connect();
  return () => { left = true; clearInterval(timer); if (session) session.close(); };
}
