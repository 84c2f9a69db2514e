// Add one camera; every refused field is marked with the server's message.
import { api, clearRefused, h, markRefused } from "../api.js";
import { t, tv } from "../i18n.js";

const FIELDS = {
  // API error path → form field
  id: "id", name: "name", level: "level", compound: "compound", grid: "grid",
  "streams.main": "main", "streams.sub": "sub", "credentials.username": "username", "credentials.password": "password",
  "location.lat": "lat", "location.lon": "lon", location: "lat", enabled: "enabled",
};

export function field(label, input, hint) {
  return h("label", {}, label, input, hint ? h("span", { class: "muted", style: "font-weight:400;font-size:.85rem" }, hint) : null);
}

// A camera's id, name, level and place (compound, grid) as inputs, the choices read from the site tree.
export async function placeInputs() {
  const tree = await api("/api/site/tree");
  const compounds = [];
  const grids = [];
  const walk = (n) => {
    if (n.kind === "compound") compounds.push(n);
    for (const g of n.grids) grids.push(g);
    n.children.forEach(walk);
  };
  tree.forEach(walk);
  return {
    id: h("input", { name: "id", required: true, maxlength: 64, placeholder: "CAM-101" }),
    name: h("input", { name: "name", required: true, maxlength: 200 }),
    level: h("select", { name: "level" }, ["compound", "property", "community", "street"].map((v) => h("option", { value: v }, tv("cameraLevel", v)))),
    compound: h("select", { name: "compound" }, h("option", { value: "" }, t("cameraNew.none")), compounds.map((c) => h("option", { value: c.id }, `${c.id} ${c.name}`))),
    grid: h("select", { name: "grid" }, h("option", { value: "" }, t("cameraNew.gridDerived")), grids.map((g) => h("option", { value: g.id }, `${g.id} ${g.name}`))),
  };
}

export async function render(main) {
  const place = await placeInputs();
  const f = {
    ...place,
    main: h("input", { name: "main", required: true, placeholder: "rtsp://10.2.0.17:554/main" }),
    sub: h("input", { name: "sub", placeholder: "rtsp://10.2.0.17:554/sub" }),
    username: h("input", { name: "username", autocomplete: "off" }),
    password: h("input", { name: "password", type: "password", autocomplete: "new-password" }),
    lat: h("input", { name: "lat", inputmode: "decimal" }),
    lon: h("input", { name: "lon", inputmode: "decimal" }),
    enabled: h("input", { name: "enabled", type: "checkbox", checked: true }),
  };
  const labels = {
    id: t("camera.id"), name: t("camera.name"), level: t("camera.level"), compound: t("camera.compound"), grid: t("camera.grid"),
    main: t("cameraNew.main"), sub: t("cameraNew.sub"), username: t("cameraNew.username"), password: t("cameraNew.password"),
    lat: t("cameraNew.lat"), lon: t("cameraNew.lon"), enabled: t("camera.enabled"),
  };
  // The server names a refused field by its path in the request; the summary names it as the form does.
  const names = Object.fromEntries(Object.entries(FIELDS).map(([where, name]) => [where, labels[name]]));
  const summary = h("div", { class: "error", role: "alert", id: "form-errors" });
  const form = h("form", { class: "card", id: "camera-form", novalidate: true },
    h("div", { class: "form-grid" },
      field(labels.id, f.id), field(labels.name, f.name),
      field(labels.level, f.level), field(labels.compound, f.compound),
      field(labels.grid, f.grid, t("cameraNew.gridHint")), h("span"),
      field(labels.main, f.main), field(labels.sub, f.sub, t("cameraNew.subHint")),
      field(labels.username, f.username), field(labels.password, f.password, t("cameraNew.passwordHint")),
      field(labels.lat, f.lat), field(labels.lon, f.lon)),
    h("label", { class: "check" }, f.enabled, labels.enabled),
    summary,
    h("button", { type: "submit", class: "primary" }, t("nav.cameraNew")));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearRefused(form, summary);
    const v = (k) => f[k].value.trim();
    const body = { id: v("id"), name: v("name"), level: v("level"), streams: { main: v("main") }, enabled: f.enabled.checked };
    if (v("sub")) body.streams.sub = v("sub");
    if (v("compound")) body.compound = v("compound");
    if (v("grid")) body.grid = v("grid");
    if (v("username") || f.password.value) body.credentials = { ...(v("username") ? { username: v("username") } : {}), ...(f.password.value ? { password: f.password.value } : {}) };
    if (v("lat") || v("lon")) body.location = { lat: Number(v("lat")), lon: Number(v("lon")) };
    try {
      const cam = await api("/api/cameras", { method: "POST", json: body });
      location.hash = `#/camera/${encodeURIComponent(cam.id)}`;
    } catch (e) {
      markRefused(e, { fields: f, map: FIELDS, names, summary, heading: t("cameraNew.refused") });
    }
  });
  main.replaceChildren(h("p", {}, h("a", { href: "#/cameras" }, `← ${t("nav.cameras")}`)), h("h1", {}, t("cameraNew.title")), form);
}
