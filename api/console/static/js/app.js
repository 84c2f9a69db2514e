// The console shell: who is logged in, navigation filtered by permission, and a hash router.
// A page is a module exporting render(main, params, ctx) that may return a cleanup function
// (called when the user navigates away: live views close their connection there).
import { api, h } from "./api.js";

// Pages register here; `nav` entries appear in the menu for users allowed by `perm` (a permission
// name, or a test of the user for pages that depend on the role).
const WATCHES = (me) => ["admin", "operator", "viewer"].includes(me.role);
const WORKS_GRID = (me) => me.role === "grid_worker";
const SEES_CASES = (me) => WATCHES(me) || WORKS_GRID(me);

export const ROUTES = [
  { pattern: /^#\/tasks$/, module: "./pages/tasks.js", nav: "My tasks", href: "#/tasks", perm: WORKS_GRID },
  { pattern: /^#\/alerts$/, module: "./pages/alerts.js", nav: "Alerts", href: "#/alerts", perm: WATCHES },
  { pattern: /^#\/cases(?:\?.*)?$/, module: "./pages/cases.js", nav: "Cases", href: "#/cases", perm: WATCHES },
  { pattern: /^#\/case\/(\d+)$/, module: "./pages/case.js", perm: SEES_CASES },
  { pattern: /^#\/figures$/, module: "./pages/figures.js", nav: "Figures", href: "#/figures", perm: WATCHES },
  { pattern: /^#\/tree$/, module: "./pages/tree.js", nav: "Site", href: "#/tree", perm: "site:read" },
  { pattern: /^#\/cameras$/, module: "./pages/cameras.js", nav: "Cameras", href: "#/cameras", perm: "site:read" },
  { pattern: /^#\/cameras\/new$/, module: "./pages/camera-new.js", nav: "Add camera", href: "#/cameras/new", perm: "site:write" },
  { pattern: /^#\/cameras\/import$/, module: "./pages/import.js", nav: "Import CSV", href: "#/cameras/import", perm: "site:write" },
  { pattern: /^#\/camera\/([^/]+)$/, module: "./pages/camera.js", perm: "site:read" },
];

// Where a user starts: grid workers on their tasks, those who watch on the alert wall, others on the site.
function landing() {
  if (WORKS_GRID(me)) return "#/tasks";
  if (WATCHES(me)) return "#/alerts";
  return "#/tree";
}

const main = document.getElementById("page");
const nav = document.getElementById("nav");
let cleanup = null;
let me = null;
let visit = 0; // bumped on every navigation, so a page that finishes loading late is closed at once

function can(perm) {
  if (!perm) return true;
  if (!me) return false;
  return typeof perm === "function" ? perm(me) : me.permissions.includes(perm);
}

function buildNav() {
  nav.replaceChildren(...ROUTES.filter((r) => r.nav && can(r.perm)).map((r) => h("a", { href: r.href }, r.nav)));
}

function markActive() {
  for (const a of nav.querySelectorAll("a")) {
    const hash = location.hash.split("?")[0];
    a.classList.toggle("active", hash === a.getAttribute("href"));
  }
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  if (!location.hash || location.hash === "#/") {
    history.replaceState(null, "", landing());
  }
  const hash = location.hash;
  const mine = ++visit;
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
    if (typeof done === "function") {
      if (mine === visit) cleanup = done;
      else done();
    }
  } catch (e) {
    if (e.status === 401 || mine !== visit) return;
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
