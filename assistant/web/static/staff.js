/* The staff page: every session with its languages, and authenticated downloads of the exports.
   Interface strings come from the staff catalogue (English and Chinese). */
window.I18N.ready.then(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, I18N = window.I18N, t = I18N.t;
  var TOKEN_KEY = "cc.staff";
  // [format, its name: a catalogue key, or null where the name is the format's own (SRT, WebVTT, JSON)]
  var FORMATS = [["srt", null, "SRT"], ["vtt", null, "WebVTT"], ["txt", "staff.format_text"], ["json", null, "JSON"],
                 ["docx", "staff.format_word"]];
  var STATES = { live: "state.live", paused: "state.paused", idle: "state.idle", ended: "state.ended" };
  var BYTE_UNITS = [[1048576, "megabyte"], [1024, "kilobyte"], [1, "byte"]];
  var shown = null;  // the sessions on screen, redrawn when the interface language changes
  var statusLine = null;  // [key, values] of the status line

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
  function authHeaders() { return { Authorization: "Bearer " + token }; }

  async function load() {
    showError("");
    setStatus("staff.loading");
    try {
      var data = await CC.fetchJson("/api/sessions", { headers: authHeaders(), cache: "no-store" });
      shown = data.sessions || [];
      render(shown);
      setStatus("staff.count", { count: shown.length });
      $("#forget").hidden = false;
      $("#token").setAttribute("data-i18n-placeholder", "staff.token_saved");
      I18N.apply($("#token-form"));
      $("#token").required = false;
    } catch (e) {
      shown = null;
      $("#sessions").textContent = "";
      setStatus(null);
      showError(explain(e));
      if (e.status === 401) { CC.sessionStore.remove(TOKEN_KEY); $("#token").focus(); }
    }
  }

  function render(sessions) {
    var root = $("#sessions");
    root.textContent = "";
    if (!sessions.length) root.appendChild(el("p", { class: "panel muted", text: t("staff.none") }));
    sessions.forEach(function (s) {
      var langs = s.stored_languages && s.stored_languages.length ? s.stored_languages : (s.languages || []);
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
          }))])
        ]);
      });
      var started = s.started_at ? t("staff.started", { time: new Date(s.started_at).toLocaleString(I18N.locale) })
                                 : t("staff.not_started");
      root.appendChild(el("section", { class: "panel session", dataset: { id: s.id } }, [
        el("h2", { text: s.title || s.id }),
        el("div", { class: "meta" }, [
          el("span", { class: "pill", dataset: { state: s.state }, text: STATES[s.state] ? t(STATES[s.state]) : s.state }),
          el("code", { text: s.id }),
          el("span", { class: "muted", text: started })
        ]),
        langs.length ? el("table", { class: "exports" }, [el("tbody", {}, rows)])
                     : el("p", { class: "muted", text: t("staff.no_captions") }),
        el("button", { type: "button", class: "primary zip", dataset: { fmt: "zip" },
          onclick: function (ev) { download(ev.currentTarget, "/api/sessions/" + encodeURIComponent(s.id) + "/export.zip", s.id + ".zip"); },
          text: t("staff.zip") })
      ]));
    });
  }

  function exportUrl(id, fmt, lang) {
    return "/api/sessions/" + encodeURIComponent(id) + "/export." + fmt + "?lang=" + encodeURIComponent(lang);
  }

  async function download(button, url, fallbackName) {
    showError("");
    button.classList.add("busy");
    button.setAttribute("aria-busy", "true");
    try {
      var resp = await fetch(url, { headers: authHeaders(), cache: "no-store" });
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
      button.classList.remove("busy");
      button.removeAttribute("aria-busy");
    }
  }
  function formatBytes(n) {
    var unit = BYTE_UNITS.filter(function (u) { return n >= u[0]; })[0] || BYTE_UNITS[BYTE_UNITS.length - 1];
    try {
      return new Intl.NumberFormat(I18N.locale, { style: "unit", unit: unit[1], unitDisplay: "short",
                                                 maximumFractionDigits: 1 }).format(n / unit[0]);
    } catch (e) { return n + " B"; }
  }

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
    token = null;
    $("#sessions").textContent = "";
    shown = null;
    setStatus("staff.forgotten");
    $("#forget").hidden = true;
    $("#token").removeAttribute("data-i18n-placeholder");
    $("#token").placeholder = "";
    $("#token").required = true;
  });
  I18N.picker($("#ui-lang"));
  I18N.onchange(function () {
    if (shown) render(shown);
    if (statusLine) setStatus(statusLine[0], statusLine[1]);
    if (!$("#error").hidden) showError("");
  });
  if (token) load();
});
