"""The sans-I/O core of one session (one room): state, audio time, captions, languages, translations.

One :class:`SessionCore` per session. It never awaits, sleeps, reads a clock,
or touches a store, a socket or a model; ``assistant.server.runtime`` drives it::

    core.audio_opened()                              # a new audio feed (recording, capture station)
    core.audio_received(now_ms, samples)             # per chunk: fixes the audio clock, tracks the position
    core.receive_recognizer_event(event)             # FinalCaption, PartialCaption, LagReport, ...
    core.receive_chair_action(action, now_ms)        # typed caption, correction, pause/resume/end, settings
    core.reader_joined(lang, screen=False) / core.reader_left(lang, screen=False)   # screen: a room screen
    core.receive_translation(job, text, fallback, now_ms) / core.receive_translation_failure(job, why, now_ms)
    for effect in core.effects(): ...                # store, publish, translate, start/stop English, ...

Captions: every final caption gets the next ``seq`` of its language (the core
owns the counters, seeded from the store) and a ``revision`` that grows with
each correction. Finals may be pieces of a line (``continues``); translation
waits for the whole clause (see :mod:`.clauses`). A correction in the spoken language is translated again into
every language that has the caption or is waiting for it; a translation that
arrives for an older revision is dropped (see :mod:`.translations`). A failed
translation never stops a language: that caption shows the original, marked.
Whisper's own speech→English stream has captions of its own; a correction of
the spoken captions reaches the English captions that overlap it in time.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable, Mapping

from .. import protocol
from ..asr.types import ClauseEnd, FinalCaption, LagReport, LanguageDetected, PartialCaption, RecognizerEvent
from ..captions import Caption, CaptionOrigin, Partial, Session, SessionState, Status, join_texts
from ..errors import LanguageError, NotFoundError, ProtocolError
from ..pcm import samples_to_ms
from .clauses import ClauseBook
from .effects import (CHAIR_TOPIC, CaptionAdded, CaptionRevised, CloseAudio, Effect, FetchBacklog, Publish,
                      ReadersChanged, SessionChanged, StartEnglish, StopEnglish, Translate, Warn)
from .partials import PartialTranslations
from .translations import Released, TranslationBook, TranslationJob

WHISPER_ENGLISH = "en"  # the language Whisper's own translate task produces
LAG_REPORT_STEP_MS = 250  # publish lag changes of at least this much
MIN_MANUAL_MS = 1000  # shortest time span given to a typed caption
MS_PER_CHAR = 60  # reading-speed estimate for a typed caption's span
RECENT_CAPTIONS = 200  # spoken and Whisper-English captions kept to link corrections across the two
# A room screen (projector, stage monitor) counts this many readers where languages are ranked for text in
# progress (partials.py): a hall reads it, and no number of phones should take its partials away.
SCREEN_READERS = 10_000


@dataclass(frozen=True, slots=True)
class Correct:
    """A person's fix of caption ``versions[...].id`` in ``lang``; ``versions`` are all its stored languages."""

    versions: tuple[Caption, ...]
    lang: str
    text: str
    author: str


ChairAction = protocol.CaptionText | protocol.Control | protocol.UpdateSession | Correct


