// Calls to gridwatch's API from the console: session cookie + CSRF header, one error shape.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.errors = (body && body.errors) || [];
  }
}

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)gridwatch_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export function toLogin() {
  const next = location.pathname + location.hash;
  location.assign("/login?next=" + encodeURIComponent(next));
}

// api("/api/cameras", {method: "POST", json: {...}}) or {form: FormData}; resolves to the parsed body.
export async function api(path, { method = "GET", json, form, keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form !== undefined) body = form;
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  const res = await fetch(path, { method, headers, body, keepalive, credentials: "same-origin" });
  if (res.status === 401 && !path.startsWith("/api/auth/login")) { toLogin(); throw new ApiError(401, null); }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// Every page of a list endpoint that answers {items, total}.
export async function allPages(path, pageSize = 1000) {
  const items = [];
  for (let offset = 0; ; offset += pageSize) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=${pageSize}&offset=${offset}`);
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) return items;
  }
}

// Small DOM helper: h("a", {href: "#/x", class: "c"}, "text", child, ...). Text is never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function healthBadge(health) {
  const state = (health && health.state) || "unknown";
  return h("span", { class: `badge health-${state}`, title: health && health.reason ? health.reason : "" }, state);
}
