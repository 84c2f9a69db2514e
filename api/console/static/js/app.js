// The console shell: who is logged in, navigation filtered by permission, and a hash router.
// A page is a module exporting render(view, params, ctx) that fills `view` and may return a cleanup
// function (called when the user navigates away: live views close their connection there).
import { api, errorMessage, h } from "./api.js";
import { initI18n, languageSelect, t, tv } from "./i18n.js";

// Pages register here; `nav` entries (their words) appear in the menu for users allowed by `perm` (a permission
// name, or a test of the user). Those who only do field work (grid workers) get their task list
// instead of the centre's alert wall, case board and figures.
const has = (me, permission) => me.permissions.includes(permission);
const FIELD_ONLY = (me) => has(me, "cases:work") && !has(me, "cases:manage");
const WATCHES = (me) => has(me, "alerts:read") && !FIELD_ONLY(me);
const BOARD = (me) => has(me, "cases:read") && !FIELD_ONLY(me);
// The video wall is the centres': those who handle alerts and may watch live video.
const CENTRE_WALL = (me) => has(me, "live:view") && has(me, "alerts:handle");
// Gateways are site-wide (api/routes/gateways.py): site writers whose scope is the whole site (grid_ids null).
const SITE_WIDE_WRITER = (me) => has(me, "site:write") && me.grid_ids === null;

export const ROUTES = [
  { pattern: /^#\/tasks$/, module: "./pages/tasks.js", nav: () => t("nav.tasks"), href: "#/tasks", perm: FIELD_ONLY },
  { pattern: /^#\/alerts$/, module: "./pages/alerts.js", nav: () => t("nav.alerts"), href: "#/alerts", perm: WATCHES },
  { pattern: /^#\/wall$/, module: "./pages/wall.js", nav: () => t("nav.wall"), href: "#/wall", perm: CENTRE_WALL },
  { pattern: /^#\/cases(?:\?.*)?$/, module: "./pages/cases.js", nav: () => t("nav.cases"), href: "#/cases", perm: BOARD },
  { pattern: /^#\/case\/(\d+)$/, module: "./pages/case.js", perm: "cases:read" },
  { pattern: /^#\/figures$/, module: "./pages/figures.js", nav: () => t("nav.figures"), href: "#/figures", perm: BOARD },
  { pattern: /^#\/risk$/, module: "./pages/risk.js", nav: () => t("nav.risk"), href: "#/risk", perm: "cases:read" },
  { pattern: /^#\/map(?:\?.*)?$/, module: "./pages/map.js", nav: () => t("nav.map"), href: "#/map", perm: "site:read" },
  { pattern: /^#\/tree$/, module: "./pages/tree.js", nav: () => t("nav.tree"), href: "#/tree", perm: "site:read" },
  { pattern: /^#\/cameras$/, module: "./pages/cameras.js", nav: () => t("nav.cameras"), href: "#/cameras", perm: "site:read" },
  { pattern: /^#\/cameras\/new$/, module: "./pages/camera-new.js", nav: () => t("nav.cameraNew"), href: "#/cameras/new", perm: "site:write" },
  { pattern: /^#\/cameras\/onvif$/, module: "./pages/camera-onvif.js", perm: "site:write" },
  { pattern: /^#\/gateways$/, module: "./pages/gateways.js", perm: SITE_WIDE_WRITER },
  { pattern: /^#\/cameras\/import$/, module: "./pages/import.js", nav: () => t("nav.import"), href: "#/cameras/import", perm: "site:write" },
  { pattern: /^#\/camera\/([^/]+)$/, module: "./pages/camera.js", perm: "site:read" },
  { pattern: /^#\/audit(?:\?.*)?$/, module: "./pages/audit.js", nav: () => t("nav.audit"), href: "#/audit", perm: "audit:read" },
  { pattern: /^#\/notifications$/, module: "./pages/notifications.js", nav: () => t("nav.notifications"), href: "#/notifications", perm: "notify:manage" },
];

// Where a user starts: grid workers on their tasks, those who handle alerts on the alert wall,
// everyone else on the site.
function landing() {
  if (FIELD_ONLY(me)) return "#/tasks";
  if (has(me, "alerts:handle")) return "#/alerts";
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
  nav.replaceChildren(...ROUTES.filter((r) => r.nav && can(r.perm)).map((r) => h("a", { href: r.href }, r.nav())));
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
    main.replaceChildren(h("h1", {}, t("app.notFound")), h("p", { class: "muted" }, t("app.notFoundText")));
    return;
  }
  const params = hash.match(r.pattern).slice(1).map(decodeURIComponent);
  main.replaceChildren(h("p", { class: "muted" }, t("app.loading")));
  document.title = t("app.title");
  // The page renders into its own element, shown only if the user is still here when it is ready:
  // a page that loads slowly never overwrites the one navigated to meanwhile.
  const view = h("div", { class: "view" });
  try {
    const mod = await import(r.module);
    const done = await mod.render(view, params, { me, can });
    if (mine !== visit) {
      if (typeof done === "function") done();
      return;
    }
    cleanup = typeof done === "function" ? done : null;
    main.replaceChildren(view);
  } catch (e) {
    if (e.status === 401 || mine !== visit) return;
    main.replaceChildren(h("h1", {}, t("app.failed")), h("p", { class: "error" }, errorMessage(e)));
  }
  main.focus({ preventScroll: true });
}

function showUser() {
  document.getElementById("user-name").textContent = `${me.display_name} · ${tv("role", me.role)}`;
}

async function start() {
  await initI18n();
  me = await api("/api/auth/me");
  showUser();
  document.body.dataset.role = me.role;
  buildNav();
  // Another language: the shell's words, then the page drawn again in it.
  languageSelect(document.getElementById("lang"), () => { showUser(); buildNav(); route(); });
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

start().catch((e) => { if (e.status !== 401) main.replaceChildren(h("p", { class: "error" }, errorMessage(e))); });
