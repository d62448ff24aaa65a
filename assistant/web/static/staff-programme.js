/* The staff page's programme: import a file (CSV, JSON, iCalendar; all or nothing, problems shown per line)
   and the day as a timetable per room, with the talk on now. Strings from the staff catalogue. */
window.I18N.ready.then(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, I18N = window.I18N, t = I18N.t;
  var TOKEN_KEY = "cc.staff";  // where staff.js keeps the token for this tab
  var REFRESH_MS = 30000;  // the timetable's "now on" is fetched again this often
  var data = null;  // GET /api/programme, redrawn when the interface language changes
  var status = null;  // [key, values] of the status line

  function setStatus(key, values) {
    status = key ? [key, values || {}] : null;
    $("#programme-status").textContent = key ? t(key, values) : "";
  }

  function showProblems(problems) {
    var list = $("#programme-problems");
    list.textContent = "";
    (problems || []).forEach(function (p) {
      list.appendChild(el("li", { text: t("staff.programme_problem", { line: String(p.line), field: p.field, message: p.message }) }));
    });
    list.hidden = !(problems && problems.length);
  }

  async function load() {
    try {
      data = await CC.fetchJson("/api/programme", { cache: "no-store" });
    } catch (e) {
      data = null;
      setStatus("staff.programme_unavailable", { message: e.message });
    }
    render();
  }

  function dayOf(talk) {
    try {
      return new Date(talk.start_ms).toLocaleDateString(I18N.locale, { weekday: "long", day: "numeric", month: "long", timeZone: talk.timezone });
    } catch (e) {
      return talk.start.slice(0, 10);  // a zone this browser does not know: the date as the file wrote it
    }
  }

  function render() {
    var root = $("#timetable");
    root.textContent = "";
    if (!data) return;
    if (!data.talks.length) { root.appendChild(el("p", { class: "muted", text: t("staff.programme_none") })); return; }
    data.rooms.forEach(function (room) {
      var rows = [], day = null;
      data.talks.filter(function (talk) { return talk.room === room.id; }).forEach(function (talk) {
        var d = dayOf(talk);
        if (d !== day) { day = d; rows.push(el("tr", { class: "day" }, [el("th", { colspan: "4", scope: "colgroup", text: d })])); }
        var state = room.now === talk.id ? "now" : (talk.end_ms <= data.now_ms ? "over" : "later");
        rows.push(el("tr", { dataset: { talk: talk.id, state: state } }, [
          el("td", { class: "when", text: t("staff.talk_time", { start: talk.start.slice(11, 16), end: talk.end.slice(11, 16) }) }),
          el("td", {}, [el("a", { href: "/s/" + encodeURIComponent(talk.id), text: talk.title }),
            state === "now" ? el("span", { class: "pill", dataset: { state: "live" }, text: t("staff.talk_now") }) : null,
            state === "over" ? el("span", { class: "muted", text: " · " + t("staff.talk_over") }) : null]),
          el("td", { text: talk.speakers.join(", ") }),
          el("td", { text: talk.language === "auto" ? t("staff.auto") : CC.localName(talk.language) })
        ]));
      });
      root.appendChild(el("section", { class: "room-timetable", dataset: { room: room.id } }, [
        el("h3", {}, [room.name, " ", el("a", { class: "small-text", href: "/r/" + encodeURIComponent(room.id), text: t("staff.room_page") }),
          " ", el("a", { class: "small-text", href: "/api/rooms/" + encodeURIComponent(room.id) + "/qr.svg", target: "_blank",
                         text: t("staff.room_qr") })]),
        el("div", { class: "table-scroll" }, [el("table", {}, [
          el("thead", {}, [el("tr", {}, [el("th", { scope: "col", text: t("staff.col_time") }), el("th", { scope: "col", text: t("staff.col_talk") }),
            el("th", { scope: "col", text: t("staff.col_speakers") }), el("th", { scope: "col", text: t("staff.col_language") })])]),
          el("tbody", {}, rows)])])
      ]));
    });
  }

  async function upload(ev) {
    ev.preventDefault();
    var file = $("#programme-file").files[0];
    showProblems(null);
    if (!file) { setStatus("staff.programme_pick"); return; }
    var query = "?name=" + encodeURIComponent(file.name) + ($("#programme-replace").checked ? "&replace=1" : "");
    var tz = $("#programme-tz").value.trim();
    if (tz) query += "&timezone=" + encodeURIComponent(tz);
    setStatus("staff.loading");
    try {
      var resp = await fetch("/api/programme" + query, { method: "POST", body: await file.arrayBuffer(),
        headers: { Authorization: "Bearer " + (CC.sessionStore.get(TOKEN_KEY) || "") } });
      var body = null;
      try { body = await resp.json(); } catch (e) { /* not JSON */ }
      if (!resp.ok) {
        var err = (body && body.error) || { message: resp.status + " " + resp.statusText };
        if (err.problems && err.problems.length) {
          setStatus("staff.programme_problems", { count: err.problems_total || err.problems.length });
          showProblems(err.problems);
        } else if (resp.status === 401) {
          setStatus("staff.wrong_token");
        } else {
          setStatus("staff.http_error", { status: String(resp.status), message: err.message });
        }
        return;
      }
      var warnings = body.warnings || [];
      if (warnings.length) {
        setStatus("staff.programme_imported_warnings", { talks: body.talks, rooms: body.rooms, count: warnings.length });
        showProblems(warnings);
      } else {
        setStatus("staff.programme_imported", { talks: body.talks, rooms: body.rooms });
      }
      await load();
    } catch (e) {
      setStatus("staff.unreachable", { message: e.message });
    }
  }

  $("#programme-form").addEventListener("submit", upload);
  setInterval(function () { if (!document.hidden) load(); }, REFRESH_MS);  // the talk on now moves on
  I18N.onchange(function () { render(); if (status) setStatus(status[0], status[1]); });
  load();
});
