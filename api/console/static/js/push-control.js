// A small control to have this browser's push notifications on or off: what it is now, one button,
// and a plain sentence when the browser cannot receive them or the user blocked them for this site.
// data-state on the element: checking, unsupported, denied, off, on, busy.
import { ApiError, api, errorMessage, h } from "./api.js";
import { t } from "./i18n.js";
import { permission, pushSupported, register, subscribe, subscribed, unsubscribe } from "./push.js";

const SAYS = () => ({
  checking: t("push.checking"), unsupported: t("push.unsupported"), denied: t("push.denied"),
  off: t("push.off"), on: t("push.on"), busy: t("push.busy"),
});

export function pushControl() {
  const note = h("span", { class: "push-note" }, t("push.checking"));
  const button = h("button", { type: "button", id: "push-toggle", hidden: true });
  const problem = h("span", { class: "error push-problem", role: "alert", hidden: true });
  const el = h("div", { class: "push-control", id: "push-control", "data-state": "checking", role: "group", "aria-label": t("push.label") },
    note, button, problem);

  const show = (state) => {
    el.dataset.state = state;
    note.textContent = SAYS()[state];
    button.hidden = !(state === "on" || state === "off");
    button.disabled = false;
    button.textContent = state === "on" ? t("push.stop") : t("push.start");
    button.className = state === "on" ? "" : "primary";
  };
  const fail = (e) => {
    problem.replaceChildren(e instanceof ApiError ? errorMessage(e) : t("push.failed"));
    problem.hidden = false;
  };

  async function refresh() {
    if (!pushSupported()) { show("unsupported"); return; }
    if (permission() === "denied") { show("denied"); return; }
    await register(); // the service worker is there before anything is asked of the user
    const on = await subscribed();
    show(on ? "on" : "off");
    return on;
  }

  button.addEventListener("click", async () => {
    const turnOn = el.dataset.state === "off";
    problem.hidden = true;
    button.disabled = true;
    el.dataset.state = "busy";
    note.textContent = SAYS().busy;
    try {
      if (turnOn) await subscribe(api);
      else await unsubscribe(api);
    } catch (e) {
      console.warn("push:", e);
      if (permission() !== "denied") fail(e);
    }
    await refresh().catch(() => show("unsupported"));
  });

  // Subscribed already: hand the subscription to the server again, so that it reaches what the user sees now.
  refresh().then((on) => { if (on) subscribe(api).catch((e) => console.warn("push:", e)); })
    .catch((e) => { console.warn("push:", e); show("unsupported"); });
  return el;
}
