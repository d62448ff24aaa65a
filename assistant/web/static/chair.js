/* The chair console, last part: the token gate, the header and session buttons, the audio source
   choice, and starting everything. The other parts (chair-*.js, loaded before this one) share window.Chair. */
(function (C) {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, ui = C.ui, state = C.state, t = CC.t;

  var END_ARM_MS = 4000;  // "End session" must be pressed twice within this time
  var STATE_KEYS = { idle: "chair.state_idle", live: "chair.state_live", paused: "chair.state_paused", ended: "chair.state_ended" };
  var SHORT_NAME_CHARS = 9;  // a capture stream's id is long and random: its start tells stations apart

  // -- token gate ----------------------------------------------------------------------------------
  C.openGate = function (message) {
    ui.gate.hidden = false;
    ui.console.hidden = true;
    $("#gate-error").textContent = message || "";
    $("#gate-error").hidden = !message;
    $("#token-input").focus();
  };
  $("#token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var value = $("#token-input").value.trim();
    if (!value) return;
    C.token = value;
    CC.sessionStore.set(C.tokenKey, C.token);
    $("#token-input").value = "";
    openConsole();
  });

  // -- header and session panel ----------------------------------------------------------------------
  C.renderState = function () {
    var s = state.sessionState;
    ui.state.dataset.state = s || "connecting";
    ui.state.textContent = s ? (STATE_KEYS[s] ? t(STATE_KEYS[s]) : s) : "—";
    var micOn = !!C.audio.mic.running;
    var other = otherSource();
    $("#btn-start").disabled = s === "ended" || (state.source === "mic" ? micOn : true);
    $("#btn-start").title = state.source === "station" ? t("chair.start_station_hint")
      : other ? t("chair.start_replaces", { source: other }) : "";
    $("#btn-start").classList.toggle("primary", !other);
    ui.micToggle.title = other && !micOn ? t("chair.start_replaces", { source: other }) : "";
    $("#mic-replace").textContent = other && !micOn ? t("chair.start_replaces", { source: other }) : "";
    $("#mic-replace").hidden = !(other && !micOn);
    $("#audio-source").textContent = sourceText();
    $("#audio-source").dataset.kind = state.audioSource ? state.audioSource.kind : state.speech ? "none" : "typed";
    $("#btn-pause").disabled = s !== "live";
    $("#btn-resume").disabled = s !== "paused";
    $("#btn-end").disabled = s === "ended" || !s;
    $("#detected").textContent = state.detected
      ? CC.languageLabel(state.detected) + (state.probability ? " (" + Math.round(state.probability * 100) + "%)" : "")
      : (state.sourceLang && state.sourceLang !== "auto" ? CC.languageLabel(state.sourceLang) : "—");
    $("#lag").textContent = typeof state.lagMs === "number" ? seconds(state.lagMs) : "—";
    var ul = $("#readers");
    ul.textContent = "";
    var langs = Object.keys(state.readers).filter(function (k) { return state.readers[k] > 0; }).sort();
    if (!langs.length) ul.appendChild(el("li", { class: "muted", text: t("chair.none_yet") }));
    langs.forEach(function (l) {
      var li = el("li", { dataset: { lang: l } }, [el("bdi", { text: CC.languageLabel(l) }), " ", el("strong", { text: String(state.readers[l]) })]);
      if (typeof state.lags[l] === "number") {
        li.appendChild(el("span", { class: "reader-lag", title: t("chair.reader_lag"), text: seconds(state.lags[l]) }));
      }
      var tr = state.translation[l];
      if (tr && tr.partials === "slowed") {
        li.appendChild(el("span", { class: "tag partials", dataset: { partials: "slowed" }, text: t("chair.partials_slowed"),
          title: t("chair.partials_slowed_title", { seconds: oneDecimal((tr.interval_ms || 0) / 1000) }) }));
      } else if (tr && tr.partials === "off") {
        li.appendChild(el("span", { class: "tag partials", dataset: { partials: "off" }, text: t("chair.partials_off"),
          title: t("chair.partials_off_title") }));
      }
      ul.appendChild(li);
    });
    $("#session-title").textContent = state.title;
    document.title = state.title ? t("chair.page_title", { title: state.title }) : t("chair.brand");
  };
  function oneDecimal(n) {
    return new Intl.NumberFormat(window.I18N.locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(n);
  }
  function seconds(ms) { return t("chair.seconds", { seconds: oneDecimal(ms / 1000) }); }
  function shortName(name) {
    name = String(name || "");
    return name.length > SHORT_NAME_CHARS + 1 ? name.slice(0, SHORT_NAME_CHARS) + "…" : name;
  }
  /** Where the session's audio comes from now, in words. */
  function sourceText() {
    var src = state.audioSource;
    if (!src) return state.speech ? t("chair.src_none") : t("chair.src_typed_only");
    if (src.kind === "capture") return t("chair.src_capture", { name: shortName(src.name) });
    if (src.kind === "browser") return t("chair.src_browser");
    if (src.kind === "mic") return src.name ? t("chair.src_mic", { name: src.name }) : t("chair.src_mic_unnamed");
    if (src.kind === "file") return t("chair.src_file", { name: src.name || "" });
    return String(src.kind);
  }
  /** Another source feeding the session (not this browser's microphone), in words; "" when none. */
  function otherSource() {
    var src = state.audioSource;
    if (!src || C.audio.mic.running) return "";
    if (src.kind === "browser" && C.audio.mic.streamId && src.name === C.audio.mic.streamId) return "";
    return sourceText();
  }
  C.renderConn = function () {
    var label, s;
    if (state.conn === "open") { s = "live"; label = t("chair.connected"); }
    else if (state.conn === "reconnecting") {
      s = "reconnecting";
      label = t("chair.reconnecting_in", { seconds: Math.max(1, Math.ceil((state.reconnectAt - Date.now()) / 1000)) });
    } else if (state.conn === "stopped") { s = "error"; label = t("chair.disconnected"); }
    else { s = "connecting"; label = t("chair.connecting"); }
    ui.conn.dataset.state = s;
    ui.conn.textContent = label;
  };

  var endTimer = null;
  $("#btn-pause").addEventListener("click", function () { C.send({ type: "pause" }); });
  $("#btn-resume").addEventListener("click", function () { C.send({ type: "resume" }); });
  $("#btn-start").addEventListener("click", function () {
    if (state.source === "mic") C.audio.startMic();
    if (state.sessionState === "paused") C.send({ type: "resume" });
  });
  $("#btn-end").addEventListener("click", function () {
    var b = $("#btn-end");
    if (!b.classList.contains("armed")) {
      b.classList.add("armed");
      b.textContent = t("chair.end_confirm");
      endTimer = setTimeout(disarmEnd, END_ARM_MS);
      return;
    }
    disarmEnd();
    C.audio.stopMic("");
    C.send({ type: "end" });
  });
  function disarmEnd() {
    clearTimeout(endTimer);
    var b = $("#btn-end");
    b.classList.remove("armed");
    b.textContent = t("chair.end");
  }

  // -- audio source: this browser's microphone, or a capture station ---------------------------------
  function renderSource() {
    document.querySelectorAll('input[name="source"]').forEach(function (r) { r.checked = r.value === state.source; });
    $("#mic-panel").hidden = state.source !== "mic";
    $("#station-panel").hidden = state.source !== "station";
    $("#insecure").hidden = !!window.isSecureContext;
    $("#station-cmd").textContent = stationCommand(false);
    C.renderState();
  }
  function stationCommand(withToken) {
    var env = withToken ? "ASSISTANT_CHAIR_TOKEN='" + C.token + "' " : "";
    // A talk of the programme: the room's station, connected once for the whole day (chair-talk.js sets C.room).
    var target = C.room ? " --room " + C.room : " --session " + C.sessionId;
    return env + "assistant capture --server " + location.origin + target;
  }
  C.renderSource = renderSource;
  document.querySelectorAll('input[name="source"]').forEach(function (r) {
    r.addEventListener("change", function () {
      state.source = r.value;
      CC.store.set("cc.chair.source", state.source);
      if (state.source === "station" && C.audio.mic.running) C.audio.stopMic("");
      renderSource();
    });
  });
  $("#copy-cmd").addEventListener("click", function (ev) { C.copy(stationCommand(true), ev.currentTarget); });

  // -- start ---------------------------------------------------------------------------------------
  function openConsole() {
    ui.gate.hidden = true;
    ui.console.hidden = false;
    renderSource();
    C.renderConn();
    C.audio.sizeMeter();
    C.audio.setMeter(C.audio.METER_FLOOR_DB);
    C.join.load();
    C.socket.everOpened = false;
    state.everOpened = false;
    C.socket.start();
  }
  setInterval(C.renderConn, 1000);
  window.addEventListener("online", function () { C.socket.kick(); });
  window.chairDebug = { state: state, log: C.log, mic: C.audio.mic, socket: C.socket, audio: C.audio };
  window.I18N.picker($("#ui-lang"));
  // Text this script wrote follows a change of interface language (fixed text follows by itself).
  window.I18N.onchange(function () {
    C.renderState();
    C.renderConn();
    C.settings.renderAccess();
    C.join.render();
    C.captions.rerender();
    C.audio.relabel();
  });
  window.I18N.ready.then(function () {
    document.title = t("chair.brand");
    if (!C.sessionId) { C.openGate(t("chair.no_session_in_url")); return; }
    if (C.token) openConsole(); else C.openGate("");
    C.audio.listDevices();
  });
})(window.Chair);
