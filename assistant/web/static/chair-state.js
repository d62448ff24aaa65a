/* The chair console, part 1 of 8: what every part shares (window.Chair): the session, its token,
   the page's state, the elements, notices. Load order (chair.html): chair-state, chair-captions,
   chair-socket, chair-settings, chair-join, chair-audio-buffer, chair-audio, chair (which starts it all). */
(function () {
  "use strict";
  var CC = window.CC, $ = CC.$;

  var sessionId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() || "");
  var keyStoreKey = "cc.chair.key." + sessionId;  // the private session's key, in this tab only
  var C = window.Chair = {
    sessionId: sessionId,
    tokenKey: "cc.chair." + sessionId,
    keyStoreKey: keyStoreKey,
    token: null,
    log: new CC.CaptionLog(),
    state: {
      sessionState: null, lagMs: null, detected: null, probability: null, readers: {}, title: "",
      glossary: [], sourceLang: null, languages: [], conn: "connecting", reconnectAt: 0, everOpened: false,
      source: CC.store.get("cc.chair.source", "mic") === "station" ? "station" : "mic", joinUrl: "", shareUrl: "",
      public: null, key: CC.sessionStore.get(keyStoreKey) || null, accessPending: null
    },
    ui: {
      gate: $("#gate"), console: $("#console"), conn: $("#conn"), state: $("#state"), notice: $("#notice"),
      transcript: $("#transcript"), scroll: $("#transcript-scroll"), partial: $("#partial"),
      meterBar: $("#meter-bar"), meter: $("#meter"), meterDb: $("#meter-db"), micToggle: $("#mic-toggle"),
      micStatus: $("#mic-status"), micDevice: $("#mic-device")
    }
  };
  C.token = CC.takeTokenFromHash(C.tokenKey);

  /** A line at the top of the console; an error is shown in red. "" hides it. */
  C.showNotice = function (text, isError) {
    C.ui.notice.textContent = text || "";
    C.ui.notice.classList.toggle("error", !!isError);
    C.ui.notice.hidden = !text;
  };

  /** Copy to the clipboard where the page may (https), else show it to copy by hand; the button says so. */
  C.copy = function (text, button) {
    var done = function () { var old = button.textContent; button.textContent = "Copied"; setTimeout(function () { button.textContent = old; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, function () { prompt("Copy:", text); });
    else prompt("Copy:", text);
  };
})();
