// The case board: one column per state with its count, overdue cases marked, filtered by grid.
// Changes arrive over server-sent events and redraw the board.
import { api, h, query, subscribe } from "../api.js";
import { STATES, caseCard } from "../cases.js";
import { fmtNumber, t, tv } from "../i18n.js";

const PER_COLUMN = 50;
const GRID_KEY = "gridwatch.board.grid";

function gridsOf(tree) {
  const grids = [];
  const walk = (n) => { for (const g of n.grids) grids.push(g); n.children.forEach(walk); };
  tree.forEach(walk);
  return grids;
}

export async function render(main, _params, _ctx) {
  // The grid filter comes from the address (#/cases?grid=G-01) or, coming back from a case, from
  // the last choice in this tab.
  const fromHash = new URLSearchParams(location.hash.split("?")[1] || "").get("grid");
  const wanted = fromHash ?? sessionStorage.getItem(GRID_KEY) ?? "";
  const tree = await api("/api/site/tree");
  const grid = h("select", { id: "board-grid", "aria-label": t("case.grid") },
    h("option", { value: "" }, t("cases.allGrids")),
    gridsOf(tree).map((g) => h("option", { value: g.id, selected: g.id === wanted }, `${g.id} ${g.name}`)));
  const overdueOnly = h("input", { type: "checkbox", id: "board-overdue" });
  const board = h("div", { class: "board", id: "case-board" });
  const summary = h("span", { class: "muted", id: "board-summary" });

  async function draw() {
    const g = grid.value;
    const counts = await api(`/api/cases/counts${query({ grid_id: g })}`);
    const columns = await Promise.all(STATES.map((state) =>
      (counts[state] ? api(`/api/cases${query({ state, grid_id: g, overdue: overdueOnly.checked ? "true" : "", limit: PER_COLUMN })}`) : Promise.resolve({ items: [] }))));
    const total = STATES.reduce((n, s) => n + (counts[s] || 0), 0);
    const overdue = columns.reduce((n, page) => n + page.items.filter((c) => c.overdue).length, 0);
    summary.textContent = overdue ? t("cases.summaryOverdue", { total: fmtNumber(total), overdue: fmtNumber(overdue) }) : t("cases.summary", { total: fmtNumber(total) });
    board.replaceChildren(...STATES.map((state, i) => {
      const items = columns[i].items;
      const count = counts[state] || 0;
      return h("section", { class: `board-col col-${state}`, "data-state": state, "aria-label": tv("state", state) },
        h("h2", {}, tv("state", state), " ", h("span", { class: "count", "data-count": count }, String(count))),
        h("div", { class: "board-cards" }, items.map((c) => caseCard(c))),
        count > items.length && !overdueOnly.checked ? h("p", { class: "muted more" }, t("cases.more", { count: fmtNumber(count - items.length) })) : null);
    }));
  }

  let pending = null;
  const redraw = () => { // several changes in a burst make one redraw
    if (pending) return;
    pending = setTimeout(() => { pending = null; draw().catch((e) => console.error(e)); }, 300);
  };
  grid.addEventListener("change", () => {
    history.replaceState(null, "", `#/cases${query({ grid: grid.value })}`);
    sessionStorage.setItem(GRID_KEY, grid.value);
    draw();
  });
  overdueOnly.addEventListener("change", () => draw());

  main.replaceChildren(
    h("h1", {}, t("nav.cases")),
    h("div", { class: "toolbar" }, grid, h("label", { class: "check inline" }, overdueOnly, t("cases.overdueOnly")), summary),
    board);
  await draw();
  let gap = false; // a stream opened anew does not replay what was missed: redraw then
  const close = subscribe(["case.new", "case.changed"], redraw, (s) => {
    if (s === "closed") gap = true;
    else if (s === "live" && gap) { gap = false; redraw(); }
  });
  return () => { close(); clearTimeout(pending); };
}
