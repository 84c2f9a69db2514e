// One case: its facts, the evidence of its alerts, the trail of every step and progress note (with
// their photos), and the steps the caller may take from the current state. Works on a phone (the grid worker's view).
import { api, fmtTime, h, issueText, severityBadge, stateBadge, subscribe } from "../api.js";
import { actionLabel, assigneeName, canWorkCases, overdueBadge } from "../cases.js";
import { fmtOr, language, t, tv } from "../i18n.js";

const MAX_EVIDENCE = 4;

function attachmentLink(a) {
  const name = a.name || t("case.attachment", { id: a.id });
  if (a.removed) return h("span", { class: "file muted", "data-attachment": a.id }, `${name} — ${a.removed}`);
  const url = `/api/attachments/${a.id}`;
  const image = (a.content_type || "").startsWith("image/");
  return h("a", { class: image ? "photo" : "file", href: url, target: "_blank", rel: "noopener", "data-attachment": a.id },
    image ? h("img", { src: url, alt: a.name || t("case.photo"), loading: "lazy" }) : name);
}

function photoList(list) {
  return list && list.length ? h("div", { class: "photos" }, list.map(attachmentLink)) : null;
}

function who(e) {
  return h("span", { class: "muted tl-who" }, ` · ${e.actor_id} (${tv("role", e.actor_role)}) · `, h("time", { datetime: e.at }, fmtTime(e.at)));
}

// The trail: every step and every progress note (with their photos), oldest first.
function timeline(audit, notes, unitNames) {
  const items = [...audit.map((e) => ({ at: e.at, step: e })), ...notes.map((c) => ({ at: c.at, note: c }))];
  items.sort((a, b) => new Date(a.at) - new Date(b.at)); // stable: a step before a note of the same instant
  return h("ol", { class: "timeline", id: "case-timeline" }, items.map(({ step: e, note: c }) => (e
    ? h("li", { "data-action": e.action, "data-to": e.to_state },
      h("div", { class: "tl-head" },
        h("strong", {}, actionLabel(e.action)),
        e.from_state && e.from_state !== e.to_state ? h("span", { class: "muted" }, ` ${tv("state", e.from_state)} → ${tv("state", e.to_state)}`) : null,
        who(e)),
      e.data && e.data.holder ? h("p", { class: "tl-holder" }, t("case.heldFrom", { holder: holderText(e.data.holder, unitNames) })) : null,
      e.note ? h("p", { class: "tl-note" }, e.note) : null,
      photoList(e.attachments))
    : h("li", { class: "tl-comment", "data-action": "comment", "data-comment": c.id },
      h("div", { class: "tl-head" }, h("strong", {}, t("case.note")), who(c)),
      c.text ? h("p", { class: "tl-note" }, c.text) : null,
      photoList(c.attachments)))));
}

// Who holds the case: the grid (its worker), a property company, or a partner unit (by name when known).
function holderText(holder, unitNames) {
  const [kind, ...rest] = holder.split(":");
  const id = rest.join(":");
  if (kind === "company") return t("case.holderCompany", { id });
  if (kind === "partner") return t("case.holderPartner", { name: unitNames.get(id) || id });
  return t("case.holderGrid", { id });
}

