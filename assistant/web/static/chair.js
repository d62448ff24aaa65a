/* The chair console, last part: the token gate, the header and session buttons, the audio source
   choice, and starting everything. The other parts (chair-*.js, loaded before this one) share window.Chair. */
(function (C) {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, ui = C.ui, state = C.state;

  var END_ARM_MS = 4000;  // "End session" must be pressed twice within this time
  var STATE_LABELS = { idle: "Waiting for audio", live: "Live", paused: "Paused", ended: "Ended" };

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
    ui.state.textContent = s ? STATE_LABELS[s] || s : "—";
    var micOn = !!C.audio.mic.running;
    $("#btn-start").disabled = s === "ended" || (state.source === "mic" ? micOn : true);
    $("#btn-start").title = state.source === "station" ? "Start the capture station with the command below" : "";
    $("#btn-pause").disabled = s !== "live";
    $("#btn-resume").disabled = s !== "paused";
    $("#btn-end").disabled = s === "ended" || !s;
    $("#detected").textContent = state.detected
      ? CC.nativeName(state.detected) + (state.probability ? " (" + Math.round(state.probability * 100) + "%)" : "")
      : (state.sourceLang && state.sourceLang !== "auto" ? CC.nativeName(state.sourceLang) : "—");
    $("#lag").textContent = typeof state.lagMs === "number" ? (state.lagMs / 1000).toFixed(1) + " s" : "—";
    var ul = $("#readers");
    ul.textContent = "";
    var langs = Object.keys(state.readers).filter(function (k) { return state.readers[k] > 0; }).sort();
    if (!langs.length) ul.appendChild(el("li", { class: "muted", text: "none yet" }));
    langs.forEach(function (l) {
      ul.appendChild(el("li", { dataset: { lang: l } }, [el("bdi", { lang: l, text: CC.nativeName(l) }), " ", el("strong", { text: String(state.readers[l]) })]));
    });
    $("#session-title").textContent = state.title;
    if (state.title) document.title = state.title + " · Chair console";
  };
  C.renderConn = function () {
    var label, s;
    if (state.conn === "open") { s = "live"; label = "Connected"; }
    else if (state.conn === "reconnecting") {
      s = "reconnecting";
      label = "Reconnecting in " + Math.max(1, Math.ceil((state.reconnectAt - Date.now()) / 1000)) + " s";
    } else if (state.conn === "stopped") { s = "error"; label = "Disconnected"; }
    else { s = "connecting"; label = "Connecting…"; }
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
      b.textContent = "Press again to end";
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
    b.textContent = "End session";
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
    return env + "assistant capture --server " + location.origin + " --session " + C.sessionId;
  }
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
  if (!C.sessionId) { C.openGate("This address has no session in it."); return; }
  if (C.token) openConsole(); else C.openGate("");
  C.audio.listDevices();
})(window.Chair);
