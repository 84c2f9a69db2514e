// The live alert wall: alerts in scope, newest first; new ones arrive over server-sent events
// without a reload. Operators acknowledge, dismiss (with a reason) or make a case from here.
import { api, cursorPages, errorMessage, fmtTime, h, query, severityBadge, subscribe } from "../api.js";
import { t, tv } from "../i18n.js";
import { pushControl } from "../push-control.js";

const STATUSES = ["new", "acknowledged", "in_case", "escalated", "dismissed"];
const MAX_CARDS = 200;

function thumb(a) {
  if (!a.has_evidence || !a.evidence_url) return h("div", { class: "thumb thumb-none" }, a.evidence_removed || t("alerts.noPicture"));
  return h("a", { class: "thumb", href: a.evidence_url, target: "_blank", rel: "noopener" },
    h("img", { src: a.evidence_url, alt: t("alerts.evidence", { hazard: tv("hazard", a.hazard), camera: a.camera_name || a.camera_id }), loading: "lazy" }));
}

// An alert a fatigue control held back notified nobody and opened no case: marked, with the control's name.
export function heldBack(a) {
  if (!a.held_back) return null;
  return h("span", { class: "badge held-back", "data-held": a.held_back, title: t("alerts.heldBackTitle") },
    t("alerts.heldBack", { control: tv("held", a.held_back) }));
}

