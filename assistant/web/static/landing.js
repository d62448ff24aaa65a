/* The landing page: the sessions open now, each with its join link and QR code. */
window.I18N.ready.then(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, I18N = window.I18N, t = I18N.t;
  var REFRESH_MS = 10000;
  var STATES = { live: "state.live", paused: "state.paused", idle: "state.idle", ended: "state.ended" };
  var last = null;  // the latest list, redrawn when the interface language changes

  function card(s) {
    var readers = 0;
    Object.keys(s.readers || {}).forEach(function (k) { readers += s.readers[k]; });
    var href = "/s/" + encodeURIComponent(s.id);
    var langs = el("p", { class: "langs", "aria-label": t("landing.languages") },
      (s.languages || []).map(function (l) { return el("span", { text: I18N.standaloneName(l) }); }));
    return el("li", { class: "card panel", dataset: { id: s.id } }, [
      el("div", {}, [
        el("h2", { text: s.title || s.id }),
        el("div", { class: "meta" }, [
          el("span", { class: "pill", dataset: { state: s.state === "live" ? "live" : s.state },
                       text: STATES[s.state] ? t(STATES[s.state]) : s.state }),
          readers ? el("span", { class: "muted", text: t("landing.readers", { count: readers }) }) : null
        ]),
        langs
      ]),
      el("img", { class: "qr", src: "/api/sessions/" + encodeURIComponent(s.id) + "/qr.svg", width: "112", height: "112",
                  alt: t("landing.qr_alt", { title: s.title || s.id }), loading: "lazy" }),
      el("a", { class: "button primary open", href: href, text: t("landing.open") })
    ]);
  }

  function render(list) {
    var ul = $("#sessions");
    ul.textContent = "";
    list.forEach(function (s) { ul.appendChild(card(s)); });
    $("#empty").hidden = list.length > 0;
  }

  async function refresh() {
    try {
      var data = await CC.fetchJson("/api/sessions");
      last = (data.sessions || []).filter(function (s) { return s.state !== "ended"; });
      render(last);
      $("#error").hidden = true;
    } catch (e) {
      if (window.console) console.warn("sessions: " + e.message);
      $("#error").hidden = false;
    }
    $("#loading").hidden = true;
  }
  I18N.picker($("#ui-lang"));
  I18N.onchange(function () { if (last) render(last); });
  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
});
