/* flask-journey embed script, readable source.
 *
 * The served file, v1.js, is built from this one by `python scripts/build_embed.py`; a test
 * fails when the two drift apart. Plain ES5 (the minifier parses ES5 only). docs/embed.md
 * documents the attributes, the conventions and the heuristics implemented here.
 */
(function (w, d) {
  var api = w.JourneyEmbed;
  var script = d.currentScript;
  if (!script || api && api.loaded) return;

  var SESSION_MS = 18e5, // a session ends after 30 minutes without activity
    IDLE_MS = 3e5, // 5 idle minutes mid-step signal a likely drop-off
    STEP = "data-journey-step",
    TAGS = /^(session_(start|end)|page_view|step_view|field_(focus|blur|change)|validation_error|submit_(attempt|success)|dropoff_signal)$/,
    PROPS = /^(stepKey|fieldKey|errorType|reason|title|source)$/,
    // Fields whose changes and errors are never reported: passwords, payment and account details.
    SENSITIVE = /pass|pwd|secret|token|card|cc-|cvc|cvv|iban|account|ssn|one-time/i,
    FIELD_EVENTS = {
      focusin: "field_focus",
      focusout: "field_blur",
      change: "field_change",
      invalid: "validation_error"
    },
    data = script.dataset,
    nav = navigator,
    loc = location,
    pending = api && api.q || [];

  function noop() {}

  if (data.respectDnt == "true" &&
      (nav.doNotTrack == "1" || w.doNotTrack == "1" || nav.globalPrivacyControl)) {
    w.JourneyEmbed = {loaded: 1, track: noop, flush: noop};
    return;
  }

  var org = data.org,
    journey = data.journey,
    endpoint = data.endpoint || script.src.replace(/embed\/v1\.js.*$/, "api/ingest"),
    keepQuery = data.keepQuery == "true",
    buffer = [],
    retryWait = 0,
    retryAt = 0,
    step, // the journey step the visitor is on
    lastUrl, // the URL of the last page_view
    armed = 0, // 0: nothing yet on this step, 1: interacted, 2: drop-off already signalled
    internal = 0, // a same-site link or form is taking the visitor to the next page
    ready = 0, // the document is parsed: steps can be looked for
    instance, // seed 002's instance id, sent with every event
    pageInstance, // the last data-journey-instance the page showed
    labelled = {}, // the field keys whose label this page has sent
    clientId, saved, last, sessionId;

  function on(target, type, listener) {
    target.addEventListener(type, listener, 1);
  }

  function store(area, key, value) {
    try {
      area = w[area];
      return value == null ? area.getItem(key) : area.setItem(key, value);
    } catch (e) {
      // Storage blocked: identifiers then last for this page only.
    }
  }

  // A random (version 4) UUID; not crypto.randomUUID, which a plain-http page does not have.
  // Each 0 and 1 becomes a random hex digit, the 8 one of 8, 9, a, b.
  function uuid() {
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16);
    });
  }

  // Query-string (and key=value fragment) values are dropped unless the site opts in.
  function clean(url) {
    return (keepQuery ? url : url.replace(/([?#&][^=&#]*)=[^&#]*/g, "$1=")).slice(0, 2048);
  }

  clientId = store("localStorage", "journey:c") || uuid();
  store("localStorage", "journey:c", clientId);
  saved = (store("sessionStorage", "journey:s") || "").split(" ");
  last = +saved[1] || 0;
  sessionId = Date.now() - last < SESSION_MS && saved[0];

  function save() {
    store("sessionStorage", "journey:s", sessionId ? sessionId + " " + last : "");
  }

  function push(tag, props) {
    var event = {
      _tag: tag,
      schemaVersion: 1,
      id: uuid(),
      ts: new Date().toISOString(),
      orgKey: org,
      journeyKey: journey,
      sessionId: sessionId,
      clientId: clientId,
      url: clean(loc.href),
      embedVersion: "1.0.0"
    };
    if (instance) event.instanceId = ("" + instance).slice(0, 128);
    if (/^(page|session)/.test(tag)) {
      if (d.referrer) event.referrer = clean(d.referrer);
    } else if (step) {
      event.stepKey = step;
    }
    for (var key in props) {
      if (props[key] && PROPS.test(key)) {
        event[key] = String(props[key]).slice(0, key == "title" ? 512 : 64);
      }
    }
    if (buffer.push(event) > 500) buffer.shift();
    if (buffer.length % 20 == 0) flush();
  }

  // Ends the session once 30 minutes have passed without activity.
  function expire() {
    if (sessionId && Date.now() - last > SESSION_MS) {
      if (armed == 1) push("dropoff_signal", {reason: "idle"});
      push("session_end", {reason: "timeout"});
      sessionId = armed = 0;
      save();
    }
  }

  function track(tag, props) {
    props = props || {};
    if (!TAGS.test(tag) || tag == "step_view" && !props.stepKey) return;
    instance = props.instance_id || instance;
    expire();
    if (!sessionId) {
      if (tag == "session_end") return;
      sessionId = uuid();
      push("session_start");
    }
    last = Date.now();
    save();
    if (tag == "step_view") {
      step = props.stepKey;
      armed = 0;
    }
    if (tag == "submit_success") armed = 2;
    if (/^(field|valid)/.test(tag) && !armed) armed = 1;
    push(tag, props);
  }

  function dropoff(reason) {
    armed = 2;
    track("dropoff_signal", {reason: reason});
  }

  function send(body, batch) {
    fetch(endpoint, {method: "POST", body: body, keepalive: 1}).then(function (response) {
      if (response.status > 499 || response.status == 429) throw response;
      retryWait = 0;
    }).catch(function () {
      // Back off and resend later; the server skips event ids it already has.
      buffer = batch.concat(buffer);
      retryWait = Math.min(retryWait * 2 || 2e3, 3e5);
      retryAt = Date.now() + retryWait;
    });
  }

  // Sends the buffer in batches far below the 64 KB that all in-flight beacons share.
  function flush(beacon) {
    if (!beacon && Date.now() < retryAt) return;
    while (buffer.length) {
      for (var batch = [], size = 0; buffer.length && batch.length < 25 && size < 12e3;) {
        size += JSON.stringify(batch[batch.length] = buffer.shift()).length;
      }
      var body = JSON.stringify({
        schemaVersion: 1,
        context: {orgKey: org, journeyKey: journey, language: nav.language, applicationKey: data.application},
        events: batch
      });
      if (!(beacon && nav.sendBeacon && nav.sendBeacon(endpoint, body))) send(body, batch);
    }
  }

  function attr(el, name) {
    return el.getAttribute(name);
  }

  function all(selector) {
    return [].slice.call(d.querySelectorAll(selector));
  }

  function shown(el) {
    return el.getClientRects().length;
  }

  // The page's own text of some elements (or strings), whitespace collapsed, cut to 120
  // characters: never a control's contents (a textarea's is what was typed).
  function text(nodes) {
    return nodes.map(function (el) {
      if (el && el.cloneNode) {
        el = el.cloneNode(1);
        el.querySelectorAll("input,select,textarea,button").forEach(function (control) {
          control.remove();
        });
        el = el.textContent;
      }
      return el;
    }).join(" ").replace(/\s+/g, " ").trim().slice(0, 120).trim();
  }

  // A field event, keyed by data-journey-field, else name, else id; ignored and sensitive
  // fields report focus and blur only. A field's first focus on a page carries its label as
  // the page shows it (aria-labelledby, aria-label, else its <label>) as the title.
  function field(el, tag, errorType) {
    var key = attr(el, "data-journey-field") || el.name || el.id,
      ids = attr(el, "aria-labelledby"),
      props = {fieldKey: key, errorType: errorType};
    if (key && (/focus|blur/.test(tag) || !(el.closest("[data-journey-ignore]") ||
        SENSITIVE.test([key, el.name, el.id, el.type, el.autocomplete])))) {
      if (tag == "field_focus" && !labelled[key]) {
        labelled[key] = 1;
        props.title = text(ids ? ids.split(" ").map(function (id) {
          return d.getElementById(id);
        }) : [attr(el, "aria-label") || el.labels && el.labels[0]]);
      }
      track(tag, props);
    }
  }

  function onField(e) {
    var el = e.target;
    if (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) &&
        !/^(submit|button|reset|image|hidden)$/.test(el.type)) {
      var errorType;
      if (e.type == "invalid") {
        for (errorType in el.validity) if (errorType != "valid" && el.validity[errorType]) break;
      }
      field(el, FIELD_EVENTS[e.type], errorType);
    }
  }

  // A page_view when the address changed, then the step (with its heading as the title),
  // success markers and aria-invalid fields as the page shows them now (once the document is
  // parsed and styled).
  function view() {
    var key, heading, marked = all("[data-journey-instance]").pop();
    marked = marked && attr(marked, "data-journey-instance");
    if (marked != pageInstance) instance = pageInstance = marked;
    if (loc.href != lastUrl) {
      lastUrl = loc.href;
      internal = 0;
      labelled = {};
      track("page_view", {title: d.title});
    }
    if (!ready) return;
    all("[" + STEP + "]").forEach(function (el) {
      if (shown(el)) {
        key = attr(el, STEP);
        heading = el.querySelector("h1,h2,h3");
      }
    });
    if (key && key != step) track("step_view", {stepKey: key, title: text([heading])});
    all("[data-journey-success]").forEach(function (el) {
      if (shown(el) && !el.journeyDone) {
        el.journeyDone = 1;
        track("submit_success");
      }
    });
    all("[aria-invalid]").forEach(function (el) {
      var invalid = attr(el, "aria-invalid") == "true";
      if (invalid && !el.journeyInvalid) field(el, "validation_error", "aria-invalid");
      el.journeyInvalid = invalid;
    });
  }

  // Marks a same-site navigation unless a script cancels it (as single-page apps do).
  function navigating(e) {
    internal = 1;
    setTimeout(function () {
      if (e.defaultPrevented) internal = 0;
    });
  }

  function hide(e) {
    var leaving = e.type == "pagehide";
    if (leaving || d.visibilityState == "hidden") {
      if (!internal) {
        if (armed == 1) dropoff(leaving ? "leave" : "hidden");
        if (leaving) track("session_end", {reason: "leave"});
      }
      save();
      flush(1);
    }
  }

  function start() {
    ready = 1;
    new MutationObserver(view).observe(d.documentElement,
      {subtree: 1, childList: 1, attributes: 1});
    view();
  }

  for (var type in FIELD_EVENTS) on(d, type, onField);
  ["keydown", "pointerdown", "scroll"].forEach(function (type) {
    on(d, type, function () {
      expire();
      last = Date.now();
    });
  });
  on(d, "click", function (e) {
    var link = e.target.closest("a[href]");
    var button = e.target.closest("button,input");
    if (link && link.origin == loc.origin && !link.target) navigating(e);
    if (button && button.form && /^(submit|image)$/.test(button.type)) track("submit_attempt");
  });
  on(d, "submit", function (e) {
    // A submit button's click has already counted; this is requestSubmit() or a form without
    // a submit button.
    if (!e.submitter) track("submit_attempt");
    armed = 0;
    navigating(e);
  });
  ["pushState", "replaceState"].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      view();
      return result;
    };
  });
  on(w, "popstate", view);
  on(w, "hashchange", view);
  on(w, "pagehide", hide);
  on(d, "visibilitychange", hide);
  on(w, "pageshow", function (e) {
    if (e.persisted) {
      // Restored from the back/forward cache: a new view of the page.
      internal = armed = 0;
      step = lastUrl = 0;
      view();
    }
  });
  setInterval(function () {
    expire();
    if (armed == 1 && Date.now() - last > IDLE_MS) dropoff("idle");
    flush();
  }, +data.flushInterval || 5e3);

  view();
  if (d.readyState == "loading") on(d, "DOMContentLoaded", start);
  else start();

  w.JourneyEmbed = {
    loaded: 1,
    track: track,
    setInstanceId: function (id) {
      instance = id;
    },
    flush: function () {
      retryAt = 0;
      flush();
    }
  };
  pending.forEach(function (args) {
    track.apply(0, args);
  });
})(window, document);
