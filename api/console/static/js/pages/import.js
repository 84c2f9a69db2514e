// Bulk import from CSV, with the validation report: every refused line and why.
import { api, h } from "../api.js";

const COLUMNS = "id,name,compound,grid,level,rtsp_url,sub_url,username,password,lat,lon,enabled";

function issuesTable(items) {
  return h("div", { class: "table-wrap" }, h("table", { id: "import-errors" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Where"), h("th", { scope: "col" }, "Problem"))),
    h("tbody", {}, items.map((i) => h("tr", {}, h("td", {}, i.where || "—"), h("td", {}, i.message))))));
}

export async function render(main) {
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true, id: "csv-file" });
  const skip = h("input", { type: "checkbox", name: "skip_invalid", id: "skip-invalid" });
  const report = h("section", { id: "import-report", "aria-live": "polite" });
  const form = h("form", { class: "card", id: "import-form" },
    h("label", {}, "Camera CSV", file),
    h("p", { class: "muted" }, `Columns: ${COLUMNS} (id, name and rtsp_url required). A blank password keeps the stored one.`),
    h("label", { class: "check" }, skip, "Import the valid rows and skip the rest (otherwise nothing is imported if any row is refused)"),
    h("button", { type: "submit", class: "primary" }, "Import"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!file.files.length) return;
    const data = new FormData();
    data.append("file", file.files[0]);
    data.append("skip_invalid", skip.checked ? "true" : "false");
    const button = form.querySelector("button");
    button.disabled = true;
    report.replaceChildren(h("p", { class: "muted" }, "Importing…"));
    try {
      const r = await api("/api/cameras/import", { method: "POST", form: data });
      report.replaceChildren(
        h("p", { class: "report-ok" }, `${r.rows} rows: ${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${r.skipped.length} skipped.`),
        r.skipped.length ? issuesTable(r.skipped) : null);
    } catch (e) {
      report.replaceChildren(
        h("p", { class: "report-bad" }, e.status === 422 ? `Nothing was imported: ${e.errors.length} problem${e.errors.length === 1 ? "" : "s"}.` : `Import failed: ${e.message}`),
        e.errors.length ? issuesTable(e.errors) : null);
    } finally {
      button.disabled = false;
    }
  });
  main.replaceChildren(h("p", {}, h("a", { href: "#/cameras" }, "← Cameras")), h("h1", {}, "Import cameras from CSV"), form, report);
}
