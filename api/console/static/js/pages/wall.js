// The video wall of a management centre: 1, 4, 9 or 16 tiles of live video (each camera's sub stream when it
// has one) from the cameras the user may see; a patrol tour through a set of them; and a tile that jumps to a
// camera the moment it raises an alert, marked with the hazard and held there for a minute.
// Every tile is one live view on the server (one RTCPeerConnection here): a tile that changes camera closes
// its old view, here and on the server, before it opens the next, so a tour never adds up views.
import { allPages, errorMessage, fmtTime, h, healthBadge, severityBadge, subscribe } from "../api.js";
import { fmtNumber, t, tParts, tv } from "../i18n.js";
import { framesDecoded, startLive } from "../live.js";

const LAYOUTS = [1, 4, 9, 16];
const INTERVALS_S = [10, 30, 60, 120, 300];
const DEFAULT_INTERVAL_S = 30;
const PIN_MS = 60_000; // an alert's camera keeps its tile this long (the tour passes it by)
const RETRY_MS = 15_000; // a tile whose camera could not be opened tries again this often
const STALL_MS = 5_000; // no new picture this long: the tile says the picture stopped
const STORE = "gridwatch.wall.";

// What the user chose last time on this browser, per account (a shared browser keeps each user's own wall).
function loadChoice(username) {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(STORE + username) || "{}") || {}; } catch { saved = {}; }
  return {
    layout: LAYOUTS.includes(saved.layout) ? saved.layout : 4,
    tiles: Array.isArray(saved.tiles) ? saved.tiles.map(String) : [],
    tour: saved.tour === true,
    intervalS: Number.isFinite(saved.intervalS) && saved.intervalS >= 1 ? saved.intervalS : DEFAULT_INTERVAL_S,
    set: Array.isArray(saved.set) ? saved.set.map(String) : [],
  };
}

function saveChoice(username, choice) {
  try { localStorage.setItem(STORE + username, JSON.stringify(choice)); } catch { /* not remembered, still used */ }
}

function cameraLabel(cam) { return cam.name && cam.name !== cam.id ? `${cam.name} (${cam.id})` : cam.id; }

