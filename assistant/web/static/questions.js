/* The floor's questions on the delegate page: ask in your own language, read the approved questions in
   yours, up-vote each once. Exposes window.questionsDebug for tests.

   Frames come over the page's caption socket (delegate.js re-dispatches every frame as a "cc:frame"
   event): a "questions" snapshot after hello when any question is visible (this page forgets its list on
   hello), then one "question" frame per change; a question keeps its highest "revision". Requests carry
   this device's random id (X-Device-Id, kept in localStorage): it lets the server count one phone and
   one vote per phone; it is not a login. Interface strings come from the page's catalogue (window.I18N.t,
   keys "questions.*" in static/i18n/{locale}.json). */
(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$;

  var DEVICE_KEY = "cc.device";
  var NAME_KEY = "cc.q.name";
  var DEVICE_CHARS = 22;  // ~131 random bits, base64url
  var REFRESH_MS = 30000;  // the asker's own questions are looked up again this often while the panel is open
  var DEFAULT_MAX_CHARS = 500;
  var VISIBLE = ["approved", "answering", "answered"];
  var LANG_RE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/;

  var STATE_KEYS = {  // literal keys, so the catalogue check (tests/test_i18n.py) sees each one used
    pending: "questions.state.pending", approved: "questions.state.approved", answering: "questions.state.answering",
    answered: "questions.state.answered", rejected: "questions.state.rejected", merged: "questions.state.merged"
  };

  // -- strings ------------------------------------------------------------------------------
  function t(key, vars) { return window.I18N.t(key, vars || {}); }
  function languageName(code) {
    return window.I18N.nativeName(code);
  }
  function uiLanguage() {
    return window.I18N.locale || "";
  }

  // -- this device ---------------------------------------------------------------------------
  function deviceId() {
    var id = CC.store.get(DEVICE_KEY, "");
    if (/^[A-Za-z0-9_-]{16,64}$/.test(id)) return id;
    var bytes = new Uint8Array(DEVICE_CHARS), alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    crypto.getRandomValues(bytes);
    id = Array.prototype.map.call(bytes, function (b) { return alphabet[b & 63]; }).join("");
    CC.store.set(DEVICE_KEY, id);
    return id;
  }

  var sessionId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() || "");
  var sessionKey = new URLSearchParams(location.search).get("key") || "";
  var device = deviceId();

  var state = {
    lang: "",            // the caption language this page reads (from hello)
    languages: [],       // the session's reading languages (from hello)
    open: false,
    questions: {},       // id -> question as readers of state.lang see it
    mine: [],            // this device's questions, as asked
    voted: {},           // id -> true
    limits: { max_chars: DEFAULT_MAX_CHARS, max_name_chars: 60 },
    sending: false,
    status: null,        // {key, vars, error} shown under the form
    off: false           // the server takes no questions (hello said "questions": false)
  };

  // -- the page's parts ---------------------------------------------------------------------
  var ui = {};
  function build() {
    var controls = $(".bar-controls"), inner = $(".bar-inner"), app = $(".app");
    ui.button = el("button", { id: "q-btn", type: "button", class: "q-btn", "aria-expanded": "false",
                               "aria-controls": "questions" }, [bubbleIcon(), el("span", { class: "q-btn-label" }),
                               el("span", { id: "q-badge", class: "q-badge", translate: "no", hidden: true })]);
    controls.insertBefore(ui.button, $("#settings-btn"));
    ui.now = el("button", { id: "q-now", type: "button", class: "q-now", hidden: true });
    inner.appendChild(ui.now);
    ui.panel = el("section", { id: "questions", class: "q-panel", hidden: true, "aria-labelledby": "q-title" });
    ui.title = el("h2", { id: "q-title" });
    ui.close = el("button", { id: "q-close", type: "button", class: "q-close" }, [el("span", { "aria-hidden": "true", translate: "no", text: "×" })]);
    ui.text = el("textarea", { id: "q-text", rows: "3", maxlength: String(DEFAULT_MAX_CHARS), "aria-describedby": "q-count q-status" });
    ui.textLabel = el("label", { for: "q-text" });
    ui.count = el("span", { id: "q-count", class: "q-count muted" });
    ui.name = el("input", { id: "q-name", type: "text", autocomplete: "name", maxlength: "60" });
    ui.nameLabel = el("label", { for: "q-name" });
    ui.lang = el("select", { id: "q-lang" });
    ui.langLabel = el("label", { for: "q-lang" });
    ui.send = el("button", { id: "q-send", type: "submit", class: "primary" });
    ui.status = el("p", { id: "q-status", class: "q-status", role: "status", "aria-live": "polite" });
    ui.hint = el("p", { class: "q-hint muted" });
    ui.form = el("form", { id: "q-form", class: "q-form", novalidate: true }, [
      ui.textLabel, ui.text,
      el("div", { class: "q-fields" }, [
        el("div", { class: "q-field" }, [ui.nameLabel, ui.name]),
        el("div", { class: "q-field" }, [ui.langLabel, ui.lang])
      ]),
      el("div", { class: "q-row" }, [ui.count, ui.send]), ui.status, ui.hint
    ]);
    ui.mineTitle = el("h3", { id: "q-mine-title", hidden: true });
    ui.mine = el("ul", { id: "q-mine", class: "q-mine", "aria-labelledby": "q-mine-title" });
    ui.listTitle = el("h3", { id: "q-list-title" });
    ui.empty = el("p", { id: "q-empty", class: "muted" });
    ui.list = el("ol", { id: "q-list", class: "q-list", "aria-labelledby": "q-list-title" });
    ui.panel.appendChild(el("div", { class: "q-inner" }, [
      el("div", { class: "q-head" }, [ui.title, ui.close]), ui.form, ui.mineTitle, ui.mine,
      ui.listTitle, ui.empty, ui.list
    ]));
    app.appendChild(ui.panel);
    ui.name.value = CC.store.get(NAME_KEY, "");

    ui.button.addEventListener("click", function () { setOpen(!state.open); });
    ui.now.addEventListener("click", function () { setOpen(true); });
    ui.close.addEventListener("click", function () { setOpen(false); ui.button.focus(); });
    ui.panel.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { setOpen(false); ui.button.focus(); } });
    ui.text.addEventListener("input", renderCount);
    ui.name.addEventListener("change", function () { CC.store.set(NAME_KEY, ui.name.value.trim()); });
    ui.form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(); });
    ui.list.addEventListener("click", function (ev) {
      var btn = ev.target.closest(".q-vote");
      if (btn && !btn.disabled) vote(btn.closest(".q-item").dataset.id);
    });
    window.addEventListener("resize", placePanel);
  }
  function bubbleIcon() {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"), path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", "20"); svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 012 2v10a2 2 0 01-2 2H9l-5 4v-4a2 2 0 01-2-2V5a2 2 0 012-2zm7 10v2h2v-2zm1-8a3.5 3.5 0 00-3.5 3.5h2A1.5 1.5 0 1112 10c-.8 0-1 .6-1 1.5V12h2v-.4c0-.3.2-.5.6-.8A3.5 3.5 0 0012 5z");
    svg.appendChild(path);
    return svg;
  }

  function setOpen(open) {
    state.open = open;
    ui.panel.hidden = !open;
    ui.button.setAttribute("aria-expanded", String(open));
    if (open) {
      placePanel();
      refreshMine();
      ui.text.focus({ preventScroll: true });
    }
  }
  /* The panel covers the captions, under the bar (whose height changes with its notices). */
  function placePanel() {
    var bar = $(".bar");
    ui.panel.style.top = (bar ? bar.offsetHeight : 0) + "px";
  }

  // -- rendering -------------------------------------------------------------------------------
  function renderStatic() {
    ui.button.setAttribute("aria-label", t("questions.open"));
    ui.button.title = t("questions.open");
    ui.button.querySelector(".q-btn-label").textContent = t("questions.open");
    ui.title.textContent = t("questions.title");
    ui.close.setAttribute("aria-label", t("questions.close"));
    ui.close.title = t("questions.close");
    ui.textLabel.textContent = t("questions.ask_label");
    ui.text.placeholder = t("questions.ask_placeholder");
    ui.nameLabel.textContent = t("questions.name_label");
    ui.langLabel.textContent = t("questions.lang_label");
    ui.hint.textContent = t("questions.hint");
    ui.mineTitle.textContent = t("questions.mine");
    ui.listTitle.textContent = t("questions.list");
    ui.empty.textContent = t("questions.empty");
    renderSend(); renderCount(); renderStatus(); renderLanguages(); renderMine(); renderList();
  }
  function renderSend() {
    ui.send.textContent = t(state.sending ? "questions.sending" : "questions.send");
    ui.send.disabled = state.sending;
  }
  function renderCount() {
    var max = state.limits.max_chars || DEFAULT_MAX_CHARS;
    ui.text.maxLength = max;
    ui.count.textContent = t("questions.count", { count: ui.text.value.length, max: max });
  }
  function renderStatus() {
    var s = state.status;
    ui.status.textContent = s ? t(s.key, s.vars) : "";
    ui.status.classList.toggle("error", !!(s && s.error));
  }
  /* "Written in": the languages this person most likely writes, their interface's first. */
  function renderLanguages() {
    var wanted = [];
    function add(tag) {
      var code = String(tag || "").split("-")[0].toLowerCase();
      if (tag === "zh-Hant" || /^zh-(TW|HK|MO)/i.test(String(tag))) code = "zh";
      if (LANG_RE.test(code) && wanted.indexOf(code) < 0) wanted.push(code);
    }
    add(uiLanguage());
    (navigator.languages || [navigator.language]).forEach(add);
    add(state.lang);
    state.languages.forEach(add);
    var current = ui.lang.value;
    ui.lang.textContent = "";
    wanted.forEach(function (code) {
      ui.lang.appendChild(el("option", { value: code, lang: code, text: languageName(code) }));
    });
    ui.lang.value = wanted.indexOf(current) >= 0 ? current : wanted[0] || "en";
  }
  function stateLabel(s) { return STATE_KEYS[s] ? t(STATE_KEYS[s]) : s; }
  function renderMine() {
    ui.mine.textContent = "";
    ui.mineTitle.hidden = !state.mine.length;
    state.mine.slice().reverse().forEach(function (q) {
      ui.mine.appendChild(el("li", { class: "q-own", dataset: { id: q.id, state: q.state } }, [
        el("p", { class: "q-text", lang: q.lang, dir: CC.dirOf(q.lang), text: q.text }),
        el("p", { class: "q-meta" }, [el("span", { class: "q-tag", dataset: { state: q.state }, text: stateLabel(q.state) })])
      ]));
    });
  }
  function sorted() {
    return Object.keys(state.questions).map(function (id) { return state.questions[id]; }).sort(function (a, b) {
      return (b.votes || 0) - (a.votes || 0) || a.number - b.number;
    });
  }
  function renderList() {
    var items = sorted();
    ui.list.textContent = "";
    ui.empty.hidden = items.length > 0;
    items.forEach(function (q) { ui.list.appendChild(itemNode(q)); });
    var now = items.filter(function (q) { return q.state === "answering"; })[0];
    ui.now.hidden = !now;
    if (now) {
      ui.now.textContent = "";
      ui.now.appendChild(el("strong", { text: t("questions.now") }));
      var nowLang = textLang(now);
      ui.now.appendChild(el("span", { class: "q-now-text", lang: nowLang, dir: CC.dirOf(nowLang),
                                       text: now.text }));
    }
    var badge = $("#q-badge");
    badge.hidden = !items.length;
    badge.textContent = String(items.length);
  }
  function textLang(q) { return q.fallback && q.source_lang ? q.source_lang : q.lang; }
  function itemNode(q) {
    var lang = textLang(q), voted = !!state.voted[q.id];
    var meta = [];
    if (q.name) meta.push(el("span", { class: "q-name", text: q.name }));
    if (q.state !== "approved") meta.push(el("span", { class: "q-tag", dataset: { state: q.state }, text: stateLabel(q.state) }));
    if (q.machine_translated) meta.push(el("span", { class: "q-tag", text: t("questions.machine") }));
    if (q.fallback) meta.push(el("span", { class: "q-tag", text: t("questions.untranslated") }));
    var main = el("div", { class: "q-main" }, [
      el("p", { class: "q-text", lang: lang, dir: CC.dirOf(lang), text: q.text }),
      meta.length ? el("p", { class: "q-meta" }, meta) : null
    ]);
    if (q.source_text && !q.fallback && q.source_text !== q.text) {
      main.appendChild(el("details", { class: "q-orig" }, [
        el("summary", { text: t("questions.original") + " · " + languageName(q.source_lang) }),
        el("p", { lang: q.source_lang, dir: CC.dirOf(q.source_lang), text: q.source_text })
      ]));
    }
    var votes = t("questions.votes", { count: q.votes || 0 });
    var button = el("button", {
      type: "button", class: "q-vote", "aria-pressed": String(voted), disabled: voted || q.state === "answered",
      "aria-label": (voted ? t("questions.voted") : t("questions.vote")) + " (" + votes + ")",
      title: voted ? t("questions.voted") : t("questions.vote")
    }, [el("span", { "aria-hidden": "true", text: "▲" }), el("span", { class: "q-votes", text: String(q.votes || 0) })]);
    return el("li", { class: "q-item", dataset: { id: q.id, state: q.state } }, [main, button]);
  }

  // -- frames from the caption socket -----------------------------------------------------------
  function upsert(q) {
    var old = state.questions[q.id];
    if (old && (old.revision || 0) > (q.revision || 0)) return;
    if (VISIBLE.indexOf(q.state) < 0) delete state.questions[q.id];
    else if (q.text !== undefined && (!q.lang || q.lang === state.lang)) state.questions[q.id] = q;
    else if (old) { old.state = q.state; old.votes = q.votes; old.revision = q.revision; }
    state.mine.forEach(function (m) {
      if (m.id === q.id) { m.state = q.state; if (typeof q.votes === "number") m.votes = q.votes; }
    });
  }
  document.addEventListener("cc:frame", function (ev) {
    var f = ev.detail || {};
    if (f.type === "hello") {
      /* A server that takes no questions (a cluster's web node says "questions": false) offers none. */
      state.off = f.questions === false;
      ui.button.hidden = state.off;
      if (state.off) setOpen(false);
      if (f.session && f.session !== sessionId) {  // the room page moved on to the next talk
        sessionId = f.session;
        state.mine = [];
        state.voted = {};
        renderCount(); renderMine();
      }
      state.lang = f.lang || state.lang;
      state.languages = Array.isArray(f.languages) ? f.languages : state.languages;
      state.questions = {};
      renderLanguages();
      renderList();
      refreshMine();
    } else if (f.type === "questions") {
      if (f.lang && f.lang !== state.lang) return;
      state.questions = {};
      (f.questions || []).forEach(upsert);
      renderList(); renderMine();
    } else if (f.type === "question") {
      upsert(f);
      renderList(); renderMine();
    }
  });

  // -- requests ----------------------------------------------------------------------------------
  function apiUrl(path, query) {
    var q = [];
    if (query) q.push(query);
    if (sessionKey) q.push("key=" + encodeURIComponent(sessionKey));
    return "/api/sessions/" + encodeURIComponent(sessionId) + "/questions" + (path || "") + (q.length ? "?" + q.join("&") : "");
  }
  function request(method, path, body, query) {
    var options = { method: method, headers: { "X-Device-Id": device } };
    if (body) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
    return fetch(apiUrl(path, query), options).then(function (resp) {
      if (resp.ok) return resp.json();
      return resp.json().catch(function () { return {}; }).then(function (b) {
        var err = new Error((b.error && b.error.message) || String(resp.status));
        err.code = (b.error && b.error.code) || "http_" + resp.status;
        err.retryAfter = b.error && b.error.retry_after_s;
        throw err;
      });
    });
  }
  var refreshing = null;
  function refreshMine() {
    if (!state.lang || refreshing || state.off) return;
    refreshing = request("GET", "", null, "lang=" + encodeURIComponent(state.lang)).then(function (view) {
      state.mine = view.mine || [];
      state.voted = {};
      (view.voted || []).forEach(function (id) { state.voted[id] = true; });
      if (view.limits) state.limits = view.limits;
      if (view.lang === state.lang) (view.questions || []).forEach(upsert);
      renderCount(); renderMine(); renderList();
    }).catch(function () { /* shown again on the next try */ }).then(function () { refreshing = null; });
  }
  setInterval(function () { if (state.open && !document.hidden) refreshMine(); }, REFRESH_MS);

  function errorStatus(err) {
    var codes = {
      rate_limited: "questions.error.wait", question_limit: "questions.error.limit", too_long: "questions.error.too_long",
      empty: "questions.error.empty", ended: "questions.error.ended", unauthorized: "questions.error.private"
    };
    if (!err.code) return { key: "questions.error.network", error: true };
    if (err.code === "rate_limited" && !err.retryAfter) return { key: "questions.error.other", vars: { message: err.message }, error: true };
    return { key: codes[err.code] || "questions.error.other", error: true,
             vars: { seconds: err.retryAfter, max: state.limits.max_chars, message: err.message } };
  }
  function submit() {
    var text = ui.text.value.trim();
    if (!text) { state.status = { key: "questions.error.empty", error: true }; renderStatus(); ui.text.focus(); return; }
    if (state.sending) return;
    state.sending = true;
    state.status = null;
    renderSend(); renderStatus();
    var body = { text: text, lang: ui.lang.value || state.lang };
    var name = ui.name.value.trim();
    if (name) body.name = name;
    CC.store.set(NAME_KEY, name);
    request("POST", "", body).then(function (res) {
      state.mine.push(res.question);
      ui.text.value = "";
      state.status = { key: "questions.sent" };
      renderMine();
    }).catch(function (err) {
      state.status = err instanceof TypeError ? { key: "questions.error.network", error: true } : errorStatus(err);
    }).then(function () {
      state.sending = false;
      renderSend(); renderCount(); renderStatus();
    });
  }
  function vote(id) {
    state.voted[id] = true;  // at once: a second tap must not send a second request
    renderList();
    request("POST", "/" + encodeURIComponent(id) + "/vote").then(function (res) {
      var q = state.questions[res.id];
      if (q && typeof res.votes === "number" && res.votes > (q.votes || 0)) q.votes = res.votes;
      if (res.id !== id) state.voted[res.id] = true;  // a vote for a merged question counts for the kept one
      renderList();
    }).catch(function (err) {
      delete state.voted[id];
      state.status = err instanceof TypeError ? { key: "questions.error.network", error: true } : errorStatus(err);
      renderList(); renderStatus();
    });
  }

  if (!sessionId) return;
  build();
  renderStatic();
  window.I18N.onchange(renderStatic);
  window.I18N.ready.then(renderStatic);

  window.questionsDebug = { state: state, device: device, refresh: refreshMine };
})();
