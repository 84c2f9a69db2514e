// Add one camera; every refused field is marked with the server's message.
import { api, h } from "../api.js";

const FIELDS = {
  // API error path → form field
  id: "id", name: "name", level: "level", compound: "compound", grid: "grid",
  "streams.main": "main", "streams.sub": "sub", "credentials.username": "username", "credentials.password": "password",
  "location.lat": "lat", "location.lon": "lon", location: "lat", enabled: "enabled",
};

function field(label, input, hint) {
  return h("label", {}, label, input, hint ? h("span", { class: "muted", style: "font-weight:400;font-size:.85rem" }, hint) : null);
}

export async function render(main) {
  const tree = await api("/api/site/tree");
  const compounds = [];
  const grids = [];
  const walk = (n) => {
    if (n.kind === "compound") compounds.push(n);
    for (const g of n.grids) grids.push(g);
    n.children.forEach(walk);
  };
  tree.forEach(walk);
  const f = {
    id: h("input", { name: "id", required: true, maxlength: 64, placeholder: "CAM-101" }),
    name: h("input", { name: "name", required: true, maxlength: 200 }),
    level: h("select", { name: "level" }, ["compound", "property", "community", "street"].map((v) => h("option", { value: v }, v))),
    compound: h("select", { name: "compound" }, h("option", { value: "" }, "— none —"), compounds.map((c) => h("option", { value: c.id }, `${c.id} ${c.name}`))),
    grid: h("select", { name: "grid" }, h("option", { value: "" }, "— from the compound or location —"), grids.map((g) => h("option", { value: g.id }, `${g.id} ${g.name}`))),
    main: h("input", { name: "main", required: true, placeholder: "rtsp://10.2.0.17:554/main" }),
    sub: h("input", { name: "sub", placeholder: "rtsp://10.2.0.17:554/sub" }),
    username: h("input", { name: "username", autocomplete: "off" }),
    password: h("input", { name: "password", type: "password", autocomplete: "new-password" }),
    lat: h("input", { name: "lat", inputmode: "decimal" }),
    lon: h("input", { name: "lon", inputmode: "decimal" }),
    enabled: h("input", { name: "enabled", type: "checkbox", checked: true }),
  };
  const summary = h("div", { class: "error", role: "alert", id: "form-errors" });
  const form = h("form", { class: "card", id: "camera-form", novalidate: true },
    h("div", { class: "form-grid" },
      field("Id", f.id), field("Name", f.name),
      field("Level", f.level), field("Compound", f.compound),
      field("Grid", f.grid, "Leave empty to derive it."), h("span"),
      field("Main stream URL", f.main), field("Sub stream URL", f.sub, "Optional; detection reads it."),
      field("User name", f.username), field("Password", f.password, "Stored encrypted, never shown again."),
      field("Latitude", f.lat), field("Longitude", f.lon)),
    h("label", { class: "check" }, f.enabled, "Enabled"),
    summary,
    h("button", { type: "submit", class: "primary" }, "Add camera"));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const el of form.querySelectorAll(".field-error")) el.remove();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    summary.replaceChildren();
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
      const items = e.errors.length ? e.errors : [{ where: "", message: e.message }];
      for (const it of items) {
        const input = f[FIELDS[it.where]];
        if (input) {
          input.setAttribute("aria-invalid", "true");
          input.closest("label").append(h("span", { class: "field-error" }, it.message));
        }
      }
      summary.replaceChildren(h("p", {}, "The camera was not added:"), h("ul", {}, items.map((it) => h("li", {}, it.where ? `${it.where}: ${it.message}` : it.message))));
    }
  });
  main.replaceChildren(h("p", {}, h("a", { href: "#/cameras" }, "← Cameras")), h("h1", {}, "Add a camera"), form);
}
