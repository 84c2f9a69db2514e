// Add a camera by ONVIF: the device's address and credentials → its profiles (main and sub stream filled in)
// → the camera's place in the site → the server tests the stream and saves it, or says which field failed.
import { api, clearRefused, h, markRefused } from "../api.js";
import { fmtNumber, t } from "../i18n.js";
import { field, placeInputs } from "./camera-new.js";

const FIELDS = {
  // API error path → form field
  address: "address", port: "port", username: "username", password: "password",
  id: "id", name: "name", level: "level", compound: "compound", grid: "grid",
  main_profile: "main", sub_profile: "sub", "streams.main": "main", "streams.sub": "sub",
  "credentials.username": "username", "credentials.password": "password",
};


function size(p) {
  return p.width && p.height ? `${fmtNumber(p.width)}×${fmtNumber(p.height)}` : "—";
}

export async function render(main) {
  const place = await placeInputs();
  const f = {
    address: h("input", { name: "address", required: true, maxlength: 253, placeholder: "192.168.1.64" }),
    port: h("input", { name: "port", inputmode: "numeric", value: "80" }),
    username: h("input", { name: "username", required: true, autocomplete: "off" }),
    password: h("input", { name: "password", type: "password", autocomplete: "new-password" }),
    main: h("select", { name: "main_profile" }),
    sub: h("select", { name: "sub_profile" }),
    ...place,
    events: h("input", { name: "events", type: "checkbox", checked: true }),
  };
  const labels = {
    address: t("onvif.address"), port: t("onvif.port"), username: t("cameraNew.username"), password: t("cameraNew.password"),
    main: t("onvif.mainProfile"), sub: t("onvif.subProfile"),
    id: t("camera.id"), name: t("camera.name"), level: t("camera.level"), compound: t("camera.compound"), grid: t("camera.grid"),
  };
  const names = Object.fromEntries(Object.entries(FIELDS).map(([where, name]) => [where, labels[name]]));
  const device = h("div", { id: "onvif-device" });
  const summary = h("div", { class: "error", role: "alert", id: "form-errors" });
  const probeButton = h("button", { type: "button", id: "onvif-probe" }, t("onvif.probe"));
  const addButton = h("button", { type: "submit", class: "primary", id: "onvif-add", disabled: true }, t("onvif.add"));
  const second = h("div", { id: "onvif-camera", hidden: true },
    h("div", { class: "form-grid" },
      field(labels.main, f.main), field(labels.sub, f.sub, t("onvif.subHint")),
      field(labels.id, f.id), field(labels.name, f.name),
      field(labels.level, f.level), field(labels.compound, f.compound),
      field(labels.grid, f.grid, t("cameraNew.gridHint")), h("span")),
    h("label", { class: "check" }, f.events, t("onvif.events")));
  const form = h("form", { class: "card", id: "onvif-form", novalidate: true },
    h("p", { class: "muted" }, t("onvif.intro")),
    h("div", { class: "form-grid" },
      field(labels.address, f.address), field(labels.port, f.port),
      field(labels.username, f.username), field(labels.password, f.password, t("onvif.passwordHint"))),
    h("div", { class: "toolbar" }, probeButton),
    device, second, summary, addButton);

  const clear = () => clearRefused(form, summary);
  const refused = (e) => markRefused(e, { fields: f, map: FIELDS, names, summary, heading: t("onvif.refused") });
  const deviceBody = () => ({
    address: f.address.value.trim(), port: Number(f.port.value.trim() || 80),
    username: f.username.value.trim(), password: f.password.value,
  });

  probeButton.addEventListener("click", async () => {
    clear();
    second.hidden = true;
    addButton.disabled = true;
    device.replaceChildren(h("p", { class: "muted" }, t("onvif.probing")));
    try {
      const d = await api("/api/cameras/onvif/probe", { method: "POST", json: deviceBody() });
      const option = (p) => h("option", { value: p.token, disabled: !p.stream_uri }, `${p.name} (${size(p)})`);
      f.main.replaceChildren(...d.profiles.map(option));
      f.main.value = d.main_profile;
      f.sub.replaceChildren(h("option", { value: "" }, t("cameraNew.none")), ...d.profiles.map(option));
      f.sub.value = d.sub_profile || "";
      device.replaceChildren(
        h("p", {}, t("onvif.found", { model: `${d.manufacturer} ${d.model}`.trim(), serial: d.serial || "—" })),
        h("div", { class: "table-wrap", style: "margin-bottom:1rem" }, h("table", { id: "onvif-profiles" },
          h("thead", {}, h("tr", {}, [t("onvif.profile"), t("onvif.size"), t("onvif.uri")].map((n) => h("th", { scope: "col" }, n)))),
          h("tbody", {}, d.profiles.map((p) => h("tr", { "data-profile": p.token },
            h("td", {}, p.name), h("td", {}, size(p)), h("td", {}, p.stream_uri || p.problem || "—")))))));
      f.events.checked = d.events;
      second.hidden = false;
      addButton.disabled = false;
    } catch (e) {
      device.replaceChildren();
      refused(e);
    }
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear();
    const v = (k) => f[k].value.trim();
    const body = { ...deviceBody(), id: v("id"), name: v("name"), level: v("level"), events: f.events.checked,
      main_profile: f.main.value, sub_profile: f.sub.value };
    if (v("compound")) body.compound = v("compound");
    if (v("grid")) body.grid = v("grid");
    addButton.disabled = true;
    summary.replaceChildren(h("p", { class: "muted" }, t("onvif.testing")));
    try {
      const added = await api("/api/cameras/onvif", { method: "POST", json: body });
      location.hash = `#/camera/${encodeURIComponent(added.camera.id)}`;
    } catch (e) {
      refused(e);
    } finally {
      addButton.disabled = false;
    }
  });
  main.replaceChildren(h("p", {}, h("a", { href: "#/cameras" }, `← ${t("nav.cameras")}`)), h("h1", {}, t("onvif.title")), form);
}
