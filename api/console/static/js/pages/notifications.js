// Notification channels (admins): each channel's state and deliveries, enable/disable, a test send that shows
// the receiver's answer, adding and changing a channel (one rule in the form, the whole body as JSON for the
// rest), a new webhook's signing secret shown once, a channel's delivery log and the dead letters.
import { api, errorMessage, fmtTime, h, issueMessage, issueText, serverText } from "../api.js";
import { fmtNumber, t, tParts, tv } from "../i18n.js";

const KINDS = ["webhook", "wecom", "dingtalk", "webpush", "mqtt"];
const STATES = ["pending", "sent", "held", "dead", "discarded"];
const TOPICS = [
  "alert.opened", "alert.updated", "alert.closed", "alert.clip", "alert.acknowledged", "alert.dismissed", "alert.in_case",
  "alert.escalated", "case.created", "case.alert_added", "case.comment", "case.registered", "case.dispatched", "case.accepted",
  "case.in_progress", "case.resolved", "case.verified", "case.closed", "case.dismissed", "case.escalated", "case.reopened",
  "system.disk_low",
];
const DEFAULT_TOPICS = ["alert.opened", "alert.escalated", "case.created", "case.dispatched", "case.escalated"];
const HAZARDS = [
  "crowd", "fallen_person", "structure", "intrusion", "loitering", "camera_offline", "camera_covered", "camera_defocused", "camera_moved",
  "camera_frozen", "fire_lane_blocked", "ebike_indoors",
];
const SEVERITIES = ["low", "medium", "high", "critical"];

// A topic pattern ("case.*") as a test of topic names.
function matcher(pattern) {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return (topic) => re.test(topic);
}

const list = (text) => text.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);

function deliveryCounts(counts) {
  const parts = STATES.filter((st) => counts[st]).map((st) => h("span", { class: `badge dl-${st}`, "data-state": st },
    t("notify.countOf", { state: tv("deliveryState", st), count: fmtNumber(counts[st]) })));
  return parts.length ? parts : h("span", { class: "muted" }, t("notify.noDeliveries"));
}

