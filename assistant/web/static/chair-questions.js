/* The chair console's questions panel: every question from the floor in the session's language with the
   original beside it, most votes first, and the chair's decisions (approve, reject, merge, answer now,
   answered). Exposes window.chairQuestionsDebug for tests.

   The list is loaded over HTTP with the chair token (when the console socket says hello, and every 30 s in
   case the console fell behind); "moderation" frames on the console socket (re-dispatched by chair-socket.js as
   "cc:frame" events) keep it live, each question keeping its highest "revision". Decisions go out as
   PATCH /api/sessions/{s}/questions/{id}. Strings come from the chair catalogue (window.I18N.t, keys
   "chair.questions.*" in static/i18n/chair.{locale}.json). */
(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$;

  var REFRESH_MS = 30000;
  var GROUPS = [  // [key, states shown in it]
    ["answering", ["answering"]], ["pending", ["pending"]], ["approved", ["approved"]], ["answered", ["answered"]],
    ["closed", ["rejected", "merged"]]
  ];
  var ACTIONS = {  // state -> the buttons it offers, in order
    pending: ["approve", "answering", "reject", "merge"],
    approved: ["answering", "answered", "reject", "merge"],
    answering: ["answered", "reject"],
    answered: ["approve"],
    rejected: ["approve"],
    merged: []
  };
  var MERGE_TARGETS = ["pending", "approved", "answering", "answered"];

  var LABELS = {  // literal catalogue keys (so tests/test_i18n.py can see each one used)
    group: { answering: "chair.questions.group.answering", pending: "chair.questions.group.pending",
             approved: "chair.questions.group.approved", answered: "chair.questions.group.answered",
             closed: "chair.questions.group.closed" },
    action: { approve: "chair.questions.action.approve", reject: "chair.questions.action.reject",
              merge: "chair.questions.action.merge", answering: "chair.questions.action.answering",
              answered: "chair.questions.action.answered" },
    state: { pending: "chair.questions.state.pending", approved: "chair.questions.state.approved",
             answering: "chair.questions.state.answering", answered: "chair.questions.state.answered",
             rejected: "chair.questions.state.rejected", merged: "chair.questions.state.merged" }
  };

  function t(key, vars) { return window.I18N.t(key, vars || {}); }
  function label(kind, name) { return LABELS[kind][name] ? t(LABELS[kind][name]) : name; }
  function languageName(code) { return window.I18N.nativeName(code); }

  var sessionId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() || "");
  var tokenKey = "cc.chair." + sessionId;  // where chair.js keeps the token (this tab only)
  var state = { questions: {}, merging: null, error: "", off: false };
  var ui = {};

  function build() {
    ui.title = el("h2", { id: "h-questions" });
    ui.count = el("span", { id: "questions-count", class: "pill", hidden: true });
    ui.error = el("p", { id: "questions-error", class: "notice error small-text", role: "alert", hidden: true });
    ui.empty = el("p", { id: "questions-empty", class: "muted" });
    ui.groups = el("div", { id: "questions-groups", class: "cq-groups" });
    ui.panel = el("section", { id: "questions-panel", class: "panel questions-panel", "aria-labelledby": "h-questions" }, [
      el("div", { class: "row space" }, [ui.title, ui.count]), ui.error, ui.empty, ui.groups
    ]);
    var after = $("#console .controls");
    after.parentNode.insertBefore(ui.panel, after.nextSibling);
    ui.groups.addEventListener("click", onClick);
  }

  // -- rendering -----------------------------------------------------------------------------------
  function ordered(states) {
    return Object.keys(state.questions).map(function (id) { return state.questions[id]; }).filter(function (q) {
      return states.indexOf(q.state) >= 0;
    }).sort(function (a, b) { return (b.votes || 0) - (a.votes || 0) || a.number - b.number; });
  }
  function render() {
    ui.title.textContent = t("chair.questions.title");
    ui.empty.textContent = t("chair.questions.empty");
    ui.error.textContent = state.error;
    ui.error.hidden = !state.error;
    var pending = ordered(["pending"]).length;
    ui.count.hidden = !pending;
    ui.count.textContent = t("chair.questions.pending_count", { count: pending });
    ui.empty.hidden = Object.keys(state.questions).length > 0;
    ui.groups.textContent = "";
    GROUPS.forEach(function (g) {
      var items = ordered(g[1]);
      if (!items.length) return;
      var list = el("ol", { class: "cq-list", dataset: { group: g[0] } });
      items.forEach(function (q) { list.appendChild(itemNode(q)); });
      var heading = el("h3", { class: "cq-group-title", text: label("group", g[0]) + " (" + items.length + ")" });
      if (g[0] === "closed") ui.groups.appendChild(el("details", { class: "cq-closed" }, [el("summary", {}, [heading]), list]));
      else ui.groups.appendChild(el("section", { class: "cq-group", dataset: { group: g[0] } }, [heading, list]));
    });
  }
  function itemNode(q) {
    var top = [
      el("span", { class: "cq-num", text: "Q" + q.number }),
      el("span", { class: "cq-votes", text: "▲ " + t("chair.questions.votes", { count: q.votes || 0 }) }),
      el("span", { class: "cq-state", dataset: { state: q.state }, text: label("state", q.state) })
    ];
    if (q.name) top.push(el("span", { class: "cq-who", text: q.name }));
    var lang = q.fallback && q.source_lang ? q.source_lang : q.lang;
    var text = el("p", { class: "cq-text", lang: lang, dir: CC.dirOf(lang) }, [q.text]);
    if (q.translating) text.appendChild(el("span", { class: "cq-tag", text: t("chair.questions.translating") }));
    if (q.fallback) text.appendChild(el("span", { class: "cq-tag", text: t("chair.questions.untranslated") }));
    var node = el("li", { class: "cq-item", dataset: { id: q.id, state: q.state } }, [el("div", { class: "cq-top" }, top), text]);
    if (q.source_text && q.source_text !== q.text) {
      node.appendChild(el("p", { class: "cq-orig", lang: q.source_lang, dir: CC.dirOf(q.source_lang) }, [
        el("small", { text: t("chair.questions.original", { language: languageName(q.source_lang) }) }), q.source_text
      ]));
    }
    if (q.state === "merged" && q.merged_into && state.questions[q.merged_into]) {
      node.appendChild(el("p", { class: "cq-note muted small-text",
                                 text: t("chair.questions.merged_into", { number: state.questions[q.merged_into].number }) }));
    }
    if (state.merging === q.id) node.appendChild(mergeForm(q));
    else {
      var buttons = (ACTIONS[q.state] || []).map(function (action) {
        return el("button", { type: "button", class: "small" + (action === "approve" ? " primary" : ""),
                              dataset: { action: action }, text: label("action", action) });
      });
      if (buttons.length) node.appendChild(el("div", { class: "cq-actions row" }, buttons));
    }
    return node;
  }
  function mergeForm(q) {
    var select = el("select", { class: "cq-merge-into", "aria-label": t("chair.questions.merge_into") });
    ordered(MERGE_TARGETS).forEach(function (o) {
      if (o.id === q.id) return;
      var short = o.text.length > 60 ? o.text.slice(0, 59) + "…" : o.text;
      select.appendChild(el("option", { value: o.id, text: "Q" + o.number + " · " + short }));
    });
    return el("div", { class: "cq-actions row" }, [
      el("label", { class: "small-text", text: t("chair.questions.merge_into") }), select,
      el("button", { type: "button", class: "small primary", dataset: { action: "merge-confirm" },
                     disabled: !select.options.length, text: t("chair.questions.merge_confirm") }),
      el("button", { type: "button", class: "small", dataset: { action: "merge-cancel" }, text: t("chair.questions.cancel") })
    ]);
  }

  // -- data ------------------------------------------------------------------------------------------
  function upsert(q) {
    var old = state.questions[q.id];
    if (old && (old.revision || 0) > (q.revision || 0)) return;
    state.questions[q.id] = q;
  }
  function api(method, path, body) {
    var token = CC.sessionStore.get(tokenKey) || "";
    var options = { method: method, headers: { Authorization: "Bearer " + token } };
    if (body) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
    return CC.fetchJson("/api/sessions/" + encodeURIComponent(sessionId) + "/questions" + path, options);
  }
  function load() {
    if (!CC.sessionStore.get(tokenKey) || state.off) return;
    api("GET", "").then(function (view) {
      (view.questions || []).forEach(upsert);
      render();
    }).catch(function () { /* the next hello or refresh tries again */ });
  }
  function decide(id, action, into) {
    var body = { action: action };
    if (into) body.into = into;
    state.error = "";
    api("PATCH", "/" + encodeURIComponent(id), body).then(function (q) {
      upsert(q);
      if (state.merging === id) state.merging = null;
      render();
      if (action !== "merge") load();  // another question may have changed with it (the previous one on screen)
    }).catch(function (err) {
      state.error = t("chair.questions.failed", { message: window.Chair.serverError(err.code, err.message) });
      render();
    });
  }
  function onClick(ev) {
    var btn = ev.target.closest("button[data-action]");
    if (!btn) return;
    var id = btn.closest(".cq-item").dataset.id, action = btn.dataset.action;
    if (action === "merge") { state.merging = id; render(); return; }
    if (action === "merge-cancel") { state.merging = null; render(); return; }
    if (action === "merge-confirm") {
      var into = btn.parentNode.querySelector(".cq-merge-into").value;
      decide(id, "merge", into);
      return;
    }
    decide(id, action);
  }
  document.addEventListener("cc:frame", function (ev) {
    var f = ev.detail || {};
    if (f.type === "hello") {
      /* A server that takes no questions (a cluster's web node says "questions": false): no panel. */
      state.off = f.questions === false;
      if (ui.panel) ui.panel.hidden = state.off;
      load();
    }
    else if (f.type === "moderation") { upsert(f); render(); }
  });
  setInterval(function () { if (!document.hidden) load(); }, REFRESH_MS);

  if (!sessionId || !$("#console .controls")) return;
  build();
  render();
  window.I18N.onchange(render);
  window.I18N.ready.then(render);

  window.chairQuestionsDebug = { state: state, load: load };
})();
