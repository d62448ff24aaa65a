/* The staff page: every session with its languages, authenticated downloads of the exports, a form for a new
   room, and room cards to print (one page per room: title, QR code, web address, languages).
   Interface strings come from the staff catalogue (English and Chinese). Languages nobody read live
   are translated as they download; the page follows each export by job id. */
window.I18N.ready.then(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, I18N = window.I18N, t = I18N.t;
  var TOKEN_KEY = "cc.staff";
  // Keys of private rooms made in this tab (room id -> key): their room cards carry them. Gone with the tab.
  var KEYS_KEY = "cc.staff.keys";
  // [format, its name: a catalogue key, or null where the name is the format's own (SRT, WebVTT, JSON)]
  var FORMATS = [["srt", null, "SRT"], ["vtt", null, "WebVTT"], ["txt", "staff.format_text"], ["json", null, "JSON"],
                 ["docx", "staff.format_word"]];
  var STATES = { live: "state.live", paused: "state.paused", idle: "state.idle", ended: "state.ended" };
  var BYTE_UNITS = [[1048576, "megabyte"], [1024, "kilobyte"], [1, "byte"]];
  // A room's "now" line (readers, how far captions trail the speech, the audio) is refreshed this often, and
  // calls recognition slow past SLOW_MS behind (the delegate page says "N s behind" from 4 s).
  var LIVE_REFRESH_MS = 10000;
  var SLOW_MS = 10000;
  var LIVE_LANGUAGES_SHOWN = 6;
  var shown = null;  // the sessions on screen, redrawn when the interface language changes
  var statusLine = null;  // [key, values] of the status line
  var offered = null;  // GET /api/languages: {spoken: [...], targets: {spoken: [...]}}
  var created = null;  // the answer to the last "Create room", shown until the next one

  var token = CC.takeTokenFromHash(TOKEN_KEY);

  function showError(text) {
    $("#error").textContent = text || "";
    $("#error").hidden = !text;
  }
  function explain(err) {
    if (err.status === 401) return t("staff.wrong_token");
    if (err.status === 404) return t("staff.not_found", { message: err.message });
    if (err.status) return t("staff.http_error", { status: String(err.status), message: err.message });
    return t("staff.unreachable", { message: err.message });
  }
  function setStatus(key, values) {
    statusLine = key ? [key, values || {}] : null;
    $("#status").textContent = key ? t(key, values) : "";
  }
  function stateName(state) { return STATES[state] ? t(STATES[state]) : state; }
  function authHeaders() { return { Authorization: "Bearer " + token }; }
  function knownKeys() {
    try { return JSON.parse(CC.sessionStore.get(KEYS_KEY) || "{}") || {}; } catch (e) { return {}; }
  }
  function rememberKey(id, key) {
    var keys = knownKeys();
    keys[id] = key;
    CC.sessionStore.set(KEYS_KEY, JSON.stringify(keys));
  }

  async function load() {
    showError("");
    setStatus("staff.loading");
    try {
      var data = await CC.fetchJson("/api/sessions", { headers: authHeaders(), cache: "no-store" });
      shown = data.sessions || [];
      render(shown);
      setStatus("staff.count", { count: shown.length });
      $("#forget").hidden = false;
      $("#list-tools").hidden = !shown.length;
      $("#token").setAttribute("data-i18n-placeholder", "staff.token_saved");
      I18N.apply($("#token-form"));
      $("#token").required = false;
      if (!offered) loadLanguages();
    } catch (e) {
      shown = null;
      $("#sessions").textContent = "";
      $("#list-tools").hidden = true;
      setStatus(null);
      showError(explain(e));
      if (e.status === 401) { CC.sessionStore.remove(TOKEN_KEY); $("#token").focus(); }
    }
  }

  function render(sessions) {
    var root = $("#sessions"), keys = knownKeys();
    root.textContent = "";
    if (!sessions.length) root.appendChild(el("p", { class: "panel muted", text: t("staff.none") }));
    sessions.forEach(function (s) {
      var langs = s.export_languages || (s.stored_languages && s.stored_languages.length ? s.stored_languages : (s.languages || []));
      var counts = s.captions || {};
      var rows = langs.map(function (lang) {
        return el("tr", { dataset: { lang: lang } }, [
          el("th", { scope: "row" }, [t("staff.language_row", { language: CC.localName(lang), code: lang }),
            typeof counts[lang] === "number" ? el("span", { class: "count", text: t("staff.captions", { count: counts[lang] }) }) : null]),
          el("td", {}, [el("div", { class: "row" }, FORMATS.map(function (f) {
            var name = f[1] ? t(f[1]) : f[2];
            return el("button", { type: "button", class: "small", dataset: { fmt: f[0], lang: lang },
              translate: f[1] ? null : "no",
              "aria-label": t("staff.format_label", { format: name, language: CC.localName(lang) }),
              onclick: function (ev) { download(ev.currentTarget, exportUrl(s.id, f[0], lang), s.id + "-" + lang + "." + f[0]); },
              text: name });
          }))]),
          exportChoice(s, lang)
        ]);
      });
      var started = s.started_at ? t("staff.started", { time: new Date(s.started_at).toLocaleString(I18N.locale) })
                                 : t("staff.not_started");
      root.appendChild(el("section", { class: "panel session", dataset: { id: s.id } }, [
        el("h2", { text: s.title || s.id }),
        el("div", { class: "meta" }, [
          el("span", { class: "pill", dataset: { state: s.state }, text: stateName(s.state) }),
          el("code", { text: s.id }),
          el("span", { class: "muted", text: started })
        ]),
        liveLine(s),
        langs.length ? el("table", { class: "exports" }, [el("tbody", {}, rows)])
                     : el("p", { class: "muted", text: t("staff.no_captions") }),
        el("div", { class: "row session-actions" }, [
          el("button", { type: "button", class: "primary zip", dataset: { fmt: "zip" },
            onclick: function (ev) { download(ev.currentTarget, zipUrl(s.id, ev.currentTarget.closest(".session")), s.id + ".zip"); },
            text: t("staff.zip") }),
          cardChoice(s, keys[s.id])
        ])
      ]));
    });
  }

  /* How a room running now is doing, at a glance: its readers (by language), how far its captions trail the
     speech, the audio coming in. Empty for a room that is not live or paused. */
  function liveLine(s) {
    var line = el("p", { class: "live" });
    fillLive(line, s);
    return line;
  }
  function fillLive(line, s) {
    line.textContent = "";
    line.classList.remove("slow");
    line.hidden = s.state !== "live" && s.state !== "paused";
    if (line.hidden) return;
    var readers = s.readers || {}, langs = Object.keys(readers).filter(function (l) { return readers[l] > 0; });
    langs.sort(function (a, b) { return readers[b] - readers[a] || (a < b ? -1 : 1); });
    var total = langs.reduce(function (n, l) { return n + readers[l]; }, 0);
    var parts = [el("span", { class: "live-readers", text: t("staff.live_readers", { count: total }) +
      (langs.length ? " (" + langs.slice(0, LIVE_LANGUAGES_SHOWN).map(function (l) { return l + " " + readers[l]; })
        .join(" · ") + (langs.length > LIVE_LANGUAGES_SHOWN ? " …" : "") + ")" : "") })];
    if (s.state === "live" && s.speech !== false) {
      if (typeof s.lag_ms === "number") {
        var seconds = (s.lag_ms / 1000).toLocaleString(I18N.locale, { maximumFractionDigits: 1 });
        var slow = s.lag_ms >= SLOW_MS;
        line.classList.toggle("slow", slow);
        parts.push(el("span", { class: "live-lag", text: t(slow ? "staff.live_slow" : "staff.live_behind", { seconds: seconds }) }));
      }
      parts.push(el("span", { class: "live-audio", text: s.audio_source && typeof s.level_db === "number"
        ? t("staff.live_audio", { level: Math.round(s.level_db).toLocaleString(I18N.locale) }) : t("staff.live_no_audio") }));
    }
    parts.forEach(function (p) { line.appendChild(p); });
  }
  /* The "now" lines and states of the rooms on screen, again (the export tables are left as they are). */
  async function refreshLive() {
    if (!shown || !token || document.hidden) return;
    try {
      var data = await CC.fetchJson("/api/sessions", { headers: authHeaders(), cache: "no-store" });
      var fresh = {};
      (data.sessions || []).forEach(function (s) { fresh[s.id] = s; });
      shown = shown.map(function (old) { return fresh[old.id] || old; });
      shown.forEach(function (s) {
        var section = document.querySelector(".session[data-id='" + cssEscape(s.id) + "']");
        if (!section) return;
        var pill = section.querySelector(".meta .pill");
        pill.dataset.state = s.state;
        pill.textContent = stateName(s.state);
        fillLive(section.querySelector(".live"), s);
      });
    } catch (e) { /* the next refresh tries again; "Show sessions" says what is wrong */ }
  }
  setInterval(refreshLive, LIVE_REFRESH_MS);
  window.staffDebug = { refreshLive: refreshLive };

  /* Whether a room gets a card when cards are printed (rooms still running do, by default); a private room's
     card carries its key, so one not made in this tab asks for it. */
  function cardChoice(s, key) {
    var boxId = "card-" + s.id, keyId = "card-key-" + s.id;
    return el("div", { class: "card-choice" }, [
      el("label", { class: "check", for: boxId }, [
        el("input", { type: "checkbox", id: boxId, class: "card-pick", checked: s.state !== "ended" }),
        " ", el("span", { text: t("staff.card_pick") })]),
      s.public === false && !key ? el("span", { class: "card-key" }, [
        el("label", { for: keyId, text: t("staff.card_key") }),
        el("input", { type: "text", id: keyId, class: "card-key-input", spellcheck: "false", autocomplete: "off" })
      ]) : null
    ]);
  }

  function exportUrl(id, fmt, lang) {
    return "/api/sessions/" + encodeURIComponent(id) + "/export." + fmt + "?lang=" + encodeURIComponent(lang);
  }

  async function download(button, url, fallbackName) {
    showError("");
    button.classList.add("busy");
    button.setAttribute("aria-busy", "true");
    var job = newJobId(), stopFollowing = followProgress(job, fallbackName);
    try {
      var resp = await fetch(url + (url.indexOf("?") >= 0 ? "&" : "?") + "job=" + job, { headers: authHeaders(), cache: "no-store" });
      if (!resp.ok) throw await CC.apiError(resp);
      var blob = await resp.blob();
      var name = CC.dispositionFilename(resp.headers.get("Content-Disposition"), fallbackName);
      var href = URL.createObjectURL(blob);
      var a = el("a", { href: href, download: name, hidden: true });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(href); }, 60000);
      setStatus("staff.downloaded", { name: name, size: formatBytes(blob.size) });
    } catch (e) {
      showError(explain(e));
    } finally {
      stopFollowing();
      button.classList.remove("busy");
      button.removeAttribute("aria-busy");
    }
  }
  // -- languages translated on download, the zip's choice of languages, and progress ------------------
  var PROGRESS_POLL_MS = 400;

  function exportChoice(s, lang) {
    var stored = (s.stored_languages || []).indexOf(lang) >= 0;
    return el("td", { class: "choice" }, [
      stored ? null : el("span", { class: "ondemand muted", text: t("staff.ondemand") }),
      el("label", { class: "in-zip" }, [el("input", { type: "checkbox", class: "zip-lang", value: lang,
        checked: stored, "aria-label": t("staff.in_zip_label", { language: CC.localName(lang) }) }),
        " " + t("staff.in_zip")])
    ]);
  }

  function zipUrl(id, section) {
    var chosen = Array.prototype.map.call(section.querySelectorAll("input.zip-lang:checked"), function (box) { return box.value; });
    return "/api/sessions/" + encodeURIComponent(id) + "/export.zip" + (chosen.length ? "?langs=" + chosen.map(encodeURIComponent).join(",") : "");
  }

  function newJobId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);  // randomUUID needs https; this page may be served over plain http on a LAN
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /* Poll GET /api/exports/{job} while the file downloads; show it in #status and the progress bar. */
  function followProgress(job, name) {
    var bar = $("#export-progress"), stopped = false;
    async function poll() {
      while (!stopped) {
        try {
          var p = await CC.fetchJson("/api/exports/" + job, { headers: authHeaders(), cache: "no-store" });
          if (!stopped && p.state === "running") showProgress(bar, p, name);
        } catch (e) { /* not started yet, or finished: the download itself reports */ }
        await new Promise(function (done) { setTimeout(done, PROGRESS_POLL_MS); });
      }
    }
    poll();
    return function () { stopped = true; bar.hidden = true; };
  }

  function showProgress(bar, p, name) {
    var translating = p.translations_total > 0 && p.translations_done < p.translations_total;
    var done = translating ? p.translations_done : p.captions_done;
    var total = translating ? p.translations_total : p.captions_total;
    bar.max = Math.max(total, 1);
    bar.value = Math.min(done, bar.max);
    bar.hidden = false;
    setStatus(translating ? "staff.progress_translating" : "staff.progress_preparing",
              { language: CC.localName(p.lang || ""), name: name, done: String(done), count: total });
  }

  function formatBytes(n) {
    var unit = BYTE_UNITS.filter(function (u) { return n >= u[0]; })[0] || BYTE_UNITS[BYTE_UNITS.length - 1];
    try {
      return new Intl.NumberFormat(I18N.locale, { style: "unit", unit: unit[1], unitDisplay: "short",
                                                 maximumFractionDigits: 1 }).format(n / unit[0]);
    } catch (e) { return n + " B"; }
  }

  // -- a new room ---------------------------------------------------------------
  async function loadLanguages() {
    try {
      offered = await CC.fetchJson("/api/languages", { headers: authHeaders(), cache: "no-store" });
    } catch (e) {
      showError(explain(e));
      return;
    }
    renderSpoken();
    $("#new-room").hidden = false;
    if (shown && !shown.length) $("#new-room-form").open = true;  // nothing to export yet: make a room
  }
  function renderSpoken() {
    var select = $("#room-spoken"), was = select.value || "en";
    var codes = (offered.spoken || []).filter(function (c) { return c !== "auto"; });
    codes.sort(function (a, b) { return CC.languageLabel(a).localeCompare(CC.languageLabel(b), I18N.locale); });
    select.textContent = "";
    select.appendChild(el("option", { value: "auto", text: t("staff.auto") }));
    codes.forEach(function (code) { select.appendChild(el("option", { value: code, text: CC.languageLabel(code) })); });
    select.value = codes.indexOf(was) >= 0 || was === "auto" ? was : "auto";
    renderTargets();
  }
  function renderTargets() {
    var box = $("#room-targets"), spoken = $("#room-spoken").value;
    var checked = Array.prototype.map.call(box.querySelectorAll("input:checked"), function (i) { return i.value; });
    var targets = ((offered.targets || {})[spoken] || []).slice();
    targets.sort(function (a, b) { return CC.languageLabel(a).localeCompare(CC.languageLabel(b), I18N.locale); });
    box.textContent = "";
    if (!targets.length) box.appendChild(el("p", { class: "muted", text: t("staff.no_targets") }));
    targets.forEach(function (code) {
      box.appendChild(el("label", { class: "check" }, [
        el("input", { type: "checkbox", name: "produced", value: code, checked: checked.indexOf(code) >= 0 }),
        " ", el("span", { text: CC.languageLabel(code) })]));
    });
  }

  async function createRoom() {
    showError("");
    var privacy = document.querySelector("input[name=privacy]:checked").value;
    var glossary = $("#room-glossary").value.split("\n").map(function (l) { return l.trim(); })
      .filter(function (l) { return l; });
    var body = {
      id: $("#room-id").value.trim(),
      title: $("#room-title").value.trim(),
      language: $("#room-spoken").value,
      languages: Array.prototype.map.call($("#room-targets").querySelectorAll("input:checked"), function (i) { return i.value; }),
      glossary: glossary,
      public: privacy === "public"
    };
    if ($("#room-chair-token").checked) body.chair_token = true;
    var submit = $("#room-form button[type=submit]");
    submit.disabled = true;
    try {
      var answer = await CC.fetchJson("/api/sessions", {
        method: "POST", headers: Object.assign({ "Content-Type": "application/json" }, authHeaders()),
        body: JSON.stringify(body), cache: "no-store" });
      if (answer.key) rememberKey(answer.id, answer.key);
      created = { answer: answer, askedToken: !!body.chair_token };
      renderCreated();
      var spoken = $("#room-spoken").value;
      $("#room-form").reset();
      $("#room-spoken").value = spoken;  // the next room is most likely in the same language
      renderTargets();
      await load();
    } catch (e) {
      showError(explain(e));
    } finally {
      submit.disabled = false;
    }
  }
  /* What a new room's answer carries once: its link, its key when private, its own chair token when asked. */
  function renderCreated() {
    var box = $("#created");
    box.textContent = "";
    box.hidden = !created;
    if (!created) return;
    var a = created.answer, rows = [];
    rows.push([t("staff.join_link"), el("a", { href: a.url, text: a.url, target: "_blank", rel: "noopener" })]);
    if (a.key) rows.push([t("staff.key"), el("code", { class: "secret", text: a.key })]);
    if (a.chair_token) {
      rows.push([t("staff.chair_token"), el("span", {}, [el("code", { class: "secret", text: a.chair_token }), " ",
        el("a", { href: "/chair/" + encodeURIComponent(a.id) + "#token=" + encodeURIComponent(a.chair_token),
                  target: "_blank", rel: "noopener", text: t("staff.open_chair") })])]);
    }
    box.appendChild(el("h3", { text: t("staff.created", { title: a.title || a.id }) }));
    box.appendChild(el("dl", {}, rows.reduce(function (out, r) {
      return out.concat([el("dt", { text: r[0] }), el("dd", {}, [r[1]])]);
    }, [])));
    if (created.askedToken && !a.chair_token) box.appendChild(el("p", { class: "notice", text: t("staff.no_chair_token") }));
    if (a.key || a.chair_token) box.appendChild(el("p", { class: "muted", text: t("staff.shown_once") }));
  }

  // -- room cards ---------------------------------------------------------------
  /* One printed page per chosen room (the print stylesheet shows nothing else). A private room's QR code is
     asked for with its key and no token: the server checks the key, and the code carries it. */
  async function prepareCards() {
    showError("");
    var keys = knownKeys(), chosen = [];
    (shown || []).forEach(function (s) {
      var section = document.querySelector('.session[data-id="' + cssEscape(s.id) + '"]');
      if (!section || !section.querySelector("input.card-pick").checked) return;
      var typed = section.querySelector("input.card-key-input");
      chosen.push({ s: s, key: s.public === false ? (keys[s.id] || (typed ? typed.value.trim() : "")) : "" });
    });
    if (!chosen.length) { showError(t("staff.no_cards")); return false; }
    var missing = chosen.filter(function (c) { return c.s.public === false && !c.key; })[0];
    if (missing) { showError(t("staff.card_needs_key", { title: missing.s.title || missing.s.id })); return false; }
    var pages = [];
    for (var i = 0; i < chosen.length; i++) {
      var c = chosen[i], qr = "/api/sessions/" + encodeURIComponent(c.s.id) + "/qr.svg";
      var resp = await fetch(c.key ? qr + "?key=" + encodeURIComponent(c.key) : qr, { cache: "no-store" });
      if (resp.status === 401 && c.key) { showError(t("staff.card_wrong_key", { title: c.s.title || c.s.id })); return false; }
      if (!resp.ok) { showError(explain(await CC.apiError(resp))); return false; }
      pages.push(card(c.s, c.key, await resp.text()));
    }
    var root = $("#cards");
    root.textContent = "";
    pages.forEach(function (p) { root.appendChild(p); });
    await Promise.all(Array.prototype.map.call(root.querySelectorAll("img"), function (img) {
      return img.decode ? img.decode().catch(function () {}) : Promise.resolve();
    }));
    setStatus("staff.cards_ready", { count: pages.length });
    return true;
  }
  function card(s, key, svg) {
    var url = s.url + (key ? "?key=" + encodeURIComponent(key) : "");
    var langs = (s.languages || []).filter(function (code) { return code !== "auto"; });
    return el("section", { class: "card-page", dataset: { id: s.id } }, [
      el("h1", { class: "card-title", text: s.title || s.id }),
      el("p", { class: "card-lead", text: t("staff.card_scan") }),
      el("img", { class: "card-qr", alt: t("staff.card_qr_alt", { title: s.title || s.id }),
                  src: "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg) }),
      el("p", { class: "card-url", translate: "no", text: url }),
      langs.length ? el("h2", { class: "card-langs-heading", text: t("staff.card_languages") }) : null,
      el("ul", { class: "card-langs" }, langs.map(function (code) {
        return el("li", { lang: code, dir: CC.dirOf(code), text: CC.nativeName(code) });
      }))
    ]);
  }
  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(String(s)) : String(s).replace(/["\\]/g, "\\$&"); }

  // -- wiring ---------------------------------------------------------------------
  $("#token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var typed = $("#token").value.trim();
    if (!typed && !token) return;
    if (typed) token = typed;
    CC.sessionStore.set(TOKEN_KEY, token);
    $("#token").value = "";
    load();
  });
  $("#forget").addEventListener("click", function () {
    CC.sessionStore.remove(TOKEN_KEY);
    CC.sessionStore.remove(KEYS_KEY);
    token = null;
    offered = null;
    created = null;
    renderCreated();
    $("#sessions").textContent = "";
    $("#cards").textContent = "";
    $("#new-room").hidden = true;
    $("#list-tools").hidden = true;
    shown = null;
    setStatus("staff.forgotten");
    $("#forget").hidden = true;
    $("#token").removeAttribute("data-i18n-placeholder");
    $("#token").placeholder = "";
    $("#token").required = true;
  });
  $("#room-spoken").addEventListener("change", renderTargets);
  $("#room-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    createRoom();
  });
  $("#print-cards").addEventListener("click", function () {
    prepareCards().then(function (ready) { if (ready) window.print(); });
  });
  I18N.picker($("#ui-lang"));
  I18N.onchange(function () {
    if (shown) render(shown);
    if (offered) renderSpoken();
    renderCreated();
    if (statusLine) setStatus(statusLine[0], statusLine[1]);
    if (!$("#error").hidden) showError("");
  });
  if (token) load();
});
