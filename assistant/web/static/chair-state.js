/* The chair console, part 1 of 8: what every part shares (window.Chair): the session, its token,
   the page's state, the elements, notices. Load order (chair.html): chair-state, chair-captions,
   chair-socket, chair-settings, chair-join, chair-audio-buffer, chair-audio, chair (which starts it all). */
(function () {
  "use strict";
  var CC = window.CC, $ = CC.$, t = CC.t;

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
      audioSource: null, speech: true, lags: {}, translation: {}, public: null, key: CC.sessionStore.get(keyStoreKey) || null, accessPending: null
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

  /** The server's error codes (docs/protocol.md) a chair meets, with the catalogue's text for each. */
  var ERROR_KEYS = {
    replaced: "chair.error.replaced", stream_ended: "chair.error.stream_ended", busy: "chair.error.busy",
    rate_limited: "chair.error.rate_limited", too_many_connections: "chair.error.too_many_connections",
    unsupported: "chair.error.unsupported", not_found: "chair.error.not_found", bad_state: "chair.error.bad_state",
    too_long: "chair.error.too_long", empty: "chair.error.empty", ended: "chair.error.ended",
    unauthorized: "chair.error.unauthorized", forbidden: "chair.error.forbidden",
    model_unavailable: "chair.error.model_unavailable", unknown_language: "chair.error.unknown_language",
    bad_audio: "chair.error.bad_audio", internal: "chair.error.internal"
  };

  /** What to show for an error the server sent ({code, message}): in English the server's own sentence (it
      names the caption, the question, the limit); in another language the catalogue's text for its code, or
      the server's sentence for a code the console does not know. */
  C.serverError = function (code, message) {
    var key = ERROR_KEYS[code];
    return key && window.I18N.locale !== "en" ? t(key) : message || code;
  };

  /** Copy to the clipboard where the page may (https), else show it to copy by hand; the button says so. */
  C.copy = function (text, button) {
    var done = function () { var old = button.textContent; button.textContent = t("chair.copied"); setTimeout(function () { button.textContent = old; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, function () { prompt(t("chair.copy_prompt"), text); });
    else prompt(t("chair.copy_prompt"), text);
  };
})();
