import { api } from "./api.js";
import { initI18n, languageSelect, t } from "./i18n.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

// What the last refusal said, said again in a newly chosen language.
let refusal = null;
const showRefusal = () => { if (refusal) error.textContent = refusal(); };

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  refusal = null;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await api("/api/auth/login", {
      method: "POST",
      json: { username: form.username.value.trim(), password: form.password.value },
    });
    const next = new URLSearchParams(location.search).get("next") || "/";
    // Only paths on this server: never follow an absolute URL given in the query.
    location.assign(/^\/(?![\/\\])/.test(next) ? next : "/");
  } catch (e) {
    refusal = e.status === 401 || !e.status ? () => t("login.refused") : () => e.message;
    showRefusal();
    error.hidden = false;
    form.password.select();
  } finally {
    button.disabled = false;
  }
});

initI18n().then(() => languageSelect(document.getElementById("lang"), showRefusal)).catch((e) => console.error(e));
