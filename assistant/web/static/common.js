/* Shared helpers for every page (ES2017, no framework). Exposes window.CC; needs i18n.js loaded before it. */
(function () {
  "use strict";

  // Language names and directions live in i18n.js (loaded first, in <head>).
  var I18N = window.I18N;

  /** Build an element: el("li", {class: "x", dataset: {id: 1}, onclick: f}, ["text", child]). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else if (k === "dataset") Object.keys(v).forEach(function (d) { node.dataset[d] = v[d]; });
        else if (k.slice(0, 2) === "on" && typeof v === "function") node.addEventListener(k.slice(2), v);
        else if (v === true) node.setAttribute(k, "");
        else node.setAttribute(k, String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function $(sel, root) { return (root || document).querySelector(sel); }

  var store = {
    get: function (key, fallback) {
      try { var v = localStorage.getItem(key); return v === null ? fallback : v; } catch (e) { return fallback; }
    },
    set: function (key, value) { try { localStorage.setItem(key, String(value)); } catch (e) { /* ignore */ } }
  };
  var sessionStore = {
    get: function (key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } },
    set: function (key, value) { try { sessionStorage.setItem(key, value); } catch (e) { /* ignore */ } },
    remove: function (key) { try { sessionStorage.removeItem(key); } catch (e) { /* ignore */ } }
  };

  /** Read "#token=..." once, remember it in sessionStorage under key, and drop it from the address bar. */
  function takeTokenFromHash(key) {
    var m = /(?:^#|&)token=([^&]*)/.exec(location.hash || "");
    if (m) {
      var token = decodeURIComponent(m[1]);
      if (token) sessionStore.set(key, token);
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStore.get(key);
  }

  function wsUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function formatClock(ms) {
    if (typeof ms !== "number" || !isFinite(ms)) return "";
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (sec < 10 ? "0" : "") + sec;
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  /** An Error from a failed fetch; message comes from the API's {"error":{"code","message"}} body. */
  async function apiError(resp) {
    var code = "http_" + resp.status, message = resp.status + " " + (resp.statusText || "error");
    try {
      var body = await resp.json();
      if (body && body.error) { code = body.error.code || code; message = body.error.message || message; }
    } catch (e) { /* not JSON */ }
    var err = new Error(message);
    err.code = code;
    err.status = resp.status;
    return err;
  }

  async function fetchJson(url, options) {
    var resp = await fetch(url, options);
    if (!resp.ok) throw await apiError(resp);
    return resp.json();
  }

  /**
   * The captions of one stream, ordered by (start_ms, seq), each seq kept once.
   * add() returns {line, before} for a new caption (before: the line it goes in front of, or null),
   * null for a duplicate; correct() updates a line in place.
   */
  function CaptionLog() { this.reset(); }
  CaptionLog.prototype.reset = function () {
    this.lines = [];
    this.byId = {};
    this.seqs = {};
    this.maxSeq = 0;
  };
  CaptionLog.prototype.add = function (c) {
    if (typeof c.seq === "number") {
      if (this.seqs[c.seq]) return null;
      this.seqs[c.seq] = true;
      if (c.seq > this.maxSeq) this.maxSeq = c.seq;
    }
    var existing = this.byId[c.id];
    if (existing) {  // a new revision of a line we already show
      if ((c.revision || 0) >= (existing.revision || 0)) Object.assign(existing, c);
      return { line: existing, before: undefined, updated: true };
    }
    var line = Object.assign({}, c);
    var lines = this.lines, lo = 0, hi = lines.length;
    while (lo < hi) {  // first index whose (start_ms, seq) is greater than the new line's
      var mid = (lo + hi) >> 1, m = lines[mid];
      if (m.start_ms < line.start_ms || (m.start_ms === line.start_ms && m.seq <= line.seq)) lo = mid + 1;
      else hi = mid;
    }
    lines.splice(lo, 0, line);
    this.byId[line.id] = line;
    return { line: line, before: lo + 1 < lines.length ? lines[lo + 1] : null, updated: false };
  };
  CaptionLog.prototype.correct = function (f) {
    var line = this.byId[f.id];
    if (!line) return null;
    if (typeof f.revision === "number" && typeof line.revision === "number" && f.revision < line.revision) return null;
    line.text = f.text;
    if (typeof f.revision === "number") line.revision = f.revision;
    if (f.source_text !== undefined) line.source_text = f.source_text;
    line.corrected = true;
    return line;
  };
  CaptionLog.prototype.newest = function () {
    var best = null;
    this.lines.forEach(function (l) { if (!best || l.end_ms > best.end_ms) best = l; });
    return best;
  };

  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 15000;

  /**
   * A WebSocket that reconnects with exponential backoff and full jitter (1 s .. 15 s).
   * opts: url() -> string, protocols() -> [..] | undefined, onframe(obj), onopen(), onstate(state, info),
   *       onclose(event) -> false to stop reconnecting.
   * States: "connecting", "open", "reconnecting" (info.delayMs), "stopped".
   */
  function ReconnectingSocket(opts) {
    this.opts = opts;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.everOpened = false;
  }
  ReconnectingSocket.prototype.start = function () {
    this.stopped = false;
    this.attempt = 0;
    this._connect();
  };
  ReconnectingSocket.prototype._connect = function () {
    var self = this, opts = this.opts;
    clearTimeout(this.timer);
    if (this.stopped) return;
    var protocols = opts.protocols ? opts.protocols() : undefined;
    var ws;
    try {
      ws = protocols ? new WebSocket(opts.url(), protocols) : new WebSocket(opts.url());
    } catch (e) {
      this._schedule(null);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.openedThisTime = false;
    if (opts.onstate) opts.onstate("connecting", { attempt: this.attempt });
    ws.onopen = function () {
      if (self.ws !== ws) return;
      self.openedThisTime = true;
      self.everOpened = true;
      if (opts.onstate) opts.onstate("open", {});
      if (opts.onopen) opts.onopen(ws);
    };
    ws.onmessage = function (ev) {
      if (self.ws !== ws) return;
      if (typeof ev.data !== "string") { if (opts.onbinary) opts.onbinary(ev.data); return; }
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (self.openedThisTime && frame.type === "hello") self.attempt = 0;
      opts.onframe(frame, ws);
    };
    ws.onclose = function (ev) {
      if (self.ws !== ws) return;
      self.ws = null;
      var again = opts.onclose ? opts.onclose(ev, self.openedThisTime) : true;
      if (again === false) { self.stopped = true; if (opts.onstate) opts.onstate("stopped", { code: ev.code }); return; }
      self._schedule(ev);
    };
  };
  ReconnectingSocket.prototype._schedule = function (ev) {
    var self = this;
    if (this.stopped) return;
    var cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, this.attempt));
    var delay = Math.max(BACKOFF_MIN_MS, Math.round(cap / 2 + Math.random() * cap / 2));
    this.attempt += 1;
    if (this.opts.onstate) this.opts.onstate("reconnecting", { delayMs: delay, code: ev ? ev.code : 0, at: Date.now() + delay });
    this.timer = setTimeout(function () { self._connect(); }, delay);
  };
  /** Reconnect now (e.g. after the page comes back to the foreground or the network returns). */
  ReconnectingSocket.prototype.kick = function () {
    if (this.stopped || this.ws) return;
    this.attempt = 0;
    this._connect();
  };
  /** Close and reconnect at once with a fresh url() (e.g. another language). */
  ReconnectingSocket.prototype.restart = function () {
    this.stop();
    this.start();
  };
  ReconnectingSocket.prototype.send = function (obj) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(typeof obj === "string" || obj instanceof ArrayBuffer || ArrayBuffer.isView(obj) ? obj : JSON.stringify(obj));
    return true;
  };
  ReconnectingSocket.prototype.stop = function () {
    this.stopped = true;
    clearTimeout(this.timer);
    var ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(1000); } catch (e) { /* already closed */ } }
  };

  /** Parse a Content-Disposition header into a filename (RFC 6266 filename* first). */
  function dispositionFilename(header, fallback) {
    if (!header) return fallback;
    var star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
    if (star) { try { return decodeURIComponent(star[2].trim().replace(/^"|"$/g, "")); } catch (e) { /* bad encoding */ } }
    var plain = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(header);
    if (plain) return (plain[2] !== undefined ? plain[2] : plain[1]).trim();
    return fallback;
  }

  /* Captions as the lines readers see: a caption that `continues` is a piece of the line before it (the
     recogniser settles words before a line fills). A space between pieces, none between two Chinese, Japanese
     or Korean characters: the server's captions.join_texts. */
  var WIDE = /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]/;
  function joinText(a, b) {
    a = String(a || "").trim(); b = String(b || "").trim();
    if (!a || !b) return a || b;
    return WIDE.test(a.slice(-1)) && WIDE.test(b.charAt(0)) ? a + b : a + " " + b;
  }
  function joinPieces(captions) {
    var out = [];
    captions.forEach(function (c) {
      var last = out[out.length - 1];
      if (c.continues && last) last.text = joinText(last.text, c.text);
      else out.push({ id: c.id, text: String(c.text || "") });
    });
    return out;
  }

  window.CC = {
    nativeName: I18N.nativeName, localName: I18N.languageName, languageLabel: I18N.languageLabel, dirOf: I18N.dirOf,
    t: I18N.t, el: el, $: $, store: store,
    sessionStore: sessionStore, takeTokenFromHash: takeTokenFromHash, wsUrl: wsUrl, formatClock: formatClock,
    apiError: apiError, fetchJson: fetchJson, CaptionLog: CaptionLog, ReconnectingSocket: ReconnectingSocket,
    dispositionFilename: dispositionFilename, joinText: joinText, joinPieces: joinPieces, BACKOFF_MIN_MS: BACKOFF_MIN_MS, BACKOFF_MAX_MS: BACKOFF_MAX_MS
  };
})();
