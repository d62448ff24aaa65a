/* The chair console, part 4: the session's settings: title and glossary, and who can read
   (public, or private with a key). */
(function (C) {
  "use strict";
  var CC = window.CC, $ = CC.$, state = C.state, t = CC.t;

  var KEY_RE = /^[!-~]{8,128}$/;  // the server's rule: printable ASCII, no spaces
  // 32 symbols that cannot be misread (no 0/O, 1/I) nor broken at on a printed card ("-"), as the server's keys
  var KEY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
  var GENERATED_KEY_CHARS = 12;  // 60 random bits: plenty for a room's link, short enough to read out
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
      $("#edit-status").textContent = t("chair.saved");
      setTimeout(function () { $("#edit-status").textContent = ""; }, SAVED_SHOWN_MS);
    } else {
      $("#edit-status").textContent = t("chair.not_saved_offline");
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
    return Array.prototype.map.call(a, function (b) { return KEY_ALPHABET[b & 31]; }).join("");
  }
  /** Why the server would refuse ``key`` as a session key, or "". */
  function keyProblem(key) {
    if (!key) return t("chair.key_empty");
    if (/\s/.test(key)) return t("chair.key_spaces");
    if (key.length < 8) return t("chair.key_short");
    if (!KEY_RE.test(key)) return t("chair.key_chars");
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
    badge.textContent = pub === null ? "—" : pub ? t("chair.badge_public") : t("chair.badge_private");
    $("#access-now").textContent = pub === null ? "" : pub
      ? t("chair.access_public") : t("chair.access_private");
    if (!accessDirty && pub !== null) {
      document.querySelectorAll('input[name="access"]').forEach(function (r) {
        r.checked = r.value === (pub ? "public" : "private");
      });
      $("#key-input").value = pub ? "" : state.key || "";
    }
    var choice = selectedAccess(), apply = $("#access-apply"), keyInput = $("#key-input");
    $("#key-fields").hidden = choice !== "private";
    if (choice === "private") {
      apply.textContent = pub === false ? t("chair.set_new_key") : t("chair.make_private");
      apply.disabled = pub === false && !!state.key && keyInput.value.trim() === state.key;
    } else {
      apply.textContent = t("chair.make_public");
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
        accessStatus(isPublic ? t("chair.saved_public") : t("chair.saved_private"));
      } else {
        accessStatus(t("chair.not_saved_retry"), true);
      }
    } else if (isPublic) {
      rememberKey(null);  // a public session needs no key; a new one is set when it turns private again
    } else if (state.key) {
      C.join.checkKey(state.key).then(function (ok) {  // another console may have changed it
        if (ok === false && state.key) {
          rememberKey(null);
          C.join.showKeyError(t("chair.key_changed"));
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
    accessStatus(t("chair.not_saved", { reason: message }), true);
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
    accessStatus(t("chair.key_generated", { button: state.public === false ? t("chair.set_new_key") : t("chair.make_private") }));
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
    if (!C.socket.send(msg)) { accessStatus(t("chair.not_saved_offline"), true); return; }
    state.accessPending = { public: choice === "public", key: key };
    accessStatus(t("chair.saving"));
    renderAccess();
  });

  C.settings = {
    applyInfo: applyInfo, applyAccess: applyAccess, accessFailed: accessFailed, renderAccess: renderAccess,
    keyProblem: keyProblem, rememberKey: rememberKey
  };
})(window.Chair);
