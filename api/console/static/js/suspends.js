// Suspended notifications of cameras and grids (alert-fatigue control): the active ones in the caller's
// scope, how one reads in a sentence, and the camera page's card to suspend and lift them.
import { ApiError, api, errorMessage, fmtTime, h, issueText } from "./api.js";
import { fmtNumber, t } from "./i18n.js";

export const MINUTES = [30, 60, 120, 480, 1440];

// Active suspends, or none when the server keeps no notifications (503) or the caller may not read them.
export async function activeSuspends() {
  try {
    return await api("/api/suspends?active=true");
  } catch (e) {
    if (e instanceof ApiError && e.status !== 401) return [];
    throw e;
  }
}

function duration(minutes) {
  return minutes < 60 ? t("suspend.minutes", { n: fmtNumber(minutes) }) : t("suspend.hours", { n: fmtNumber(minutes / 60) });
}

// "Suspended until 14:05 by operator: roadworks"
export function suspendText(s) {
  return t("suspend.until", { until: fmtTime(s.until), who: s.created_by, reason: s.reason });
}

// The card on the camera page: the suspends that hold this camera's alerts back (its own, its grid's),
// each with a lift button, and for those who handle alerts a form to suspend the camera.
export function suspendCard(cam, canHandle) {
  const list = h("ul", { class: "suspends", id: "camera-suspends" });
  const problem = h("p", { class: "error", role: "alert", id: "suspend-error", hidden: true });
  const card = h("div", { class: "card", id: "suspend-card", hidden: true }, h("h2", {}, t("suspend.title")), list, problem);
  const said = (e) => { problem.replaceChildren(e.errors && e.errors.length ? e.errors.map((i) => issueText(i)).join("; ") : errorMessage(e)); problem.hidden = false; };

  async function load() {
    let all;
    try {
      all = await api("/api/suspends?active=true");
    } catch (e) {
      if (e instanceof ApiError && e.status !== 401) return; // no notifications on this server: no card
      throw e;
    }
    card.hidden = false;
    const mine = all.filter((s) => (s.kind === "camera" && s.target_id === cam.id) || (s.kind === "grid" && s.target_id === cam.grid_id));
    list.replaceChildren(...(mine.length ? mine.map((s) => h("li", { "data-suspend": s.id, "data-kind": s.kind },
      h("span", { class: "badge suspended" }, s.kind === "grid" ? t("suspend.gridSuspended", { grid: s.target_id }) : t("suspend.cameraSuspended")),
      " ", suspendText(s), " ",
      canHandle ? h("button", { type: "button", class: "link lift", onclick: async (ev) => {
        ev.currentTarget.disabled = true;
        problem.hidden = true;
        try {
          await api(`/api/suspends/${s.id}/lift`, { method: "POST" });
        } catch (e) { said(e); }
        await load();
      } }, t("suspend.lift")) : null))
      : [h("li", { class: "muted" }, t("suspend.none"))]));
  }

  if (canHandle) {
    const minutes = h("select", { name: "minutes", id: "suspend-minutes", "aria-label": t("suspend.for") },
      MINUTES.map((m) => h("option", { value: m, selected: m === 120 }, duration(m))));
    const reason = h("input", { name: "reason", id: "suspend-reason", maxlength: 300, required: true, placeholder: t("suspend.reasonPlaceholder"), "aria-label": t("suspend.reason") });
    const form = h("form", { class: "suspend-form", id: "suspend-form" },
      h("label", {}, t("suspend.for"), minutes), h("label", {}, t("suspend.reason"), reason),
      h("button", { type: "submit" }, t("suspend.submit")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      problem.hidden = true;
      reason.removeAttribute("aria-invalid");
      if (!reason.value.trim()) { reason.setAttribute("aria-invalid", "true"); reason.focus(); return; }
      try {
        await api("/api/suspends", { method: "POST", json: { kind: "camera", target_id: cam.id, minutes: Number(minutes.value), reason: reason.value.trim() } });
        form.reset();
        minutes.value = "120";
      } catch (e) { said(e); }
      await load();
    });
    card.append(h("p", { class: "muted" }, t("suspend.note")), form);
  }
  const ready = load().catch(() => {});
  return { card, ready };
}
