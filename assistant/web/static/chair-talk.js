/* The chair console's programme panel, shown when this session is a talk of the programme: the room, the
   talk on now and the next, "Next talk" (which also ends an overrun late) and the overrun hold. It follows
   the room's socket; when the room moves on, the console offers (after "Next talk": opens) the new talk's. */
(function (C) {
  "use strict";
  var CC = window.CC, $ = CC.$, t = CC.t;
  var room = null;  // the room this talk is in
  var last = null;  // the last room frame
  var pressedNext = false;  // this console asked for the next talk: follow it
  var speakers = [];  // this talk's speakers, from the programme
  var speaking = null;  // who is speaking now

  function times(talk) {
    return t("chair.talk_times", { start: talk.start.slice(11, 16), end: talk.end.slice(11, 16) });
  }

  function render() {
    if (!last) return;
    $("#talk-room").textContent = last.name;
    $("#talk-room").href = "/r/" + encodeURIComponent(last.room);
    $("#talk-now").textContent = last.now ? last.now.title + " · " + times(last.now) : t("chair.talk_nothing");
    $("#talk-next").textContent = last.next ? last.next.title + " · " + times(last.next) : t("chair.talk_nothing");
    $("#btn-next-talk").disabled = !last.now && !last.next;
    var mine = !!last.now && last.now.id === C.sessionId;
    $("#talk-hold").checked = !!last.held;
    $("#talk-hold").disabled = !mine;
    var moved = $("#talk-moved");
    moved.textContent = "";
    moved.hidden = mine || !last.now;
    if (!mine && last.now) {
      var link = CC.el("a", { href: consoleOf(last.now.id), text: t("chair.open_talk") });
      moved.append(t("chair.talk_moved", { title: last.now.title }), " ", link);
    }
  }

  /* One button per speaker of the talk; the one speaking is pressed. */
  function renderSpeakers() {
    var box = $("#speaker-buttons");
    box.textContent = "";
    $("#speaker-box").hidden = !speakers.length;
    speakers.forEach(function (name) {
      box.appendChild(CC.el("button", { type: "button", class: "small", "aria-pressed": String(name === speaking),
        text: name, onclick: function () { switchSpeaker(name); } }));
    });
  }

  async function switchSpeaker(name) {
    try {
      var resp = await fetch("/api/sessions/" + encodeURIComponent(C.sessionId) + "/speaker", {
        method: "POST", headers: { Authorization: "Bearer " + C.token, "Content-Type": "application/json" },
        body: JSON.stringify({ speaker: name }) });
      if (!resp.ok) throw await CC.apiError(resp);
      speaking = (await resp.json()).speaker;
      renderSpeakers();
    } catch (e) {
      C.showNotice(t("chair.speaker_failed", { message: C.serverError(e.code, e.message) }), true);
    }
  }

  document.addEventListener("cc:frame", function (ev) {
    var f = ev.detail || {};
    if (f.type === "speaker") { speaking = f.speaker || null; renderSpeakers(); }
  });

  function consoleOf(talkId) {
    return "/chair/" + encodeURIComponent(talkId) + (C.token ? "#token=" + encodeURIComponent(C.token) : "");
  }

  function onRoom(frame) {
    if (frame.type !== "room") return;
    last = frame;
    if (pressedNext && frame.now && frame.now.id !== C.sessionId) {
      location.assign(consoleOf(frame.now.id));  // the chair asked for the next talk: its console
      return;
    }
    render();
  }

  async function post(path, body) {
    var resp = await fetch("/api/rooms/" + encodeURIComponent(room) + path, {
      method: "POST", headers: { Authorization: "Bearer " + C.token, "Content-Type": "application/json" },
      body: JSON.stringify(body || {}) });
    if (!resp.ok) throw await CC.apiError(resp);
    return resp.json();
  }

  $("#btn-next-talk").addEventListener("click", async function () {
    pressedNext = true;
    try {
      onRoom(Object.assign({ type: "room" }, await post("/next")));
    } catch (e) {
      pressedNext = false;
      C.showNotice(t("chair.talk_failed", { message: C.serverError(e.code, e.message) }), true);
    }
  });
  $("#talk-hold").addEventListener("change", async function (ev) {
    try {
      onRoom(Object.assign({ type: "room" }, await post("/hold", { hold: ev.currentTarget.checked })));
    } catch (e) {
      C.showNotice(t("chair.talk_failed", { message: C.serverError(e.code, e.message) }), true);
      render();
    }
  });

  async function start() {
    var programme;
    try {
      programme = await CC.fetchJson("/api/programme", { cache: "no-store" });
    } catch (e) {
      return;  // no programme on this server (a cluster): the panel stays hidden
    }
    var talk = programme.talks.filter(function (x) { return x.id === C.sessionId; })[0];
    if (!talk) return;
    room = talk.room;
    C.room = room;  // the capture station command names the room (chair.js)
    if (C.renderSource) C.renderSource();
    speakers = talk.speakers || [];
    $("#talk-panel").hidden = false;
    try {
      var now = await fetch("/api/sessions/" + encodeURIComponent(C.sessionId) + "/speaker",
                            { headers: { Authorization: "Bearer " + C.token }, cache: "no-store" });
      if (now.ok) speaking = (await now.json()).speaker;
    } catch (e) { /* shown when the next speaker frame comes */ }
    renderSpeakers();
    new CC.ReconnectingSocket({
      url: function () { return CC.wsUrl("/ws/rooms/" + encodeURIComponent(room)); },
      onframe: onRoom
    }).start();
  }

  window.I18N.onchange(render);
  window.I18N.ready.then(start);
})(window.Chair);