export async function render(main, _params, { me }) {
  const cameras = await allPages("/api/cameras?enabled=true");
  const byId = new Map(cameras.map((c) => [c.id, c]));
  const choice = loadChoice(me.username);
  choice.set = choice.set.filter((id) => byId.has(id));
  const save = () => saveChoice(me.username, choice);

  const layoutSelect = h("select", { id: "wall-layout", "aria-label": t("wall.layout") },
    LAYOUTS.map((n) => h("option", { value: n }, `${Math.sqrt(n)} × ${Math.sqrt(n)}`)));
  const tileSelect = h("select", { id: "wall-tile", "aria-label": t("wall.tile") });
  const cameraSelect = h("select", { id: "wall-camera", "aria-label": t("wall.camera") },
    h("option", { value: "" }, t("wall.noCamera")), cameras.map((c) => h("option", { value: c.id }, cameraLabel(c))));
  const tourBox = h("input", { type: "checkbox", id: "wall-tour" });
  const intervals = INTERVALS_S.includes(choice.intervalS) ? INTERVALS_S : [...INTERVALS_S, choice.intervalS].sort((a, b) => a - b);
  const intervalSelect = h("select", { id: "wall-interval", "aria-label": t("wall.interval") },
    intervals.map((s) => h("option", { value: s }, t("wall.every", { s: fmtNumber(s) }))));
  const eventState = h("span", { class: "badge live-state", id: "wall-events" }, tv("stream", "connecting"));
  const setSummary = h("summary", { id: "wall-set-summary" });
  const setList = h("div", { class: "wall-set-list" });
  const setBox = h("details", { id: "wall-set", class: "wall-set" }, setSummary);
  const grid = h("div", { class: "wall", id: "wall" });

  layoutSelect.value = String(choice.layout);
  tourBox.checked = choice.tour;
  intervalSelect.value = String(choice.intervalS);

  // ------------------------------------------------------------------ tiles
  const tiles = [];
  const sessions = { opened: 0, closed: 0 };
  let left = false;
  let offset = 0; // where the tour is in its list of cameras
  let tourSteps = 0;

  function expose() {
    window.gridwatch = {
      ...(window.gridwatch || {}),
      wallPeers: tiles.map((tile) => (tile.session ? tile.session.pc : null)),
      wallSessions: { ...sessions },
      wallTourSteps: tourSteps,
    };
  }

  function makeVideo() {
    const video = h("video", { autoplay: true, muted: true, playsinline: true });
    video.muted = true;
    return video;
  }

  function makeTile(index) {
    const video = makeVideo();
    const name = h("span", { class: "wall-name" });
    const health = h("span", { class: "wall-health" });
    const status = h("span", { class: "wall-status", role: "status" });
    const alertBox = h("div", { class: "wall-alert", hidden: true });
    const el = h("div", { class: "wall-tile", "data-tile": index, "data-state": "empty", tabindex: 0 },
      video, h("div", { class: "wall-caption" }, name, health), alertBox, status);
    const tile = { index, el, video, name, health, status, alertBox, camera: null, session: null, gen: 0, retry: null, pinnedUntil: 0, alert: null, frames: 0, progressAt: 0 };
    el.addEventListener("click", () => { tileSelect.value = String(index); syncPickers(); });
    return tile;
  }

  function setState(tile, state, ...text) {
    tile.el.dataset.state = state;
    tile.status.replaceChildren(...text);
  }

  // Close the tile's view here and on the server; the promise settles when the server has let it go.
  function closeSession(tile) {
    clearTimeout(tile.retry);
    tile.retry = null;
    const session = tile.session;
    tile.session = null;
    tile.video.srcObject = null;
    if (!session) return Promise.resolve();
    sessions.closed += 1;
    return session.close();
  }

  // Show `cam` (or nothing) on the tile; the same camera again leaves a working view as it is.
  function show(tile, cam, { force = false } = {}) {
    const id = cam ? cam.id : null;
    if (!force && tile.camera && id === tile.camera.id && tile.el.dataset.state !== "failed") return;
    const gen = ++tile.gen;
    const closing = closeSession(tile);
    tile.camera = cam;
    tile.el.dataset.camera = id || "";
    tile.name.textContent = cam ? cam.name || cam.id : "";
    tile.health.replaceChildren(cam && cam.health && ["offline", "degraded"].includes(cam.health.state) ? healthBadge(cam.health) : "");
    expose();
    if (!cam) { setState(tile, "empty", t("wall.empty")); return; }
    setState(tile, "connecting", t("camera.connecting"));
    connectTile(tile, cam, gen, closing);
  }

  // The old view is let go first: at the server's limit of views, the new one takes its place.
  async function connectTile(tile, cam, gen, closing) {
    await closing;
    if (gen !== tile.gen || left) return;
    // A video element per view: a view given up while it connected can only ever play into its own.
    const video = makeVideo();
    try {
      const session = await startLive(cam.id, video, {
        stream: "sub",
        onState: (s) => {
          if (gen !== tile.gen || s !== "failed") return;
          setState(tile, "failed", tv("connection", s));
          retryLater(tile, cam, gen);
        },
      });
      sessions.opened += 1;
      if (gen !== tile.gen || left) { session.close(); sessions.closed += 1; return; } // moved on meanwhile
      tile.video.replaceWith(video);
      tile.video = video;
      tile.session = session;
      tile.frames = 0;
      tile.progressAt = Date.now();
      tile.el.dataset.stream = session.stream;
      delete tile.el.dataset.refused;
      expose();
    } catch (e) {
      if (gen !== tile.gen || left) return;
      // 404: no longer in the user's scope; 503: the camera cannot be opened, or the server's limit of views
      setState(tile, "failed", ...tParts("camera.unavailable", { reason: errorMessage(e) }));
      tile.el.dataset.refused = String(e.status || "");
      retryLater(tile, cam, gen);
    }
  }

  function retryLater(tile, cam, gen) {
    clearTimeout(tile.retry);
    tile.retry = setTimeout(() => { if (gen === tile.gen && !left) show(tile, cam, { force: true }); }, RETRY_MS);
  }

  // A tile plays when the browser decodes pictures, not when signalling ended; one whose pictures stopped
  // (the camera went away: the server keeps reopening it) says so until they come back.
  const watcher = setInterval(async () => {
    for (const tile of tiles) {
      const session = tile.session;
      if (!session || tile.el.dataset.state === "failed") continue;
      const frames = await framesDecoded(session.pc).catch(() => 0);
      if (session !== tile.session) continue;
      const now = Date.now();
      if (frames > tile.frames) {
        tile.frames = frames;
        tile.progressAt = now;
        setState(tile, "live", t("camera.live", { stream: tv("streamKind", session.stream) }));
      } else if (now - tile.progressAt > STALL_MS) {
        setState(tile, "stalled", t("wall.stalled", { s: fmtNumber(Math.round((now - tile.progressAt) / 1000)) }));
      }
    }
  }, 1000);

  // ------------------------------------------------------------------ what each tile shows
  const pinned = (tile) => tile.pinnedUntil > Date.now();

  function tourList() {
    const set = choice.set.length ? choice.set : cameras.map((c) => c.id);
    return set.filter((id) => byId.has(id));
  }

  // Fixed: each tile its chosen camera (the first cameras for tiles never chosen). Tour: the unpinned tiles
  // show the tour's next cameras, as many as there are tiles.
  function arrange() {
    const free = tiles.filter((tile) => !pinned(tile));
    if (choice.tour) {
      const list = tourList();
      free.forEach((tile, i) => show(tile, i < list.length ? byId.get(list[(offset + i) % list.length]) : null));
    } else {
      for (const tile of free) {
        const id = choice.tiles[tile.index];
        show(tile, id === undefined ? cameras[tile.index] || null : byId.get(id) || null);
      }
    }
  }

  function advance() {
    const list = tourList();
    const free = tiles.filter((tile) => !pinned(tile)).length;
    if (list.length > free) offset = (offset + free) % list.length;
    tourSteps += 1;
    arrange();
    expose();
  }

  let tourTimer = null;
  function restartTour() {
    clearInterval(tourTimer);
    tourTimer = choice.tour ? setInterval(advance, choice.intervalS * 1000) : null;
  }

  function layout(n) {
    while (tiles.length > n) {
      const tile = tiles.pop();
      tile.gen += 1;
      closeSession(tile);
      tile.el.remove();
    }
    while (tiles.length < n) {
      const tile = makeTile(tiles.length);
      tiles.push(tile);
      grid.append(tile.el);
    }
    grid.dataset.layout = String(n);
    grid.style.setProperty("--cols", String(Math.sqrt(n)));
    const current = tileSelect.value;
    tileSelect.replaceChildren(...tiles.map((tile) => h("option", { value: tile.index }, t("wall.tileN", { n: tile.index + 1 }))));
    tileSelect.value = current !== "" && Number(current) < n ? current : "0";
    arrange();
    syncPickers();
  }

  function syncPickers() {
    const tile = tiles[Number(tileSelect.value)] || tiles[0];
    cameraSelect.value = tile && tile.camera ? tile.camera.id : "";
    tileSelect.disabled = cameraSelect.disabled = choice.tour;
  }

  // ------------------------------------------------------------------ alerts take a tile
  function release(tile) {
    tile.pinnedUntil = 0;
    tile.alert = null;
    tile.el.classList.remove("alerting");
    delete tile.el.dataset.alert;
    delete tile.el.dataset.hazard;
    tile.alertBox.hidden = true;
    arrange();
  }

  function pin(tile, a) {
    tile.pinnedUntil = Date.now() + PIN_MS;
    tile.alert = a;
    tile.el.classList.add("alerting");
    tile.el.dataset.alert = String(a.id);
    tile.el.dataset.hazard = a.hazard;
    tile.alertBox.replaceChildren(
      h("strong", { class: "hazard" }, tv("hazard", a.hazard)), severityBadge(a.severity),
      h("time", { datetime: a.started_at }, fmtTime(a.started_at)),
      h("a", { href: "#/alerts", class: "wall-alert-link" }, t("wall.toAlerts")),
      h("button", { type: "button", class: "link wall-release", onclick: (ev) => { ev.stopPropagation(); release(tile); } }, t("wall.release")));
    tile.alertBox.hidden = false;
  }

  // The tile already showing the camera, else one not held by another alert (the last first: the top left
  // stays what the user chose longest), else the one held longest.
  function tileFor(cameraId) {
    const showing = tiles.find((tile) => tile.camera && tile.camera.id === cameraId);
    if (showing) return showing;
    const free = tiles.filter((tile) => !pinned(tile));
    if (free.length) return free[free.length - 1];
    return tiles.reduce((a, b) => (a.pinnedUntil <= b.pinnedUntil ? a : b));
  }

  function onAlert(a) {
    const cam = byId.get(a.camera_id);
    if (!cam || !tiles.length) return; // a disabled camera: nothing to show
    const tile = tileFor(cam.id);
    pin(tile, a);
    show(tile, cam);
  }

  const expiry = setInterval(() => {
    for (const tile of tiles) if (tile.alert && !pinned(tile)) release(tile);
  }, 1000);

  // ------------------------------------------------------------------ the patrol set
  function summarise() {
    setSummary.textContent = choice.set.length
      ? t("wall.setSome", { count: fmtNumber(choice.set.length), total: fmtNumber(cameras.length) })
      : t("wall.setAll", { count: fmtNumber(cameras.length) });
  }

  function fillSet() {
    const chosen = new Set(choice.set);
    const filter = h("input", { type: "search", id: "wall-set-filter", placeholder: t("wall.find"), "aria-label": t("wall.find") });
    const boxes = cameras.map((c) => {
      const box = h("input", { type: "checkbox", value: c.id, checked: chosen.has(c.id) });
      box.addEventListener("change", () => {
        choice.set = [...setList.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
        offset = 0;
        save();
        summarise();
        if (choice.tour) arrange();
      });
      return h("label", { class: "check", "data-camera": c.id }, box, cameraLabel(c));
    });
    filter.addEventListener("input", () => {
      const needle = filter.value.trim().toLowerCase();
      for (const label of boxes) label.hidden = needle !== "" && !label.textContent.toLowerCase().includes(needle);
    });
    const all = h("button", { type: "button", class: "link", id: "wall-set-all" }, t("wall.setClear"));
    all.addEventListener("click", () => {
      for (const box of setList.querySelectorAll("input[type=checkbox]")) box.checked = false;
      choice.set = [];
      offset = 0;
      save();
      summarise();
      if (choice.tour) arrange();
    });
    setList.replaceChildren(h("div", { class: "toolbar" }, filter, all), h("div", { class: "wall-set-boxes" }, boxes));
  }
  setBox.addEventListener("toggle", () => { if (setBox.open && !setList.childElementCount) fillSet(); });
  setBox.append(setList);
  summarise();

  // ------------------------------------------------------------------ controls
  layoutSelect.addEventListener("change", () => { choice.layout = Number(layoutSelect.value); save(); layout(choice.layout); });
  tileSelect.addEventListener("change", syncPickers);
  cameraSelect.addEventListener("change", () => {
    const tile = tiles[Number(tileSelect.value)];
    if (!tile) return;
    while (choice.tiles.length < tiles.length) choice.tiles.push(cameras[choice.tiles.length] ? cameras[choice.tiles.length].id : "");
    choice.tiles[tile.index] = cameraSelect.value;
    save();
    if (pinned(tile)) release(tile);
    else arrange();
  });
  tourBox.addEventListener("change", () => {
    choice.tour = tourBox.checked;
    offset = 0;
    save();
    restartTour();
    arrange();
    syncPickers();
  });
  intervalSelect.addEventListener("change", () => { choice.intervalS = Number(intervalSelect.value); save(); restartTour(); });

  main.replaceChildren(...[
    h("h1", {}, t("nav.wall")),
    h("div", { class: "toolbar wall-controls" },
      layoutSelect, tileSelect, cameraSelect,
      h("label", { class: "check inline" }, tourBox, t("wall.tour")), intervalSelect, eventState),
    setBox,
    cameras.length ? null : h("p", { class: "card muted", id: "wall-none" }, t("wall.noCameras")),
    h("p", { class: "muted wall-hint" }, t("wall.hint", { s: fmtNumber(PIN_MS / 1000) })),
    grid].filter(Boolean));
  layout(choice.layout);
  restartTour();

  const unsubscribe = subscribe(["alert.new"], (_kind, a) => onAlert(a), (s) => {
    eventState.textContent = tv("stream", s);
    eventState.dataset.state = s;
  });

  return () => {
    left = true;
    unsubscribe();
    clearInterval(watcher);
    clearInterval(expiry);
    clearInterval(tourTimer);
    for (const tile of tiles) { tile.gen += 1; closeSession(tile); }
    expose();
  };
}
