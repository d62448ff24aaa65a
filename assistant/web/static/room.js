/* The room page (/r/{room}): one permanent address, printed once, for the whole event. It follows the
   room's socket (/ws/rooms/{room}, a "room" frame at once and at every change): delegate.js shows the
   captions of the talk on now and switches to the next talk when the room moves on; between talks the page
   says what comes next; the day's past talks are listed with their transcripts. */
window.I18N.ready.then(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, I18N = window.I18N, t = I18N.t;
  var D = window.CCDelegate;
  if (!D || !D.room) return;  // a session's own page (/s/{session})
  var last = null;  // the last room frame
  var opened = 0;  // connections of the room socket (it stays open across talk changes)

  function hours(talk) {
    return t("room.time", { start: talk.start.slice(11, 16), end: talk.end.slice(11, 16) });
  }

  function render() {
    $("#room-panel").hidden = !last;
    if (!last) return;
    var next = $("#room-next");
    next.textContent = "";
    next.hidden = !!last.now;
    if (!last.now) {
      next.appendChild(el("strong", { text: t("room.between") }));
      next.appendChild(el("span", { text: last.next
        ? t("room.next", { title: last.next.title, time: last.next.start.slice(11, 16) }) : t("room.no_more") }));
    }
    var list = $("#room-past-list");
    list.textContent = "";
    last.past.slice().reverse().forEach(function (talk) {
      list.appendChild(el("li", { dataset: { talk: talk.id } }, [
        el("a", { href: talk.path, text: talk.title }), " ",
        el("span", { class: "muted", text: hours(talk) }), " ",
        el("a", { class: "button small", href: "/api/sessions/" + encodeURIComponent(talk.id) + "/transcript.txt",
                  download: talk.id + ".txt", text: t("room.transcript") })
      ]));
    });
    $("#room-past").hidden = !last.past.length;
  }

  function onFrame(frame) {
    if (frame.type !== "room") return;
    last = frame;
    D.followTalk(frame.now ? frame.now.id : "", frame.name);
    render();
  }

  new CC.ReconnectingSocket({
    url: function () { return CC.wsUrl("/ws/rooms/" + encodeURIComponent(D.room)); },
    onframe: onFrame,
    onopen: function () { opened += 1; }
  }).start();
  I18N.onchange(render);
  window.roomDebug = { last: function () { return last; }, opened: function () { return opened; } };
});
