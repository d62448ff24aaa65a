/* The room screen (projector, stage monitor, OBS browser source): the newest lines of one or more
   caption languages, large, bottom-aligned, with no controls; between talks, the title and the join QR.
   Query: lang=fr, or lang=zh,en for languages stacked (default: the spoken language); lines=N visual
   lines per language (1-10, default 2); bg=transparent for OBS; key= for a private session. */
window.I18N.ready.then(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, I18N = window.I18N, t = I18N.t;

  var DEFAULT_LINES = 2;
  var MAX_LINES = 10;
  var MAX_LANGS = 4;
  var KEEP_CAPTIONS = 40;  // captions kept on the page per language; far more than any screen shows
  var LANG_RE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/;
  var SESSION_STATES = { idle: "state.idle", paused: "state.paused", ended: "session.ended" };

  var params = new URLSearchParams(location.search);
  var path = location.pathname.replace(/\/+$/, "").split("/");  // /s/{session}/display or /r/{room}/display
  // A room's screen (/r/{room}/display) shows the talk on now and follows the room from talk to talk.
  var room = path[1] === "r" ? decodeURIComponent(path[path.length - 2] || "") : "";
  var sessionId = room ? "" : decodeURIComponent(path[path.length - 2] || "");
  var sessionKey = params.get("key") || "";
  var keyParam = sessionKey ? "key=" + encodeURIComponent(sessionKey) : "";
  var lines = Math.min(MAX_LINES, Math.max(1, parseInt(params.get("lines"), 10) || DEFAULT_LINES));
  var wanted = [];
  (params.get("lang") || "").split(",").forEach(function (l) {
    l = l.trim();
    if (LANG_RE.test(l) && wanted.indexOf(l) < 0 && wanted.length < MAX_LANGS) wanted.push(l);
  });
  var root = document.documentElement;
  if (params.get("bg") === "transparent") root.classList.add("bg-transparent");
  root.style.setProperty("--lines", String(lines));

  var state = {
    title: "",
    roomFrame: null, // a room's screen: the last room frame
    speaker: "",     // who is speaking, from the first language's speaker frames
    session: null,   // "idle" | "live" | "paused" | "ended", from status frames
    fresh: false,    // a caption arrived live since the session state last changed
    joinUrl: ""
  };
  var streams = [];

  /* One language on screen: its socket, its captions and the block that shows the newest of them. */
  function Stream(lang) {
    this.asked = lang;         // the language asked for ("": the spoken one), kept from talk to talk
    this.lang = lang;          // "" until the hello frame names the spoken language
    this.log = new CC.CaptionLog();
    this.partial = null;       // the latest partial frame, or null
    this.replaying = true;
    this.conn = "connecting";
    this.node = el("div", { class: "stream" });
    var self = this;
    this.socket = new CC.ReconnectingSocket({
      url: function () {
        var q = ["since=" + self.log.maxSeq, "screen=1"];  // the hall reads it: its language ranks first for text in progress
        if (self.lang) q.unshift("lang=" + encodeURIComponent(self.lang));
        if (keyParam) q.push(keyParam);
        return CC.wsUrl("/ws/captions/" + encodeURIComponent(sessionId) + "?" + q.join("&"));
      },
      onframe: function (f) { self.onFrame(f); },
      onstate: function (s) { self.conn = s; if (s !== "open") self.partial = null; renderConn(); },
      onclose: function () {
        if (self.failed) { drop(self); return false; }
        return true;
      }
    });
  }
  Stream.prototype.onFrame = function (f) {
    switch (f.type) {
      case "hello":
        if (typeof f.seq === "number" && f.seq < this.log.maxSeq) this.log.reset();  // the server's log restarted
        this.lang = f.lang || this.lang;
        this.replaying = true;
        this.node.setAttribute("lang", this.lang);
        this.node.setAttribute("dir", I18N.dirOf(this.lang));
        if (f.title && f.title !== state.title) { state.title = f.title; renderIdle(); }
        renderHints();
        break;
      case "caption":
        if (f.lang && f.lang !== this.lang) return;
        if (!this.log.add(f)) return;
        while (this.log.lines.length > KEEP_CAPTIONS) delete this.log.byId[this.log.lines.shift().id];
        if (!this.replaying && !state.fresh) { state.fresh = true; renderIdle(); }
        this.render();
        break;
      case "correction":
        if (f.lang && f.lang !== this.lang) return;
        if (this.log.correct(f)) this.render();
        break;
      case "partial":
        this.partial = f.text ? f : null;
        this.render();
        break;
      case "speaker":
        if (this === streams[0]) { state.speaker = typeof f.speaker === "string" ? f.speaker : ""; renderSpeaker(); }
        break;
      case "status":
        this.replaying = false;
        if (this === streams[0]) setSession(f.state || (f.live ? "live" : "idle"));
        if (!f.live) { this.partial = null; this.render(); }
        break;
      case "error":
        if (f.code === "unknown_language") this.failed = true;  // not offered: this language leaves the screen
        else if (window.console) console.warn("server error frame: " + f.code + ": " + f.message);
        break;
      default:
        break;
    }
  };
  Stream.prototype.render = function () {
    var nodes = CC.joinPieces(this.log.lines).map(function (l) { return el("p", { class: "line", text: l.text }); });
    var p = this.partial;
    if (p) {
      var stable = p.stable_text && p.text.indexOf(p.stable_text) === 0 ? p.stable_text : "";
      nodes.push(el("p", { class: "line partial" }, [stable ? el("span", { class: "settled", text: stable }) : null,
                                                      p.text.slice(stable.length)]));
    }
    fill(this.node, nodes);
  };

  function renderSpeaker() {
    var node = $("#speaker");
    node.hidden = !state.speaker;
    node.textContent = state.speaker ? t("speaker.now", { name: state.speaker }) : "";
  }

  function fill(parent, children) {
    parent.textContent = "";
    children.forEach(function (c) { parent.appendChild(c); });
  }

  function drop(stream) {
    streams = streams.filter(function (s) { return s !== stream; });
    stream.node.remove();
    if (!streams.length) add("");  // nothing asked for is offered: show the spoken language
    layout();
  }
  function add(lang) {
    var s = new Stream(lang);
    streams.push(s);
    $("#streams").appendChild(s.node);
    s.socket.start();
    return s;
  }
  function layout() { root.style.setProperty("--blocks", String(Math.max(1, streams.length))); }

  function setSession(next) {
    if (next === state.session) return;
    state.session = next;
    state.fresh = false;
    renderIdle();
  }

  /* Between talks (not started, paused, ended) the screen invites the room to join; a caption typed or
     spoken meanwhile brings the captions back until the state changes again. */
  function renderIdle() {
    var idle = state.session !== "live" && !state.fresh;
    $("#idle").hidden = !idle;
    $("#streams").hidden = idle;
    $("#idle-title").textContent = state.title;
    document.title = state.title ? t("app.titled", { title: state.title }) : t("app.name");
    var between = room && !sessionId && state.roomFrame, next = between ? state.roomFrame.next : null;
    $("#idle-state").textContent = between ? (next ? t("room.next", { title: next.title, time: next.start.slice(11, 16) })
                                                   : t("room.no_more"))
      : SESSION_STATES[state.session] ? t(SESSION_STATES[state.session]) : "";
    $("#idle-url").textContent = state.joinUrl.replace(/^https?:\/\//, "");
    $("#idle-url").hidden = !state.joinUrl;
  }

  /* "Scan to read…" in each language on screen that has a catalogue (the interface language otherwise). */
  var hintsFor = "";
  function renderHints() {
    var locales = [];
    streams.forEach(function (s) {
      var loc = s.lang ? I18N.bestMatch([s.lang], I18N.locales) : null;
      if (loc && locales.indexOf(loc) < 0) locales.push(loc);
    });
    if (!locales.length) locales.push(I18N.locale);
    if (locales.join() === hintsFor) return;
    hintsFor = locales.join();
    Promise.all(locales.map(function (loc) {
      return loc === I18N.locale ? Promise.resolve(t("display.scan"))
        : I18N.load(loc).then(function (table) { return I18N.translator(loc, table)("display.scan"); });
    })).then(function (texts) {
      fill($("#idle-hints"), texts.map(function (text, i) {
        return el("p", { lang: locales[i], dir: I18N.dirOf(locales[i]), text: text });
      }));
    });
  }

  function renderConn() {
    var down = streams.length > 0 && streams.every(function (s) { return s.conn !== "open"; }) &&
      streams.some(function (s) { return s.conn === "reconnecting" || s.conn === "stopped"; });
    var dot = $("#conn");
    dot.hidden = !down;
    dot.setAttribute("aria-label", t("display.reconnecting"));
    dot.title = t("display.reconnecting");
  }

  async function loadJoinUrl() {
    // Public sessions are listed with their join link; a private one's link is only in its QR code.
    try {
      var data = await CC.fetchJson("/api/sessions");
      (data.sessions || []).forEach(function (s) { if (s.id === sessionId && s.url) state.joinUrl = s.url; });
      renderIdle();
    } catch (e) { /* the QR code is enough */ }
  }

  /* A room's screen: the room moved on (or is between talks); every language follows to the new talk. */
  function onRoom(f) {
    if (f.type !== "room") return;
    state.roomFrame = f;
    var next = f.now ? f.now.id : "";
    if (next !== sessionId) {
      sessionId = next;
      state.session = null;
      state.fresh = false;
      state.speaker = "";
      renderSpeaker();
      streams.forEach(function (s) {
        s.log.reset(); s.partial = null; s.lang = s.asked; s.failed = false; s.render();
        if (sessionId) s.socket.restart(); else s.socket.stop();
      });
    }
    if (!sessionId) state.title = f.name;
    renderIdle();
  }

  I18N.onchange(function () { hintsFor = ""; renderIdle(); renderHints(); renderConn(); renderSpeaker(); });
  if (room) {
    $("#idle-qr").src = "/api/rooms/" + encodeURIComponent(room) + "/qr.svg";
    state.joinUrl = location.origin + "/r/" + encodeURIComponent(room);
    (wanted.length ? wanted : [""]).forEach(function (lang) { var st = new Stream(lang); streams.push(st); $("#streams").appendChild(st.node); });
    new CC.ReconnectingSocket({
      url: function () { return CC.wsUrl("/ws/rooms/" + encodeURIComponent(room)); },
      onframe: onRoom
    }).start();
  } else {
    $("#idle-qr").src = "/api/sessions/" + encodeURIComponent(sessionId) + "/qr.svg" + (keyParam ? "?" + keyParam : "");
    (wanted.length ? wanted : [""]).forEach(add);
  }
  layout();
  renderIdle();
  renderConn();
  if (!sessionKey && !room) loadJoinUrl();

  /* For tests and debugging: a read-only view of what is shown. */
  window.displayDebug = { state: state, streams: function () { return streams; } };
});
