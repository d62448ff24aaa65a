/* The delegate page: one caption stream in one language, resumable, readable on a phone.
   Interface strings come from the catalogue (i18n.js); the page starts once it is loaded. */
window.I18N.ready.then(function () {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, I18N = window.I18N, t = I18N.t;

  var SIZES = [1, 1.125, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5];  // rem
  var DEFAULT_SIZE = 1.5;
  // When the "N s behind" banner shows. Recognition trails speech by a second or two on a good day; translation
  // adds seconds by nature (the words of a clause must be agreed before they can be translated as a whole, and
  // translating takes its own time), so a translated language is called late only past a larger threshold:
  // below these the banner would stay up all session and mean nothing.
  var BEHIND_SPOKEN_MS = 4000;
  var BEHIND_TRANSLATED_MS = 8000;
  var SHOW_TRANSLATION_PART_MS = 1000;  // "…, N s of it for translation" once translation's share is a second
  var AT_BOTTOM_PX = 48;
  var MAX_PLAUSIBLE_LAG_MS = 120000;
  var ANNOUNCE_KEEP = 4;  // finished lines kept in the live region (older ones are removed)
  var SESSION_STATES = ["idle", "live", "paused", "ended"];
  var EMPTY_TEXT = {
    "": "delegate.waiting_words",
    waiting: "delegate.waiting_speaker",
    paused: "delegate.waiting_words",
    ended: "delegate.nothing_captioned"
  };
  var LANG_RE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/;
  // Captions as lines or paragraphs (see joinsPrevious).
  var FRAGMENT_MAX_WORDS = 2;            // "spoken." alone on a line reads as a fragment, not a caption
  var FRAGMENT_MAX_CHARS = 24;
  var FRAGMENT_MAX_CHARS_SPACELESS = 4;  // Chinese, Japanese, Thai…: no spaces to count words by
  var SPACELESS = ["zh", "zt", "ja", "th", "lo", "km", "my", "bo"];
  var SENTENCE_END = /[.!?…。！？؟।۔።][\u0022'”’»」』)\]]*$/;
  var PARAGRAPH_PAUSE_MS = 2500;   // after a sentence, a pause this long starts a new paragraph…
  var PARAGRAPH_SENTENCES = 4;     // …and so does a paragraph that holds this many sentences already
  var PARAGRAPH_BREAK_MS = 8000;   // a pause this long starts one even mid-sentence (text without punctuation)
  // The machine-translation note tells how to see a line's original ("tap a line") until the reader has done it
  // once, or has had this many translated lines arrive under it, at least TAP_TIP_GAP_MS apart (a back-log
  // translated at once, as for a language's first reader, counts once); from then on, on this device, the note only
  // says where the translation is from (a small phone's captions get back the line or two the tip took).
  var TAP_TIP_LINES = 8;
  var TAP_TIP_GAP_MS = 1000;

  // A room's permanent address (/r/{room}) shows the talk on now: room.js tells followTalk() which one.
  var roomMatch = /^\/r\/([^/]+)\/?$/.exec(location.pathname);
  var sessionId = roomMatch ? "" : decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() || "");
  // A private session's join link carries its key (?key=...); pass it on to the socket and downloads.
  var sessionKey = new URLSearchParams(location.search).get("key") || "";
  var keyParam = sessionKey ? "&key=" + encodeURIComponent(sessionKey) : "";
  var params = new URLSearchParams(location.search);
  // The caption language: ?lang= (remembered, like a choice in the picker), an earlier choice, or else the
  // best one the session offers for the phone's languages once its hello frame lists them.
  var askedLang = LANG_RE.test(params.get("lang") || "") ? params.get("lang") : "";
  if (askedLang) CC.store.set("cc.lang", askedLang);
  var chosenLang = askedLang || CC.store.get("cc.lang", "");

  var state = {
    lang: chosenLang,
    userChoseLang: !!chosenLang,
    autoPicked: false,   // whether the first hello's language list has been matched against the phone's
    title: "",           // the session's title, from hello frames
    notice: null,        // {key, values} of the notice under the bar
    sourceLang: null,
    languages: [],
    startedAt: null,
    live: null,          // from status frames; null until the first one
    session: null,       // "idle" | "live" | "paused" | "ended" from status frames; kept while reconnecting
    said: false,         // whether anything has been said in this session (a caption, or audio started)
    shownCard: "",       // the session-state card on screen: "", "waiting", "paused" or "ended"
    lagMs: null,         // from status frames: how far the reader's own language trails the speech
    translationMs: null, // the part of lagMs that translation adds (translated languages only)
    partialsOff: false,  // from status frames: this translated language gets finished lines only for now
    partial: null,       // the partial frame on screen, or null
    partialOpen: false,  // whether the partial shows its original (kept from one partial to the next)
    arrivalLagMs: null,  // how late the newest live caption arrived (its audio end vs now)
    replaying: true,     // frames before the first status of a connection are the back-fill
    conn: "connecting",
    reconnectAt: 0,
    autoScroll: true,
    mode: CC.store.get("cc.mode", "fast") === "stable" ? "stable" : "fast",
    announce: CC.store.get("cc.announce", "0") === "1",
    paragraphs: CC.store.get("cc.paragraphs", "0") === "1",
    tapTip: CC.store.get("cc.tap-tip", "1") === "1",  // whether the note still says how to see the original
    tipLines: 0,         // translated lines that arrived under the tip, the page in view (see TAP_TIP_LINES)
    tipLineAt: 0,        // when the last of them counted (Date.now())
    speaker: null        // who is speaking, from speaker frames
  };
  var log = new CC.CaptionLog();
  var nodes = {};      // caption id -> its <span class="cap">
  var roving = null;   // the one "original" button in the Tab order

  var ui = {
    title: $("#title"), conn: $("#conn"), lang: $("#lang"), list: $("#captions"), partial: $("#partial"),
    scroller: $("#scroller"), jump: $("#jump"), lag: $("#lag"), notice: $("#notice"), empty: $("#empty"),
    connSr: $("#conn-sr"), mtBanner: $("#mt-banner"), announcer: $("#announcer"), settings: $("#settings"),
    sessionState: $("#session-state"), partialsHint: $("#partials-hint"),
    settingsBtn: $("#settings-btn"), announceBox: $("#announce"), paragraphsBox: $("#paragraphs")
  };

  // -- display preferences -------------------------------------------------
  function currentSize() {
    var v = parseFloat(CC.store.get("cc.size", String(DEFAULT_SIZE)));
    return isFinite(v) ? v : DEFAULT_SIZE;
  }
  function setSize(rem) {
    document.documentElement.style.setProperty("--cap-size", rem + "rem");
    CC.store.set("cc.size", rem);
    $("#smaller").disabled = rem <= SIZES[0];
    $("#larger").disabled = rem >= SIZES[SIZES.length - 1];
    if (state.autoScroll) scrollToEnd();
  }
  function stepSize(dir) {
    var now = currentSize(), next = now;
    if (dir > 0) { for (var i = 0; i < SIZES.length; i++) if (SIZES[i] > now + 1e-6) { next = SIZES[i]; break; } }
    else { for (var j = SIZES.length - 1; j >= 0; j--) if (SIZES[j] < now - 1e-6) { next = SIZES[j]; break; } }
    setSize(next);
  }
  function effectiveTheme() {
    var t = document.documentElement.getAttribute("data-theme");
    if (t) return t;
    return window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function setTheme(theme) {
    document.documentElement.setAttribute("data-theme", theme);
    CC.store.set("cc.theme", theme);
    renderToggles();
  }
  /* Under "Fast": why this translated language shows finished lines only (status frames say when). */
  function renderPartialsHint() {
    var off = state.mode === "fast" && state.partialsOff && isTranslated();
    ui.partialsHint.textContent = off ? t("settings.fast_off_hint", { language: CC.localName(state.lang) }) : "";
    ui.partialsHint.hidden = !off;
  }
  function setMode(mode) {
    state.mode = mode;
    CC.store.set("cc.mode", mode);
    renderToggles();
  }
  function renderToggles() {
    var theme = effectiveTheme();
    document.querySelectorAll("[data-theme-choice]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.themeChoice === theme));
    });
    document.querySelectorAll("[data-mode-choice]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.modeChoice === state.mode));
    });
    document.body.classList.toggle("stable", state.mode === "stable");
    $("#mode-hint").textContent = t(state.mode === "stable" ? "settings.stable_hint" : "settings.fast_hint");
    renderPartialsHint();
    ui.announceBox.checked = state.announce;
    ui.paragraphsBox.checked = state.paragraphs;
    document.body.classList.toggle("paragraphs", state.paragraphs);
  }
  function setParagraphs(on) {
    state.paragraphs = on;
    CC.store.set("cc.paragraphs", on ? "1" : "0");
    renderToggles();
    relayout();
    if (state.autoScroll) scrollToEnd();
  }

  // -- rendering -----------------------------------------------------------
  /* Each caption is a <span class="cap" data-id> (found by id for corrections and revisions); the list's items
     are blocks that hold one caption each, or several: a fragment that ends the previous caption's sentence
     ("spoken.") is shown after it, not alone on a line, and "Read as paragraphs" lets captions flow together.
     This is display only: the log, corrections by id and the exported transcripts know nothing of blocks. */
  function displayLang(line) { return line.fallback && line.source_lang ? line.source_lang : line.lang; }
  function spaceless(lang) { return SPACELESS.indexOf(String(lang || "").split("-")[0]) >= 0; }
  function endsSentence(line) { return SENTENCE_END.test(String(line.text || "").trim()); }
  function isFragment(line) {
    var text = String(line.text || "").trim();
    if (!text) return false;
    if (spaceless(displayLang(line)) && !/\s/.test(text)) return Array.from(text).length <= FRAGMENT_MAX_CHARS_SPACELESS;
    return text.split(/\s+/).length <= FRAGMENT_MAX_WORDS && text.length <= FRAGMENT_MAX_CHARS;
  }
  /** Whether `line` goes on in the block that ends with `prev` (block: its <li>). */
  function joinsPrevious(prev, line, block) {
    if (!prev || !block || displayLang(prev) !== displayLang(line)) return false;
    if (line.continues) return true;  // a piece of the same line, settled before the line filled
    var ended = endsSentence(prev);
    if (!state.paragraphs) return !ended && isFragment(line);
    var gap = line.start_ms - prev.end_ms;
    if (gap >= PARAGRAPH_BREAK_MS) return false;
    return !ended || (gap < PARAGRAPH_PAUSE_MS && Number(block.dataset.sentences) < PARAGRAPH_SENTENCES);
  }
  function newBlock(line) {
    var lang = displayLang(line);
    return el("li", { class: "block", lang: lang, dir: CC.dirOf(lang), dataset: { sentences: 0 } });
  }
  function appendToBlock(block, node, line) {
    if (block.firstChild && !spaceless(displayLang(line))) block.appendChild(document.createTextNode(" "));
    block.appendChild(node);
    if (endsSentence(line)) block.dataset.sentences = Number(block.dataset.sentences) + 1;
  }
  /* A caption that arrived after every other: it joins the last block or starts one. */
  function placeLast(node, line) {
    var lines = log.lines, prev = lines.length > 1 ? lines[lines.length - 2] : null;
    var block = ui.list.lastElementChild;
    if (!joinsPrevious(prev, line, block)) { block = newBlock(line); ui.list.appendChild(block); }
    appendToBlock(block, node, line);
  }
  /* Every caption into blocks again: after one arrived out of order, a text changed, or the reading mode did. */
  function relayout() {
    var focused = ui.list.contains(document.activeElement) ? document.activeElement : null;
    var frag = document.createDocumentFragment(), block = null, prev = null;
    log.lines.forEach(function (line) {
      var node = nodes[line.id];
      if (!node) return;
      if (!joinsPrevious(prev, line, block)) { block = newBlock(line); frag.appendChild(block); }
      appendToBlock(block, node, line);
      prev = line;
    });
    ui.list.textContent = "";
    ui.list.appendChild(frag);
    if (focused && focused.isConnected) focused.focus({ preventScroll: true });
  }

  function lineNode(line) {
    var node = el("span", { class: "cap", dataset: { id: line.id, seq: line.seq } });
    nodes[line.id] = node;
    fillLine(node, line);
    return node;
  }
  /* A translated line, whose original can be shown (not one that came back untranslated). */
  function hasSource(line) {
    return !!line.source_text && !line.fallback && line.source_text !== line.text;
  }
  function fillLine(node, line) {
    var lang = displayLang(line);
    node.setAttribute("lang", lang);
    node.setAttribute("dir", CC.dirOf(lang));
    node.dataset.revision = line.revision || 0;
    var oldButton = node.querySelector("button.orig");
    var wasOpen = !!oldButton && oldButton.getAttribute("aria-expanded") === "true";
    var hadFocus = !!oldButton && document.activeElement === oldButton;
    node.textContent = "";
    node.appendChild(el("span", { class: "text", text: line.text }));
    if (line.fallback) node.appendChild(el("span", { class: "tag", title: t("caption.original_hint"), text: t("caption.original_tag") }));
    if (line.corrected || (line.revision || 0) > 0) {
      node.classList.add("corrected");
      node.appendChild(el("span", { class: "tag", title: t("caption.corrected_hint"), text: t("caption.corrected_tag") }));
    }
    if (hasSource(line)) {
      node.dataset.hasSource = "";
      var sourceId = "src-" + String(line.id).replace(/[^A-Za-z0-9_-]/g, "_");
      var button = originalButton(wasOpen, sourceId);
      node.appendChild(button);
      node.appendChild(sourceBox(line.source_lang || state.sourceLang || "", line.source_text, sourceId, !wasOpen));
      // The Tab stop follows the newest line, unless the reader is on another one right now.
      var newest = line === log.lines[log.lines.length - 1];
      if (oldButton === roving || !roving || !roving.isConnected || (newest && document.activeElement !== roving)) {
        setRoving(button);
      }
      if (hadFocus) button.focus({ preventScroll: true });
    } else {
      delete node.dataset.hasSource;
      if (oldButton === roving) roving = null;
    }
  }
  /* "Tap for the original": a real button, shut or open (aria-expanded). The caption list is one Tab stop
     however long it grows: only one of these buttons is in the Tab order (a roving tabindex), and the arrow
     keys move between them. */
  function originalButton(open, controls) {
    var label = t("caption.show_original");
    var button = el("button", { type: "button", class: "orig", tabindex: "-1", "aria-expanded": String(open),
                                "aria-label": label, title: label }, []);
    button.appendChild(translateIcon());
    if (controls) button.setAttribute("aria-controls", controls);
    return button;
  }
  function sourceBox(src, text, id, hidden) {
    return el("span", { class: "source", id: id, hidden: hidden, lang: src, dir: CC.dirOf(src) }, [
      el("small", { lang: I18N.locale, dir: I18N.dir, text: t("caption.original_in", { language: CC.localName(src) }) }),
      text
    ]);
  }
  function setRoving(button) {
    if (roving && roving !== button) roving.tabIndex = -1;
    roving = button;
    if (button) button.tabIndex = 0;
  }
  function toggleSource(node) {
    var button = node.querySelector("button.orig"), box = node.querySelector(".source");
    if (!button || !box) return;
    var wasAtEnd = state.autoScroll;
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    box.hidden = !open;
    if (open) tipTaken();
    if (wasAtEnd) scrollToEnd();
  }

  function addCaption(frame) {
    var res = log.add(frame);
    if (!res) return;
    ui.empty.hidden = true;
    if (!state.said) { state.said = true; renderSession(); }
    if (res.updated) {
      var existing = nodes[res.line.id];
      if (existing) { fillLine(existing, res.line); relayout(); }
    } else {
      var node = lineNode(res.line);
      if (res.before) relayout(); else placeLast(node, res.line);
      if (!state.replaying) {
        node.classList.add("fresh");
        announce(res.line);
        if (state.tapTip && hasSource(res.line) && !document.hidden && Date.now() - state.tipLineAt >= TAP_TIP_GAP_MS) {
          state.tipLineAt = Date.now();
          if (++state.tipLines >= TAP_TIP_LINES) tipTaken();
        }
        if (state.startedAt) {
          // Wall-clock estimate; a device clock far off the server's gives nonsense, which is ignored.
          var late = Date.now() - (state.startedAt + res.line.end_ms);
          state.arrivalLagMs = late >= 0 && late <= MAX_PLAUSIBLE_LAG_MS ? late : null;
        }
      }
    }
    afterChange();
  }
  function applyCorrection(frame) {
    var line = log.correct(frame);
    if (!line) return;
    var node = nodes[line.id];
    if (node) { fillLine(node, line); relayout(); }
    afterChange();
  }
  /* The still-changing tail. In the spoken language the agreed words show settled, the rest grey; a translated
     language's partial (the translation of the agreed words, with them as source_text, no stable_text) may all
     still change, so all of it is grey, and its original can be shown like a finished line's. */
  function setPartial(frame) {
    state.partial = frame && frame.text ? frame : null;
    renderPartial();
    afterChange();
  }
  function renderPartial() {
    var f = state.partial;
    ui.partial.textContent = "";
    if (!f) return;
    var text = f.text, stable = f.stable_text || "";
    if (stable && text.indexOf(stable) === 0) {
      // Words the recogniser has agreed on will not change: show them settled, the rest grey.
      ui.partial.appendChild(el("span", { class: "settled", text: stable }));
      ui.partial.appendChild(document.createTextNode(text.slice(stable.length)));
    } else {
      ui.partial.appendChild(document.createTextNode(text));
    }
    var lang = f.lang || state.lang;
    ui.partial.setAttribute("lang", lang);
    ui.partial.setAttribute("dir", CC.dirOf(lang));
    if (f.source_text && f.source_text !== text) {
      // The partial stays out of screen readers' way (aria-hidden): its button is for pointers only.
      ui.partial.appendChild(originalButton(state.partialOpen, "partial-source"));
      ui.partial.appendChild(sourceBox(state.sourceLang || "", f.source_text, "partial-source", !state.partialOpen));
    }
  }
  function clearPartial() {
    state.partial = null;
    ui.partial.textContent = "";
  }
  function announce(line) {
    if (!state.announce) return;
    ui.announcer.appendChild(el("p", { lang: line.lang, text: line.text }));
    while (ui.announcer.childNodes.length > ANNOUNCE_KEEP) ui.announcer.removeChild(ui.announcer.firstChild);
  }
  function clearCaptions() {
    log.reset();
    nodes = {};
    roving = null;
    ui.list.textContent = "";
    clearPartial();
    ui.announcer.textContent = "";
    ui.empty.hidden = false;
    state.arrivalLagMs = null;
  }

  // -- scrolling -----------------------------------------------------------
  function atBottom() {
    var s = ui.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < AT_BOTTOM_PX;
  }
  function scrollToEnd() {
    ui.scroller.scrollTop = ui.scroller.scrollHeight;
  }
  function afterChange() {
    if (state.autoScroll) scrollToEnd();
  }
  ui.scroller.addEventListener("scroll", function () {
    var bottom = atBottom();
    if (bottom !== state.autoScroll) {
      state.autoScroll = bottom;
      ui.jump.hidden = bottom;
    }
  }, { passive: true });
  ui.jump.addEventListener("click", function () {
    state.autoScroll = true;
    ui.jump.hidden = true;
    scrollToEnd();
    ui.scroller.focus({ preventScroll: true });
  });

  // -- header state ------------------------------------------------------------
  function renderConn() {
    var pill = ui.conn, label, s;
    if (roomMatch && !sessionId) { s = "paused"; label = t("room.between"); }  // a room page between talks
    else if (state.conn === "open" && state.live === false) {
      s = state.session === "ended" ? "ended" : "paused";  // over for good: a colour of its own, not paused amber
      label = t(state.session === "paused" ? "state.paused" : state.session === "ended" ? "state.ended" : "conn.not_live");
    }
    else if (state.conn === "open" && state.live) { s = "live"; label = t("state.live"); }
    else if (state.conn === "open") { s = "connecting"; label = t("conn.connected"); }
    else if (state.conn === "reconnecting") {
      s = "reconnecting";
      var secs = Math.max(1, Math.ceil((state.reconnectAt - Date.now()) / 1000));
      label = navigator.onLine === false ? t("conn.offline") : t("conn.reconnecting_in", { seconds: secs });
    }
    else if (state.conn === "stopped") { s = "error"; label = t("conn.disconnected"); }
    else { s = "connecting"; label = t("conn.connecting"); }
    pill.dataset.state = s;
    if (pill.textContent !== label) pill.textContent = label;
    // Screen readers hear the state once per change, never the countdown ticking.
    var spoken = s === "reconnecting" ? t(navigator.onLine === false ? "conn.offline" : "conn.reconnecting") : label;
    if (ui.connSr.textContent !== spoken) ui.connSr.textContent = spoken;
    pill.title = s === "ended" ? t("session.ended") : s === "paused" ? t("conn.paused_hint") : "";
  }
  /* "N s behind": how far the reader's own language trails the speech (a translated language's lag_ms includes
     translation), measured against the threshold of that kind of language. */
  function renderLag() {
    var lag = null;
    if (state.conn === "open" && state.live) {
      lag = state.lagMs;
      if (state.arrivalLagMs !== null && (lag === null || state.arrivalLagMs > lag)) lag = state.arrivalLagMs;
    }
    var translated = isTranslated() || state.translationMs !== null;
    var show = lag !== null && lag > (translated ? BEHIND_TRANSLATED_MS : BEHIND_SPOKEN_MS);
    ui.lag.dataset.translated = String(translated);
    if (show) {
      var seconds = Math.round(lag / 1000), part = state.translationMs;
      var text = translated && part !== null && part >= SHOW_TRANSLATION_PART_MS
        ? t("delegate.behind_translated", { seconds: seconds, translation: Math.min(seconds, Math.round(part / 1000)) })
        : t("delegate.behind", { seconds: seconds });
      if (ui.lag.textContent !== text) ui.lag.textContent = text;
    }
    ui.lag.hidden = !show;
  }
  function isTranslated() {
    return !!(state.sourceLang && state.lang && state.lang !== state.sourceLang && state.sourceLang !== "auto");
  }
  /* The calm card under the bar that says the session is paused, over, or not started yet. It lives in a
     polite live region and is rebuilt only when what it says changes: each change is read out once, and a
     reconnect (which repeats the same state) neither flickers nor repeats it. */
  function renderSession() {
    var card = "";
    if (state.session === "paused") card = "paused";
    else if (state.session === "ended") card = "ended";
    else if (state.session === "idle" && !state.said) card = "waiting";
    var empty = t(EMPTY_TEXT[card]);
    if (ui.empty.textContent !== empty) ui.empty.textContent = empty;
    if (card === state.shownCard) return;
    state.shownCard = card;
    ui.sessionState.textContent = "";
    if (card) ui.sessionState.appendChild(sessionCard(card));
    if (card === "ended") renderDownloads();
    if (state.autoScroll) scrollToEnd();
  }
  function sessionCard(card) {
    var node = el("div", { class: "state-card", dataset: { card: card } });
    if (card === "paused") {
      node.appendChild(el("p", {}, [stateIcon("M7 5h3.5v14H7zm6.5 0H17v14h-3.5z"),
        el("span", { text: t("session.paused") })]));
    } else if (card === "ended") {
      node.appendChild(el("p", {}, [stateIcon("M12 2a10 10 0 100 20 10 10 0 000-20zm-1.2 14.2L6.6 12l1.4-1.4 2.8 2.8 5.2-5.2 1.4 1.4z"),
        el("strong", { text: t("session.ended") })]));
      node.appendChild(el("a", { class: "button primary small", id: "transcript-link", dataset: { fmt: "txt" },
                                 download: true, text: t("session.download") }));
    } else {
      node.appendChild(el("p", {}, [stateIcon("M12 2a10 10 0 100 20 10 10 0 000-20zm0 18a8 8 0 110-16 8 8 0 010 16zm.5-13H11v6l5.2 3.1.8-1.2-4.5-2.7z"),
        el("span", { text: t("session.waiting") })]));
    }
    return node;
  }
  function stateIcon(d) {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"), path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", "20"); svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }
  function renderBanner() {
    var translated = isTranslated();
    ui.mtBanner.hidden = !translated;
    if (translated) {
      var from = t("delegate.machine_translated", { language: CC.localName(state.sourceLang) });
      ui.mtBanner.textContent = "";
      ui.mtBanner.appendChild(translateIcon());
      ui.mtBanner.appendChild(el("span", { text: state.tapTip ? from + " · " + t("delegate.tap_for_original") : from }));
    }
  }
  /* The reader has opened an original, or read enough lines under the tip: the note says where from. */
  function tipTaken() {
    if (!state.tapTip) return;
    state.tapTip = false;
    CC.store.set("cc.tap-tip", "0");
    renderBanner();
  }
  function translateIcon() {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"), path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", "16"); svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M12.87 15.07l-2.54-2.51.03-.03A17.5 17.5 0 0014.07 6H17V4h-7V2H8v2H1v2h11.17A15.8 15.8 0 019 11.35 15.6 15.6 0 016.69 8h-2a17.6 17.6 0 002.98 4.56l-5.09 5.02L4 19l5-5 3.11 3.11.76-2.04zM18.5 10h-2L12 22h2l1.12-3h4.75L21 22h2l-4.5-12zm-2.62 7l1.62-4.33L19.12 17h-3.24z");
    svg.appendChild(path);
    return svg;
  }
  /* The notice under the bar: a catalogue key and its values (kept so a new interface language redraws it). */
  function showNotice(key, values) {
    state.notice = key ? { key: key, values: values || {} } : null;
    renderNotice();
  }
  function renderNotice() {
    var n = state.notice, text = "";
    if (n) {
      var v = {};
      Object.keys(n.values).forEach(function (k) { v[k] = n.values[k]; });
      if (n.values.language) v.language = CC.localName(n.values.language);
      if (n.values.fallback) v.fallback = CC.localName(n.values.fallback);
      text = t(n.key, v);
    }
    ui.notice.textContent = text;
    ui.notice.hidden = !text;
  }
  function renderLanguages() {
    var sel = ui.lang;
    sel.textContent = "";
    state.languages.forEach(function (code) {
      sel.appendChild(el("option", { value: code, text: CC.languageLabel(code) }));
    });
    sel.value = state.lang;
    sel.disabled = state.languages.length < 2;
    fitLanguage();
  }
  /* The closed picker shows the picked language's whole label where it fits, else the language's own name
     ("Português (Brasil)" for "Бразильский португальский · Português (Brasil)" on a narrow phone), the name
     its readers know; the whole label stays in the picker's title, and the other options keep theirs. */
  function fitLanguage() {
    var sel = ui.lang, opt = sel.options[sel.selectedIndex];
    Array.prototype.forEach.call(sel.options, function (o) { o.removeAttribute("label"); });
    sel.removeAttribute("title");
    var width = sel.getBoundingClientRect().width;
    if (!opt || !width || widthFor(opt.text) <= width + 0.5) return;  // it fits, or is hidden (between talks)
    opt.label = CC.nativeName(opt.value);
    sel.title = opt.text;
  }
  /* How wide the picker must be to show `text` whole, arrow and padding included: a hidden copy's width. */
  function widthFor(text) {
    var probe = ui.lang.cloneNode(false);
    probe.removeAttribute("id");
    probe.style.cssText = "position:absolute;visibility:hidden;width:auto;min-width:0;max-width:none;flex:none";
    probe.appendChild(el("option", { text: text }));
    ui.lang.parentNode.appendChild(probe);
    var width = probe.getBoundingClientRect().width;
    probe.remove();
    return width;
  }
  function renderDownloads() {
    document.querySelectorAll("a[data-fmt]").forEach(function (a) {
      var fmt = a.dataset.fmt;
      a.href = "/api/sessions/" + encodeURIComponent(sessionId) + "/transcript." + fmt + "?lang=" + encodeURIComponent(state.lang) + keyParam;
      a.setAttribute("download", sessionId + "-" + state.lang + "." + fmt);
    });
  }
  function renderDirection() {
    var dir = CC.dirOf(state.lang);
    ui.list.setAttribute("dir", dir);
    ui.list.setAttribute("lang", state.lang);
    ui.partial.setAttribute("dir", CC.dirOf(state.sourceLang || state.lang));
  }

  // -- the socket ------------------------------------------------------------
  function captionsUrl() {
    var q = "since=" + log.maxSeq + keyParam;
    if (state.lang) q = "lang=" + encodeURIComponent(state.lang) + "&" + q;
    return CC.wsUrl("/ws/captions/" + encodeURIComponent(sessionId) + "?" + q);
  }
  var pendingLangFallback = null;
  function onFrame(f) {
    document.dispatchEvent(new CustomEvent("cc:frame", { detail: f }));  // for questions.js and other add-ons
    switch (f.type) {
      case "hello":
        state.replaying = true;
        state.speaker = null;  // a speaker frame follows when someone is named
        renderSpeaker();
        state.live = null;
        state.partialsOff = false;  // until this language's status says otherwise
        if (typeof f.seq === "number" && f.seq < log.maxSeq) clearCaptions();  // the server's log restarted
        state.sourceLang = f.source_lang;
        state.languages = Array.isArray(f.languages) ? f.languages : [f.lang];
        state.startedAt = typeof f.started_at === "number" ? f.started_at : null;
        if (state.startedAt !== null || (typeof f.seq === "number" && f.seq > 0)) state.said = true;
        if (!state.userChoseLang && !state.autoPicked) {
          // First visit: the best language on offer for the phone's languages (the interface's is separate).
          state.autoPicked = true;
          var best = I18N.bestMatch(I18N.preferences(), state.languages);
          if (best && best !== f.lang) { switchLanguage(best, false); return; }
        }
        if (f.lang && f.lang !== state.lang) { state.lang = f.lang; }
        if (f.title) state.title = f.title;
        renderTitle();
        renderLanguages(); renderBanner(); renderDownloads(); renderDirection();
        if (!pendingLangFallback) showNotice(null);
        pendingLangFallback = null;
        break;
      case "caption":
        if (f.lang && state.lang && f.lang !== state.lang) return;
        addCaption(f);
        break;
      case "correction":
        if (f.lang && state.lang && f.lang !== state.lang) return;
        applyCorrection(f);
        break;
      case "partial":
        setPartial(f);
        break;
      case "speaker":
        state.speaker = typeof f.speaker === "string" ? f.speaker : null;
        renderSpeaker();
        break;
      case "status":
        state.replaying = false;
        state.live = !!f.live;
        state.lagMs = typeof f.lag_ms === "number" ? f.lag_ms : null;
        state.translationMs = typeof f.translation_ms === "number" ? f.translation_ms : null;
        state.partialsOff = f.partials === false;
        // Servers before the "state" field send only "live"; a state this page does not know shows no card.
        state.session = SESSION_STATES.indexOf(f.state) >= 0 ? f.state : (state.live ? "live" : null);
        if (!state.live) { clearPartial(); state.arrivalLagMs = null; }
        renderConn(); renderLag(); renderSession(); renderPartialsHint();
        break;
      case "error":
        if (f.code === "unknown_language" && Array.isArray(f.languages) && f.languages.length) {
          var fallback = I18N.bestMatch(I18N.preferences(), f.languages) || f.languages[0];
          showNotice("delegate.unavailable", { language: state.lang, fallback: fallback });
          pendingLangFallback = fallback;
        } else {
          if (window.console) console.warn("server error frame: " + f.code + ": " + f.message);
          showNotice("delegate.server_error");
        }
        break;
      default:
        break;
    }
  }
  var socket = new CC.ReconnectingSocket({
    url: captionsUrl,
    onframe: onFrame,
    onstate: function (s, info) {
      state.conn = s;
      if (s === "reconnecting") state.reconnectAt = info.at;
      if (s !== "open") { state.live = null; clearPartial(); }
      renderConn(); renderLag();
    },
    onclose: function () {
      if (pendingLangFallback) {
        var lang = pendingLangFallback;
        setTimeout(function () { switchLanguage(lang, false); }, 0);
        return false;
      }
      return true;
    }
  });

  function switchLanguage(lang, remember) {
    if (remember) { CC.store.set("cc.lang", lang); state.userChoseLang = true; }
    state.lang = lang;
    if (remember || params.has("lang")) {  // an automatic first choice stays out of the address
      params.set("lang", lang);
      history.replaceState(null, "", location.pathname + "?" + params.toString());
    }
    clearCaptions();
    state.translationMs = null;
    state.partialOpen = false;
    state.autoScroll = true;
    ui.jump.hidden = true;
    renderBanner(); renderDownloads(); renderDirection();
    socket.restart();  // since=0: the new language is replayed from the start
  }

  // -- wiring ------------------------------------------------------------------
  // On a phone the title keeps one line for the captions' sake; a tap shows it whole, another folds it again.
  ui.title.addEventListener("click", function () { ui.title.classList.toggle("whole"); });
  $("#smaller").addEventListener("click", function () { stepSize(-1); });
  $("#larger").addEventListener("click", function () { stepSize(1); });
  ui.settingsBtn.addEventListener("click", function () {
    var open = ui.settings.hidden;
    ui.settings.hidden = !open;
    ui.settingsBtn.setAttribute("aria-expanded", String(open));
  });
  document.querySelectorAll("[data-theme-choice]").forEach(function (b) {
    b.addEventListener("click", function () { setTheme(b.dataset.themeChoice); });
  });
  document.querySelectorAll("[data-mode-choice]").forEach(function (b) {
    b.addEventListener("click", function () { setMode(b.dataset.modeChoice); });
  });
  ui.announceBox.addEventListener("change", function () {
    state.announce = ui.announceBox.checked;
    CC.store.set("cc.announce", state.announce ? "1" : "0");
    if (state.announce && state.mode === "fast") setMode("stable");
  });
  ui.lang.addEventListener("change", function () {
    showNotice(null);
    fitLanguage();
    switchLanguage(ui.lang.value, true);
  });
  ui.paragraphsBox.addEventListener("change", function () { setParagraphs(ui.paragraphsBox.checked); });
  // A tap anywhere on a translated line shows its original (the button is the keyboard's and screen readers' way).
  ui.list.addEventListener("click", function (ev) {
    var node = ev.target.closest(".cap[data-has-source]");
    var onButton = !!ev.target.closest("button.orig");
    if (node && (onButton || !(window.getSelection && String(window.getSelection()).length))) toggleSource(node);
  });
  ui.list.addEventListener("focusin", function (ev) {
    if (ev.target.matches("button.orig")) setRoving(ev.target);
  });
  ui.list.addEventListener("keydown", function (ev) {
    var keys = { ArrowUp: -1, ArrowDown: 1, Home: -Infinity, End: Infinity };
    if (!(ev.key in keys) || !ev.target.matches("button.orig")) return;
    var all = Array.prototype.slice.call(ui.list.querySelectorAll("button.orig"));
    var at = all.indexOf(ev.target) + keys[ev.key];
    var next = all[Math.max(0, Math.min(all.length - 1, isFinite(at) ? at : (at > 0 ? all.length - 1 : 0)))];
    ev.preventDefault();
    if (next) { setRoving(next); next.focus(); }
  });
  ui.partial.addEventListener("click", function () {
    if (!state.partial || !state.partial.source_text) return;
    state.partialOpen = !state.partialOpen;
    if (state.partialOpen) tipTaken();
    renderPartial();
    if (state.autoScroll) scrollToEnd();
  });
  window.addEventListener("online", function () { socket.kick(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) socket.kick(); });
  // A new width (a window resized, a phone turned) may hold the picked language's whole label, or no longer.
  // Only a new width: a phone's address bar coming and going while the captions scroll changes the height.
  var fittedWidth = window.innerWidth;
  window.addEventListener("resize", function () {
    if (window.innerWidth !== fittedWidth) { fittedWidth = window.innerWidth; fitLanguage(); }
    if (state.autoScroll) scrollToEnd();
  });
  setInterval(function () { renderConn(); renderLag(); }, 1000);

  /* Every string this script wrote, again in the interface language just picked. */
  function relocalise() {
    renderTitle(); renderConn(); renderLag(); renderToggles(); renderBanner(); renderLanguages(); renderNotice();
    renderSpeaker();
    state.shownCard = null;
    renderSession();
    log.lines.forEach(function (line) { if (nodes[line.id]) fillLine(nodes[line.id], line); });
    renderPartial();
  }
  /* Who is speaking (the programme's speaker, or the one the chair switched to). */
  function renderSpeaker() {
    var node = $("#speaker");
    node.hidden = !state.speaker;
    node.textContent = state.speaker ? t("speaker.now", { name: state.speaker }) : "";
  }
  function renderTitle() {
    ui.title.textContent = state.title || t("app.name");
    ui.title.title = state.title || "";  // the whole title, where two lines cannot hold it
    document.title = state.title ? t("app.titled", { title: state.title }) : t("app.name");
  }

  I18N.picker($("#ui-lang"));
  I18N.onchange(relocalise);
  setSize(currentSize());
  renderTitle();
  renderConn();
  renderSession();
  renderToggles();
  renderDownloads();

  /* For tests and debugging: a read-only view of what is shown. */
  window.captionsDebug = {
    state: state, log: log, socket: socket,
    texts: function () { return log.lines.map(function (l) { return l.text; }); }
  };

  /* The room page's talk changed (room.js): read the new talk's captions from its start, in the same
     language; "" between talks (``title``: the room's name, shown instead). */
  function followTalk(id, title) {
    if (id === sessionId) {
      if (!id && (title || "") !== state.title) { state.title = title || ""; renderTitle(); }
      return;
    }
    sessionId = id || "";
    clearCaptions();
    state.title = sessionId ? "" : (title || "");
    state.said = false; state.session = null; state.startedAt = null; state.live = null; state.speaker = null;
    state.lagMs = null; state.translationMs = null; state.shownCard = null; state.autoScroll = true;
    ui.jump.hidden = true;
    renderTitle(); renderSession(); renderDownloads(); renderConn(); renderLag(); renderSpeaker();
    document.body.classList.toggle("between", !sessionId);
    if (sessionId) socket.restart(); else socket.stop();
  }
  window.CCDelegate = { followTalk: followTalk, room: roomMatch ? decodeURIComponent(roomMatch[1]) : "" };
  if (roomMatch) {  // room.js starts the captions of the talk on now
    document.body.classList.add("between");
    return;
  }
  if (!sessionId) {
    showNotice("delegate.no_session");
    return;
  }
  socket.start();

});
