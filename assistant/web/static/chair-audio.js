/* The chair console, part 7: this browser's microphone, the level meter, and the audio socket
   (/ws/audio/S, docs/capture.md) with its resend buffer. */
(function (C) {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, ui = C.ui, t = CC.t;

  var SAMPLE_RATE = 16000;        // what pcm-worklet.js sends: 16 kHz mono s16le, 100 ms a chunk
  var METER_FLOOR_DB = -60;
  var METER_FALL_DB = 4;          // per 100 ms chunk
  var MAX_GAP_S = 3600;           // the most one "gap" frame may carry; a longer gap takes several
  var STOP_GRACE_MS = 5000;       // after "stop" the server acknowledges and closes; past this we close
  var REPLACED_CLOSE_CODE = 4409; // another audio source took over the session
  // Tests shrink these (window.chairDebug.audio.config) before starting the microphone.
  var config = {
    maxBufferS: 60,  // audio kept for resending; a longer drop is resent as a gap of silence
    stallS: 10       // audio captured with no frame from the server: the connection is dead, make a new one
  };

  var mic = { running: false, stream: null, ctx: null, node: null, source: null, socket: null, ready: false,
              streamId: null, buffer: null, sinceHeard: 0, stalls: 0, lastError: "" };

  // -- level meter ----------------------------------------------------------------------------------
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
  /** The server's level of the session's audio: shown while this browser sends none. */
  function serverLevel(db) { if (!mic.running) setMeter(db); }

  // -- the microphone -------------------------------------------------------------------------------
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
      micStatus(t("chair.mic_unavailable"));
      return;
    }
    var deviceId = ui.micDevice.value;
    try {
      mic.stream = await navigator.mediaDevices.getUserMedia({ audio: {
        deviceId: deviceId ? { exact: deviceId } : undefined, channelCount: 1,
        echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    } catch (e) {
      micStatus(e && e.name === "NotAllowedError"
        ? t("chair.mic_refused")
        : t("chair.mic_failed", { error: String(e && e.message ? e.message : e) }));
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
      micStatus(t("chair.audio_failed", { error: String(e && e.message ? e.message : e) }));
      releaseMic();
      return;
    }
    mic.running = true;
    mic.streamId = newStreamId();
    mic.buffer = new C.ResendBuffer(Math.round(config.maxBufferS * SAMPLE_RATE));
    mic.ready = false;
    mic.stalls = 0;
    mic.lastError = "";
    ui.micToggle.textContent = t("chair.mic_stop");
    ui.micToggle.classList.add("danger");
    micStatus(t("chair.audio_connecting"));
    listDevices();
    sizeMeter();
    mic.socket = audioSocket();
    mic.socket.start();
    C.renderState();
  }

  /** One stream's socket; its events are ignored once another stream (or none) is current. */
  function audioSocket() {
    var sock = new CC.ReconnectingSocket({
      url: function () { return CC.wsUrl("/ws/audio/" + encodeURIComponent(C.sessionId)); },
      protocols: function () { return ["bearer." + C.token]; },
      onopen: function (ws) {
        if (mic.socket !== sock) return;
        mic.ready = false;
        ws.send(JSON.stringify({ type: "start", sample_rate: SAMPLE_RATE, channels: 1, format: "s16le", stream: mic.streamId }));
      },
      onframe: function (f) { if (mic.socket === sock) onAudioFrame(f); },
      onstate: function (s, info) {
        if (mic.socket !== sock) return;
        if (s !== "open") mic.ready = false;
        if (s === "reconnecting" && mic.running) micStatus(t("chair.audio_reconnecting", { seconds: Math.ceil(info.delayMs / 1000) }));
      },
      onclose: function (ev) {
        if (mic.socket !== sock) return false;
        if (ev.code === REPLACED_CLOSE_CODE) { stopMic(t("chair.audio_replaced")); return false; }
        if (ev.code >= 4400 && ev.code < 4500) { stopMic(mic.lastError || t("chair.audio_refused", { code: String(ev.code) })); return false; }
        return mic.running;
      }
    });
    return sock;
  }

  function onAudioFrame(f) {
    mic.sinceHeard = 0;
    if (f.type === "ready") {
      var plan = mic.buffer.pendingFrom(typeof f.received === "number" ? f.received : 0);
      if (!plan) { stopMic(t("chair.audio_position_bad")); return; }
      // The page comes from the server it talks to, and that server takes gaps (its ready lists "gap").
      for (var left = plan.gap; left > 0; left -= MAX_GAP_S * SAMPLE_RATE) {
        mic.socket.send({ type: "gap", samples: Math.min(left, MAX_GAP_S * SAMPLE_RATE) });
      }
      plan.frames.forEach(function (frame) { mic.socket.send(frame); });
      mic.ready = true;
      mic.socket.attempt = 0;  // the audio socket has no "hello": a "ready" proves the connection works
      micStatus(t("chair.mic_sending"));
    } else if (f.type === "ack") {
      mic.buffer.ack(f.received);
    } else if (f.type === "error") {
      mic.lastError = C.serverError(f.code, f.message);
      micStatus(mic.lastError);
    }
  }

  function onPcm(msg) {
    setMeter(20 * Math.log10(Math.max(msg.rms, 1e-6)), true);
    if (!mic.running) return;
    var data = new Int16Array(msg.pcm);
    mic.buffer.append(data);
    if (!mic.ready) return;
    mic.socket.send(data);
    mic.sinceHeard += data.length;
    // The server acknowledges every second of audio. This long without a word, the network has
    // gone without closing the socket (Wi-Fi lost): stop piling audio into a dead socket.
    if (mic.sinceHeard > config.stallS * SAMPLE_RATE) {
      mic.ready = false;
      mic.sinceHeard = 0;
      mic.stalls += 1;
      micStatus(t("chair.audio_stalled"));
      mic.socket.restart();
    }
  }

  function releaseMic() {
    if (mic.source) { try { mic.source.disconnect(); } catch (e) { /* gone */ } }
    if (mic.stream) mic.stream.getTracks().forEach(function (t) { t.stop(); });
    if (mic.ctx) mic.ctx.close();
    mic.stream = mic.ctx = mic.node = mic.source = null;
  }

  /** Stop capturing; what was captured goes out with "stop" when connected. ``message`` says why. */
  function stopMic(message) {
    var wasRunning = mic.running;
    mic.running = false;
    if (mic.socket) {
      var sock = mic.socket;
      mic.socket = null;
      if (sock.ws && sock.ws.readyState === 1 && mic.ready) {
        sock.send({ type: "stop" });
        // The server acknowledges everything and closes; this only ends a connection that hangs.
        setTimeout(function () { sock.stop(); }, STOP_GRACE_MS);
      } else sock.stop();
    }
    mic.ready = false;
    releaseMic();
    ui.micToggle.textContent = t("chair.mic_start");
    ui.micToggle.classList.remove("danger");
    if (wasRunning || message) micStatus(message || t("chair.mic_stopped"));
    setMeter(METER_FLOOR_DB);
    C.renderState();
  }
  ui.micToggle.addEventListener("click", function () { if (mic.running) stopMic(""); else startMic(); });
  ui.micDevice.addEventListener("change", function () {
    CC.store.set("cc.chair.mic", ui.micDevice.value);
    if (mic.running) { stopMic(""); startMic(); }
  });
  window.addEventListener("online", function () { if (mic.socket) mic.socket.kick(); });

  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    var devices;
    try { devices = await navigator.mediaDevices.enumerateDevices(); } catch (e) { return; }
    var wanted = ui.micDevice.value || CC.store.get("cc.chair.mic", "");
    ui.micDevice.textContent = "";
    ui.micDevice.appendChild(el("option", { value: "", text: t("chair.default_mic") }));
    devices.filter(function (d) { return d.kind === "audioinput" && d.deviceId && d.deviceId !== "default"; })
      .forEach(function (d, i) {
        ui.micDevice.appendChild(el("option", { value: d.deviceId, text: d.label || t("chair.mic_n", { n: i + 1 }) }));
      });
    ui.micDevice.value = wanted;
    if (ui.micDevice.value !== wanted) ui.micDevice.value = "";
  }

  /** Write the button and the device list again (the interface language changed). */
  function relabel() {
    ui.micToggle.textContent = mic.running ? t("chair.mic_stop") : t("chair.mic_start");
    var first = ui.micDevice.querySelector('option[value=""]');
    if (first) first.textContent = t("chair.default_mic");
  }

  C.audio = {
    mic: mic, config: config, startMic: startMic, stopMic: stopMic, listDevices: listDevices,
    relabel: relabel, setMeter: setMeter, sizeMeter: sizeMeter, serverLevel: serverLevel, METER_FLOOR_DB: METER_FLOOR_DB
  };
})(window.Chair);
