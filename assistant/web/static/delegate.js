/* The delegate page: one caption stream in one language, resumable, readable on a phone. */
(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$;

  var SIZES = [1, 1.125, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5];  // rem
  var DEFAULT_SIZE = 1.5;
  var BEHIND_THRESHOLD_MS = 3000;
  var AT_BOTTOM_PX = 48;
  var MAX_PLAUSIBLE_LAG_MS = 120000;
  var ANNOUNCE_KEEP = 4;  // finished lines kept in the live region (older ones are removed)
  var SESSION_STATES = ["idle", "live", "paused", "ended"];
  var EMPTY_TEXT = {
    "": "Waiting for the first words…",
    waiting: "Captions will appear here once the speaker begins.",
    paused: "Waiting for the first words…",
    ended: "Nothing was captioned in this session."
  };

  var sessionId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() || "");
  // A private session's join link carries its key (?key=...); pass it on to the socket and downloads.
  var sessionKey = new URLSearchParams(location.search).get("key") || "";
  var keyParam = sessionKey ? "&key=" + encodeURIComponent(sessionKey) : "";
  var params = new URLSearchParams(location.search);

  var state = {
    lang: params.get("lang") || CC.store.get("cc.lang", "") || "",
    userChoseLang: !!params.get("lang"),
    sourceLang: null,
    languages: [],
    startedAt: null,
    live: null,          // from status frames; null until the first one
    session: null,       // "idle" | "live" | "paused" | "ended" from status frames; kept while reconnecting
    said: false,         // whether anything has been said in this session (a caption, or audio started)
    shownCard: "",       // the session-state card on screen: "", "waiting", "paused" or "ended"
    lagMs: null,         // from status frames
    arrivalLagMs: null,  // how late the newest live caption arrived (its audio end vs now)
    replaying: true,     // frames before the first status of a connection are the back-fill
    conn: "connecting",
    reconnectAt: 0,
    autoScroll: true,
    mode: CC.store.get("cc.mode", "fast") === "stable" ? "stable" : "fast",
    announce: CC.store.get("cc.announce", "0") === "1"
  };
  var log = new CC.CaptionLog();

  var ui = {
    title: $("#title"), conn: $("#conn"), lang: $("#lang"), list: $("#captions"), partial: $("#partial"),
    scroller: $("#scroller"), jump: $("#jump"), lag: $("#lag"), notice: $("#notice"), empty: $("#empty"),
    connSr: $("#conn-sr"), mtBanner: $("#mt-banner"), announcer: $("#announcer"), settings: $("#settings"),
    sessionState: $("#session-state"),
    settingsBtn: $("#settings-btn"), announceBox: $("#announce")
  };

  // -- display preferences -------------------------------------------------
  function currentSize() {
    var v = parseFloat(CC.store.get("cc.size", String(DEFAULT_SIZE)));
    return isFinite(v) ? v : DEFAULT_SIZE;
  }
  function setSize(rem) {
    document.documentElement.style.setProperty("--cap-size", rem + "rem");
    CC.store.set("cc.size", rem);
    $("#smaller").disabled = rem <= SIZES[0];
    $("#larger").disabled = rem >= SIZES[SIZES.length - 1];
    if (state.autoScroll) scrollToEnd();
  }
  function stepSize(dir) {
    var now = currentSize(), next = now;
    if (dir > 0) { for (var i = 0; i < SIZES.length; i++) if (SIZES[i] > now + 1e-6) { next = SIZES[i]; break; } }
    else { for (var j = SIZES.length - 1; j >= 0; j--) if (SIZES[j] < now - 1e-6) { next = SIZES[j]; break; } }
    setSize(next);
  }
  function effectiveTheme() {
    var t = document.documentElement.getAttribute("data-theme");
    if (t) return t;
    return window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function setTheme(theme) {
    document.documentElement.setAttribute("data-theme", theme);
    CC.store.set("cc.theme", theme);
    renderToggles();
  }
  function setMode(mode) {
    state.mode = mode;
    CC.store.set("cc.mode", mode);
    renderToggles();
  }
  function renderToggles() {
    var theme = effectiveTheme();
    document.querySelectorAll("[data-theme-choice]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.themeChoice === theme));
    });
    document.querySelectorAll("[data-mode-choice]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.modeChoice === state.mode));
    });
    document.body.classList.toggle("stable", state.mode === "stable");
    $("#mode-hint").textContent = state.mode === "stable"
      ? "Stable shows only finished lines: nothing changes while you read."
      : "Fast shows words as they are heard (grey) before they settle.";
    ui.announceBox.checked = state.announce;
  }

  // -- rendering -----------------------------------------------------------
  function lineNode(line) {
    var node = el("li", { class: "cap", dataset: { id: line.id, seq: line.seq } });
    fillLine(node, line);
    return node;
  }
  function fillLine(node, line) {
    var lang = line.fallback && line.source_lang ? line.source_lang : line.lang;
    node.setAttribute("lang", lang);
    node.setAttribute("dir", CC.isRtl(lang) ? "rtl" : "ltr");
    node.dataset.revision = line.revision || 0;
    var wasOpen = !!node.querySelector(".source");
    node.textContent = "";
    node.appendChild(el("span", { class: "text", text: line.text }));
    if (line.fallback) node.appendChild(el("span", { class: "tag", title: "Not translated: shown in the original language", text: "original" }));
    if (line.corrected || (line.revision || 0) > 0) {
      node.classList.add("corrected");
      node.appendChild(el("span", { class: "tag", title: "Corrected by the organisers", text: "corrected" }));
    }
    var hasSource = !!line.source_text && !line.fallback && line.source_text !== line.text;
    if (hasSource) {
      node.dataset.hasSource = "";
      node.setAttribute("tabindex", "0");
      node.setAttribute("title", "Show the original");
      if (wasOpen) showSource(node, line);
    } else {
      delete node.dataset.hasSource;
      node.removeAttribute("tabindex");
      node.removeAttribute("title");
    }
  }
  function showSource(node, line) {
    var src = line.source_lang || state.sourceLang || "";
    node.appendChild(el("span", { class: "source", lang: src, dir: CC.isRtl(src) ? "rtl" : "ltr" }, [
      el("small", { text: "Original (" + CC.nativeName(src) + ")" }), line.source_text
    ]));
  }
  function toggleSource(node) {
    var line = log.byId[node.dataset.id];
    if (!line || !line.source_text) return;
    var open = node.querySelector(".source");
    var wasAtEnd = state.autoScroll;
    if (open) open.remove(); else showSource(node, line);
    if (wasAtEnd) scrollToEnd();
  }

  function addCaption(frame) {
    var res = log.add(frame);
    if (!res) return;
    ui.empty.hidden = true;
    if (!state.said) { state.said = true; renderSession(); }
    if (res.updated) {
      var existing = ui.list.querySelector('[data-id="' + cssEscape(res.line.id) + '"]');
      if (existing) fillLine(existing, res.line);
    } else {
      var node = lineNode(res.line);
      var before = res.before ? ui.list.querySelector('[data-id="' + cssEscape(res.before.id) + '"]') : null;
      ui.list.insertBefore(node, before);
      if (!state.replaying) {
        node.classList.add("fresh");
        announce(res.line);
        if (state.startedAt) {
          // Wall-clock estimate; a device clock far off the server's gives nonsense, which is ignored.
          var late = Date.now() - (state.startedAt + res.line.end_ms);
          state.arrivalLagMs = late >= 0 && late <= MAX_PLAUSIBLE_LAG_MS ? late : null;
        }
      }
    }
    afterChange();
  }
  function applyCorrection(frame) {
    var line = log.correct(frame);
    if (!line) return;
    var node = ui.list.querySelector('[data-id="' + cssEscape(line.id) + '"]');
    if (node) fillLine(node, line);
    afterChange();
  }
  function setPartial(frame) {
    var text = frame.text || "";
    var stable = frame.stable_text || "";
    ui.partial.textContent = "";
    if (stable && text.indexOf(stable) === 0) {
      // Words the recogniser has agreed on will not change: show them settled, the rest grey.
      ui.partial.appendChild(el("span", { class: "settled", text: stable }));
      ui.partial.appendChild(document.createTextNode(text.slice(stable.length)));
    } else {
      ui.partial.textContent = text;
    }
    var lang = frame.lang || state.lang;
    ui.partial.setAttribute("lang", lang);
    ui.partial.setAttribute("dir", CC.isRtl(lang) ? "rtl" : "ltr");
    afterChange();
  }
  function announce(line) {
    if (!state.announce) return;
    ui.announcer.appendChild(el("p", { lang: line.lang, text: line.text }));
    while (ui.announcer.childNodes.length > ANNOUNCE_KEEP) ui.announcer.removeChild(ui.announcer.firstChild);
  }
  function clearCaptions() {
    log.reset();
    ui.list.textContent = "";
    ui.partial.textContent = "";
    ui.announcer.textContent = "";
    ui.empty.hidden = false;
    state.arrivalLagMs = null;
  }
  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(String(s)) : String(s).replace(/["\\]/g, "\\$&"); }

  // -- scrolling -----------------------------------------------------------
  function atBottom() {
    var s = ui.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < AT_BOTTOM_PX;
  }
  function scrollToEnd() {
    ui.scroller.scrollTop = ui.scroller.scrollHeight;
  }
  function afterChange() {
    if (state.autoScroll) scrollToEnd();
  }
  ui.scroller.addEventListener("scroll", function () {
    var bottom = atBottom();
    if (bottom !== state.autoScroll) {
      state.autoScroll = bottom;
      ui.jump.hidden = bottom;
    }
  }, { passive: true });
  ui.jump.addEventListener("click", function () {
    state.autoScroll = true;
    ui.jump.hidden = true;
    scrollToEnd();
    ui.scroller.focus({ preventScroll: true });
  });

  // -- header state ------------------------------------------------------------
  function renderConn() {
    var pill = ui.conn, label, s;
    if (state.conn === "open" && state.live === false) {
      s = "paused";
      label = state.session === "paused" ? "Paused" : state.session === "ended" ? "Ended" : "Not live";
    }
    else if (state.conn === "open" && state.live) { s = "live"; label = "Live"; }
    else if (state.conn === "open") { s = "connecting"; label = "Connected"; }
    else if (state.conn === "reconnecting") {
      s = "reconnecting";
      var secs = Math.max(1, Math.ceil((state.reconnectAt - Date.now()) / 1000));
      label = navigator.onLine === false ? "Offline" : "Reconnecting in " + secs + " s";
    }
    else if (state.conn === "stopped") { s = "error"; label = "Disconnected"; }
    else { s = "connecting"; label = "Connecting…"; }
    pill.dataset.state = s;
    if (pill.textContent !== label) pill.textContent = label;
    // Screen readers hear the state once per change, never the countdown ticking.
    var spoken = s === "reconnecting" ? (navigator.onLine === false ? "Offline" : "Reconnecting") : label;
    if (ui.connSr.textContent !== spoken) ui.connSr.textContent = spoken;
    pill.title = s !== "paused" ? "" : state.session === "ended" ? "This session has ended."
      : "The session is not live right now; captions will continue when it resumes.";
  }
  function renderLag() {
    var lag = null;
    if (state.conn === "open" && state.live) {
      lag = state.lagMs;
      if (state.arrivalLagMs !== null && (lag === null || state.arrivalLagMs > lag)) lag = state.arrivalLagMs;
    }
    var show = lag !== null && lag > BEHIND_THRESHOLD_MS;
    if (show) {
      var text = "Captions are " + Math.round(lag / 1000) + " s behind";
      if (ui.lag.textContent !== text) ui.lag.textContent = text;
    }
    ui.lag.hidden = !show;
  }
  /* The calm card under the bar that says the session is paused, over, or not started yet. It lives in a
     polite live region and is rebuilt only when what it says changes: each change is read out once, and a
     reconnect (which repeats the same state) neither flickers nor repeats it. */
  function renderSession() {
    var card = "";
    if (state.session === "paused") card = "paused";
    else if (state.session === "ended") card = "ended";
    else if (state.session === "idle" && !state.said) card = "waiting";
    var empty = EMPTY_TEXT[card];
    if (ui.empty.textContent !== empty) ui.empty.textContent = empty;
    if (card === state.shownCard) return;
    state.shownCard = card;
    ui.sessionState.textContent = "";
    if (card) ui.sessionState.appendChild(sessionCard(card));
    if (card === "ended") renderDownloads();
    if (state.autoScroll) scrollToEnd();
  }
  function sessionCard(card) {
    var node = el("div", { class: "state-card", dataset: { card: card } });
    if (card === "paused") {
      node.appendChild(el("p", {}, [stateIcon("M7 5h3.5v14H7zm6.5 0H17v14h-3.5z"),
        el("span", { text: "Session paused — captions resume when the speaker continues." })]));
    } else if (card === "ended") {
      node.appendChild(el("p", {}, [stateIcon("M12 2a10 10 0 100 20 10 10 0 000-20zm-1.2 14.2L6.6 12l1.4-1.4 2.8 2.8 5.2-5.2 1.4 1.4z"),
        el("strong", { text: "This session has ended." })]));
      node.appendChild(el("a", { class: "button primary small", id: "transcript-link", dataset: { fmt: "txt" },
                                 download: true, text: "Download the transcript" }));
    } else {
      node.appendChild(el("p", {}, [stateIcon("M12 2a10 10 0 100 20 10 10 0 000-20zm0 18a8 8 0 110-16 8 8 0 010 16zm.5-13H11v6l5.2 3.1.8-1.2-4.5-2.7z"),
        el("span", { text: "Waiting for the session to start." })]));
    }
    return node;
  }
  function stateIcon(d) {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"), path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", "20"); svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }
  function renderBanner() {
    var translated = state.sourceLang && state.lang && state.lang !== state.sourceLang && state.sourceLang !== "auto";
    ui.mtBanner.hidden = !translated;
    if (translated) {
      ui.mtBanner.textContent = "";
      ui.mtBanner.appendChild(translateIcon());
      ui.mtBanner.appendChild(el("span", {
        text: "Machine translated from " + CC.localName(state.sourceLang) + " · tap a line for the original"
      }));
    }
  }
  function translateIcon() {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"), path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", "16"); svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M12.87 15.07l-2.54-2.51.03-.03A17.5 17.5 0 0014.07 6H17V4h-7V2H8v2H1v2h11.17A15.8 15.8 0 019 11.35 15.6 15.6 0 016.69 8h-2a17.6 17.6 0 002.98 4.56l-5.09 5.02L4 19l5-5 3.11 3.11.76-2.04zM18.5 10h-2L12 22h2l1.12-3h4.75L21 22h2l-4.5-12zm-2.62 7l1.62-4.33L19.12 17h-3.24z");
    svg.appendChild(path);
    return svg;
  }
  function showNotice(text) {
    ui.notice.textContent = text || "";
    ui.notice.hidden = !text;
  }
  function renderLanguages() {
    var sel = ui.lang;
    sel.textContent = "";
    state.languages.forEach(function (code) {
      var label = CC.nativeName(code);
      sel.appendChild(el("option", { value: code, lang: code, text: label }));
    });
    sel.value = state.lang;
    sel.disabled = state.languages.length < 2;
  }
  function renderDownloads() {
    document.querySelectorAll("a[data-fmt]").forEach(function (a) {
      var fmt = a.dataset.fmt;
      a.href = "/api/sessions/" + encodeURIComponent(sessionId) + "/transcript." + fmt + "?lang=" + encodeURIComponent(state.lang) + keyParam;
      a.setAttribute("download", sessionId + "-" + state.lang + "." + fmt);
    });
  }
  function renderDirection() {
    var dir = CC.isRtl(state.lang) ? "rtl" : "ltr";
    ui.list.setAttribute("dir", dir);
    ui.list.setAttribute("lang", state.lang);
    ui.partial.setAttribute("dir", CC.isRtl(state.sourceLang || state.lang) ? "rtl" : "ltr");
  }

  // -- the socket ------------------------------------------------------------
  function captionsUrl() {
    var q = "since=" + log.maxSeq + keyParam;
    if (state.lang) q = "lang=" + encodeURIComponent(state.lang) + "&" + q;
    return CC.wsUrl("/ws/captions/" + encodeURIComponent(sessionId) + "?" + q);
  }
  var pendingLangFallback = null;
  function onFrame(f) {
    document.dispatchEvent(new CustomEvent("cc:frame", { detail: f }));  // for questions.js and other add-ons
    switch (f.type) {
      case "hello":
        state.replaying = true;
        state.live = null;
        if (typeof f.seq === "number" && f.seq < log.maxSeq) clearCaptions();  // the server's log restarted
        state.sourceLang = f.source_lang;
        state.languages = Array.isArray(f.languages) ? f.languages : [f.lang];
        state.startedAt = typeof f.started_at === "number" ? f.started_at : null;
        if (state.startedAt !== null || (typeof f.seq === "number" && f.seq > 0)) state.said = true;
        if (f.lang && f.lang !== state.lang) { state.lang = f.lang; }
        if (f.title) { ui.title.textContent = f.title; document.title = f.title + " · Live captions"; }
        renderLanguages(); renderBanner(); renderDownloads(); renderDirection();
        if (!pendingLangFallback) showNotice("");
        pendingLangFallback = null;
        break;
      case "caption":
        if (f.lang && state.lang && f.lang !== state.lang) return;
        addCaption(f);
        break;
      case "correction":
        if (f.lang && state.lang && f.lang !== state.lang) return;
        applyCorrection(f);
        break;
      case "partial":
        setPartial(f);
        break;
      case "status":
        state.replaying = false;
        state.live = !!f.live;
        state.lagMs = typeof f.lag_ms === "number" ? f.lag_ms : null;
        // Servers before the "state" field send only "live"; a state this page does not know shows no card.
        state.session = SESSION_STATES.indexOf(f.state) >= 0 ? f.state : (state.live ? "live" : null);
        if (!state.live) { ui.partial.textContent = ""; state.arrivalLagMs = null; }
        renderConn(); renderLag(); renderSession();
        break;
      case "error":
        if (f.code === "unknown_language" && Array.isArray(f.languages) && f.languages.length) {
          var fallback = f.languages[0];
          showNotice(CC.nativeName(state.lang) + " is not available for this session; showing " +
                     CC.nativeName(fallback) + ".");
          pendingLangFallback = fallback;
        } else {
          showNotice(f.message || "The server reported an error.");
        }
        break;
      default:
        break;
    }
  }
  var socket = new CC.ReconnectingSocket({
    url: captionsUrl,
    onframe: onFrame,
    onstate: function (s, info) {
      state.conn = s;
      if (s === "reconnecting") state.reconnectAt = info.at;
      if (s !== "open") { state.live = null; ui.partial.textContent = ""; }
      renderConn(); renderLag();
    },
    onclose: function () {
      if (pendingLangFallback) {
        var lang = pendingLangFallback;
        setTimeout(function () { switchLanguage(lang, false); }, 0);
        return false;
      }
      return true;
    }
  });

  function switchLanguage(lang, remember) {
    if (remember) { CC.store.set("cc.lang", lang); state.userChoseLang = true; }
    state.lang = lang;
    params.set("lang", lang);
    history.replaceState(null, "", location.pathname + "?" + params.toString());
    clearCaptions();
    state.autoScroll = true;
    ui.jump.hidden = true;
    renderBanner(); renderDownloads(); renderDirection();
    socket.restart();  // since=0: the new language is replayed from the start
  }

  // -- wiring ------------------------------------------------------------------
  $("#smaller").addEventListener("click", function () { stepSize(-1); });
  $("#larger").addEventListener("click", function () { stepSize(1); });
  ui.settingsBtn.addEventListener("click", function () {
    var open = ui.settings.hidden;
    ui.settings.hidden = !open;
    ui.settingsBtn.setAttribute("aria-expanded", String(open));
  });
  document.querySelectorAll("[data-theme-choice]").forEach(function (b) {
    b.addEventListener("click", function () { setTheme(b.dataset.themeChoice); });
  });
  document.querySelectorAll("[data-mode-choice]").forEach(function (b) {
    b.addEventListener("click", function () { setMode(b.dataset.modeChoice); });
  });
  ui.announceBox.addEventListener("change", function () {
    state.announce = ui.announceBox.checked;
    CC.store.set("cc.announce", state.announce ? "1" : "0");
    if (state.announce && state.mode === "fast") setMode("stable");
  });
  ui.lang.addEventListener("change", function () {
    showNotice("");
    switchLanguage(ui.lang.value, true);
  });
  ui.list.addEventListener("click", function (ev) {
    var node = ev.target.closest(".cap[data-has-source]");
    if (node && !(window.getSelection && String(window.getSelection()).length)) toggleSource(node);
  });
  ui.list.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    var node = ev.target.closest(".cap[data-has-source]");
    if (node) { ev.preventDefault(); toggleSource(node); }
  });
  window.addEventListener("online", function () { socket.kick(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) socket.kick(); });
  window.addEventListener("resize", function () { if (state.autoScroll) scrollToEnd(); });
  setInterval(function () { renderConn(); renderLag(); }, 1000);

  setSize(currentSize());
  renderToggles();
  renderDownloads();
  if (!sessionId) {
    showNotice("This address has no session in it. Open the link or QR code shown in the room.");
    return;
  }
  socket.start();

  /* For tests and debugging: a read-only view of what is shown. */
  window.captionsDebug = {
    state: state, log: log, socket: socket,
    texts: function () { return log.lines.map(function (l) { return l.text; }); }
  };
})();
