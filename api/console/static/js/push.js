// Web Push in the console: subscribe this browser to the server's notifications, or stop.
// The page wires these to its own control: pushSupported() decides whether to show it,
// subscribed() its state, subscribe(api) / unsubscribe(api) its actions (api from ./api.js).

const WORKER = "/sw.js";

export function pushSupported() {
  return (
    window.isSecureContext === true &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window
  );
}

// Register the service worker (its scope is the whole console); resolves to its registration.
export function register() {
  return navigator.serviceWorker.register(WORKER, { scope: "/" });
}

// The service worker's registration once it is active (registered on first use).
async function registration() {
  await register();
  return navigator.serviceWorker.ready;
}

// What the user decided about notifications for this site: "granted", "denied" or "default" (not asked yet).
export function permission() {
  return pushSupported() ? Notification.permission : "denied";
}

function keyBytes(base64url) {
  const b64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

// This browser's subscription, or null.
export async function subscription() {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration("/");
  return reg ? reg.pushManager.getSubscription() : null;
}

export async function subscribed() {
  return (await subscription()) !== null;
}

// Ask for permission, subscribe with the server's key and hand the subscription to the server.
// Calling it again refreshes what the server keeps (the user's grids may have changed).
// Resolves to the server's record of it; rejects when the user refuses notifications.
export async function subscribe(api) {
  if (!pushSupported()) throw new Error("this browser cannot receive push notifications");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error("notifications are blocked for this site");
  const reg = await registration();
  const { public_key } = await api("/api/push/key");
  let sub = await reg.pushManager.getSubscription();
  if (sub) {
    const current = sub.options && sub.options.applicationServerKey;
    const same = current && btoa(String.fromCharCode(...new Uint8Array(current))) === btoa(String.fromCharCode(...keyBytes(public_key)));
    if (!same) {
      await sub.unsubscribe(); // made with another server key: the push service would refuse our pushes
      sub = null;
    }
  }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(public_key) });
  return api("/api/push/subscriptions", { method: "POST", json: sub.toJSON() });
}

// Stop push on this browser, here and on the server.
export async function unsubscribe(api) {
  const sub = await subscription();
  if (!sub) return false;
  await api("/api/push/subscriptions", { method: "DELETE", json: { endpoint: sub.endpoint } });
  await sub.unsubscribe();
  return true;
}
