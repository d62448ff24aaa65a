/* The chair console, part 3: the console socket (/ws/chair/S): frames in, commands out. */
(function (C) {
  "use strict";
  var CC = window.CC, state = C.state;

  /** An info frame (or the info fields of another): session state, lag, language, settings. */
  function applyInfo(f) {
    if ("state" in f) state.sessionState = f.state;
    if ("lag_ms" in f) state.lagMs = f.lag_ms;
    if ("detected_language" in f) state.detected = f.detected_language;
    if ("probability" in f) state.probability = f.probability;
    if (f.readers) state.readers = f.readers;
    C.settings.applyInfo(f);
    if (f.source_lang) state.sourceLang = f.source_lang;
    if (typeof f.level_db === "number") C.audio.serverLevel(f.level_db);
    if (typeof f.url === "string" && f.url) state.joinUrl = f.url;
    if (typeof f.public === "boolean") C.settings.applyAccess(f.public);
    else if (typeof f.url === "string" && f.url) C.join.render();
    C.renderState();
  }

  function onFrame(f) {
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
        if (state.accessPending) C.settings.accessFailed(f.message || f.code);
        else C.showNotice(f.message || f.code, true);
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
      if (resp.status === 404) { C.openGate("There is no session called “" + C.sessionId + "” on this server."); return; }
    } catch (e) {
      C.showNotice("Cannot reach the server. Retrying…", true);
      setTimeout(function () { socket.start(); }, 3000);
      return;
    }
    CC.sessionStore.remove(C.tokenKey);
    C.openGate("The console could not connect: the chair token is probably wrong or has been rotated.");
  }

  /** Send a command; say so when the console is not connected. */
  C.send = function (obj) {
    if (!socket.send(obj)) C.showNotice("Not connected to the server; try again in a moment.", true);
  };
  C.socket = socket;
})(window.Chair);
