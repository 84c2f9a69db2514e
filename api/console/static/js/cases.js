// What the console knows about the case loop: states in board order, which action leads where
// (mirrors events.lifecycle.TRANSITIONS; the server still refuses an illegal move with 409) and
// which roles may take which actions.
import { fmtTime, h, label, severityBadge, stateBadge } from "./api.js";

export const STATES = [
  "reported", "registered", "dispatched", "accepted", "in_progress", "resolved", "verified", "closed",
  "escalated", "reopened", "dismissed",
];
export const OPEN_STATES = STATES.filter((s) => s !== "closed" && s !== "dismissed");

// action → [states it may start from, whether it needs a note]
export const TRANSITIONS = {
  register: [["reported"], false],
  dispatch: [["registered", "escalated", "reopened"], false],
  accept: [["dispatched"], false],
  start: [["accepted"], false],
  resolve: [["accepted", "in_progress"], true],
  verify: [["resolved"], false],
  close: [["verified"], false],
  reopen: [["resolved", "verified"], true],
  dismiss: [["reported", "registered", "dispatched", "escalated"], true],
  escalate: [["registered", "dispatched", "accepted", "in_progress", "escalated", "reopened"], false],
};

export const ACTION_LABEL = {
  report: "Reported", add_alert: "Alert added",
  register: "Register", dispatch: "Dispatch", accept: "Accept", start: "Start work", resolve: "Resolve",
  verify: "Verify", close: "Close", reopen: "Reopen", dismiss: "Dismiss", escalate: "Escalate",
};

// Field work needs cases:work (grid workers, operators); the centre's moves need cases:manage.
const FIELD_WORK = ["accept", "start", "resolve"];

function has(me, permission) { return me.permissions.includes(permission); }

// The actions `me` may take on a case in `state`, in the table's order.
export function actionsFor(state, me) {
  return Object.keys(TRANSITIONS).filter((a) =>
    has(me, FIELD_WORK.includes(a) ? "cases:work" : "cases:manage") && TRANSITIONS[a][0].includes(state));
}

export function needsNote(action) { return TRANSITIONS[action][1]; }

// May `me` comment on cases and report from patrol? Readers only look.
export function canWorkCases(me) { return has(me, "cases:work"); }

export function overdueBadge(c) { return c.overdue ? h("span", { class: "badge overdue" }, "overdue") : null; }

// One case as a card (board columns, task lists); the whole card is the link to its page.
export function caseCard(c, { showState = false } = {}) {
  return h("a", { class: `case-card${c.overdue ? " is-overdue" : ""}`, href: `#/case/${c.id}`, "data-case": c.id },
    h("span", { class: "case-title" }, h("span", { class: "muted" }, `#${c.id} `), c.title),
    h("span", { class: "case-meta" },
      showState ? stateBadge(c.state) : null,
      severityBadge(c.severity),
      overdueBadge(c),
      h("span", { class: "muted" }, `${c.grid_id}${c.camera_name ? ` · ${c.camera_name}` : ""}`)),
    h("span", { class: "case-meta muted" }, c.hazard ? label(c.hazard) : label(c.source), " · due ", fmtTime(c.deadline_at)));
}
