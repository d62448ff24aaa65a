"""One live session's adapter: audio feeds, recognisers and translation lanes around a :class:`SessionCore`.

The core decides; this module carries its effects out, in order: a caption is
committed to the store before its frame is published, so a reader that
reconnects always finds in the store what it may have missed. Every task it
starts (recognisers, translation lanes) is owned and cancelled by :meth:`close`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, AsyncIterator, Callable, Coroutine, Literal, Protocol

import numpy as np

from .. import protocol
from ..captions import Caption, Correction, Session, SessionState, Status
from ..clock import Clock
from ..hub import CaptionBus, Topic
from ..pcm import SAMPLE_RATE, AudioArray
from ..session import (CaptionAdded, CaptionRevised, CloseAudio, Effect, FetchBacklog, Publish, ReadersChanged,
                       SessionChanged, SessionCore, StartEnglish, StopEnglish, Translate, TranslationJob, Warn)
from ..session.core import ChairAction, Correct
from ..session.effects import CHAIR_TOPIC
from ..errors import NotFoundError
from ..store.log import RuntimeStore
from ..tasks import cancel_and_wait
from .translation import TranslationLanes, Translating

log = logging.getLogger(__name__)

READERS_EVERY_S = 1.0  # chair reader-count updates, coalesced
LEVEL_EVERY_SAMPLES = SAMPLE_RATE // 5  # chair level-meter updates: five per second of audio
BACKFILL_CAPTIONS = 300  # how far back a newly opened language is filled in
AVAILABLE_REFRESH_MS = 3_000  # how often the installed translation packages are looked at again


AudioKind = Literal["capture", "browser", "mic", "file"]


class Recognizer(Protocol):
    async def run(self, audio: AsyncIterator[AudioArray], on_event: Callable[[Any], None]) -> None: ...


class RecognizerFactory(Protocol):
    """Makes one stream's recogniser; ``task="translate"`` is Whisper's own any→English."""

    def __call__(self, language: str | None, glossary: tuple[str, ...],
                 task: Literal["transcribe", "translate"] = "transcribe") -> Recognizer: ...


class AudioFeed:
    """An async iterator of float32 chunks that sources push into; ``end()`` finishes it."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[AudioArray | None] = asyncio.Queue()
        self.samples = 0

    def push(self, chunk: AudioArray) -> None:
        self.samples += len(chunk)
        self._queue.put_nowait(chunk)

    def end(self) -> None:
        self._queue.put_nowait(None)

    def pending(self) -> int:
        """Chunks pushed but not yet taken by the recogniser."""
        return self._queue.qsize()

    async def __aiter__(self) -> AsyncIterator[AudioArray]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk


