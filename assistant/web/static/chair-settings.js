/* The chair console, part 4: the session's settings: title and glossary, and who can read
   (public, or private with a key). */
(function (C) {
  "use strict";
  var CC = window.CC, $ = CC.$, state = C.state;

  var KEY_RE = /^[!-~]{8,128}$/;  // the server's rule: printable ASCII, no spaces
  var KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";  // 64: url-safe
  var GENERATED_KEY_CHARS = 10;  // 60 random bits: plenty for a room's link, short enough to read out
  var SAVED_SHOWN_MS = 3000;

  // -- title and glossary ------------------------------------------------------------------------
  var editDirty = false;  // the chair is typing: frames from the server must not overwrite the fields
  $("#title-input").addEventListener("input", function () { editDirty = true; });
  $("#glossary-input").addEventListener("input", function () { editDirty = true; });
  $("#edit-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var title = $("#title-input").value.trim();
    var glossary = $("#glossary-input").value.split("\n").map(function (t) { return t.trim(); })
      .filter(function (t) { return t.length > 0; });
    var msg = { type: "update", glossary: glossary };
    if (title) msg.title = title;
    if (C.socket.send(msg)) {
      editDirty = false;
      $("#edit-status").textContent = "Saved.";
      setTimeout(function () { $("#edit-status").textContent = ""; }, SAVED_SHOWN_MS);
    } else {
      $("#edit-status").textContent = "Not connected; not saved.";
    }
  });
  /** The title and glossary fields of an info frame. */
  function applyInfo(f) {
    if (typeof f.title === "string") { state.title = f.title; if (!editDirty) $("#title-input").value = f.title; }
    if (Array.isArray(f.glossary)) { state.glossary = f.glossary; if (!editDirty) $("#glossary-input").value = f.glossary.join("\n"); }
  }

  // -- who can read: public, or private with a key ------------------------------------------------
  function generateKey() {
    var a = new Uint8Array(GENERATED_KEY_CHARS);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return KEY_ALPHABET[b & 63]; }).join("");
  }
  /** Why the server would refuse ``key`` as a session key, or "". */
  function keyProblem(key) {
    if (!key) return "Type a key or press Generate.";
    if (/\s/.test(key)) return "A key cannot contain spaces.";
    if (key.length < 8) return "A key needs at least 8 characters.";
    if (!KEY_RE.test(key)) return "Use letters, digits and symbols (A–Z, 0–9, - _ …), at most 128.";
    return "";
  }
  /** The private session's key this tab knows (null: none), kept in this tab only. */
  function rememberKey(key) {
    state.key = key || null;
    if (key) CC.sessionStore.set(C.keyStoreKey, key); else CC.sessionStore.remove(C.keyStoreKey);
  }
  var accessDirty = false;  // the chair is choosing: frames from the server must not reset the form
  function selectedAccess() {
    var r = document.querySelector('input[name="access"]:checked');
    return r ? r.value : null;
  }
  function accessStatus(text, isError) {
    var s = $("#access-status");
    s.textContent = text || "";
    s.classList.toggle("field-error", !!isError);
    s.classList.toggle("muted", !isError);
  }
  function renderAccess() {
    var pub = state.public, badge = $("#access-badge");
    badge.dataset.access = pub === null ? "unknown" : pub ? "public" : "private";
    badge.textContent = pub === null ? "—" : pub ? "Public" : "Private";
    $("#access-now").textContent = pub === null ? "" : pub
      ? "Anyone who has the link or scans the QR code can read the captions."
      : "Only people with the key can read: share the join link or QR code, which carry it.";
    if (!accessDirty && pub !== null) {
      document.querySelectorAll('input[name="access"]').forEach(function (r) {
        r.checked = r.value === (pub ? "public" : "private");
      });
      $("#key-input").value = pub ? "" : state.key || "";
    }
    var choice = selectedAccess(), apply = $("#access-apply"), keyInput = $("#key-input");
    $("#key-fields").hidden = choice !== "private";
    if (choice === "private") {
      apply.textContent = pub === false ? "Set new key" : "Make private";
      apply.disabled = pub === false && !!state.key && keyInput.value.trim() === state.key;
    } else {
      apply.textContent = "Make public";
      apply.disabled = pub !== false;
    }
    if (state.accessPending) apply.disabled = true;
  }
  /** The server says whether the session is public (after any change, by anyone). */
  function applyAccess(isPublic) {
    var pending = state.accessPending;
    state.public = isPublic;
    if (pending) {
      state.accessPending = null;
      accessDirty = false;
      if (pending.public === isPublic) {
        rememberKey(isPublic ? null : pending.key);
        accessStatus(isPublic ? "Saved: the session is public." : "Saved: delegates now need the key.");
      } else {
        accessStatus("Not saved; try again.", true);
      }
    } else if (isPublic) {
      rememberKey(null);  // a public session needs no key; a new one is set when it turns private again
    } else if (state.key) {
      C.join.checkKey(state.key).then(function (ok) {  // another console may have changed it
        if (ok === false && state.key) {
          rememberKey(null);
          C.join.showKeyError("The key this page knew no longer opens the session; it was changed elsewhere.");
          renderAccess();
          C.join.render();
        }
      });
    }
    renderAccess();
    C.join.render();
  }
  /** The server refused the access change (its error frame). */
  function accessFailed(message) {
    state.accessPending = null;
    accessStatus("Not saved: " + message, true);
    renderAccess();
  }
  document.querySelectorAll('input[name="access"]').forEach(function (r) {
    r.addEventListener("change", function () {
      accessDirty = true;
      accessStatus("");
      renderAccess();
      if (r.value === "private" && r.checked) $("#key-input").focus();
    });
  });
  $("#key-input").addEventListener("input", function () {
    accessDirty = true;
    $("#key-input").removeAttribute("aria-invalid");
    accessStatus("");
    renderAccess();
  });
  $("#key-generate").addEventListener("click", function () {
    var input = $("#key-input");
    input.value = generateKey();
    input.removeAttribute("aria-invalid");
    accessDirty = true;
    accessStatus("New key made; press “" + (state.public === false ? "Set new key" : "Make private") + "” to use it.");
    renderAccess();
    input.focus();
    input.select();
  });
  $("#access-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var choice = selectedAccess();
    if (!choice || state.accessPending) return;
    var msg, key = null;
    if (choice === "public") {
      msg = { type: "update", public: true, key: "" };
    } else {
      key = $("#key-input").value.trim();
      $("#key-input").value = key;
      var problem = keyProblem(key);
      if (problem) {
        $("#key-input").setAttribute("aria-invalid", "true");
        accessStatus(problem, true);
        $("#key-input").focus();
        return;
      }
      msg = { type: "update", public: false, key: key };
    }
    if (!C.socket.send(msg)) { accessStatus("Not connected; not saved.", true); return; }
    state.accessPending = { public: choice === "public", key: key };
    accessStatus("Saving…");
    renderAccess();
  });

  C.settings = {
    applyInfo: applyInfo, applyAccess: applyAccess, accessFailed: accessFailed, renderAccess: renderAccess,
    keyProblem: keyProblem, rememberKey: rememberKey
  };
})(window.Chair);