class SessionCore:
    """One session's logic; see the module docstring for the verbs."""

    def __init__(self, session: Session, *, latest_seqs: Mapping[str, int], audio_end_ms: int,
                 new_id: Callable[[], str], speech_recognition: bool) -> None:
        self.session = session
        self.state: SessionState = "ended" if session.ended_at_ms is not None else "idle"
        self.lag_ms: int | None = None
        self.detected_language: str | None = None
        self.readers: Counter[str] = Counter()
        self.screens: Counter[str] = Counter()  # of the readers, room screens (the hall reads them)
        self._seq = dict(latest_seqs)
        self._audio_end_ms = audio_end_ms
        self._new_id = new_id
        self._asr = speech_recognition
        self._available: tuple[str, ...] = ()
        self._book = TranslationBook()
        self._clauses = ClauseBook(RECENT_CAPTIONS)
        self._partials = PartialTranslations()
        self._epoch_of: dict[str, int] = {}  # spoken caption id → the partial epoch it closed
        self._partial_states: dict[str, str] = {}
        self._delay: dict[str, int] = {}  # per translated language: recent time its final translations took
        self._delay_shown: dict[str, int] = {}
        self._failing: set[tuple[str, str]] = set()
        self._effects: list[Effect] = []
        # Audio time: captions are placed at offset + position in the current feed.
        self._audio_open = False
        self._received = 0  # samples of the current feed
        self._offset_ms = 0
        self._paused: list[list[int | None]] = []  # [from_ms, to_ms or None] of audio time, while paused
        self._english = False
        self._english_from_ms = 0  # position in the feed where the English recogniser started
        self._recent_source: deque[Caption] = deque(maxlen=RECENT_CAPTIONS)
        self._recent_english: dict[str, Caption] = {}
        for lang in self._targets():
            self._emit(FetchBacklog(lang))

    # -- pulled by the adapter ---------------------------------------------
    def effects(self) -> list[Effect]:
        """The effects queued since the last call, in order; the caller must carry out every one."""
        out, self._effects = self._effects, []
        return out

    def _emit(self, effect: Effect) -> None:
        self._effects.append(effect)

    # -- languages -----------------------------------------------------------
    @property
    def source_lang(self) -> str:
        return self.session.source_lang

    def targets_available(self, targets: tuple[str, ...]) -> None:
        """The languages installed translation packages reach from the spoken one (they change at run time)."""
        self._available = targets

    def whisper_english(self) -> bool:
        """Whether English comes from Whisper's own translate task (no package reaches English)."""
        return (self._asr and self.source_lang not in (WHISPER_ENGLISH, "auto")
                and WHISPER_ENGLISH not in self._available)

    def languages(self) -> tuple[str, ...]:
        """Every language a reader may ask for: the spoken one first, then reachable targets."""
        extra = (WHISPER_ENGLISH,) if self.whisper_english() else ()
        return (self.source_lang, *[t for t in self._available if t != self.source_lang], *extra)

    def check_language(self, lang: str) -> None:
        if lang not in self.languages():
            raise LanguageError(f"captions in {lang!r} are not available for this session; "
                                f"choose one of {', '.join(self.languages())}", self.languages())

    def _targets(self) -> set[str]:
        """The languages Argos translations are made for now: always-produced ones and those read."""
        wanted = {*self.session.languages, *self.readers} - {self.source_lang}
        if self.whisper_english():
            wanted.discard(WHISPER_ENGLISH)
        return wanted

    def reader_joined(self, lang: str, *, screen: bool = False) -> None:
        """A reader of ``lang`` connected (after :meth:`check_language`); ``screen``: a room screen."""
        was_target = lang in self._targets()
        self.readers[lang] += 1
        if screen:
            self.screens[lang] += 1
        if lang == WHISPER_ENGLISH and self.whisper_english():
            self._start_english()
        elif lang in self._targets() and not was_target:
            self._emit(FetchBacklog(lang))
        self._report_partials(self._partial_ranking())
        self._emit(ReadersChanged(tuple(sorted(self.readers.items()))))

    def reader_left(self, lang: str, *, screen: bool = False) -> None:
        self.readers[lang] -= 1
        if screen:
            self.screens[lang] -= 1
            if self.screens[lang] <= 0:
                del self.screens[lang]
        if self.readers[lang] <= 0:
            del self.readers[lang]
            if lang == WHISPER_ENGLISH and self._english:
                self._stop_english()
            elif lang not in self._targets():
                self._book.drop_language(lang)
            self._partials.forget(lang)
        self._report_partials(self._partial_ranking())
        self._emit(ReadersChanged(tuple(sorted(self.readers.items()))))

    def receive_backlog(self, lang: str, captions: list[Caption]) -> None:
        """Answer to :class:`FetchBacklog`: recent spoken captions that ``lang`` lacks, oldest first."""
        if lang not in self._targets():
            return
        for clause in self._clauses.units(captions):
            self._translate_new(clause, lang)

    # -- audio ---------------------------------------------------------------
    def audio_opened(self) -> None:
        """A new audio feed starts (a recording, a capture station's stream); its clock is fixed on its first chunk."""
        self._audio_open = True
        self._received = 0
        if self.readers[WHISPER_ENGLISH] and self.whisper_english():
            self._start_english()

    def audio_received(self, now_ms: int, samples: int) -> None:
        """``samples`` more of the current feed arrived at ``now_ms``."""
        if self._received == 0 and samples:
            self._audio_started(now_ms, samples_to_ms(samples))
        self._received += samples
        if self._partials.waiting:
            # A language its interval held back gets the open clause as soon as it may
            # (the audio clock ticks per chunk; recogniser events may be a pass away).
            self._request_partials(now_ms)

    def _audio_started(self, now_ms: int, received_ms: int) -> None:
        started = self.session.started_at_ms
        if started is None:
            self._set_session(started_at_ms=now_ms - received_ms, ended_at_ms=None)
            self._offset_ms = 0
        else:
            # A resumed session: audio time continues as wall time since the original start.
            self._offset_ms = max(now_ms - received_ms - started, self._audio_end_ms)
            if self.session.ended_at_ms is not None:  # a new recording after the end: it goes on
                self._set_session(ended_at_ms=None)
        if self.state != "paused":  # a capture station restarted during a pause stays paused until resumed
            self.state = "live"
        self._publish_status()  # readers learn started_at and that a new recording began

    @property
    def audio_position_ms(self) -> int:
        """Audio time of the newest sample received."""
        return self._offset_ms + samples_to_ms(self._received)

    def audio_closed(self) -> None:
        """The feed ended (file finished, capture stopped); recognition still finishes its last words."""
        self._audio_open = False
        if self._english:
            self._stop_english()
        self._close_clause()

    def recognition_finished(self) -> None:
        """The recogniser of the current feed returned: nothing more is in progress."""
        self._publish(self.source_lang, protocol.partial(Partial(self.session.id, self.source_lang, 0, 0, "")))
        self._close_clause()
        if self.state == "live":
            self._set_state("idle")

    def restore_paused(self) -> None:
        """The room was paused when its previous owner stopped (a cluster's takeover): stay paused, so that
        nothing from the end of the last caption on is captioned, until the chair resumes."""
        if self.state == "paused":
            return
        self._paused.append([self._audio_end_ms, None])
        self._set_state("paused")

    @property
    def paused_audio(self) -> bool:
        """Whether audio arriving now is to be replaced by silence."""
        return self.state == "paused"

    def _start_english(self) -> None:
        if self._english or not self._audio_open:
            return
        self._english = True
        self._english_from_ms = self.audio_position_ms
        self._emit(StartEnglish())

    def _stop_english(self) -> None:
        self._english = False
        self._emit(StopEnglish())

    # -- recogniser ------------------------------------------------------------
    def receive_recognizer_event(self, event: RecognizerEvent, now_ms: int, *, english: bool = False) -> None:
        """An event of the spoken-language recogniser (or, ``english``, of the speech→English one)."""
        offset = self._english_from_ms if english else self._offset_ms
        if isinstance(event, FinalCaption):
            start, end = event.start_ms + offset, event.end_ms + offset
            if english:
                if not self._in_pause(start):
                    self._add_english(event.text, start, end, now_ms, continues=not event.line_start)
                return
            if not self._in_pause(start):
                self._add_source(event.text, start, end, "asr", event.language or None, now_ms,
                                 continues=not event.line_start)
            if event.clause_end:
                self._close_clause()
            else:
                self._partials.clause(self._clauses.open_text, self._clauses.open_start_ms or start, end)
                self._request_partials(now_ms)
        elif isinstance(event, ClauseEnd) and not english:
            self._close_clause()
        elif isinstance(event, PartialCaption):
            start, end = event.start_ms + offset, event.end_ms + offset
            if self._in_pause(start):
                return
            lang = WHISPER_ENGLISH if english else self.source_lang
            stable = "" if english else event.stable_text
            self._publish(lang, protocol.partial(Partial(self.session.id, lang, start, end, event.text, stable)))
            if not english:
                # What translated readers get in progress: the open clause's settled pieces and agreed words.
                agreed = join_texts((self._clauses.open_text, stable))
                self._partials.clause(agreed, self._clauses.open_start_ms or start, end)
                self._request_partials(now_ms)
        elif isinstance(event, LagReport) and not english:
            if self.lag_ms is None or abs(event.lag_ms - self.lag_ms) >= LAG_REPORT_STEP_MS:
                self.lag_ms = event.lag_ms
                self._publish_status()
        elif isinstance(event, LanguageDetected) and not english:
            self.detected_language = event.language
            self._publish(CHAIR_TOPIC, protocol.info("info", {"detected_language": event.language,
                                                              "probability": round(event.probability, 3)}))

    def _in_pause(self, start_ms: int) -> bool:
        """Whether speech starting at ``start_ms`` was said while paused (the chair asked not to caption it)."""
        return any(p[0] is not None and p[0] <= start_ms and (p[1] is None or start_ms < p[1])
                   for p in self._paused)

    # -- captions --------------------------------------------------------------
    def _next(self, cap: Caption) -> Caption:
        seq = self._seq.get(cap.lang, 0) + 1
        self._seq[cap.lang] = seq
        return dataclasses.replace(cap, seq=seq)

    def _add_source(self, text: str, start_ms: int, end_ms: int, origin: CaptionOrigin, detected: str | None,
                    now_ms: int, *, continues: bool = False) -> Caption:
        """A spoken final (a line or a piece of one): stored and shown now, translated with its clause."""
        stream = self.source_lang
        spoken = detected if stream == "auto" and detected else stream
        cap = self._next(Caption(self.session.id, stream, 0, self._new_id(), start_ms, end_ms, text, origin=origin,
                                 source_lang=None if spoken == stream else spoken, created_at_ms=now_ms,
                                 continues=continues))
        self._audio_end_ms = max(self._audio_end_ms, end_ms)
        self._recent_source.append(cap)
        self._clauses.add(cap)
        self._emit(CaptionAdded(cap))
        return cap

    def _close_clause(self) -> None:
        """The open clause is complete: translate it as one caption into every target language."""
        clause = self._clauses.close()
        if clause is None:
            return
        self._epoch_of[clause.id] = self._partials.caption_closed()
        while len(self._epoch_of) > RECENT_CAPTIONS:
            del self._epoch_of[next(iter(self._epoch_of))]
        for lang in sorted(self._targets()):
            self._translate_new(clause, lang)

    def _add_english(self, text: str, start_ms: int, end_ms: int, now_ms: int, *, continues: bool = False) -> None:
        cap = self._next(Caption(self.session.id, WHISPER_ENGLISH, 0, self._new_id(), start_ms, end_ms, text,
                                 origin="whisper-translate", source_lang=self.source_lang, created_at_ms=now_ms,
                                 continues=continues))
        self._remember_english(cap)
        self._emit(CaptionAdded(cap))

    def _remember_english(self, cap: Caption) -> None:
        self._recent_english[cap.id] = cap
        while len(self._recent_english) > RECENT_CAPTIONS:
            del self._recent_english[next(iter(self._recent_english))]

    def _spoken(self, cap: Caption) -> str:
        return cap.source_lang or ("en" if self.source_lang == "auto" else self.source_lang)

    def _translate_new(self, cap: Caption, lang: str) -> None:
        job = self._book.request_new(cap, lang, self._spoken(cap), self.session.glossary)
        if job is not None:
            self._emit(Translate(job))

    # -- chair -----------------------------------------------------------------
    def receive_chair_action(self, action: ChairAction, now_ms: int) -> Caption | None:
        """Apply a chair's action; returns the caption a typed caption or a correction made."""
        if isinstance(action, protocol.CaptionText):
            return self._type_caption(action, now_ms)
        if isinstance(action, Correct):
            return self._correct(action, now_ms)
        if isinstance(action, protocol.Control):
            self._control(action.action, now_ms)
        else:
            self._update(action)
        return None

    def _type_caption(self, msg: protocol.CaptionText, now_ms: int) -> Caption:
        stream = self.source_lang
        if msg.lang is not None and msg.lang != stream and stream != "auto":
            raise ProtocolError(f"typed captions must be in the session language {stream!r}; "
                                "they are translated into the others", code="unknown_language")
        if self.session.started_at_ms is None:
            self._set_session(started_at_ms=now_ms)
            self._publish_status()
        started = self.session.started_at_ms or now_ms
        end = max(now_ms - started, 0)
        start = max(end - max(MIN_MANUAL_MS, MS_PER_CHAR * len(msg.text)), self._audio_end_ms)
        if self.state == "idle" and not self._audio_open:
            self._set_state("live")  # captions typed by a person: the session is live while they type
        self._close_clause()  # a typed line is a line and a clause of its own
        cap = self._add_source(msg.text, min(start, end), end, "manual", msg.lang, now_ms)
        self._close_clause()
        if self.whisper_english() and self.readers[WHISPER_ENGLISH]:
            # Whisper's English comes from the audio; a typed line has none, so it is translated
            # (or, with no package for that, shown as the original, marked): English never misses a line.
            self._translate_new(cap, WHISPER_ENGLISH)
        return cap

    def _correct(self, fix: Correct, now_ms: int) -> Caption:
        current = next((v for v in fix.versions if v.lang == fix.lang), None)
        if current is None:
            cid = fix.versions[0].id if fix.versions else "?"
            raise NotFoundError(f"no caption {cid!r} in language {fix.lang!r} of session {self.session.id!r}")
        fixed = dataclasses.replace(current, text=fix.text, revision=current.revision + 1)
        self._emit(CaptionRevised(fixed, current.text, fix.author, now_ms))
        if fixed.lang == WHISPER_ENGLISH and fixed.origin == "whisper-translate":
            self._remember_english(fixed)
        if fixed.lang != self.source_lang:
            self._book.cancel(fixed.id, fixed.lang)  # a person's fix is not overwritten by a machine
            if fixed.origin == "translation":
                self._clauses.translated(fixed)
            return fixed
        self._recent_source = deque((fixed if c.id == fixed.id else c for c in self._recent_source),
                                    maxlen=RECENT_CAPTIONS)
        self._correct_english(fixed)
        clause = self._clauses.revise(fixed)
        if clause is None:  # its clause is still open: translated with the fix when it closes
            return fixed
        if clause.id == fixed.id:
            bases = {v.lang: v for v in fix.versions if v.lang != fixed.lang}
        else:  # a piece of a longer clause: its translations are stored under the clause's last piece
            bases = {lang: t for lang in self.languages() if (t := self._clauses.translation(clause.id, lang))}
        for lang in sorted({*bases, *self._targets()}):
            job = self._book.request_revision(clause, lang, bases.get(lang), self._spoken(clause),
                                              self.session.glossary)
            if job is not None:
                self._emit(Translate(job))
        return fixed

    def _correct_english(self, fixed: Caption) -> None:
        """Carry a spoken-language fix to the Whisper-English captions it overlaps.

        Those were recognised from the audio, not translated from the text: they are
        translated again from the corrected spoken captions they overlap (or, with no
        package for that, show the corrected original, marked).
        """
        for english in list(self._recent_english.values()):
            if english.end_ms <= fixed.start_ms or english.start_ms >= fixed.end_ms:
                continue
            spoken = [c for c in self._recent_source if c.end_ms > english.start_ms and c.start_ms < english.end_ms]
            source = dataclasses.replace(fixed, id=english.id, text=join_texts(c.text for c in spoken) or fixed.text)
            job = self._book.request_revision(source, WHISPER_ENGLISH, english, self._spoken(fixed),
                                              self.session.glossary)
            if job is not None:
                self._emit(Translate(job))

    def _control(self, action: str, now_ms: int) -> None:
        if self.state == "ended" and action != "end":  # an End again changes nothing either
            raise ProtocolError(f"this session has ended, so it cannot {action}: a new recording from the "
                                "capture station makes it live again", code="ended")
        if action == "pause" and self.state == "live":
            self._paused.append([self.audio_position_ms, None])
            self._set_state("paused")
        elif action in ("resume", "start") and self.state == "paused":
            if self._paused and self._paused[-1][1] is None:
                self._paused[-1][1] = self.audio_position_ms
            self._set_state("live")
        elif action == "end" and self.state != "ended":
            self._close_clause()
            if self._audio_open:
                self._audio_open = False
                self._emit(CloseAudio())
            if self._english:
                self._stop_english()
            self._set_session(ended_at_ms=now_ms)
            self._set_state("ended")

    def _update(self, msg: protocol.UpdateSession) -> None:
        changes: dict[str, object] = {}
        if msg.title is not None:
            changes["title"] = msg.title
        if msg.glossary is not None:
            changes["glossary"] = msg.glossary
        if msg.public is not None:
            changes["public"] = msg.public
        if changes:
            self._set_session(**changes)
            self._publish(CHAIR_TOPIC, protocol.info("info", {"title": self.session.title,
                                                              "glossary": list(self.session.glossary),
                                                              "public": self.session.public}))

    # -- translations ----------------------------------------------------------
    def receive_translation(self, job: TranslationJob, text: str, fallback: bool, now_ms: int) -> None:
        """A translation came back (``fallback``: the engine gave the source text instead)."""
        if job.partial:
            if self._partials.answered(job.lang, job.epoch, job.requested_at_ms, now_ms) and not fallback:
                start, end = self._partials.span
                self._publish(job.lang, protocol.partial(Partial(self.session.id, job.lang, start, end, text,
                                                                 source_text=job.text)))
            self._request_partials(now_ms)
            return
        self._failing.discard((job.source_lang, job.lang))
        self._release(self._book.receive(job, text, fallback), now_ms)

    def receive_translation_failure(self, job: TranslationJob, reason: str, now_ms: int) -> None:
        """A translation raised: that caption shows the original, marked; the next one is tried again."""
        if job.partial:  # nothing to show; the caption's final translation reports any failure
            self._partials.answered(job.lang, job.epoch, job.requested_at_ms, now_ms)
            return
        pair = (job.source_lang, job.lang)
        if pair not in self._failing:
            self._failing.add(pair)
            self._emit(Warn(f"session {self.session.id}: translation {pair[0]}→{pair[1]} failed ({reason}); "
                            f"captions in {pair[1]} show the original until it works again"))
        self._release(self._book.receive(job, job.text, True), now_ms)

    def _release(self, released: list[Released], now_ms: int) -> None:
        for r in released:
            if r.base is None:
                src = r.source
                cap = self._next(Caption(self.session.id, r.lang, 0, src.id, src.start_ms, src.end_ms, r.text,
                                         origin="translation", source_lang=self._spoken(src), source_text=src.text,
                                         fallback=r.fallback, created_at_ms=now_ms, continues=src.continues))
                self._clauses.translated(cap)
                self._emit(CaptionAdded(cap))
                if src.created_at_ms is not None:
                    self._note_delay(r.lang, now_ms - src.created_at_ms)
                epoch = self._epoch_of.get(src.id)
                if epoch is not None and self._partials.final_released(r.lang, epoch):
                    self._publish(r.lang, protocol.partial(Partial(self.session.id, r.lang, 0, 0, "")))
            else:
                new = dataclasses.replace(r.base, text=r.text, revision=r.base.revision + 1,
                                          source_text=r.source.text, fallback=r.fallback)
                if new.origin == "whisper-translate":
                    self._remember_english(new)
                else:
                    self._clauses.translated(new)
                self._emit(CaptionRevised(new, r.base.text, "translation", now_ms))

    def _note_delay(self, lang: str, delay_ms: int) -> None:
        """Track how long ``lang``'s final translations take; tell its readers when that moves."""
        old = self._delay.get(lang)
        new = delay_ms if old is None else (3 * old + delay_ms) // 4
        self._delay[lang] = new
        shown = self._delay_shown.get(lang)
        if (shown is None or abs(new - shown) >= LAG_REPORT_STEP_MS) and self.readers.get(lang):
            self._delay_shown[lang] = new
            self._publish_status(only=lang)

    def _request_partials(self, now_ms: int) -> None:
        """Ask for the open caption's agreed words in the languages due an update (see :mod:`.partials`)."""
        spoken = self.detected_language if self.source_lang == "auto" and self.detected_language else (
            "en" if self.source_lang == "auto" else self.source_lang)
        readers = self._partial_ranking()
        for req in self._partials.due(readers, self._book.queued_first(), now_ms):
            self._emit(Translate(TranslationJob(f"partial-{req.epoch}", req.lang, req.text, spoken, 0, 0,
                                                self.session.glossary, partial=True, epoch=req.epoch,
                                                requested_at_ms=now_ms)))
        self._report_partials(readers)

    def _report_partials(self, readers: dict[str, int]) -> None:
        """Tell the chair when a language's partials slow down or stop, and a language's readers when
        theirs stop or start again (their status says so); ``readers``: :meth:`_partial_ranking`."""
        report = self._partials.report(readers)
        states = {lang: str(r["partials"]) for lang, r in report.items()}
        if states == self._partial_states:
            return
        was_off = {lang for lang, s in self._partial_states.items() if s == "off"}
        self._partial_states = states
        self._publish(CHAIR_TOPIC, protocol.info("info", {"translation": report}))
        for lang in sorted(states):
            if (states[lang] == "off") != (lang in was_off):
                self._publish(lang, protocol.status(self.status(lang)))

    def partials_report(self) -> dict[str, dict[str, int | str]]:
        """Per read language: whether its readers get text in progress, and how often."""
        return self._partials.report(self._partial_ranking())

    def _partial_ranking(self) -> dict[str, int]:
        """How much each language that translation makes is read (the spoken language left out), as the
        partials rank it: its readers, and a room screen above any number of phones (a hall reads it)."""
        targets = self._targets()
        return {lang: n + SCREEN_READERS * self.screens[lang] for lang, n in self.readers.items() if lang in targets}

    @property
    def translations_pending(self) -> int:
        return len(self._book)

    # -- state -----------------------------------------------------------------
    def status(self, lang: str | None = None) -> Status:
        """The session's state, lag and audio start now, as readers of ``lang`` see it.

        In a translated language the lag includes the time translation adds (``translation_ms``),
        so "N s behind" tells each reader the truth about their own language.
        """
        delay = self._delay.get(lang) if lang is not None and lang != self.source_lang else None
        lag = self.lag_ms if delay is None else (self.lag_ms or 0) + delay
        partials = self._partial_states.get(lang) if lang is not None else None
        return Status(self.session.id, self.state, lag, self.session.started_at_ms, delay,
                      None if partials is None else partials != "off")

    def _set_state(self, state: SessionState) -> None:
        if state != self.state:
            self.state = state
            self._publish_status()

    def _set_session(self, **changes: object) -> None:
        self.session = dataclasses.replace(self.session, **changes)  # type: ignore[arg-type]
        self._emit(SessionChanged(self.session))

    def _publish_status(self, only: str | None = None) -> None:
        for lang in sorted({self.source_lang, *self.readers} if only is None else {only}):
            self._publish(lang, protocol.status(self.status(lang)))
        self._publish(CHAIR_TOPIC, protocol.info("info", {
            "state": self.state, "lag_ms": self.lag_ms, "started_at": self.session.started_at_ms,
            "lags": {lang: self.status(lang).lag_ms for lang in sorted(self.readers)}}))

    def _publish(self, topic: str, frame: protocol.Frame) -> None:
        self._emit(Publish(topic, frame))

    def snapshot(self) -> dict[str, object]:
        """What the chair console and the landing page show about this session."""
        return {
            "id": self.session.id, "title": self.session.title, "source_lang": self.source_lang,
            "state": self.state, "lag_ms": self.lag_ms, "readers": dict(self.readers),
            "languages": list(self.languages()), "detected_language": self.detected_language,
            "glossary": list(self.session.glossary), "started_at": self.session.started_at_ms,
            "public": self.session.public, "translation": self.partials_report(),
        }
