/* The staff page: every session with its languages, and authenticated downloads of the exports.
   Languages nobody read live are translated as they download; the page follows each export by job id. */
(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$;
  var TOKEN_KEY = "cc.staff";
  var FORMATS = [["srt", "SRT"], ["vtt", "WebVTT"], ["txt", "Text"], ["json", "JSON"], ["docx", "Word"]];
  var STATES = { live: "Live", paused: "Paused", idle: "Idle", ended: "Ended" };

  var token = CC.takeTokenFromHash(TOKEN_KEY);

  function showError(text) {
    $("#error").textContent = text || "";
    $("#error").hidden = !text;
  }
  function explain(err) {
    if (err.status === 401) return "Wrong staff token: " + err.message;
    if (err.status === 404) return "Not found: " + err.message;
    if (err.status) return "The server answered " + err.status + ": " + err.message;
    return "Cannot reach the server (" + err.message + ").";
  }
  function authHeaders() { return { Authorization: "Bearer " + token }; }

  async function load() {
    showError("");
    $("#status").textContent = "Loading…";
    try {
      var data = await CC.fetchJson("/api/sessions", { headers: authHeaders(), cache: "no-store" });
      render(data.sessions || []);
      $("#status").textContent = (data.sessions || []).length + " session(s).";
      $("#forget").hidden = false;
      $("#token").placeholder = "Saved for this tab";
      $("#token").required = false;
    } catch (e) {
      $("#sessions").textContent = "";
      $("#status").textContent = "";
      showError(explain(e));
      if (e.status === 401) { CC.sessionStore.remove(TOKEN_KEY); $("#token").focus(); }
    }
  }

  function render(sessions) {
    var root = $("#sessions");
    root.textContent = "";
    if (!sessions.length) root.appendChild(el("p", { class: "panel muted", text: "No sessions yet." }));
    sessions.forEach(function (s) {
      var langs = s.export_languages || (s.stored_languages && s.stored_languages.length ? s.stored_languages : (s.languages || []));
      var counts = s.captions || {};
      var rows = langs.map(function (lang) {
        return el("tr", { dataset: { lang: lang } }, [
          el("th", { scope: "row", lang: lang }, [CC.nativeName(lang) + " (" + lang + ")",
            typeof counts[lang] === "number" ? el("span", { class: "count", text: counts[lang] + " captions" }) : null]),
          el("td", {}, [el("div", { class: "row" }, FORMATS.map(function (f) {
            return el("button", { type: "button", class: "small", dataset: { fmt: f[0], lang: lang },
              "aria-label": f[1] + " transcript, " + CC.nativeName(lang),
              onclick: function (ev) { download(ev.currentTarget, exportUrl(s.id, f[0], lang), s.id + "-" + lang + "." + f[0]); },
              text: f[1] });
          }))]),
          exportChoice(s, lang)
        ]);
      });
      var started = s.started_at ? new Date(s.started_at).toLocaleString() : "not started";
      root.appendChild(el("section", { class: "panel session", dataset: { id: s.id } }, [
        el("h2", { text: s.title || s.id }),
        el("div", { class: "meta" }, [
          el("span", { class: "pill", dataset: { state: s.state }, text: STATES[s.state] || s.state }),
          el("code", { text: s.id }),
          el("span", { class: "muted", text: "Started: " + started })
        ]),
        langs.length ? el("table", { class: "exports" }, [el("tbody", {}, rows)])
                     : el("p", { class: "muted", text: "No captions yet." }),
        el("button", { type: "button", class: "primary zip", dataset: { fmt: "zip" },
          onclick: function (ev) { download(ev.currentTarget, zipUrl(s.id, ev.currentTarget.closest(".session")), s.id + ".zip"); },
          text: "Download everything (.zip)" })
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
      $("#status").textContent = "Downloaded " + name + " (" + formatBytes(blob.size) + ").";
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
      stored ? null : el("span", { class: "ondemand muted", text: "translated when downloaded" }),
      el("label", { class: "in-zip" }, [el("input", { type: "checkbox", class: "zip-lang", value: lang,
        checked: stored, "aria-label": "Include " + CC.nativeName(lang) + " in the .zip" }), " in .zip"])
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
    $("#status").textContent = (translating ? "Translating into " + CC.nativeName(p.lang) + " (" + p.lang + ")"
      : "Preparing " + name) + ": " + done + " of " + total + " captions…";
  }

  function formatBytes(n) { return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " kB" : (n / 1048576).toFixed(1) + " MB"; }

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
    $("#status").textContent = "Token forgotten.";
    $("#forget").hidden = true;
    $("#token").placeholder = "";
    $("#token").required = true;
  });
  if (token) load();
})();
