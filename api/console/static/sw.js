// gridwatch's service worker: shows the Web Push notifications the server sends and opens the console
// at the alert or case a notification is about. Served at /sw.js so that its scope is the whole console.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let msg = {};
  try {
    msg = event.data ? event.data.json() : {};
  } catch {
    msg = { body: event.data ? event.data.text() : "" };
  }
  const title = msg.title || "gridwatch";
  const options = {
    body: msg.body || "",
    tag: msg.tag || undefined, // the message id: a repeat replaces, never stacks
    data: { url: msg.url || "/", topic: msg.topic || "" },
    lang: "zh-CN",
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const here = windows.find((c) => new URL(c.url).origin === new URL(url).origin);
      if (here) {
        await here.focus();
        if (here.url !== url && "navigate" in here) {
          try {
            await here.navigate(url);
          } catch {
            // an uncontrolled window cannot be navigated from here: it is focused, that is enough
          }
        }
        return;
      }
      await self.clients.openWindow(url);
    })(),
  );
});
