/* The landing page: the programme's rooms (each with its permanent address, QR code and the talk on now),
   then the other sessions open now, each with its join link and QR code. */
window.I18N.ready.then(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, I18N = window.I18N, t = I18N.t;
  var REFRESH_MS = 10000;
  var STATES = { live: "state.live", paused: "state.paused", idle: "state.idle", ended: "state.ended" };
  var last = null;  // the latest list, redrawn when the interface language changes
  var programme = null;  // GET /api/programme (rooms and talks), when the server runs one

  function card(s) {
    var readers = 0;
    Object.keys(s.readers || {}).forEach(function (k) { readers += s.readers[k]; });
    var href = "/s/" + encodeURIComponent(s.id);
    var langs = el("p", { class: "langs", "aria-label": t("landing.languages") },
      (s.languages || []).map(function (l) { return el("span", { text: I18N.standaloneName(l) }); }));
    return el("li", { class: "card panel", dataset: { id: s.id } }, [
      el("div", {}, [
        el("h2", { dir: "auto", text: s.title || s.id }),
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

  function roomCard(room) {
    var talks = {};
    programme.talks.forEach(function (x) { talks[x.id] = x; });
    var now = room.now && talks[room.now], next = room.next && talks[room.next];
    var line = now ? t("landing.room_now", { title: now.title })
      : next ? t("room.next", { title: next.title, time: next.start.slice(11, 16) }) : t("room.no_more");
    return el("li", { class: "card panel", dataset: { room: room.id } }, [
      el("div", {}, [el("h2", { dir: "auto", text: room.name }), el("p", { class: "meta", text: line })]),
      el("img", { class: "qr", src: "/api/rooms/" + encodeURIComponent(room.id) + "/qr.svg", width: "112", height: "112",
                  alt: t("landing.qr_alt", { title: room.name }), loading: "lazy" }),
      el("a", { class: "button primary open", href: "/r/" + encodeURIComponent(room.id), text: t("landing.open") })
    ]);
  }

  function render(list) {
    var rooms = programme ? programme.rooms : [];
    var talkIds = {};
    if (programme) programme.talks.forEach(function (x) { talkIds[x.id] = true; });
    var ul = $("#rooms");
    ul.textContent = "";
    rooms.forEach(function (room) { ul.appendChild(roomCard(room)); });
    ul.hidden = $("#rooms-title").hidden = !rooms.length;
    list = list.filter(function (s) { return !talkIds[s.id]; });  // a talk is read through its room
    ul = $("#sessions");
    ul.textContent = "";
    list.forEach(function (s) { ul.appendChild(card(s)); });
    $("#sessions-title").hidden = !(rooms.length && list.length);  // beside rooms, sessions are not rooms
    $("#empty").hidden = list.length > 0 || rooms.length > 0;
  }

  async function refresh() {
    try {
      var data = await CC.fetchJson("/api/sessions");
      try {
        programme = await CC.fetchJson("/api/programme");
      } catch (e) {
        programme = null;  // a server without the programme (a cluster's web node)
      }
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
