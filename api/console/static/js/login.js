import { api } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.hidden = true;
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
    error.textContent = e.status === 429 ? e.message : "Wrong user name or password.";
    if (e.status && e.status !== 401 && e.status !== 429) error.textContent = e.message;
    error.hidden = false;
    form.password.select();
  } finally {
    button.disabled = false;
  }
});
