/* The landing page: the sessions open now, each with its join link and QR code. */
(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$;
  var REFRESH_MS = 10000;
  var STATES = { live: "Live", paused: "Paused", idle: "Starting soon", ended: "Ended" };

  function card(s) {
    var readers = 0;
    Object.keys(s.readers || {}).forEach(function (k) { readers += s.readers[k]; });
    var href = "/s/" + encodeURIComponent(s.id);
    var langs = el("p", { class: "langs", "aria-label": "Languages" },
      (s.languages || []).map(function (l) { return el("span", { lang: l, text: CC.nativeName(l) }); }));
    return el("li", { class: "card panel", dataset: { id: s.id } }, [
      el("div", {}, [
        el("h2", { text: s.title || s.id }),
        el("div", { class: "meta" }, [
          el("span", { class: "pill", dataset: { state: s.state === "live" ? "live" : s.state }, text: STATES[s.state] || s.state }),
          readers ? el("span", { class: "muted", text: readers + (readers === 1 ? " reader" : " readers") }) : null
        ]),
        langs
      ]),
      el("img", { class: "qr", src: "/api/sessions/" + encodeURIComponent(s.id) + "/qr.svg", width: "112", height: "112",
                  alt: "QR code for " + (s.url || href), loading: "lazy" }),
      el("a", { class: "button primary open", href: href, text: "Open captions" })
    ]);
  }

  async function refresh() {
    try {
      var data = await CC.fetchJson("/api/sessions");
      var list = (data.sessions || []).filter(function (s) { return s.state !== "ended"; });
      var ul = $("#sessions");
      ul.textContent = "";
      list.forEach(function (s) { ul.appendChild(card(s)); });
      $("#empty").hidden = list.length > 0;
      $("#error").hidden = true;
    } catch (e) {
      $("#error").textContent = "Could not load the sessions: " + e.message + ". Retrying…";
      $("#error").hidden = false;
    }
    $("#loading").hidden = true;
  }
  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
})();