class SessionRuntime:
    """Carries out one session core's effects against the store, the bus, recognisers and translators."""

    def __init__(self, session: Session, *, store: RuntimeStore, bus: CaptionBus, clock: Clock,
                 recognizer_factory: RecognizerFactory | None, translator: Translating | None) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.level_db: float | None = None
        self.audio_source: dict[str, str | None] | None = None  # {"kind", "name"} of the feed now, if any
        self.core = SessionCore(session, latest_seqs=store.latest_seqs(session.id),
                                audio_end_ms=store.audio_end_ms(session.id), new_id=lambda: uuid.uuid4().hex[:12],
                                speech_recognition=recognizer_factory is not None)
        self._recognizer_factory = recognizer_factory
        self._translator = translator
        self._lanes = (TranslationLanes(translator, self._translated, self._translation_failed)
                       if translator is not None else None)
        self._available_at_ms: int | None = None
        self._feed: AudioFeed | None = None
        # Recognisers still running (one finishing an ended feed's last words, the current one, Whisper's English).
        self._tasks: set[asyncio.Task[None]] = set()
        self._english: AudioFeed | None = None
        self._frames = protocol.CaptionFrames()
        self._next_level_at = 0
        self._readers_pending: asyncio.TimerHandle | None = None
        self._readers: tuple[tuple[str, int], ...] = ()
        # Capture streams heard by the audio endpoint (kept across reconnects).
        self.ingest_streams: dict[str, object] = {}
        self._refresh_available()
        self._run_effects()

    # -- what handlers read ----------------------------------------------
    @property
    def session(self) -> Session:
        return self.core.session

    @property
    def source_lang(self) -> str:
        return self.core.source_lang

    @property
    def state(self) -> SessionState:
        return self.core.state

    def status(self, lang: str | None = None) -> Status:
        return self.core.status(lang)

    def languages(self) -> tuple[str, ...]:
        self._refresh_available()
        return self.core.languages()

    def check_language(self, lang: str) -> None:
        self._refresh_available()
        self.core.check_language(lang)

    def snapshot(self) -> dict[str, Any]:
        self._refresh_available()
        return {**self.core.snapshot(), "level_db": self.level_db, "audio_source": self.audio_source,
                "speech": self._recognizer_factory is not None}

    def _refresh_available(self) -> None:
        """Re-read the installed packages every few seconds: one added while the server runs is offered."""
        if self._translator is None:
            return
        now = self.clock.now_ms()
        if self._available_at_ms is None or now - self._available_at_ms >= AVAILABLE_REFRESH_MS:
            lookup = "en" if self.source_lang == "auto" else self.source_lang
            self.core.targets_available(self._translator.available_targets(lookup))
            self._available_at_ms = now

    # -- readers -----------------------------------------------------------
    def reader_joined(self, lang: str, *, screen: bool = False) -> None:
        self.core.reader_joined(lang, screen=screen)
        self._run_effects()

    def reader_left(self, lang: str, *, screen: bool = False) -> None:
        self.core.reader_left(lang, screen=screen)
        self._run_effects()

    # -- chair -------------------------------------------------------------
    def restore_paused(self) -> None:
        """Continue a room its previous owner left paused (see :meth:`SessionCore.restore_paused`)."""
        self.core.restore_paused()
        self._run_effects()

    def act(self, action: ChairAction) -> Caption | None:
        """Apply a chair's action (typed caption, control, settings); returns a caption made."""
        try:
            return self.core.receive_chair_action(action, self.clock.now_ms())
        finally:
            self._run_effects()

    def correct(self, caption_id: str, text: str, *, lang: str | None, author: str) -> Caption:
        """Fix one caption; a fix in the spoken language is translated again into every language."""
        versions = tuple(self.store.translations_of(self.session.id, caption_id))
        if not versions:
            raise NotFoundError(f"no caption {caption_id!r} in session {self.session.id!r}")
        fixed = self.act(Correct(versions, lang or self.source_lang, text, author))
        assert fixed is not None
        return fixed

    # -- audio -------------------------------------------------------------
    @property
    def feed(self) -> AudioFeed | None:
        """The audio feed recognition is reading now, if any."""
        return self._feed

    def open_audio(self, kind: AudioKind = "capture", name: str | None = None) -> AudioFeed:
        """Start (or restart) recognition on a new audio feed; an earlier feed is ended.

        ``kind`` and ``name`` say where the audio comes from (a capture station and its
        stream, the chair's browser, a microphone here, a file): the chair console shows it.
        """
        if self._recognizer_factory is None:
            raise NotFoundError("this server runs without speech recognition (--source none); "
                                "send captions as text instead")
        self._end_feed()
        feed = AudioFeed()
        self._feed = feed
        self._next_level_at = 0
        recognizer = self._recognizer_factory(
            None if self.source_lang == "auto" else self.source_lang, self.session.glossary)
        self._own(self._recognise(recognizer, feed))
        self.core.audio_opened()
        self._set_audio_source({"kind": kind, "name": name})
        self._run_effects()
        return feed

    def push_audio(self, chunk: AudioArray, at_ms: int | None = None) -> None:
        """Feed one chunk (that arrived at ``at_ms``, default now); while paused, silence of the same
        length keeps the clock aligned."""
        if self._feed is None:
            return
        self.core.audio_received(self.clock.now_ms() if at_ms is None else at_ms, len(chunk))
        if self.core.paused_audio:
            chunk = np.zeros_like(chunk)
        elif len(chunk):
            rms = float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64))))
            self.level_db = round(20 * np.log10(max(rms, 1e-6)), 1)
        self._feed.push(chunk)
        if self._english is not None:
            self._english.push(chunk)
        # The chair's level meter: about five updates per second of audio, counted in samples.
        if self._feed.samples >= self._next_level_at:
            self._next_level_at = self._feed.samples + LEVEL_EVERY_SAMPLES
            self.bus.publish(Topic(self.session.id, CHAIR_TOPIC), protocol.info("level", {"level_db": self.level_db}))
        self._run_effects()

    def close_audio(self) -> None:
        """The source ended (file finished, capture stopped): finish recognition, stay readable."""
        self._end_feed()
        self._set_audio_source(None)
        self.core.audio_closed()
        self._run_effects()

    def _set_audio_source(self, source: dict[str, str | None] | None) -> None:
        self.audio_source = source
        self.bus.publish(Topic(self.session.id, CHAIR_TOPIC), protocol.info("info", {"audio_source": source}))

    def _end_feed(self) -> None:
        if self._feed is not None:
            self._feed.end()
            self._feed = None

    async def _recognise(self, recognizer: Recognizer, feed: AudioFeed) -> None:
        try:
            await recognizer.run(feed.__aiter__(), self.recognized)
        finally:
            if self._feed is None or self._feed is feed:
                self.core.recognition_finished()
                self._run_effects()

    def recognized(self, event: Any) -> None:
        """One event of the spoken-language recogniser (FinalCaption, PartialCaption, LagReport, ...)."""
        self.core.receive_recognizer_event(event, self.clock.now_ms())
        self._run_effects()

    def _on_english_event(self, event: Any) -> None:
        self.core.receive_recognizer_event(event, self.clock.now_ms(), english=True)
        self._run_effects()

    def _start_english(self) -> None:
        """Run a second recogniser with Whisper's translate task from the current audio on."""
        if self._recognizer_factory is None or self._english is not None:
            return
        self._english = AudioFeed()
        recognizer = self._recognizer_factory(self.source_lang, self.session.glossary, task="translate")
        self._own(recognizer.run(self._english.__aiter__(), self._on_english_event))

    def _own(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        """A recogniser stopped; one that crashed is logged with its traceback and reported to the chair."""
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("session %s: speech recognition stopped: %r", self.session.id, exc, exc_info=exc)
        self.bus.publish(Topic(self.session.id, CHAIR_TOPIC), protocol.error(
            "recognition_failed", f"speech recognition stopped ({type(exc).__name__}); the server log has the "
            "details. Restart the audio source to try again"))

    def _stop_english(self) -> None:
        if self._english is not None:
            self._english.end()
            self._english = None

    # -- translation ---------------------------------------------------------
    def _translated(self, job: TranslationJob, text: str, fallback: bool) -> None:
        self.core.receive_translation(job, text, fallback, self.clock.now_ms())
        self._run_effects()

    def _translation_failed(self, job: TranslationJob, reason: str) -> None:
        self.core.receive_translation_failure(job, reason, self.clock.now_ms())
        self._run_effects()

    def translation_queues(self) -> dict[str, int]:
        return self._lanes.queued() if self._lanes is not None else {}

    # -- effects ---------------------------------------------------------------
    def _run_effects(self) -> None:
        """Carry out everything the core asked for, in order (answers may queue more)."""
        while effects := self.core.effects():
            for effect in effects:
                self._apply(effect)

    def _apply(self, effect: Effect) -> None:
        sid = self.session.id
        if isinstance(effect, CaptionAdded):
            self.store.insert_caption(effect.caption)
            self.bus.publish(Topic(sid, effect.caption.lang), self.frame_for(effect.caption))
        elif isinstance(effect, CaptionRevised):
            c = effect.caption
            self.store.revise(c, before=effect.before, author=effect.author, at_ms=effect.at_ms)
            self.frame_for(c)
            frame = protocol.correction(Correction(c.session, c.lang, c.seq, c.id, c.text, c.revision),
                                        source_text=c.source_text, fallback=c.fallback)
            self.bus.publish(Topic(sid, c.lang), frame)  # the chair's console reads the spoken language's too
        elif isinstance(effect, Publish):
            self.bus.publish(Topic(sid, effect.topic), effect.frame)
        elif isinstance(effect, SessionChanged):
            self.store.save_session(effect.session)
        elif isinstance(effect, Translate):
            if self._lanes is not None:
                self._lanes.submit(effect.job)
            else:
                self.core.receive_translation_failure(effect.job, "no translation service", self.clock.now_ms())
        elif isinstance(effect, FetchBacklog):
            if self._lanes is not None and self.source_lang != "auto":
                self._lanes.prepare(self.source_lang, effect.lang)  # its model, before the first caption
            backlog = self.store.untranslated(sid, self.source_lang, effect.lang, BACKFILL_CAPTIONS)
            self.core.receive_backlog(effect.lang, backlog)
        elif isinstance(effect, StartEnglish):
            self._start_english()
        elif isinstance(effect, StopEnglish):
            self._stop_english()
        elif isinstance(effect, CloseAudio):
            self._end_feed()
        elif isinstance(effect, ReadersChanged):
            self._readers = effect.readers
            if self._readers_pending is None:  # storms join by hundreds: one chair update a second
                self._readers_pending = asyncio.get_running_loop().call_later(READERS_EVERY_S, self._send_readers)
        elif isinstance(effect, Warn):
            log.warning("%s", effect.message)

    def _send_readers(self) -> None:
        self._readers_pending = None
        self.bus.publish(Topic(self.session.id, CHAIR_TOPIC),
                         protocol.info("readers", {"readers": dict(self._readers)}))

    def frame_for(self, cap: Caption) -> protocol.Frame:
        """The encoded frame of a caption, encoded once and cached for replays."""
        return self._frames.frame_for(cap)

    async def close(self) -> None:
        """Stop recognition and translation; every task this runtime started is awaited."""
        if self._readers_pending is not None:
            self._readers_pending.cancel()
        self._end_feed()
        self._stop_english()
        await cancel_and_wait(*self._tasks)
        if self._lanes is not None:
            await self._lanes.close()
