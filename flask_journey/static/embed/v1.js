/* flask-journey embed script (minimal core: ids, session_start, page_view, step_view). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.JourneyEmbed && window.JourneyEmbed.loaded) return;
  var data = script.dataset;
  var org = data.org, journey = data.journey;
  var endpoint = data.endpoint || new URL("/api/ingest", script.src).href;
  var SESSION_MS = 30 * 60 * 1000;
  var queue = [];

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 3 | 8)).toString(16);
    });
  }
  function store(area, key, value) {
    try {
      if (value === undefined) return window[area].getItem(key);
      window[area].setItem(key, value);
    } catch (e) { return null; }
  }
  function pageUrl() {
    return location.origin + location.pathname + location.hash.replace(/\?.*$/, "");
  }

  var clientId = store("localStorage", "journey_cid") || uuid();
  store("localStorage", "journey_cid", clientId);
  var now = Date.now();
  var sessionId = store("sessionStorage", "journey_sid");
  var last = +store("sessionStorage", "journey_last") || 0;
  var isNew = !sessionId || now - last > SESSION_MS;
  if (isNew) sessionId = uuid();
  store("sessionStorage", "journey_sid", sessionId);
  store("sessionStorage", "journey_last", String(now));

  function track(tag, props) {
    var event = {
      _tag: tag, schemaVersion: 1, id: uuid(), ts: new Date().toISOString(),
      orgKey: org, journeyKey: journey, sessionId: sessionId, clientId: clientId,
      url: pageUrl(), embedVersion: "1.0.0"
    };
    if (document.referrer) event.referrer = document.referrer.split("?")[0];
    for (var k in props || {}) event[k] = props[k];
    queue.push(event);
    store("sessionStorage", "journey_last", String(Date.now()));
    if (queue.length >= 20) flush();
  }
  function flush(beacon) {
    if (!queue.length) return;
    var body = JSON.stringify({
      schemaVersion: 1,
      context: { orgKey: org, journeyKey: journey, language: navigator.language },
      events: queue.splice(0, queue.length)
    });
    if (beacon && navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) return;
    fetch(endpoint, { method: "POST", body: body, keepalive: true,
      headers: { "Content-Type": "text/plain" } }).catch(function () {});
  }

  if (isNew) track("session_start");
  track("page_view", { title: document.title });
  var steps = document.querySelectorAll("[data-journey-step]");
  if (steps.length) track("step_view", { stepKey: steps[0].getAttribute("data-journey-step") });
  setInterval(flush, 5000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush(true);
  });
  window.JourneyEmbed = { loaded: true, track: track, flush: flush };
  flush();
})();
