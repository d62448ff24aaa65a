/* The chair console, part 5: the delegates' join link and QR code, and the full-screen projector view. */
(function (C) {
  "use strict";
  var CC = window.CC, $ = CC.$, state = C.state;

  /** Where delegates join, and whether the session is public, before the console's info frame says. */
  async function load() {
    var url = location.origin + "/s/" + encodeURIComponent(C.sessionId);
    try {
      var data = await CC.fetchJson("/api/sessions");
      (data.sessions || []).forEach(function (s) {
        if (s.id !== C.sessionId) return;
        if (s.url) url = s.url;
        if (state.public === null && typeof s.public === "boolean") state.public = s.public;
      });
    } catch (e) { /* a private session is not listed: the console's info frame brings the URL */ }
    if (!state.joinUrl) state.joinUrl = url;
    C.settings.renderAccess();
    render();
  }
  function keyQuery(key) { return key ? "?key=" + encodeURIComponent(key) : ""; }
  function qrPath(key) { return "/api/sessions/" + encodeURIComponent(C.sessionId) + "/qr.svg" + keyQuery(key); }
  /** true: the key opens the session; false: refused; null: could not tell (offline). */
  async function checkKey(key) {
    try {
      var resp = await fetch(qrPath(key), { cache: "no-store" });
      if (resp.ok) return true;
      return resp.status === 401 || resp.status === 403 ? false : null;
    } catch (e) { return null; }
  }
  function showKeyError(text) {
    $("#join-key-error").textContent = text || "";
    $("#join-key-error").hidden = !text;
    if (text) $("#join-key-input").setAttribute("aria-invalid", "true");
    else $("#join-key-input").removeAttribute("aria-invalid");
  }
  function setSrc(img, src) { if (img.getAttribute("src") !== src) img.src = src; }
  function render() {
    var locked = state.public === false && !state.key;
    var known = state.public !== null && !!state.joinUrl;
    $("#join-locked").hidden = !locked;
    $("#join-open").hidden = locked || !known;
    $("#present").hidden = locked || !known;
    if (locked || !known) return;
    var key = state.public === false ? state.key : null;
    var url = state.joinUrl + keyQuery(key), shown = url.replace(/^https?:\/\//, "");
    showKeyError("");
    state.shareUrl = url;
    [$("#qr"), $("#projector-qr")].forEach(function (img) {
      setSrc(img, qrPath(key));
      img.alt = "QR code for " + shown;
    });
    $("#join-url").href = url;
    $("#join-url").textContent = shown;
    $("#projector-url").textContent = shown;
    $("#projector-display").href = "/s/" + encodeURIComponent(C.sessionId) + "/display" + keyQuery(key);  // the room screen
    $("#join-private").hidden = !key;
  }
  $("#join-key-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    var input = $("#join-key-input"), key = input.value.trim(), problem = C.settings.keyProblem(key);
    if (problem) { showKeyError(problem); input.focus(); return; }
    var ok = await checkKey(key);
    if (ok === false) { showKeyError("That key does not open this session. Check it, or set a new one under “Who can read”."); input.focus(); return; }
    if (ok === null) { showKeyError("Could not reach the server to check the key; try again."); return; }
    input.value = "";
    C.settings.rememberKey(key);
    C.settings.renderAccess();
    render();
    $("#join-url").focus();
  });
  $("#join-key-input").addEventListener("input", function () { showKeyError(""); });
  $("#copy-url").addEventListener("click", function (ev) { C.copy(state.shareUrl || state.joinUrl, ev.currentTarget); });

  // -- the projector: the QR code full screen ------------------------------------------------------
  $("#present").addEventListener("click", function () {
    $("#projector").hidden = false;
    $("#projector-close").focus();
    var p = $("#projector");
    if (p.requestFullscreen) p.requestFullscreen().catch(function () { /* windowed is fine */ });
  });
  function closeProjector() {
    $("#projector").hidden = true;
    if (document.fullscreenElement) document.exitFullscreen();
  }
  $("#projector-close").addEventListener("click", closeProjector);
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape" && !$("#projector").hidden) closeProjector(); });
  document.addEventListener("fullscreenchange", function () { if (!document.fullscreenElement) $("#projector").hidden = true; });

  C.join = { load: load, render: render, checkKey: checkKey, showKeyError: showKeyError };
})(window.Chair);
