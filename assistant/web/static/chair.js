/* The chair console: session control, audio from this browser, corrections, typed captions, join panel. */
(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$;

  var SAMPLE_RATE = 16000;
  var MAX_UNACKED_S = 60;     // audio kept for resending after a reconnect
  var METER_FLOOR_DB = -60;
  var METER_FALL_DB = 4;      // per 100 ms chunk
  var END_ARM_MS = 4000;      // "End session" must be pressed twice within this time
  var STICKY_PX = 40;
  var KEY_RE = /^[!-~]{8,128}$/;  // the server's rule: printable ASCII, no spaces
  var KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";  // 64: url-safe
  var GENERATED_KEY_CHARS = 10;  // 60 random bits: plenty for a room's link, short enough to read out

  var sessionId = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() || "");
  var tokenKey = "cc.chair." + sessionId;
  var token = CC.takeTokenFromHash(tokenKey);
  var keyStoreKey = "cc.chair.key." + sessionId;  // the private session's key, in this tab only

  var state = {
    sessionState: null, lagMs: null, detected: null, probability: null, readers: {}, title: "",
    glossary: [], sourceLang: null, languages: [], conn: "connecting", reconnectAt: 0, everOpened: false,
    source: CC.store.get("cc.chair.source", "mic") === "station" ? "station" : "mic", joinUrl: "", shareUrl: "",
    public: null, key: CC.sessionStore.get(keyStoreKey) || null, accessPending: null
  };
  var log = new CC.CaptionLog();
  var ui = {
    gate: $("#gate"), console: $("#console"), conn: $("#conn"), state: $("#state"), notice: $("#notice"),
    transcript: $("#transcript"), scroll: $("#transcript-scroll"), partial: $("#partial"),
    meterBar: $("#meter-bar"), meter: $("#meter"), meterDb: $("#meter-db"), micToggle: $("#mic-toggle"),
    micStatus: $("#mic-status"), micDevice: $("#mic-device")
  };

  function showNotice(text, isError) {
    ui.notice.textContent = text || "";
    ui.notice.classList.toggle("error", !!isError);
    ui.notice.hidden = !text;
  }

  // -- token gate --------------------------------------------------------------
  function openGate(message) {
    ui.gate.hidden = false;
    ui.console.hidden = true;
    $("#gate-error").textContent = message || "";
    $("#gate-error").hidden = !message;
    $("#token-input").focus();
  }
  $("#token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var value = $("#token-input").value.trim();
    if (!value) return;
    token = value;
    CC.sessionStore.set(tokenKey, token);
    $("#token-input").value = "";
    openConsole();
  });

  // -- rendering -------------------------------------------------------------------
  var STATE_LABELS = { idle: "Waiting for audio", live: "Live", paused: "Paused", ended: "Ended" };
  function renderState() {
    var s = state.sessionState;
    ui.state.dataset.state = s || "connecting";
    ui.state.textContent = s ? STATE_LABELS[s] || s : "—";
    var micOn = !!mic.running;
    $("#btn-start").disabled = s === "ended" || (state.source === "mic" ? micOn : true);
    $("#btn-start").title = state.source === "station" ? "Start the capture station with the command below" : "";
    $("#btn-pause").disabled = s !== "live";
    $("#btn-resume").disabled = s !== "paused";
    $("#btn-end").disabled = s === "ended" || !s;
    $("#detected").textContent = state.detected
      ? CC.nativeName(state.detected) + (state.probability ? " (" + Math.round(state.probability * 100) + "%)" : "")
      : (state.sourceLang && state.sourceLang !== "auto" ? CC.nativeName(state.sourceLang) : "—");
    $("#lag").textContent = typeof state.lagMs === "number" ? (state.lagMs / 1000).toFixed(1) + " s" : "—";
    var ul = $("#readers");
    ul.textContent = "";
    var langs = Object.keys(state.readers).filter(function (k) { return state.readers[k] > 0; }).sort();
    if (!langs.length) ul.appendChild(el("li", { class: "muted", text: "none yet" }));
    langs.forEach(function (l) {
      ul.appendChild(el("li", { dataset: { lang: l } }, [el("bdi", { lang: l, text: CC.nativeName(l) }), " ", el("strong", { text: String(state.readers[l]) })]));
    });
    $("#session-title").textContent = state.title;
    if (state.title) document.title = state.title + " · Chair console";
  }
  function renderConn() {
    var label, s;
    if (state.conn === "open") { s = "live"; label = "Connected"; }
    else if (state.conn === "reconnecting") {
      s = "reconnecting";
      label = "Reconnecting in " + Math.max(1, Math.ceil((state.reconnectAt - Date.now()) / 1000)) + " s";
    } else if (state.conn === "stopped") { s = "error"; label = "Disconnected"; }
    else { s = "connecting"; label = "Connecting…"; }
    ui.conn.dataset.state = s;
    ui.conn.textContent = label;
  }

  function lineNode(line) {
    var li = el("li", { class: "tline", dataset: { id: line.id }, tabindex: "0" });
    fillLine(li, line);
    return li;
  }
  function fillLine(li, line) {
    li.textContent = "";
    li.classList.toggle("corrected", !!(line.corrected || line.revision > 0));
    li.classList.toggle("pending", !!line.pending);
    li.appendChild(el("time", { text: CC.formatClock(line.start_ms) }));
    var body = el("span", { class: "body" }, [el("span", { class: "text", text: line.text })]);
    if (line.origin === "manual") body.appendChild(el("span", { class: "tag", text: "typed" }));
    if (line.corrected || line.revision > 0) body.appendChild(el("span", { class: "tag fixed", text: "corrected" }));
    if (line.pending) body.appendChild(el("span", { class: "tag", text: "saving…" }));
    li.appendChild(body);
  }
  function nearBottom() {
    var s = ui.scroll;
    return s.scrollHeight - s.scrollTop - s.clientHeight < STICKY_PX;
  }
  function keepBottom(wasNear) { if (wasNear) ui.scroll.scrollTop = ui.scroll.scrollHeight; }
  function addCaption(f) {
    var wasNear = nearBottom();
    var res = log.add(f);
    if (!res) return;
    $("#transcript-empty").hidden = true;
    var existing = ui.transcript.querySelector('[data-id="' + cssEscape(res.line.id) + '"]');
    if (existing) { if (!existing.querySelector("input")) fillLine(existing, res.line); }
    else {
      var before = res.before ? ui.transcript.querySelector('[data-id="' + cssEscape(res.before.id) + '"]') : null;
      ui.transcript.insertBefore(lineNode(res.line), before);
    }
    keepBottom(wasNear);
  }
  function applyCorrection(f) {
    var line = log.correct(f);
    if (!line) return;
    line.pending = false;
    var li = ui.transcript.querySelector('[data-id="' + cssEscape(line.id) + '"]');
    if (li && !li.querySelector("input")) fillLine(li, line);
  }
  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(String(s)) : String(s); }

  // -- inline correction ---------------------------------------------------------------
  function beginEdit(li) {
    if (li.querySelector("input")) return;
    var line = log.byId[li.dataset.id];
    if (!line) return;
    var body = li.querySelector(".body");
    var input = el("input", { type: "text", value: line.text, "aria-label": "Correct this line", maxlength: "2000" });
    input.value = line.text;
    body.replaceWith(input);
    input.focus();
    input.select();
    var done = false;
    function finish(save) {
      if (done) return;
      done = true;
      var text = input.value.replace(/\s+/g, " ").trim();
      if (save && text && text !== line.text) {
        if (chairSocket.send({ type: "correct", id: line.id, text: text })) {
          line.text = text;
          line.pending = true;
        } else {
          showNotice("Not connected: the correction was not sent. Try again when the console is connected.", true);
        }
      }
      fillLine(li, line);
      li.focus();
    }
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); finish(true); }
      else if (ev.key === "Escape") { ev.preventDefault(); finish(false); }
    });
    input.addEventListener("blur", function () { finish(false); });
  }
  ui.transcript.addEventListener("click", function (ev) {
    var li = ev.target.closest(".tline");
    if (li && ev.target.tagName !== "INPUT") beginEdit(li);
  });
  ui.transcript.addEventListener("keydown", function (ev) {
    if (ev.target.classList && ev.target.classList.contains("tline") && (ev.key === "Enter" || ev.key === "F2")) {
      ev.preventDefault();
      beginEdit(ev.target);
    }
  });

  // -- the console socket ---------------------------------------------------------------
  function applyInfo(f) {
    if ("state" in f) state.sessionState = f.state;
    if ("lag_ms" in f) state.lagMs = f.lag_ms;
    if ("detected_language" in f) state.detected = f.detected_language;
    if ("probability" in f) state.probability = f.probability;
    if (f.readers) state.readers = f.readers;
    if (typeof f.title === "string") { state.title = f.title; if (!editDirty) $("#title-input").value = f.title; }
    if (Array.isArray(f.glossary)) { state.glossary = f.glossary; if (!editDirty) $("#glossary-input").value = f.glossary.join("\n"); }
    if (f.source_lang) state.sourceLang = f.source_lang;
    if (typeof f.level_db === "number" && !mic.running) setMeter(f.level_db);
    if (typeof f.url === "string" && f.url) state.joinUrl = f.url;
    if (typeof f.public === "boolean") applyAccess(f.public);
    else if (typeof f.url === "string" && f.url) renderJoin();
    renderState();
  }
  function onChairFrame(f) {
    document.dispatchEvent(new CustomEvent("cc:frame", { detail: f }));  // for chair-questions.js
    switch (f.type) {
      case "hello":
        if (typeof f.seq === "number" && f.seq < log.maxSeq) { log.reset(); ui.transcript.textContent = ""; }
        state.sourceLang = f.source_lang;
        state.languages = f.languages || [];
        if (f.title) state.title = f.title;
        renderState();
        break;
      case "caption": addCaption(f); break;
      case "correction": applyCorrection(f); break;
      case "partial":
        ui.partial.textContent = f.text || "";
        keepBottom(nearBottom());
        break;
      case "status":
        state.lagMs = f.lag_ms;
        renderState();
        break;
      case "info": applyInfo(f); break;
      case "level": if (typeof f.level_db === "number" && !mic.running) setMeter(f.level_db); break;
      case "readers": state.readers = f.readers || {}; renderState(); break;
      case "error":
        if (state.accessPending) accessFailed(f.message || f.code);
        else showNotice(f.message || f.code, true);
        break;
      default: break;
    }
  }
  var chairSocket = new CC.ReconnectingSocket({
    url: function () { return CC.wsUrl("/ws/chair/" + encodeURIComponent(sessionId)); },
    protocols: function () { return ["bearer." + token]; },
    onframe: onChairFrame,
    onstate: function (s, info) {
      state.conn = s;
      if (s === "reconnecting") state.reconnectAt = info.at;
      if (s === "open") { state.everOpened = true; showNotice(""); }
      renderConn();
    },
    onclose: function (ev, opened) {
      if (!opened && !state.everOpened) {
        // The upgrade was refused (wrong token or unknown session): ask instead of retrying blindly.
        checkAccess();
        return false;
      }
      return true;
    }
  });
  async function checkAccess() {
    try {
      var resp = await fetch("/api/sessions/" + encodeURIComponent(sessionId) + "/qr.svg", { method: "GET" });
      if (resp.status === 404) { openGate("There is no session called “" + sessionId + "” on this server."); return; }
    } catch (e) {
      showNotice("Cannot reach the server. Retrying…", true);
      setTimeout(function () { chairSocket.start(); }, 3000);
      return;
    }
    CC.sessionStore.remove(tokenKey);
    openGate("The console could not connect: the chair token is probably wrong or has been rotated.");
  }

  function send(obj) {
    if (!chairSocket.send(obj)) showNotice("Not connected to the server; try again in a moment.", true);
  }

  // -- session buttons -------------------------------------------------------------------
  var endTimer = null;
  $("#btn-pause").addEventListener("click", function () { send({ type: "pause" }); });
  $("#btn-resume").addEventListener("click", function () { send({ type: "resume" }); });
  $("#btn-start").addEventListener("click", function () {
    if (state.source === "mic") startMic();
    if (state.sessionState === "paused") send({ type: "resume" });
  });
  $("#btn-end").addEventListener("click", function () {
    var b = $("#btn-end");
    if (!b.classList.contains("armed")) {
      b.classList.add("armed");
      b.textContent = "Press again to end";
      endTimer = setTimeout(disarmEnd, END_ARM_MS);
      return;
    }
    disarmEnd();
    stopMic("");
    send({ type: "end" });
  });
  function disarmEnd() {
    clearTimeout(endTimer);
    var b = $("#btn-end");
    b.classList.remove("armed");
    b.textContent = "End session";
  }

  // -- manual captions, title and glossary ------------------------------------------------
  $("#manual-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = $("#manual-text"), text = input.value.trim();
    if (!text) return;
    if (chairSocket.send({ type: "caption_text", text: text })) input.value = "";
    else showNotice("Not connected: the caption was not sent.", true);
  });
  var editDirty = false;
  $("#title-input").addEventListener("input", function () { editDirty = true; });
  $("#glossary-input").addEventListener("input", function () { editDirty = true; });
  $("#edit-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var title = $("#title-input").value.trim();
    var glossary = $("#glossary-input").value.split("\n").map(function (t) { return t.trim(); })
      .filter(function (t) { return t.length > 0; });
    var msg = { type: "update", glossary: glossary };
    if (title) msg.title = title;
    if (chairSocket.send(msg)) {
      editDirty = false;
      $("#edit-status").textContent = "Saved.";
      setTimeout(function () { $("#edit-status").textContent = ""; }, 3000);
    } else {
      $("#edit-status").textContent = "Not connected; not saved.";
    }
  });

  // -- level meter ------------------------------------------------------------------------
  var meterShown = METER_FLOOR_DB;
  function setMeter(db, hold) {
    var v = Math.max(METER_FLOOR_DB, Math.min(0, db));
    // Fall back slowly (like a peak meter) so the gaps between words do not blank the bar.
    if (hold && v < meterShown - METER_FALL_DB) v = meterShown - METER_FALL_DB;
    meterShown = v;
    var pct = (v - METER_FLOOR_DB) / -METER_FLOOR_DB * 100;
    ui.meterBar.style.width = pct.toFixed(1) + "%";
    ui.meter.setAttribute("aria-valuenow", v.toFixed(0));
    ui.meter.dataset.db = v.toFixed(1);
    ui.meterDb.textContent = (v <= METER_FLOOR_DB ? "−∞" : v.toFixed(0)) + " dB";
  }
  function sizeMeter() { ui.meter.style.setProperty("--meter-full", ui.meter.clientWidth + "px"); }
  window.addEventListener("resize", sizeMeter);

  // -- this browser's microphone -----------------------------------------------------------
  var mic = { running: false, stream: null, ctx: null, node: null, source: null, socket: null, ready: false,
              streamId: null, total: 0, chunks: [] };
  function newStreamId() {
    var a = new Uint8Array(9);
    crypto.getRandomValues(a);
    return "browser-" + Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  function micStatus(text) { ui.micStatus.textContent = text; }

  async function startMic() {
    if (mic.running) return;
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      $("#insecure").hidden = false;
      micStatus("The microphone is not available on this page.");
      return;
    }
    var deviceId = ui.micDevice.value;
    try {
      mic.stream = await navigator.mediaDevices.getUserMedia({ audio: {
        deviceId: deviceId ? { exact: deviceId } : undefined, channelCount: 1,
        echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    } catch (e) {
      micStatus(e && e.name === "NotAllowedError"
        ? "Microphone permission was refused. Allow it in the address bar and try again."
        : "Could not open the microphone: " + (e && e.message ? e.message : e));
      return;
    }
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      mic.ctx = new Ctx({ latencyHint: "interactive" });
      await mic.ctx.audioWorklet.addModule("/static/pcm-worklet.js");
      mic.source = mic.ctx.createMediaStreamSource(mic.stream);
      mic.node = new AudioWorkletNode(mic.ctx, "pcm16k", { numberOfInputs: 1, numberOfOutputs: 0 });
      mic.node.port.onmessage = function (ev) { onPcm(ev.data); };
      mic.source.connect(mic.node);
      if (mic.ctx.state === "suspended") await mic.ctx.resume();
    } catch (e) {
      micStatus("Could not process audio in this browser: " + (e && e.message ? e.message : e));
      releaseMic();
      return;
    }
    mic.running = true;
    mic.streamId = newStreamId();
    mic.total = 0;
    mic.chunks = [];
    mic.ready = false;
    ui.micToggle.textContent = "Stop microphone";
    ui.micToggle.classList.add("danger");
    micStatus("Connecting the audio…");
    listDevices();
    sizeMeter();
    mic.socket = new CC.ReconnectingSocket({
      url: function () { return CC.wsUrl("/ws/audio/" + encodeURIComponent(sessionId)); },
      protocols: function () { return ["bearer." + token]; },
      onopen: function (ws) {
        mic.ready = false;
        ws.send(JSON.stringify({ type: "start", sample_rate: SAMPLE_RATE, channels: 1, format: "s16le", stream: mic.streamId }));
      },
      onframe: onAudioFrame,
      onstate: function (s, info) {
        if (s !== "open") mic.ready = false;
        if (s === "reconnecting" && mic.running) micStatus("Audio connection lost; reconnecting in " + Math.ceil(info.delayMs / 1000) + " s (audio is kept).");
      },
      onclose: function (ev) {
        if (ev.code === 4409) { stopMic("Another audio source took over this session."); return false; }
        if (ev.code >= 4400 && ev.code < 4500) { stopMic(mic.lastError || "The server refused the audio (" + ev.code + ")."); return false; }
        return mic.running;
      }
    });
    mic.socket.start();
    renderState();
  }
  function onAudioFrame(f) {
    if (f.type === "ready") {
      var from = typeof f.received === "number" ? f.received : 0;
      dropUntil(from);
      mic.ready = true;
      mic.chunks.forEach(function (c) {
        var skip = Math.max(0, from - c.start);
        mic.socket.send(skip ? c.data.subarray(skip) : c.data);
      });
      micStatus("Sending this browser's microphone to the server.");
    } else if (f.type === "ack") {
      dropUntil(f.received);
    } else if (f.type === "error") {
      mic.lastError = f.message;
      micStatus(f.message || f.code);
    }
  }
  function dropUntil(sample) {
    while (mic.chunks.length && mic.chunks[0].start + mic.chunks[0].data.length <= sample) mic.chunks.shift();
  }
  function onPcm(msg) {
    var db = 20 * Math.log10(Math.max(msg.rms, 1e-6));
    setMeter(db, true);
    if (!mic.running) return;
    var data = new Int16Array(msg.pcm);
    mic.chunks.push({ start: mic.total, data: data });
    mic.total += data.length;
    while (mic.chunks.length && mic.total - mic.chunks[0].start > MAX_UNACKED_S * SAMPLE_RATE) mic.chunks.shift();
    if (mic.ready) mic.socket.send(data);
  }
  function releaseMic() {
    if (mic.source) { try { mic.source.disconnect(); } catch (e) { /* gone */ } }
    if (mic.stream) mic.stream.getTracks().forEach(function (t) { t.stop(); });
    if (mic.ctx) mic.ctx.close();
    mic.stream = mic.ctx = mic.node = mic.source = null;
  }
  function stopMic(message) {
    var wasRunning = mic.running;
    mic.running = false;
    if (mic.socket) {
      var sock = mic.socket;
      mic.socket = null;
      if (sock.ws && sock.ws.readyState === 1 && mic.ready) {
        sock.send({ type: "stop" });
        setTimeout(function () { sock.stop(); }, 1000);
      } else sock.stop();
    }
    mic.ready = false;
    releaseMic();
    ui.micToggle.textContent = "Start microphone";
    ui.micToggle.classList.remove("danger");
    if (wasRunning || message) micStatus(message || "Microphone stopped.");
    setMeter(METER_FLOOR_DB);
    renderState();
  }
  ui.micToggle.addEventListener("click", function () { if (mic.running) stopMic(""); else startMic(); });
  ui.micDevice.addEventListener("change", function () {
    CC.store.set("cc.chair.mic", ui.micDevice.value);
    if (mic.running) { stopMic(""); startMic(); }
  });
  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    var devices;
    try { devices = await navigator.mediaDevices.enumerateDevices(); } catch (e) { return; }
    var wanted = ui.micDevice.value || CC.store.get("cc.chair.mic", "");
    ui.micDevice.textContent = "";
    ui.micDevice.appendChild(el("option", { value: "", text: "Default microphone" }));
    devices.filter(function (d) { return d.kind === "audioinput" && d.deviceId && d.deviceId !== "default"; })
      .forEach(function (d, i) {
        ui.micDevice.appendChild(el("option", { value: d.deviceId, text: d.label || "Microphone " + (i + 1) }));
      });
    ui.micDevice.value = wanted;
    if (ui.micDevice.value !== wanted) ui.micDevice.value = "";
  }

  // -- audio source choice ------------------------------------------------------------------
  function renderSource() {
    document.querySelectorAll('input[name="source"]').forEach(function (r) { r.checked = r.value === state.source; });
    $("#mic-panel").hidden = state.source !== "mic";
    $("#station-panel").hidden = state.source !== "station";
    $("#insecure").hidden = !!window.isSecureContext;
    $("#station-cmd").textContent = stationCommand(false);
    renderState();
  }
  function stationCommand(withToken) {
    var env = withToken ? "ASSISTANT_CHAIR_TOKEN='" + token + "' " : "";
    return env + "assistant capture --server " + location.origin + " --session " + sessionId;
  }
  document.querySelectorAll('input[name="source"]').forEach(function (r) {
    r.addEventListener("change", function () {
      state.source = r.value;
      CC.store.set("cc.chair.source", state.source);
      if (state.source === "station" && mic.running) stopMic("");
      renderSource();
    });
  });
  function copy(text, button) {
    var done = function () { var old = button.textContent; button.textContent = "Copied"; setTimeout(function () { button.textContent = old; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, function () { prompt("Copy:", text); });
    else prompt("Copy:", text);
  }
  $("#copy-cmd").addEventListener("click", function (ev) { copy(stationCommand(true), ev.currentTarget); });

  // -- who can read: public, or private with a key ------------------------------------------------
  function generateKey() {
    var a = new Uint8Array(GENERATED_KEY_CHARS);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return KEY_ALPHABET[b & 63]; }).join("");
  }
  function keyProblem(key) {
    if (!key) return "Type a key or press Generate.";
    if (/\s/.test(key)) return "A key cannot contain spaces.";
    if (key.length < 8) return "A key needs at least 8 characters.";
    if (!KEY_RE.test(key)) return "Use letters, digits and symbols (A–Z, 0–9, - _ …), at most 128.";
    return "";
  }
  function rememberKey(key) {
    state.key = key || null;
    if (key) CC.sessionStore.set(keyStoreKey, key); else CC.sessionStore.remove(keyStoreKey);
  }
  var accessDirty = false;
  function selectedAccess() {
    var r = document.querySelector('input[name="access"]:checked');
    return r ? r.value : null;
  }
  function accessStatus(text, isError) {
    var s = $("#access-status");
    s.textContent = text || "";
    s.classList.toggle("field-error", !!isError);
    s.classList.toggle("muted", !isError);
  }
  function renderAccess() {
    var pub = state.public, badge = $("#access-badge");
    badge.dataset.access = pub === null ? "unknown" : pub ? "public" : "private";
    badge.textContent = pub === null ? "—" : pub ? "Public" : "Private";
    $("#access-now").textContent = pub === null ? "" : pub
      ? "Anyone who has the link or scans the QR code can read the captions."
      : "Only people with the key can read: share the join link or QR code, which carry it.";
    if (!accessDirty && pub !== null) {
      document.querySelectorAll('input[name="access"]').forEach(function (r) {
        r.checked = r.value === (pub ? "public" : "private");
      });
      $("#key-input").value = pub ? "" : state.key || "";
    }
    var choice = selectedAccess(), apply = $("#access-apply"), keyInput = $("#key-input");
    $("#key-fields").hidden = choice !== "private";
    if (choice === "private") {
      apply.textContent = pub === false ? "Set new key" : "Make private";
      apply.disabled = pub === false && !!state.key && keyInput.value.trim() === state.key;
    } else {
      apply.textContent = "Make public";
      apply.disabled = pub !== false;
    }
    if (state.accessPending) apply.disabled = true;
  }
  function applyAccess(isPublic) {
    var pending = state.accessPending;
    state.public = isPublic;
    if (pending) {
      state.accessPending = null;
      accessDirty = false;
      if (pending.public === isPublic) {
        rememberKey(isPublic ? null : pending.key);
        accessStatus(isPublic ? "Saved: the session is public." : "Saved: delegates now need the key.");
      } else {
        accessStatus("Not saved; try again.", true);
      }
    } else if (isPublic) {
      rememberKey(null);  // a public session needs no key; a new one is set when it turns private again
    } else if (state.key) {
      checkKey(state.key).then(function (ok) {  // another console may have changed it
        if (ok === false && state.key) {
          rememberKey(null);
          showKeyError("The key this page knew no longer opens the session; it was changed elsewhere.");
          renderAccess();
          renderJoin();
        }
      });
    }
    renderAccess();
    renderJoin();
  }
  function accessFailed(message) {
    state.accessPending = null;
    accessStatus("Not saved: " + message, true);
    renderAccess();
  }
  document.querySelectorAll('input[name="access"]').forEach(function (r) {
    r.addEventListener("change", function () {
      accessDirty = true;
      accessStatus("");
      renderAccess();
      if (r.value === "private" && r.checked) $("#key-input").focus();
    });
  });
  $("#key-input").addEventListener("input", function () {
    accessDirty = true;
    $("#key-input").removeAttribute("aria-invalid");
    accessStatus("");
    renderAccess();
  });
  $("#key-generate").addEventListener("click", function () {
    var input = $("#key-input");
    input.value = generateKey();
    input.removeAttribute("aria-invalid");
    accessDirty = true;
    accessStatus("New key made; press “" + (state.public === false ? "Set new key" : "Make private") + "” to use it.");
    renderAccess();
    input.focus();
    input.select();
  });
  $("#access-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var choice = selectedAccess();
    if (!choice || state.accessPending) return;
    var msg, key = null;
    if (choice === "public") {
      msg = { type: "update", public: true, key: "" };
    } else {
      key = $("#key-input").value.trim();
      $("#key-input").value = key;
      var problem = keyProblem(key);
      if (problem) {
        $("#key-input").setAttribute("aria-invalid", "true");
        accessStatus(problem, true);
        $("#key-input").focus();
        return;
      }
      msg = { type: "update", public: false, key: key };
    }
    if (!chairSocket.send(msg)) { accessStatus("Not connected; not saved.", true); return; }
    state.accessPending = { public: choice === "public", key: key };
    accessStatus("Saving…");
    renderAccess();
  });

  // -- join panel -----------------------------------------------------------------------------
  async function loadJoin() {
    var url = location.origin + "/s/" + encodeURIComponent(sessionId);
    try {
      var data = await CC.fetchJson("/api/sessions");
      (data.sessions || []).forEach(function (s) {
        if (s.id !== sessionId) return;
        if (s.url) url = s.url;
        if (state.public === null && typeof s.public === "boolean") state.public = s.public;
      });
    } catch (e) { /* a private session is not listed: the console's info frame brings the URL */ }
    if (!state.joinUrl) state.joinUrl = url;
    renderAccess();
    renderJoin();
  }
  function keyQuery(key) { return key ? "?key=" + encodeURIComponent(key) : ""; }
  function qrPath(key) { return "/api/sessions/" + encodeURIComponent(sessionId) + "/qr.svg" + keyQuery(key); }
  async function checkKey(key) {
    // true: the key opens the session; false: refused; null: could not tell (offline).
    try {
      var resp = await fetch(qrPath(key), { cache: "no-store" });
      if (resp.ok) return true;
      return resp.status === 401 || resp.status === 403 ? false : null;
    } catch (e) { return null; }
  }
  function showKeyError(text) {
    $("#join-key-error").textContent = text || "";
    $("#join-key-error").hidden = !text;
    if (text) $("#join-key-input").setAttribute("aria-invalid", "true");
    else $("#join-key-input").removeAttribute("aria-invalid");
  }
  function setSrc(img, src) { if (img.getAttribute("src") !== src) img.src = src; }
  function renderJoin() {
    var locked = state.public === false && !state.key;
    var known = state.public !== null && !!state.joinUrl;
    $("#join-locked").hidden = !locked;
    $("#join-open").hidden = locked || !known;
    $("#present").hidden = locked || !known;
    if (locked || !known) return;
    var key = state.public === false ? state.key : null;
    var url = state.joinUrl + keyQuery(key), shown = url.replace(/^https?:\/\//, "");
    showKeyError("");
    state.shareUrl = url;
    [$("#qr"), $("#projector-qr")].forEach(function (img) {
      setSrc(img, qrPath(key));
      img.alt = "QR code for " + shown;
    });
    $("#join-url").href = url;
    $("#join-url").textContent = shown;
    $("#projector-url").textContent = shown;
    $("#join-private").hidden = !key;
  }
  $("#join-key-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    var input = $("#join-key-input"), key = input.value.trim(), problem = keyProblem(key);
    if (problem) { showKeyError(problem); input.focus(); return; }
    var ok = await checkKey(key);
    if (ok === false) { showKeyError("That key does not open this session. Check it, or set a new one under “Who can read”."); input.focus(); return; }
    if (ok === null) { showKeyError("Could not reach the server to check the key; try again."); return; }
    input.value = "";
    rememberKey(key);
    renderAccess();
    renderJoin();
    $("#join-url").focus();
  });
  $("#join-key-input").addEventListener("input", function () { showKeyError(""); });
  $("#copy-url").addEventListener("click", function (ev) { copy(state.shareUrl || state.joinUrl, ev.currentTarget); });
  $("#present").addEventListener("click", function () {
    $("#projector").hidden = false;
    $("#projector-close").focus();
    var p = $("#projector");
    if (p.requestFullscreen) p.requestFullscreen().catch(function () { /* windowed is fine */ });
  });
  function closeProjector() {
    $("#projector").hidden = true;
    if (document.fullscreenElement) document.exitFullscreen();
  }
  $("#projector-close").addEventListener("click", closeProjector);
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape" && !$("#projector").hidden) closeProjector(); });
  document.addEventListener("fullscreenchange", function () { if (!document.fullscreenElement) $("#projector").hidden = true; });

  // -- start ------------------------------------------------------------------------------------
  function openConsole() {
    ui.gate.hidden = true;
    ui.console.hidden = false;
    renderSource();
    renderConn();
    sizeMeter();
    setMeter(METER_FLOOR_DB);
    loadJoin();
    chairSocket.everOpened = false;
    state.everOpened = false;
    chairSocket.start();
  }
  setInterval(renderConn, 1000);
  window.addEventListener("online", function () { chairSocket.kick(); });
  if (!sessionId) { openGate("This address has no session in it."); return; }
  if (token) openConsole(); else openGate("");
  listDevices();

  window.chairDebug = { state: state, log: log, mic: mic, socket: chairSocket };
})();
