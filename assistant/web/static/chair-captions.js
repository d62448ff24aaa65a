/* The chair console, part 2: the live transcript, correcting a line in place, typing a caption. */
(function (C) {
  "use strict";
  var CC = window.CC, el = CC.el, $ = CC.$, ui = C.ui, log = C.log, t = CC.t;

  var STICKY_PX = 40;  // this close to the bottom, the transcript follows new lines

  function lineNode(line) {
    // A piece that continues the line above (settled before the line filled): no time of its own, editable alone.
    var li = el("li", { class: line.continues ? "tline cont" : "tline", dataset: { id: line.id }, tabindex: "0" });
    fillLine(li, line);
    return li;
  }
  function fillLine(li, line) {
    li.textContent = "";
    li.classList.toggle("corrected", !!(line.corrected || line.revision > 0));
    li.classList.toggle("pending", !!line.pending);
    li.appendChild(el("time", { text: CC.formatClock(line.start_ms) }));
    var body = el("span", { class: "body" }, [el("span", { class: "text", text: line.text })]);
    if (line.origin === "manual") body.appendChild(el("span", { class: "tag", text: t("chair.tag_typed") }));
    if (line.corrected || line.revision > 0) body.appendChild(el("span", { class: "tag fixed", text: t("chair.tag_corrected") }));
    if (line.pending) body.appendChild(el("span", { class: "tag", text: t("chair.tag_saving") }));
    li.appendChild(body);
  }
  function nearBottom() {
    var s = ui.scroll;
    return s.scrollHeight - s.scrollTop - s.clientHeight < STICKY_PX;
  }
  function keepBottom(wasNear) { if (wasNear) ui.scroll.scrollTop = ui.scroll.scrollHeight; }
  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(String(s)) : String(s); }
  function lineElement(id) { return ui.transcript.querySelector('[data-id="' + cssEscape(id) + '"]'); }

  /** A caption frame: a new line in (start_ms, seq) order, or a new revision of one shown. */
  function add(f) {
    var wasNear = nearBottom();
    var res = log.add(f);
    if (!res) return;
    $("#transcript-empty").hidden = true;
    var existing = lineElement(res.line.id);
    if (existing) { if (!existing.querySelector("input")) fillLine(existing, res.line); }
    else {
      var before = res.before ? lineElement(res.before.id) : null;
      ui.transcript.insertBefore(lineNode(res.line), before);
    }
    keepBottom(wasNear);
  }
  /** A correction frame (from this console or another): the line changes in place. */
  function correct(f) {
    var line = log.correct(f);
    if (!line) return;
    line.pending = false;
    var li = lineElement(line.id);
    if (li && !li.querySelector("input")) fillLine(li, line);
  }
  /** The still-changing tail after the last final caption. */
  function partial(text) {
    ui.partial.textContent = text || "";
    keepBottom(nearBottom());
  }
  /** Write every shown line again (the interface language changed; a line being edited stays). */
  function rerender() {
    ui.transcript.querySelectorAll(".tline").forEach(function (li) {
      var line = log.byId[li.dataset.id];
      if (line && !li.querySelector("input")) fillLine(li, line);
    });
  }
  /** Forget every line (the server's captions started over). */
  function reset() {
    log.reset();
    ui.transcript.textContent = "";
  }

  // -- inline correction: click (or Enter / F2) a line, type, Enter saves, Esc cancels ------------
  function beginEdit(li) {
    if (li.querySelector("input")) return;
    var line = log.byId[li.dataset.id];
    if (!line) return;
    var body = li.querySelector(".body");
    var input = el("input", { type: "text", value: line.text, "aria-label": t("chair.correct_line"), maxlength: "2000" });
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
        if (C.socket.send({ type: "correct", id: line.id, text: text })) {
          line.text = text;
          line.pending = true;
        } else {
          C.showNotice(t("chair.correction_not_sent"), true);
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

  // -- a caption typed by the chair -----------------------------------------------------------------
  $("#manual-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = $("#manual-text"), text = input.value.trim();
    if (!text) return;
    if (C.socket.send({ type: "caption_text", text: text })) input.value = "";
    else C.showNotice(t("chair.caption_not_sent"), true);
  });

  C.captions = { add: add, correct: correct, partial: partial, reset: reset, rerender: rerender };
})(window.Chair);
