// Bulk import from CSV, with the validation report: every refused line and why.
import { api, h, issueMessage } from "../api.js";
import { fmtNumber, t } from "../i18n.js";

const COLUMNS = "id,name,compound,grid,level,rtsp_url,sub_url,username,password,lat,lon,enabled";

function issuesTable(items) {
  return h("div", { class: "table-wrap" }, h("table", { id: "import-errors" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("import.where")), h("th", { scope: "col" }, t("import.problem")))),
    h("tbody", {}, items.map((i) => h("tr", {}, h("td", {}, i.where || "—"), h("td", {}, issueMessage(i)))))));
}

export async function render(main) {
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true, id: "csv-file" });
  const skip = h("input", { type: "checkbox", name: "skip_invalid", id: "skip-invalid" });
  const report = h("section", { id: "import-report", "aria-live": "polite" });
  const form = h("form", { class: "card", id: "import-form" },
    h("label", {}, t("import.file"), file),
    h("p", { class: "muted" }, t("import.columns", { columns: COLUMNS })),
    h("label", { class: "check" }, skip, t("import.skip")),
    h("button", { type: "submit", class: "primary" }, t("import.submit")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!file.files.length) return;
    const data = new FormData();
    data.append("file", file.files[0]);
    data.append("skip_invalid", skip.checked ? "true" : "false");
    const button = form.querySelector("button");
    button.disabled = true;
    report.replaceChildren(h("p", { class: "muted" }, t("import.busy")));
    try {
      const r = await api("/api/cameras/import", { method: "POST", form: data });
      report.replaceChildren(
        h("p", { class: "report-ok" }, t("import.done", {
          rows: fmtNumber(r.rows), created: fmtNumber(r.created), updated: fmtNumber(r.updated),
          unchanged: fmtNumber(r.unchanged), skipped: fmtNumber(r.skipped.length),
        })),
        r.skipped.length ? issuesTable(r.skipped) : null);
    } catch (e) {
      report.replaceChildren(
        h("p", { class: "report-bad" }, e.status !== 422 ? t("import.failed", { reason: e.message })
          : e.errors.length === 1 ? t("import.refusedOne") : t("import.refused", { count: fmtNumber(e.errors.length) })),
        e.errors.length ? issuesTable(e.errors) : null);
    } finally {
      button.disabled = false;
    }
  });
  main.replaceChildren(h("p", {}, h("a", { href: "#/cameras" }, `← ${t("nav.cameras")}`)), h("h1", {}, t("import.title")), form, report);
}