export async function render(main, _params, { me }) {
  const writer = me.permissions.includes("alerts:handle");
  const wall = h("ol", { class: "alert-wall", id: "alert-wall", "aria-live": "polite" });
  const status = h("select", { "aria-label": t("alerts.status"), id: "alert-status" },
    h("option", { value: "" }, t("alerts.allStatuses")), STATUSES.map((s) => h("option", { value: s }, tv("alertStatus", s))));
  const liveState = h("span", { class: "badge live-state", id: "live-state" }, tv("stream", "connecting"));
  const empty = h("p", { class: "card muted", id: "alert-empty" }, t("alerts.empty"));
  const cards = new Map(); // alert id → card element

  const matches = (a) => !status.value || a.status === status.value;

  function card(a) {
    const problem = h("p", { class: "error", role: "alert", hidden: true });
    const buttons = h("div", { class: "alert-actions" });
    const act = async (path, body) => {
      problem.hidden = true;
      for (const b of buttons.querySelectorAll("button")) b.disabled = true;
      try {
        return await api(`/api/alerts/${a.id}/${path}`, { method: "POST", json: body });
      } catch (e) {
        problem.replaceChildren(errorMessage(e));
        problem.hidden = false;
        return null;
      } finally {
        for (const b of buttons.querySelectorAll("button")) b.disabled = false;
      }
    };
    const open = a.status === "new" || a.status === "acknowledged";
    if (writer && open) {
      if (a.status === "new") {
        buttons.append(h("button", { class: "act-ack", onclick: async () => { const r = await act("ack"); if (r) upsert(r); } }, t("alerts.ack")));
      }
      const reason = h("input", { name: "reason", placeholder: t("alerts.reasonPlaceholder"), maxlength: 500, "aria-label": t("alerts.reason") });
      const dismissForm = h("form", { class: "dismiss-form", hidden: true },
        reason, h("button", { type: "submit", class: "danger" }, t("alerts.dismissSubmit")),
        h("button", { type: "button", class: "link", onclick: () => { dismissForm.hidden = true; } }, t("alerts.cancel")));
      dismissForm.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        if (!reason.value.trim()) { reason.setAttribute("aria-invalid", "true"); reason.focus(); return; }
        const r = await act("dismiss", { reason: reason.value.trim() });
        if (r) upsert(r);
      });
      buttons.append(
        h("button", { class: "act-dismiss", onclick: () => { dismissForm.hidden = false; reason.focus(); } }, t("alerts.dismiss")),
        h("button", {
          class: "primary act-case",
          onclick: async () => {
            const c = await act("case", { note: "" });
            if (c) location.hash = `#/case/${c.id}`;
          },
        }, t("alerts.makeCase")));
      buttons.append(dismissForm);
    }
    const outcome = a.case_id
      ? h("a", { href: `#/case/${a.case_id}`, class: "case-link" }, t("alerts.caseLink", { id: a.case_id }))
      : a.dismiss_reason ? h("span", { class: "muted" }, t("alerts.dismissed", { reason: a.dismiss_reason })) : null;
    return h("li", { class: `alert-card status-${a.status}`, "data-alert": a.id, "data-status": a.status, "data-hazard": a.hazard },
      thumb(a),
      h("div", { class: "alert-body" },
        h("div", { class: "alert-head" },
          h("strong", { class: "hazard" }, tv("hazard", a.hazard)), severityBadge(a.severity),
          h("span", { class: "badge alert-status" }, tv("alertStatus", a.status)),
          a.episode_state === "closed" ? h("span", { class: "badge muted" }, t("alerts.over")) : null,
          a.measurements && a.measurements.onvif_device_event ? h("span", { class: "badge onvif-source" }, t("alerts.onvifSource")) : null,
          heldBack(a)),
        h("div", { class: "alert-where" },
          h("span", { class: "camera-name" }, a.camera_name || a.camera_id), h("span", { class: "muted" }, ` · ${t("alerts.grid", { id: a.grid_id })}`),
          a.zone_id ? h("span", { class: "muted" }, ` · ${t("alerts.zone", { id: a.zone_id })}`) : null),
        h("div", { class: "muted alert-time" }, h("time", { datetime: a.started_at }, fmtTime(a.started_at)),
          a.updates > 1 ? ` · ${t("alerts.updates", { count: a.updates, time: fmtTime(a.last_seen_at) })}` : ""),
        a.summary ? h("p", { class: "alert-summary" }, a.summary) : null,
        outcome, buttons, problem));
  }

  // A dismiss reason being typed, read off a card about to be replaced: a live update of the alert
  // (another operator's click, a new observation) must not close the form under the operator's hands.
  function draftOf(el) {
    const form = el.querySelector(".dismiss-form");
    if (!form || form.hidden) return null;
    const reason = form.querySelector("input[name=reason]");
    return { text: reason.value, invalid: reason.getAttribute("aria-invalid"), focused: document.activeElement === reason };
  }

  function keepDraft(el, draft) {
    const form = el.querySelector(".dismiss-form");
    if (!draft || !form) return; // the alert was closed meanwhile: there is nothing left to dismiss
    const reason = form.querySelector("input[name=reason]");
    form.hidden = false;
    reason.value = draft.text;
    if (draft.invalid) reason.setAttribute("aria-invalid", draft.invalid);
    if (draft.focused) reason.focus();
  }

  // Insert or replace an alert's card; new ones go on top.
  function upsert(a, { fresh = false } = {}) {
    const old = cards.get(a.id);
    if (!matches(a)) {
      if (old) { old.remove(); cards.delete(a.id); }
    } else {
      const el = card(a);
      if (old) {
        const draft = draftOf(old);
        old.replaceWith(el);
        keepDraft(el, draft);
      } else if (fresh) wall.prepend(el);
      else wall.append(el);
      cards.set(a.id, el);
      if (fresh && !old) {
        el.classList.add("arrived");
        while (cards.size > MAX_CARDS) {
          const last = wall.lastElementChild;
          cards.delete(Number(last.dataset.alert));
          last.remove();
        }
      }
    }
    empty.hidden = cards.size > 0;
  }

  async function load() {
    const items = await cursorPages(`/api/alerts${query({ status: status.value })}`, { limit: 100, max: MAX_CARDS });
    wall.replaceChildren();
    cards.clear();
    for (const a of items) upsert(a);
    empty.hidden = cards.size > 0;
  }
  status.addEventListener("change", () => load().catch((e) => { empty.textContent = e.message; empty.hidden = false; }));

  main.replaceChildren(
    h("h1", {}, t("nav.alerts")),
    h("div", { class: "toolbar" }, status, liveState,
      h("span", { class: "muted" }, t("alerts.hint"))),
    pushControl(),
    empty, wall);
  // Subscribe before the first load and hold events until it is done, so none falls in between.
  let held = [];
  let gap = false;
  const close = subscribe(["alert.new", "alert.changed"], (_kind, a) => (held ? held.push(a) : upsert(a, { fresh: true })),
    (s) => {
      liveState.textContent = tv("stream", s);
      liveState.dataset.state = s;
      if (s === "closed") gap = true; // a new stream does not replay what was missed: reload
      else if (s === "live" && gap) { gap = false; load().catch(() => {}); }
    });
  try {
    await load();
  } catch (e) {
    close();
    throw e;
  }
  for (const a of held) upsert(a, { fresh: true });
  held = null;
  return close;
}
