// Calls to gridwatch's API from the console: session cookie + CSRF header, one error shape.
import { fmtDate, known, t, tv } from "./i18n.js";

// The server's sentence in the user's language when its code is one the console knows ("error.<code>"
// with the code's params), else the server's own text.
function knownCode(code) { return Boolean(code) && known(`error.${code}`); }
// Params that are values the console names in the user's language (what was not found, a role, a case state…).
const PARAM_NAMES = {
  kind: (v) => tv("entity", v),
  role: (v) => tv("role", v),
  state: (v) => tv("state", v),
  action: (v) => tv("action", v),
};
function sayParams(params) {
  const out = { ...(params || {}) };
  for (const [name, say] of Object.entries(PARAM_NAMES)) if (name in out) out[name] = say(out[name]);
  return out;
}
function said(code, params, text) {
  return knownCode(code) ? t(`error.${code}`, sayParams(params)) : text;
}

// One problem with the input: "field: what is wrong". `names` gives a form's own label for a field.
export function issueMessage(item) { return said(item.code, item.params, item.message); }
export function issueText(item, names = {}) {
  const where = names[item.where] || item.where;
  return where ? `${where}: ${issueMessage(item)}` : issueMessage(item);
}

// A refused form: each field the server named is marked with its message, and the summary lists them all
// (`fields`: input by form name, `map`: API error path → form name, `names`: API path → label); cleared
// before the next try.
export function clearRefused(form, summary) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  summary.replaceChildren();
}

export function markRefused(error, { fields, map, names, summary, heading }) {
  const items = error.errors && error.errors.length ? error.errors : [{ where: "", message: error.message }];
  for (const it of items) {
    const input = fields[map[it.where]];
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.closest("label").append(h("span", { class: "field-error" }, issueMessage(it)));
    }
  }
  summary.replaceChildren(h("p", {}, heading), h("ul", {}, items.map((it) => h("li", {}, issueText(it, names)))));
}

export class ApiError extends Error {
  constructor(status, body) {
    const errors = (body && body.errors) || [];
    // A refusal's detail lists its problems: said again from the items when any of them has a code.
    const detail = errors.some((i) => i.code) ? errors.map((i) => issueText(i)).join("\n") : body && body.detail;
    super(said(body && body.code, body && body.params, detail) || t("error.http", { status }));
    this.status = status;
    this.errors = errors;
    // Said in the user's language, or the server's own (English) words?
    this.translated = errors.length ? errors.every((i) => knownCode(i.code)) : knownCode(body && body.code) || !detail;
  }
}

// The server's words the console could not put into the user's language, marked as English: screen readers
// read them so, and they are told apart from console words that lack a translation.
export function serverText(text) { return h("span", { lang: "en" }, text); }

// An error's message as shown: marked as the server's English unless the console said it itself.
export function errorMessage(e) { return e instanceof ApiError && !e.translated ? serverText(e.message) : e.message; }

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
  return h("span", { class: `badge health-${state}`, title: health && health.reason ? health.reason : "" }, tv("health", state));
}

// Every item of a cursor-paginated list ({items, next_cursor}), up to `max` items.
export async function cursorPages(path, { limit = 200, max = 5000 } = {}) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

// Query string from an object; empty values are left out, arrays repeat the key.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined && one !== null && one !== "") q.append(k, String(one));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

// Local date and time, short, in the language's order: "14:05" today, "3 May, 14:05" ("5月3日 14:05") otherwise.
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const today = d.toDateString() === new Date().toDateString();
  return fmtDate(d, today ? { hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

export function severityBadge(severity) { return h("span", { class: `badge sev-${severity}` }, tv("severity", severity)); }

export function stateBadge(state) { return h("span", { class: `badge state state-${state}`, "data-state": state }, tv("state", state)); }

// Server-sent events of the given kinds; returns close(). `onStatus` gets "live", "reconnecting" or
// "closed". The browser reconnects by itself after a network error (resuming with Last-Event-ID);
// when the server refused the stream (an ended session) it gives up, so check the session (the
// login page if it ended) and open a new stream a little later.
export function subscribe(kinds, onEvent, onStatus = () => {}) {
  let source = null;
  let timer = null;
  let closed = false;
  const open = () => {
    source = new EventSource("/api/events", { withCredentials: true });
    for (const kind of kinds) {
      source.addEventListener(kind, (ev) => {
        let data;
        try { data = JSON.parse(ev.data); } catch { return; }
        onEvent(kind, data);
      });
    }
    source.addEventListener("open", () => onStatus("live"));
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED) { onStatus("reconnecting"); return; }
      onStatus("closed");
      retry();
    });
  };
  const retry = () => {
    if (closed) return;
    timer = setTimeout(() => {
      api("/api/auth/me").then(() => { if (!closed) open(); }).catch((e) => { if (e.status !== 401) retry(); });
    }, 3000);
  };
  open();
  return () => { closed = true; clearTimeout(timer); source.close(); };
}
