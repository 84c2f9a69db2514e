// The console shell: who is logged in, navigation filtered by permission, and a hash router.
// A page is a module exporting render(main, params, ctx) that may return a cleanup function
// (called when the user navigates away: live views close their connection there).
import { api, h } from "./api.js";

// Pages register here; `nav` entries appear in the menu for users holding `perm`.
export const ROUTES = [
  { pattern: /^#\/(?:tree)?$/, module: "./pages/tree.js", nav: "Site", href: "#/tree", perm: "site:read" },
  { pattern: /^#\/cameras$/, module: "./pages/cameras.js", nav: "Cameras", href: "#/cameras", perm: "site:read" },
  { pattern: /^#\/cameras\/new$/, module: "./pages/camera-new.js", nav: "Add camera", href: "#/cameras/new", perm: "site:write" },
  { pattern: /^#\/cameras\/import$/, module: "./pages/import.js", nav: "Import CSV", href: "#/cameras/import", perm: "site:write" },
  { pattern: /^#\/camera\/([^/]+)$/, module: "./pages/camera.js", perm: "site:read" },
];

const main = document.getElementById("page");
const nav = document.getElementById("nav");
let cleanup = null;
let me = null;

function can(perm) { return !perm || (me && me.permissions.includes(perm)); }

function buildNav() {
  nav.replaceChildren(...ROUTES.filter((r) => r.nav && can(r.perm)).map((r) => h("a", { href: r.href }, r.nav)));
}

function markActive() {
  for (const a of nav.querySelectorAll("a")) {
    const hash = location.hash || "#/tree";
    a.classList.toggle("active", hash === a.getAttribute("href"));
  }
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  const hash = location.hash || "#/";
  const r = ROUTES.find((x) => x.pattern.test(hash));
  nav.classList.remove("open");
  markActive();
  if (!r || !can(r.perm)) {
    main.replaceChildren(h("h1", {}, "Not found"), h("p", { class: "muted" }, "This page does not exist or is not for your role."));
    return;
  }
  const params = hash.match(r.pattern).slice(1).map(decodeURIComponent);
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const mod = await import(r.module);
    const done = await mod.render(main, params, { me, can });
    cleanup = typeof done === "function" ? done : null;
  } catch (e) {
    if (e.status === 401) return;
    main.replaceChildren(h("h1", {}, "Something went wrong"), h("p", { class: "error" }, e.message));
  }
  main.focus({ preventScroll: true });
}

async function start() {
  me = await api("/api/auth/me");
  document.getElementById("user-name").textContent = `${me.display_name} · ${me.role.replace("_", " ")}`;
  document.body.dataset.role = me.role;
  buildNav();
  document.getElementById("menu-toggle").addEventListener("click", (ev) => {
    const open = nav.classList.toggle("open");
    ev.currentTarget.setAttribute("aria-expanded", String(open));
  });
  document.getElementById("logout").addEventListener("click", async () => {
    if (cleanup) cleanup();
    cleanup = null;
    try { await api("/api/auth/logout", { method: "POST" }); } finally { location.assign("/login"); }
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("pagehide", () => { if (cleanup) cleanup(); });
  await route();
}

start().catch((e) => { if (e.status !== 401) main.replaceChildren(h("p", { class: "error" }, e.message)); });
