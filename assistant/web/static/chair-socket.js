/* The chair console, part 3: the console socket (/ws/chair/S): frames in, commands out. */
(function (C) {
  "use strict";
  var CC = window.CC, state = C.state, t = CC.t;

  /** An info frame (or the info fields of another): session state, lag, language, settings. */
  function applyInfo(f) {
    if ("state" in f) state.sessionState = f.state;
    if ("lag_ms" in f) state.lagMs = f.lag_ms;
    if ("detected_language" in f) state.detected = f.detected_language;
    if ("probability" in f) state.probability = f.probability;
    if (f.readers) state.readers = f.readers;
    if (f.lags && typeof f.lags === "object") state.lags = f.lags;
    if (f.translation && typeof f.translation === "object") state.translation = f.translation;
    if ("audio_source" in f) state.audioSource = f.audio_source || null;
    if (typeof f.speech === "boolean") state.speech = f.speech;
    C.settings.applyInfo(f);
    if (f.source_lang) state.sourceLang = f.source_lang;
    if (typeof f.level_db === "number") C.audio.serverLevel(f.level_db);
    if (typeof f.url === "string" && f.url) state.joinUrl = f.url;
    if (typeof f.public === "boolean") C.settings.applyAccess(f.public);
    else if (typeof f.url === "string" && f.url) C.join.render();
    C.renderState();
  }

  function onFrame(f) {
    document.dispatchEvent(new CustomEvent("cc:frame", { detail: f }));  // for chair-questions.js and other add-ons
    switch (f.type) {
      case "hello":
        if (typeof f.seq === "number" && f.seq < C.log.maxSeq) C.captions.reset();
        state.sourceLang = f.source_lang;
        state.languages = f.languages || [];
        if (f.title) state.title = f.title;
        C.renderState();
        break;
      case "caption": C.captions.add(f); break;
      case "correction": C.captions.correct(f); break;
      case "partial": C.captions.partial(f.text); break;
      case "status":
        state.lagMs = f.lag_ms;
        C.renderState();
        break;
      case "info": applyInfo(f); break;
      case "level": if (typeof f.level_db === "number") C.audio.serverLevel(f.level_db); break;
      case "readers": state.readers = f.readers || {}; C.renderState(); break;
      case "error":
        if (state.accessPending) C.settings.accessFailed(C.serverError(f.code, f.message));
        else C.showNotice(C.serverError(f.code, f.message), true);
        break;
      default: break;
    }
  }

  var socket = new CC.ReconnectingSocket({
    url: function () { return CC.wsUrl("/ws/chair/" + encodeURIComponent(C.sessionId)); },
    protocols: function () { return ["bearer." + C.token]; },
    onframe: onFrame,
    onstate: function (s, info) {
      state.conn = s;
      if (s === "reconnecting") state.reconnectAt = info.at;
      if (s === "open") { state.everOpened = true; C.showNotice(""); }
      C.renderConn();
    },
    onclose: function (ev, opened) {
      if (!opened && !state.everOpened) {
        // The upgrade was refused (wrong token or unknown session): ask instead of retrying blindly.
        checkAccess();
        return false;
      }
      return true;
    }
  });

  async function checkAccess() {
    try {
      var resp = await fetch("/api/sessions/" + encodeURIComponent(C.sessionId) + "/qr.svg", { method: "GET" });
      if (resp.status === 404) { C.openGate(t("chair.no_session", { id: C.sessionId })); return; }
    } catch (e) {
      C.showNotice(t("chair.unreachable"), true);
      setTimeout(function () { socket.start(); }, 3000);
      return;
    }
    CC.sessionStore.remove(C.tokenKey);
    C.openGate(t("chair.token_wrong"));
  }

  /** Send a command; say so when the console is not connected. */
  C.send = function (obj) {
    if (!socket.send(obj)) C.showNotice(t("chair.not_connected"), true);
  };
  C.socket = socket;
})(window.Chair);