export async function render(main) {
  const channelsBody = h("tbody");
  const channelsNote = h("p", { class: "muted", id: "channels-empty", hidden: true }, t("notify.noChannels"));
  const secretBox = h("div", { class: "card secret-box", id: "channel-secret", hidden: true, role: "status" });
  const logCard = h("section", { class: "card", id: "deliveries", hidden: true });
  const deadBody = h("tbody");
  const deadNote = h("p", { class: "muted", id: "dead-empty", hidden: true }, t("notify.noDead"));
  const deadProblem = h("p", { class: "error", role: "alert", hidden: true });
  let logOf = null; // the channel whose log is open

  // ------------------------------------------------------------------ the form
  const f = {
    kind: h("select", { name: "kind", id: "ch-kind" }, KINDS.map((k) => h("option", { value: k }, tv("channelKind", k)))),
    id: h("input", { name: "id", id: "ch-id", required: true, maxlength: 64, autocomplete: "off" }),
    name: h("input", { name: "name", id: "ch-name", maxlength: 200 }),
    url: h("input", { name: "url", id: "ch-url", maxlength: 2000, autocomplete: "off" }),
    secret: h("input", { name: "secret", id: "ch-secret", type: "password", maxlength: 500, autocomplete: "new-password" }),
    places: h("input", { name: "places", id: "ch-places", autocomplete: "off" }),
    min_severity: h("select", { name: "min_severity", id: "ch-severity" },
      h("option", { value: "" }, t("notify.anySeverity")), SEVERITIES.map((s) => h("option", { value: s }, tv("severity", s)))),
    cap_count: h("input", { name: "cap_count", id: "ch-cap-count", type: "number", min: 1, inputmode: "numeric" }),
    cap_minutes: h("input", { name: "cap_minutes", id: "ch-cap-minutes", type: "number", min: 1, value: 60, inputmode: "numeric" }),
    enabled: h("input", { name: "enabled", id: "ch-enabled", type: "checkbox", checked: true }),
    advanced: h("textarea", { name: "advanced", id: "ch-advanced", rows: 6, spellcheck: "false" }),
  };
  const topicBoxes = TOPICS.map((tp) => h("input", { type: "checkbox", name: "topics", value: tp, checked: DEFAULT_TOPICS.includes(tp) }));
  const hazardBoxes = HAZARDS.map((hz) => h("input", { type: "checkbox", name: "hazards", value: hz }));
  const topicsSet = h("fieldset", { class: "checks", id: "ch-topics" }, h("legend", {}, t("notify.topics")),
    topicBoxes.map((box) => h("label", { class: "check" }, box, tv("topic", box.value))));
  const hazardsSet = h("fieldset", { class: "checks", id: "ch-hazards" }, h("legend", {}, t("notify.hazards"), " ", h("span", { class: "muted hint" }, t("notify.hazardsHint"))),
    hazardBoxes.map((box) => h("label", { class: "check" }, box, tv("hazard", box.value))));
  f.topics = topicsSet;
  f.hazards = hazardsSet;
  const labels = {
    kind: t("notify.kind"), id: t("notify.id"), name: t("notify.name"), url: t("notify.url"), secret: t("notify.secret"),
    places: t("notify.places"), min_severity: t("notify.minSeverity"), cap_count: t("notify.capCount"), cap_minutes: t("notify.capMinutes"),
    enabled: t("notify.enabled"), topics: t("notify.topics"), hazards: t("notify.hazards"), advanced: t("notify.advanced"),
  };
  const urlHint = h("span", { class: "muted hint", id: "ch-url-hint" });
  const secretHint = h("span", { class: "muted hint" }, t("notify.secretHint"));
  const summary = h("div", { class: "error", role: "alert", id: "channel-errors" });
  const formTitle = h("h2", {}, t("notify.add"));
  const cancel = h("button", { type: "button", class: "link" }, t("notify.cancel"));
  const form = h("form", { class: "card", id: "channel-form", novalidate: true, hidden: true },
    formTitle,
    h("div", { class: "form-grid" },
      h("label", {}, labels.kind, f.kind), h("label", {}, labels.id, f.id, h("span", { class: "muted hint" }, t("notify.idHint"))),
      h("label", {}, labels.name, f.name), h("label", {}, labels.url, f.url, urlHint),
      h("label", {}, labels.secret, f.secret, secretHint), h("label", {}, labels.places, f.places, h("span", { class: "muted hint" }, t("notify.placesHint"))),
      h("label", {}, labels.min_severity, f.min_severity), h("span"),
      h("label", {}, labels.cap_count, f.cap_count, h("span", { class: "muted hint" }, t("notify.capHint"))), h("label", {}, labels.cap_minutes, f.cap_minutes)),
    topicsSet, hazardsSet,
    h("label", { class: "check" }, f.enabled, labels.enabled),
    h("details", { id: "ch-advanced-box" }, h("summary", {}, labels.advanced),
      h("label", {}, h("span", { class: "muted hint" }, t("notify.advancedHint")), f.advanced)),
    summary,
    h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary", id: "channel-save" }, t("notify.save")), cancel));
  let editing = null; // the channel being changed, or null for a new one

  const urlHintFor = () => {
    const k = f.kind.value;
    urlHint.textContent = k === "webpush" ? t("notify.urlWebpush") : k === "mqtt" ? t("notify.urlMqtt")
      : k === "wecom" || k === "dingtalk" ? t("notify.urlRobot") : t("notify.urlWebhook");
    f.url.disabled = k === "webpush";
  };
  f.kind.addEventListener("change", urlHintFor);

  function clearErrors() {
    for (const el of form.querySelectorAll(".field-error")) el.remove();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    summary.replaceChildren();
  }

  function openForm(channel) {
    editing = channel;
    clearErrors();
    form.reset();
    const spec = (channel && channel.spec) || {};
    const rule = (spec.rules && spec.rules[0]) || {};
    formTitle.textContent = channel ? t("notify.editTitle", { id: channel.id }) : t("notify.add");
    f.kind.value = channel ? channel.kind : "webhook";
    f.kind.disabled = Boolean(channel);
    f.id.value = channel ? channel.id : "";
    f.id.readOnly = Boolean(channel);
    f.name.value = channel ? channel.name : "";
    // A robot's URL is shown without its token: it must be typed again to change the channel.
    f.url.value = channel && !channel.url.includes("…") ? channel.url : "";
    f.url.placeholder = channel && channel.url.includes("…") ? t("notify.urlAgain") : "";
    secretHint.textContent = channel && channel.has_secret ? t("notify.secretKept") : t("notify.secretHint");
    const topics = rule.topics || DEFAULT_TOPICS;
    const tests = topics.map(matcher);
    for (const box of topicBoxes) box.checked = tests.some((test) => test(box.value));
    for (const box of hazardBoxes) box.checked = (rule.hazards || []).includes(box.value);
    f.places.value = (rule.places || []).join(", ");
    f.min_severity.value = rule.min_severity || "";
    f.cap_count.value = spec.cap ? spec.cap.count : "";
    f.cap_minutes.value = spec.cap ? spec.cap.per_minutes : 60;
    f.enabled.checked = channel ? channel.enabled : true;
    f.advanced.value = "";
    urlHintFor();
    form.hidden = false;
    (channel ? f.name : f.id).focus();
  }
  cancel.addEventListener("click", () => { form.hidden = true; editing = null; });

  // The request body: the channel as it was (rules beyond the first, retry schedule, MQTT settings), the
  // form's fields over it, the advanced JSON over both.
  function body() {
    const spec = editing ? { ...editing.spec } : {};
    const rules = spec.rules ? [...spec.rules] : [{}];
    rules[0] = {
      ...rules[0],
      topics: topicBoxes.filter((b) => b.checked).map((b) => b.value),
      places: list(f.places.value),
      hazards: hazardBoxes.filter((b) => b.checked).map((b) => b.value),
      min_severity: f.min_severity.value || null,
    };
    const out = { ...spec, kind: f.kind.value, name: f.name.value.trim(), enabled: f.enabled.checked, rules };
    if (f.kind.value !== "webpush") out.url = f.url.value.trim();
    else delete out.url;
    if (f.secret.value) out.secret = f.secret.value;
    out.cap = f.cap_count.value ? { count: Number(f.cap_count.value), per_minutes: Number(f.cap_minutes.value || 60) } : null;
    const extra = f.advanced.value.trim();
    if (extra) Object.assign(out, JSON.parse(extra));
    return out;
  }

  // The form's field for an error's place in the body: "url", "rules[0].hazards[2]", "cap.count" …
  function fieldOf(where) {
    const w = (where || "").replace(/^body\.?/, "");
    const rule = w.match(/^rules\[0\]\.(\w+)/);
    if (rule && f[rule[1]]) return f[rule[1]];
    if (w.startsWith("cap.per_minutes")) return f.cap_minutes;
    if (w.startsWith("cap")) return f.cap_count;
    const top = w.split(/[.[]/)[0];
    return f[top] || (w && f.advanced);
  }

  function labelOf(input) {
    const key = Object.keys(f).find((k) => f[k] === input);
    return key ? labels[key] : undefined;
  }

  function markField(input, message) {
    input.setAttribute("aria-invalid", "true");
    const holder = input.closest("label") || input.closest("fieldset");
    holder.append(h("span", { class: "field-error", "data-for": input.name || input.id }, message));
    if (input === f.advanced) input.closest("details").open = true;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const id = f.id.value.trim();
    if (!id) { markField(f.id, t("error.missing")); return; }
    let json;
    try {
      json = body();
    } catch {
      markField(f.advanced, t("error.json_invalid"));
      return;
    }
    try {
      const saved = await api(`/api/notifications/channels/${encodeURIComponent(id)}`, { method: "PUT", json });
      form.hidden = true;
      editing = null;
      showSecret(saved);
      await loadChannels();
    } catch (e) {
      const items = e.errors && e.errors.length ? e.errors : [{ where: "", message: e.message }];
      for (const it of items) {
        const input = fieldOf(it.where);
        if (input) markField(input, issueMessage(it));
      }
      // Each problem named by the form's label for its field.
      const names = Object.fromEntries(items.map((it) => [it.where, labelOf(fieldOf(it.where))]));
      summary.replaceChildren(h("p", {}, t("notify.refused")),
        h("ul", {}, e.errors && e.errors.length ? items.map((it) => h("li", {}, issueText(it, names))) : h("li", {}, errorMessage(e))));
    }
  });

  function showSecret(saved) {
    if (!saved.secret) { secretBox.hidden = true; return; }
    const code = h("code", { id: "channel-secret-value" }, saved.secret);
    const copied = h("span", { class: "muted", role: "status" });
    const copy = h("button", { type: "button", id: "channel-secret-copy", onclick: async () => {
      try {
        await navigator.clipboard.writeText(saved.secret);
        copied.textContent = t("notify.copied");
      } catch {
        getSelection().selectAllChildren(code); // the clipboard is not allowed here: selected, to copy by hand
        copied.textContent = t("notify.copyByHand");
      }
    } }, t("notify.copy"));
    secretBox.replaceChildren(h("h2", {}, t("notify.secretTitle", { id: saved.id })), h("p", {}, t("notify.secretOnce")),
      h("p", { class: "secret-line" }, code, " ", copy, " ", copied),
      h("button", { type: "button", class: "link", onclick: () => { secretBox.hidden = true; secretBox.replaceChildren(); } }, t("notify.secretDone")));
    secretBox.hidden = false;
  }

  // ------------------------------------------------------------------ the channel list
  function channelRow(c) {
    const result = h("span", { class: "test-result", role: "status" });
    const problem = h("span", { class: "error", role: "alert" });
    const act = async (button, work) => {
      button.disabled = true;
      problem.replaceChildren();
      try { await work(); } catch (e) { problem.replaceChildren(errorMessage(e)); } finally { button.disabled = false; }
    };
    const toggle = h("button", { type: "button", class: "act-toggle" }, c.enabled ? t("notify.disable") : t("notify.enable"));
    toggle.addEventListener("click", () => act(toggle, async () => {
      await api(`/api/notifications/channels/${encodeURIComponent(c.id)}/${c.enabled ? "disable" : "enable"}`, { method: "POST" });
      await loadChannels();
    }));
    const test = c.kind === "webpush" ? null : h("button", { type: "button", class: "act-test" }, t("notify.test"));
    if (test) {
      test.addEventListener("click", () => act(test, async () => {
        result.textContent = t("notify.testing");
        delete result.dataset.ok;
        try {
          const r = await api(`/api/notifications/channels/${encodeURIComponent(c.id)}/test`, { method: "POST" });
          result.dataset.ok = String(r.ok);
          const status = r.status == null ? t("notify.noAnswer") : t("notify.status", { status: r.status });
          result.replaceChildren(...(r.ok ? [t("notify.testOk", { status })]
            : tParts("notify.testFailed", { status, error: r.error ? serverText(r.error) : "" })));
        } catch (e) {
          result.textContent = "";
          throw e;
        }
      }));
    }
    const edit = h("button", { type: "button", class: "act-edit", onclick: () => openForm(c) }, t("notify.edit"));
    const log = h("button", { type: "button", class: "act-log", onclick: () => openLog(c) }, t("notify.log"));
    const del = h("button", { type: "button", class: "danger act-delete" }, t("notify.delete"));
    del.addEventListener("click", () => {
      if (!confirm(t("notify.confirmDelete", { name: c.name || c.id }))) return;
      act(del, async () => {
        await api(`/api/notifications/channels/${encodeURIComponent(c.id)}`, { method: "DELETE" });
        if (logOf === c.id) { logOf = null; logCard.hidden = true; }
        await loadChannels();
      });
    });
    const state = c.enabled
      ? h("span", { class: "badge health-online" }, t("notify.on"))
      : h("span", { class: "badge health-offline" }, t("notify.off"));
    return h("tr", { "data-channel": c.id, "data-enabled": String(c.enabled) },
      h("td", {}, h("strong", {}, c.name || c.id), h("div", { class: "muted" }, c.id)),
      h("td", {}, tv("channelKind", c.kind)),
      h("td", { class: "url" }, c.url || "—"),
      h("td", { class: "state" }, state,
        c.disabled_reason ? h("div", { class: "muted" }, serverText(c.disabled_reason)) : null,
        c.sender_error ? h("div", { class: "error sender-error" }, serverText(c.sender_error)) : null),
      h("td", { class: "counts" }, deliveryCounts(c.deliveries || {})),
      h("td", { class: "actions" }, h("div", { class: "alert-actions" }, toggle, test, edit, log, del), result, problem));
  }

  async function loadChannels() {
    const channels = await api("/api/notifications/channels");
    channelsBody.replaceChildren(...channels.map(channelRow));
    channelsNote.hidden = channels.length > 0;
    if (logOf) {
      const c = channels.find((x) => x.id === logOf);
      if (c) await openLog(c, false);
    }
    await loadDead();
  }

  // ------------------------------------------------------------------ delivery log and dead letters
  function deliveryRow(d, withChannel, reload, problem) {
    const again = async (action, button) => {
      button.disabled = true;
      problem.hidden = true;
      try {
        await api(`/api/notifications/deliveries/${action}`, { method: "POST", json: { ids: [d.id] } });
        await reload();
      } catch (e) {
        problem.replaceChildren(errorMessage(e));
        problem.hidden = false;
        button.disabled = false;
      }
    };
    const buttons = [];
    if (["dead", "held", "discarded"].includes(d.state)) {
      const retry = h("button", { type: "button", class: "act-retry" }, t("notify.retry"));
      retry.addEventListener("click", () => again("retry", retry));
      buttons.push(retry);
    }
    if (d.state !== "sent" && d.state !== "discarded") {
      const discard = h("button", { type: "button", class: "danger act-discard" }, t("notify.discard"));
      discard.addEventListener("click", () => again("discard", discard));
      buttons.push(discard);
    }
    const last = [d.last_status == null ? "" : t("notify.status", { status: d.last_status })];
    return h("tr", { "data-delivery": d.id, "data-state": d.state },
      h("td", {}, h("time", { datetime: d.created_at }, fmtTime(d.created_at))),
      withChannel ? h("td", {}, d.channel_id) : null,
      h("td", {}, tv("topic", d.topic)),
      h("td", {}, h("span", { class: `badge dl-${d.state}` }, tv("deliveryState", d.state)),
        d.held_reason ? h("div", { class: "muted" }, tv("held", d.held_reason)) : null),
      h("td", {}, fmtNumber(d.attempts)),
      h("td", {}, last.filter(Boolean).join(""), d.last_error ? h("div", { class: "muted" }, serverText(d.last_error)) : null),
      h("td", {}, h("div", { class: "alert-actions" }, buttons)));
  }

  const deliveryHead = (withChannel) => h("thead", {}, h("tr", {}, [t("notify.col.time"), withChannel ? t("notify.col.channel") : null,
    t("notify.col.topic"), t("notify.col.state"), t("notify.col.attempts"), t("notify.col.answer"), ""].filter((x) => x !== null).map((name) => h("th", { scope: "col" }, name))));

  async function openLog(c, scroll = true) {
    logOf = c.id;
    const state = h("select", { id: "delivery-state", "aria-label": t("notify.stateFilter") },
      h("option", { value: "" }, t("notify.allStates")), STATES.map((st) => h("option", { value: st }, tv("deliveryState", st))));
    const prior = logCard.querySelector("#delivery-state");
    if (prior && !scroll) state.value = prior.value;
    const tbody = h("tbody");
    const empty = h("p", { class: "muted", id: "deliveries-empty", hidden: true }, t("notify.noLog"));
    const problem = h("p", { class: "error", role: "alert", hidden: true });
    const load = async () => {
      const rows = await api(`/api/notifications/channels/${encodeURIComponent(c.id)}/deliveries${state.value ? `?state=${state.value}` : ""}`);
      tbody.replaceChildren(...rows.map((d) => deliveryRow(d, false, () => loadChannels(), problem)));
      empty.hidden = rows.length > 0;
    };
    state.addEventListener("change", () => load().catch((e) => { problem.replaceChildren(errorMessage(e)); problem.hidden = false; }));
    logCard.replaceChildren(h("h2", {}, t("notify.logTitle", { name: c.name || c.id })),
      h("div", { class: "toolbar" }, state, h("button", { type: "button", class: "link", onclick: () => { logOf = null; logCard.hidden = true; } }, t("notify.close"))),
      problem, h("div", { class: "table-wrap" }, h("table", { id: "delivery-log" }, deliveryHead(false), tbody)), empty);
    logCard.hidden = false;
    await load();
    if (scroll) logCard.scrollIntoView({ block: "nearest" });
  }

  async function loadDead() {
    const rows = await api("/api/notifications/dead-letters");
    deadBody.replaceChildren(...rows.map((d) => deliveryRow(d, true, () => loadChannels(), deadProblem)));
    deadNote.hidden = rows.length > 0;
  }

  const add = h("button", { type: "button", class: "primary", id: "channel-add", onclick: () => openForm(null) }, t("notify.add"));
  main.replaceChildren(
    h("h1", {}, t("nav.notifications")),
    h("p", { class: "muted" }, t("notify.intro")),
    h("div", { class: "toolbar" }, add),
    secretBox,
    form,
    h("section", { id: "channels" }, h("h2", {}, t("notify.channels")),
      h("div", { class: "table-wrap" }, h("table", { id: "channels-table" },
        h("thead", {}, h("tr", {}, [t("notify.col.channel"), t("notify.kind"), t("notify.url"), t("notify.col.state"), t("notify.col.deliveries"), ""]
          .map((name) => h("th", { scope: "col" }, name)))),
        channelsBody)), channelsNote),
    logCard,
    h("section", { class: "card", id: "dead-letters" }, h("h2", {}, t("notify.dead")), h("p", { class: "muted" }, t("notify.deadNote")),
      deadProblem, h("div", { class: "table-wrap" }, h("table", { id: "dead-table" }, deliveryHead(true), deadBody)), deadNote));
  await loadChannels();
}
