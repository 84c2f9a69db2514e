// The grid worker's phone page: open cases assigned to them and the rest of their grids' open cases,
// most urgent first, and a form to report a problem found on patrol.
import { api, cursorPages, h, issueText, query, subscribe } from "../api.js";
import { OPEN_STATES, caseCard } from "../cases.js";
import { t, tv } from "../i18n.js";
import { pushControl } from "../push-control.js";

const SEVERITIES = ["low", "medium", "high", "critical"];
// A property company's, compound's or partner unit's people work what their holder is given; patrol
// reports are the grid workers' (they go to the grid, where these people would not see them again).
const PARTIES = ["property_staff", "compound_staff", "partner_member"];

function urgentFirst(a, b) {
  if (a.overdue !== b.overdue) return a.overdue ? -1 : 1;
  return new Date(a.deadline_at) - new Date(b.deadline_at);
}

function patrolForm(me, onDone) {
  const grids = me.grid_ids || [];
  const f = {
    grid_id: h("select", { name: "grid_id" }, grids.map((g) => h("option", { value: g }, g))),
    title: h("input", { name: "title", required: true, maxlength: 200, placeholder: t("tasks.titleExample") }),
    description: h("textarea", { name: "description", rows: 3, maxlength: 4000 }),
    severity: h("select", { name: "severity" }, SEVERITIES.map((s) => h("option", { value: s, selected: s === "medium" }, tv("severity", s)))),
  };
  const names = { grid_id: t("tasks.grid"), title: t("tasks.what"), description: t("tasks.details"), severity: t("tasks.severity") };
  const problem = h("div", { class: "error", role: "alert" });
  const form = h("form", { id: "patrol-form" },
    h("label", {}, names.grid_id, f.grid_id), h("label", {}, names.title, f.title),
    h("label", {}, names.description, f.description), h("label", {}, names.severity, f.severity),
    problem, h("button", { type: "submit", class: "primary wide" }, t("tasks.report")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problem.replaceChildren();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    const body = Object.fromEntries(Object.entries(f).map(([k, el]) => [k, el.value.trim()]));
    try {
      const c = await api("/api/cases", { method: "POST", json: body });
      form.reset();
      onDone(c);
    } catch (e) {
      const items = e.errors && e.errors.length ? e.errors : [{ where: "", message: e.message }];
      for (const it of items) if (f[it.where]) f[it.where].setAttribute("aria-invalid", "true");
      problem.replaceChildren(...items.map((it) => h("p", {}, issueText(it, names))));
    }
  });
  return form;
}

export async function render(main, _params, { me }) {
  const mineList = h("div", { class: "task-list", id: "my-tasks" });
  const otherList = h("div", { class: "task-list", id: "grid-tasks" });
  const mineCount = h("span", { class: "count" });
  const otherCount = h("span", { class: "count" });

  async function load() {
    const open = { state: OPEN_STATES };
    const [mine, all] = await Promise.all([
      cursorPages(`/api/cases${query({ ...open, mine: "true" })}`, { max: 500 }),
      cursorPages(`/api/cases${query(open)}`, { max: 500 }),
    ]);
    const mineIds = new Set(mine.map((c) => c.id));
    const others = all.filter((c) => !mineIds.has(c.id));
    mine.sort(urgentFirst);
    others.sort(urgentFirst);
    mineCount.textContent = String(mine.length);
    otherCount.textContent = String(others.length);
    mineList.replaceChildren(...(mine.length ? mine.map((c) => caseCard(c, { showState: true })) : [h("p", { class: "muted" }, t("tasks.noneMine"))]));
    otherList.replaceChildren(...(others.length ? others.map((c) => caseCard(c, { showState: true })) : [h("p", { class: "muted" }, t("tasks.noneOther"))]));
  }

  const report = h("details", { class: "card", id: "patrol" }, h("summary", {}, t("tasks.patrol")),
    patrolForm(me, (c) => { location.hash = `#/case/${c.id}`; }));
  main.replaceChildren(
    h("h1", {}, t("nav.tasks")),
    pushControl(),
    h("section", { class: "tasks" }, h("h2", {}, t("tasks.mine"), " ", mineCount), mineList),
    h("section", { class: "tasks" }, h("h2", {}, t("tasks.other"), " ", otherCount), otherList),
    me.grid_ids && me.grid_ids.length && !PARTIES.includes(me.role) ? report : null);
  await load();
  let pending = null;
  let gap = false;
  const reload = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; load().catch((e) => console.error(e)); }, 300);
  };
  const close = subscribe(["case.new", "case.changed"], reload, (s) => {
    if (s === "closed") gap = true;
    else if (s === "live" && gap) { gap = false; reload(); }
  });
  return () => { close(); clearTimeout(pending); };
}
