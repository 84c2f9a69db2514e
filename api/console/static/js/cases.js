// What the console knows about the case loop: states in board order and how actions are labelled.
// Which actions a caller may take on a case comes with the case (allowed_actions, note_required),
// worked out by the server from the loop's table and the caller's role.
import { fmtTime, h, severityBadge, stateBadge } from "./api.js";
import { t, tv } from "./i18n.js";

export const STATES = [
  "reported", "registered", "dispatched", "accepted", "in_progress", "resolved", "verified", "closed",
  "escalated", "reopened", "dismissed",
];
export const OPEN_STATES = STATES.filter((s) => s !== "closed" && s !== "dismissed");

// A step of the loop as its button and trail entry name it ("Start work", "开始处置").
export function actionLabel(action) { return tv("action", action); }

function has(me, permission) { return me.permissions.includes(permission); }

// May `me` comment on cases and report from patrol? Readers only look.
export function canWorkCases(me) { return has(me, "cases:work"); }

export function overdueBadge(c) { return c.overdue ? h("span", { class: "badge overdue" }, t("case.overdue")) : null; }

// One case as a card (board columns, task lists); the whole card is the link to its page.
export function caseCard(c, { showState = false } = {}) {
  return h("a", { class: `case-card${c.overdue ? " is-overdue" : ""}`, href: `#/case/${c.id}`, "data-case": c.id },
    h("span", { class: "case-title" }, h("span", { class: "muted" }, `#${c.id} `), c.title),
    h("span", { class: "case-meta" },
      showState ? stateBadge(c.state) : null,
      severityBadge(c.severity),
      overdueBadge(c),
      h("span", { class: "muted" }, `${c.grid_id}${c.camera_name ? ` · ${c.camera_name}` : ""}`)),
    h("span", { class: "case-meta muted" }, c.hazard ? tv("hazard", c.hazard) : tv("source", c.source), " · ",
      t("case.due", { time: fmtTime(c.deadline_at) }),
      c.assignee_id ? h("span", { class: "case-assignee" }, t("case.assignedTo", { name: assigneeName(c) })) : null));
}

// Who has the task, by name (the person id when the site model does not know them).
export function assigneeName(c) { return c.assignee_name || c.assignee_id || "—"; }