function facts(c, unitNames) {
  const rows = [
    [t("case.state"), stateBadge(c.state)],
    [t("case.severity"), severityBadge(c.severity)],
    [t("case.hazard"), c.hazard ? tv("hazard", c.hazard) : "—"],
    [t("case.source"), tv("source", c.source)],
    [t("case.grid"), c.grid_id],
    [t("case.camera"), c.camera_name || c.camera_id || "—"],
    [t("case.holder"), h("span", { id: "case-holder", "data-holder": c.holder }, holderText(c.holder, unitNames))],
    [t("case.assignee"), h("span", { id: "case-assignee", title: c.assignee_id || "" }, assigneeName(c))],
    [t("case.level"), tv("caseLevel", c.level)],
    [t("case.matter"), tv("triage", c.triage)],
    [t("case.deadline"), h("span", {}, fmtTime(c.deadline_at), " ", overdueBadge(c))],
    [t("case.reported"), fmtTime(c.created_at)],
    [t("case.location"), c.location || "—"],
  ];
  return h("dl", { class: "facts", id: "case-facts" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// The resident who reported it through an app (only callers who handle the case get it): a tel: link for the
// grid worker's phone, and the app's photo link when it is http(s).
function reporterCard(r) {
  const dial = (r.phone || "").replace(/[^0-9+]/g, "");
  const photo = /^https?:\/\//i.test(r.media_url || "") ? r.media_url : "";
  const rows = [
    r.name ? [t("case.reporterName"), h("span", { id: "reporter-name" }, r.name)] : null,
    dial ? [t("case.reporterPhone"), h("a", { id: "reporter-phone", href: `tel:${dial}` }, r.phone)] : null,
    r.email ? [t("case.reporterEmail"), h("a", { id: "reporter-email", href: `mailto:${r.email}` }, r.email)] : null,
    photo ? [t("case.reporterPhoto"), h("a", { id: "reporter-photo", href: photo, target: "_blank", rel: "noopener noreferrer" }, t("case.reporterOpenPhoto"))] : null,
    [t("case.reporterApp"), r.client],
  ].filter(Boolean);
  return [
    h("h2", {}, t("case.reporter")),
    r.name || dial || r.email ? null : h("p", { class: "muted" }, t("case.reporterNone")),
    h("dl", { class: "facts" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
  ];
}

export async function render(main, [id], { me }) {
  const fieldOnly = canWorkCases(me) && !me.permissions.includes("cases:manage");
  const back = fieldOnly ? h("a", { href: "#/tasks" }, `← ${t("nav.tasks")}`) : h("a", { href: "#/cases" }, `← ${t("nav.cases")}`);
  // The step form stays put across refreshes, so a note being typed is never lost.
  const note = h("textarea", { name: "note", id: "step-note", rows: 3, maxlength: 4000 });
  const photos = h("input", { type: "file", name: "photos", id: "step-photos", accept: "image/*", capture: "environment", multiple: true });
  const stepButtons = h("div", { class: "step-buttons", id: "step-buttons" });
  // The centre may hand a case to a partner unit instead of the grid's worker.
  const units = me.permissions.includes("cases:manage") ? await api("/api/site/partner-units").catch(() => []) : [];
  const unitNames = new Map(units.map((u) => [u.id, u.name]));
  const dispatchTo = h("select", { id: "dispatch-to", name: "holder" },
    h("option", { value: "" }, t("case.dispatchGrid")), units.map((u) => h("option", { value: u.holder }, u.name)));
  const dispatchLabel = h("label", { id: "dispatch-to-label", hidden: true }, t("case.dispatchTo"), dispatchTo);
  const stepError = h("div", { class: "error", role: "alert", id: "step-error" });
  const stepForm = h("form", { class: "card step-form", id: "step-form" },
    h("h2", {}, t("case.nextStep")),
    h("label", {}, t("case.note"), note),
    h("label", {}, t("case.photos"), photos, h("span", { class: "muted hint" }, t("case.photosHint"))),
    dispatchLabel, stepButtons, stepError);
  stepForm.addEventListener("submit", (ev) => ev.preventDefault());

  // A progress note leaves the state alone: words, photos from the phone's camera, or both.
  const commentText = h("textarea", { name: "text", id: "comment-text", rows: 2, maxlength: 4000, "aria-label": t("case.progressNote") });
  const commentPhotos = h("input", { type: "file", name: "photos", id: "comment-photos", accept: "image/*", capture: "environment", multiple: true, "aria-label": t("case.photos") });
  const commentError = h("div", { class: "error", role: "alert", id: "comment-error" });
  const commentForm = h("form", { class: "comment-form", id: "comment-form" },
    h("h2", {}, t("case.addProgressNote")), commentText,
    h("label", {}, t("case.photos"), commentPhotos),
    h("button", { type: "submit" }, t("case.addNote")), commentError);

  const header = h("div");
  const factsBox = h("div", { class: "card" });
  const reporterBox = h("div", { class: "card", id: "case-reporter", hidden: true });
  const evidence = h("div", { class: "evidence", id: "case-evidence" });
  const trail = h("div");

  let noteRequired = [];

  async function step(action) {
    stepError.replaceChildren();
    note.removeAttribute("aria-invalid");
    if (noteRequired.includes(action) && !note.value.trim()) {
      note.setAttribute("aria-invalid", "true");
      stepError.textContent = t("case.noteNeeded", { action: actionLabel(action) });
      note.focus();
      return;
    }
    const form = new FormData();
    form.append("action", action);
    form.append("note", note.value.trim());
    if (action === "dispatch" && dispatchTo.value) form.append("holder", dispatchTo.value);
    for (const f of photos.files) form.append("photos", f);
    for (const b of stepButtons.querySelectorAll("button")) b.disabled = true;
    try {
      await api(`/api/cases/${id}/transitions`, { method: "POST", form });
      note.value = "";
      photos.value = "";
      await refresh();
    } catch (e) {
      const items = e.errors && e.errors.length ? e.errors.map((i) => issueText(i, { note: t("case.note"), photos: t("case.photos") })) : [e.message];
      if (e.errors && e.errors.some((i) => i.where === "note")) note.setAttribute("aria-invalid", "true");
      stepError.replaceChildren(...items.map((t) => h("p", {}, t)));
      for (const b of stepButtons.querySelectorAll("button")) b.disabled = false;
    }
  }

  commentForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    commentError.replaceChildren();
    const text = commentText.value.trim();
    const files = [...commentPhotos.files];
    if (!text && !files.length) return;
    const button = commentForm.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      if (files.length) {
        const form = new FormData();
        form.append("text", text);
        for (const f of files) form.append("photos", f);
        await api(`/api/cases/${id}/comments`, { method: "POST", form });
      } else {
        await api(`/api/cases/${id}/comments`, { method: "POST", json: { text } });
      }
      commentText.value = "";
      commentPhotos.value = "";
      await refresh();
    } catch (e) {
      const items = e.errors && e.errors.length ? e.errors.map((i) => issueText(i, { text: t("case.progressNote"), photos: t("case.photos") })) : [e.message];
      commentError.replaceChildren(...items.map((t) => h("p", {}, t)));
    } finally {
      button.disabled = false;
    }
  });

  function draw(detail) {
    const c = detail.case;
    document.title = `#${c.id} ${c.title} — ${t("app.title")}`;
    header.replaceChildren(
      h("h1", { id: "case-title" }, h("span", { class: "muted" }, `#${c.id} `), c.title, " ", stateBadge(c.state), " ", overdueBadge(c)),
      ...(c.description ? [h("p", { class: "case-description" }, c.description)] : [])); // replaceChildren(null) writes "null"
    factsBox.replaceChildren(facts(c, unitNames));
    reporterBox.hidden = !detail.reporter;
    reporterBox.replaceChildren(...(detail.reporter ? reporterCard(detail.reporter).filter(Boolean) : []));
    const alerts = detail.alert_ids.slice(0, MAX_EVIDENCE);
    evidence.replaceChildren(...alerts.map((a) => {
      const img = h("img", { src: `/api/alerts/${a}/evidence`, alt: t("case.evidenceOf", { id: a }), loading: "lazy" });
      img.addEventListener("error", () => img.closest("a").remove()); // an alert without a picture
      return h("a", { href: `/api/alerts/${a}/evidence`, target: "_blank", rel: "noopener", "data-alert": a }, img);
    }));
    const actions = c.allowed_actions;
    noteRequired = c.note_required;
    note.placeholder = noteRequired.length
      ? t("case.noteFor", { actions: fmtOr(noteRequired.map((a) => actionLabel(a).toLocaleLowerCase(language()))) }) : t("case.noteOptional");
    stepButtons.replaceChildren(...actions.map((a) =>
      h("button", { type: "button", class: a === "dismiss" || a === "reopen" ? "danger" : "primary", "data-action": a, onclick: () => step(a) }, actionLabel(a))));
    stepForm.hidden = actions.length === 0;
    dispatchLabel.hidden = !actions.includes("dispatch") || units.length === 0;
    trail.replaceChildren(h("h2", {}, t("case.trail")), timeline(detail.audit, detail.comments, unitNames));
  }

  async function refresh() { draw(await api(`/api/cases/${encodeURIComponent(id)}`)); }

  await refresh();
  main.replaceChildren(h("p", {}, back), header,
    h("div", { class: "grid-2" },
      h("div", {}, factsBox, reporterBox, evidence, stepForm),
      h("div", { class: "card" }, trail, canWorkCases(me) ? commentForm : null)));
  return subscribe(["case.changed"], (_kind, c) => { if (String(c.id) === String(id)) refresh().catch(() => {}); });
}
