"""One live session: its audio feed, recogniser, translation lanes and publishing.

A ``SessionRuntime`` turns recogniser events into stored captions and bus
frames. Order of every final caption: commit to the store, then publish; so a
reader that reconnects always finds in the store what it may have missed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Literal, Protocol

import numpy as np

from .. import protocol
from ..asr.types import FinalCaption, LagReport, LanguageDetected, PartialCaption
from ..clock import Clock
from ..captions import Caption, CaptionOrigin, Correction, Partial, Session, SessionState, Status
from ..errors import LanguageError, NotFoundError
from ..hub import CaptionBus, Topic
from ..store import Store
from .translation import TranslationLanes, Translating

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME_CACHE_SIZE = 4096  # encoded caption frames kept per session for replays
LAG_REPORT_STEP_MS = 250  # publish lag changes of at least this much
READERS_EVERY_S = 1.0  # chair reader-count updates, coalesced
LEVEL_EVERY_SAMPLES = SAMPLE_RATE // 5  # chair level-meter updates: five per second of audio


class Recognizer(Protocol):
    async def run(self, audio: AsyncIterator[np.ndarray], on_event: Callable[[object], None]) -> None: ...


class RecognizerFactory(Protocol):
    """Makes one stream's recogniser; ``task="translate"`` is Whisper's own any→English."""

    def __call__(self, language: str | None, glossary: tuple[str, ...],
                 task: Literal["transcribe", "translate"] = "transcribe") -> Recognizer: ...


WHISPER_ENGLISH = "en"


class AudioFeed:
    """An async iterator of float32 chunks that sources push into; ``end()`` finishes it."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self.samples = 0

    def push(self, chunk: np.ndarray) -> None:
        self.samples += len(chunk)
        self._queue.put_nowait(chunk)

    def end(self) -> None:
        self._queue.put_nowait(None)

    def pending(self) -> int:
        """Chunks pushed but not yet taken by the recogniser."""
        return self._queue.qsize()

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk


class SessionRuntime:
    """Everything that happens in one room while the server runs."""

    def __init__(self, session: Session, *, store: Store, bus: CaptionBus, clock: Clock,
                 recognizer_factory: RecognizerFactory | None, translator: Translating | None) -> None:
        self.session = session
        self.store = store
        self.bus = bus
        self.clock = clock
        self.state: SessionState = "idle"
        self.readers: Counter[str] = Counter()
        self.lag_ms: int | None = None
        self.detected_language: str | None = None
        self.level_db: float | None = None
        self._recognizer_factory = recognizer_factory
        self._feed: AudioFeed | None = None
        self._recognition: asyncio.Task[None] | None = None
        self._offset_ms = 0
        self._frames: OrderedDict[tuple[str, int], tuple[int, protocol.Frame]] = OrderedDict()
        self._lanes = TranslationLanes(self, translator) if translator is not None else None
        self._next_level_at = 0
        self._readers_pending: asyncio.TimerHandle | None = None
        # Whisper's own English (translate task), run only while someone reads it.
        self._english: AudioFeed | None = None
        self._english_offset_ms = 0
        self._english_task: asyncio.Task[None] | None = None
        # Capture streams heard by the audio endpoint (kept across reconnects).
        self.ingest_streams: dict[str, object] = {}

    # -- languages ------------------------------------------------------
    @property
    def source_lang(self) -> str:
        return self.session.source_lang

    def languages(self) -> tuple[str, ...]:
        """Every language a reader may ask for: the spoken one first, then reachable targets."""
        targets = self._lanes.available() if self._lanes is not None else ()
        extra = (WHISPER_ENGLISH,) if self._whisper_english() else ()
        return (self.source_lang, *[t for t in targets if t != self.source_lang], *extra)

    def _whisper_english(self) -> bool:
        """Offer Whisper's own translation into English when no Argos route reaches English."""
        if self._recognizer_factory is None or self.source_lang in (WHISPER_ENGLISH, "auto"):
            return False
        return self._lanes is None or WHISPER_ENGLISH not in self._lanes.available()

    def check_language(self, lang: str) -> None:
        if lang not in self.languages():
            raise LanguageError(f"captions in {lang!r} are not available for this session; "
                                f"choose one of {', '.join(self.languages())}", self.languages())

    def reader_joined(self, lang: str) -> None:
        self.readers[lang] += 1
        if lang == WHISPER_ENGLISH and self._whisper_english():
            self._start_whisper_english()
        elif self._lanes is not None and lang != self.source_lang:
            self._lanes.want(lang)
        self._publish_readers()

    def reader_left(self, lang: str) -> None:
        self.readers[lang] -= 1
        if self.readers[lang] <= 0:
            del self.readers[lang]
            if lang == WHISPER_ENGLISH and self._english is not None:
                self._english.end()
                self._english = None
            elif self._lanes is not None and lang not in self.session.languages:
                self._lanes.unwant(lang)
        self._publish_readers()

    def _start_whisper_english(self) -> None:
        """Run a second recogniser with Whisper's translate task from the current audio on."""
        if self._feed is None or self._english is not None or self._recognizer_factory is None:
            return
        self._english = AudioFeed()
        self._english_offset_ms = self._offset_ms + self._feed.samples * 1000 // SAMPLE_RATE
        recognizer = self._recognizer_factory(self.source_lang, self.session.glossary, task="translate")
        self._english_task = asyncio.create_task(recognizer.run(self._english.__aiter__(), self._on_english))

    def _on_english(self, event: object) -> None:
        offset = self._english_offset_ms
        if isinstance(event, FinalCaption):
            cap = self.store.append_caption(
                self.session.id, WHISPER_ENGLISH, id=uuid.uuid4().hex[:12], start_ms=event.start_ms + offset,
                end_ms=event.end_ms + offset, text=event.text, origin="whisper-translate",
                source_lang=self.source_lang, created_at_ms=self.clock.now_ms())
            self.publish_caption(cap)
        elif isinstance(event, PartialCaption):
            self.publish_partial(event.text, event.start_ms + offset, event.end_ms + offset, lang=WHISPER_ENGLISH)

    # -- audio ----------------------------------------------------------
    @property
    def feed(self) -> AudioFeed | None:
        """The audio feed recognition is reading now, if any."""
        return self._feed

    def open_audio(self) -> AudioFeed:
        """Start (or restart) recognition on a new audio feed; an earlier feed is ended."""
        if self._recognizer_factory is None:
            raise NotFoundError("this server runs without speech recognition (--source none); "
                                "send captions as text instead")
        if self._feed is not None:
            self._feed.end()
        feed = AudioFeed()
        self._feed = feed
        self._next_level_at = 0
        recognizer = self._recognizer_factory(
            None if self.source_lang == "auto" else self.source_lang, self.session.glossary)
        self._recognition = asyncio.create_task(self._recognise(recognizer, feed))
        if self.readers[WHISPER_ENGLISH] and self._whisper_english():
            self._start_whisper_english()
        return feed

    def audio_started(self, received_ms: int) -> None:
        """Called with the first chunk of a feed: fixes the audio clock against wall time."""
        now = self.clock.now_ms()
        if self.session.started_at_ms is None:
            self.session = self.store.update_session(self.session.id, started_at_ms=now - received_ms,
                                                     ended_at_ms=None)
            self._offset_ms = 0
        else:
            # A resumed session: audio time continues as wall time since the original start.
            self._offset_ms = max(now - received_ms - self.session.started_at_ms,
                                  self.store.audio_end_ms(self.session.id))
        if self.state != "paused":  # a capture station restarted during a pause stays paused until resumed
            self.set_state("live")

    def push_audio(self, chunk: np.ndarray) -> None:
        """Feed one chunk; while paused, silence of the same length keeps the clock aligned."""
        if self._feed is None:
            return
        if self._feed.samples == 0:
            self.audio_started(len(chunk) * 1000 // SAMPLE_RATE)
        if self.state == "paused":
            chunk = np.zeros_like(chunk)
        elif len(chunk):
            rms = float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64))))
            self.level_db = round(20 * np.log10(max(rms, 1e-6)), 1)
        self._feed.push(chunk)
        # The chair's level meter: about five updates per second of audio, counted in samples.
        if self._feed.samples >= self._next_level_at:
            self._next_level_at = self._feed.samples + LEVEL_EVERY_SAMPLES
            self._publish_chair(protocol.info("level", {"level_db": self.level_db}))
        if self._english is not None:
            self._english.push(chunk)

    def close_audio(self) -> None:
        """The source ended (file finished, capture stopped): finish recognition, stay readable."""
        if self._feed is not None:
            self._feed.end()
            self._feed = None
        if self._english is not None:
            self._english.end()
            self._english = None

    async def _recognise(self, recognizer: Recognizer, feed: AudioFeed) -> None:
        try:
            await recognizer.run(feed.__aiter__(), self.on_event)
        finally:
            if self._feed is None or self._feed is feed:
                self.publish_partial("", 0, 0)
                if self.state == "live":
                    self.set_state("idle")

    # -- recogniser events ------------------------------------------------
    def on_event(self, event: object) -> None:
        """Handle one recogniser event on the event loop."""
        if isinstance(event, FinalCaption):
            self.add_caption(event.text, event.start_ms + self._offset_ms, event.end_ms + self._offset_ms,
                             origin="asr", lang=event.language or None)
        elif isinstance(event, PartialCaption):
            self.publish_partial(event.text, event.start_ms + self._offset_ms, event.end_ms + self._offset_ms,
                                 stable=event.stable_text)
        elif isinstance(event, LagReport):
            if self.lag_ms is None or abs(event.lag_ms - self.lag_ms) >= LAG_REPORT_STEP_MS:
                self.lag_ms = event.lag_ms
                self.publish_status()
        elif isinstance(event, LanguageDetected):
            self.detected_language = event.language
            self._publish_chair(protocol.info("info", {"detected_language": event.language,
                                                       "probability": round(event.probability, 3)}))

    # -- publishing -----------------------------------------------------
    def add_caption(self, text: str, start_ms: int, end_ms: int, *, origin: CaptionOrigin,
                    lang: str | None = None) -> Caption:
        """Store and publish a final caption in the spoken language, then queue its translations."""
        stream = self.source_lang
        spoken = lang if self.source_lang == "auto" and lang else stream
        cap = self.store.append_caption(
            self.session.id, stream, id=uuid.uuid4().hex[:12], start_ms=start_ms, end_ms=end_ms, text=text,
            origin=origin, source_lang=None if spoken == stream else spoken, created_at_ms=self.clock.now_ms())
        self.publish_caption(cap)
        if self._lanes is not None:
            self._lanes.submit(cap, spoken)
        return cap

    def publish_caption(self, cap: Caption) -> None:
        self.bus.publish(Topic(cap.session, cap.lang), self.frame_for(cap))

    def frame_for(self, cap: Caption) -> protocol.Frame:
        """The encoded frame of a caption, encoded once and cached for replays."""
        key = (cap.lang, cap.seq)
        cached = self._frames.get(key)
        if cached is not None and cached[0] == cap.revision:
            return cached[1]
        frame = protocol.caption(cap)
        self._frames[key] = (cap.revision, frame)
        if len(self._frames) > FRAME_CACHE_SIZE:
            self._frames.popitem(last=False)
        return frame

    def publish_partial(self, text: str, start_ms: int, end_ms: int, *, lang: str | None = None,
                        stable: str = "") -> None:
        lang = lang or self.source_lang
        frame = protocol.partial(Partial(self.session.id, lang, start_ms, end_ms, text, stable))
        self.bus.publish(Topic(self.session.id, lang), frame)

    def status(self) -> Status:
        """The session's state and lag now, as readers see it."""
        return Status(self.session.id, self.state, self.lag_ms)

    def publish_status(self) -> None:
        frame = protocol.status(self.status())
        for lang in {self.source_lang, *self.readers}:
            self.bus.publish(Topic(self.session.id, lang), frame)
        self._publish_chair(protocol.info("info", {"state": self.state, "lag_ms": self.lag_ms}))

    def set_state(self, state: SessionState) -> None:
        """Move to ``state``; every change is published to readers of every language and the chair."""
        if state != self.state:
            self.state = state
            if state == "ended":
                self.session = self.store.update_session(self.session.id, ended_at_ms=self.clock.now_ms())
            self.publish_status()

    def _publish_readers(self) -> None:
        """Tell the chair the reader counts, at most once per READERS_EVERY_S (storms join by hundreds)."""
        if self._readers_pending is None:
            self._readers_pending = asyncio.get_running_loop().call_later(READERS_EVERY_S, self._send_readers)

    def _send_readers(self) -> None:
        self._readers_pending = None
        self._publish_chair(protocol.info("readers", {"readers": dict(self.readers)}))

    def _publish_chair(self, frame: protocol.Frame) -> None:
        self.bus.publish(Topic(self.session.id, "*chair"), frame)

    # -- chair actions --------------------------------------------------
    def correct(self, caption_id: str, text: str, *, lang: str | None, author: str) -> Caption:
        """Fix one caption; a fix in the spoken language is re-translated into every language."""
        lang = lang or self.source_lang
        fixed = self.store.correct(self.session.id, caption_id, lang, text, author=author,
                                   at_ms=self.clock.now_ms())
        self._publish_correction(fixed)
        if self._lanes is not None and lang == self.source_lang:
            self._lanes.retranslate(fixed)
        return fixed

    def _publish_correction(self, c: Caption) -> None:
        self.frame_for(c)
        frame = protocol.correction(Correction(c.session, c.lang, c.seq, c.id, c.text, c.revision),
                                    source_text=c.source_text)
        self.bus.publish(Topic(c.session, c.lang), frame)
        if c.lang == self.source_lang:
            self._publish_chair(frame)

    def update(self, *, title: str | None = None, glossary: tuple[str, ...] | None = None) -> Session:
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = title
        if glossary is not None:
            changes["glossary"] = glossary
        if changes:
            self.session = self.store.update_session(self.session.id, **changes)
            self._publish_chair(protocol.info("info", {"title": self.session.title,
                                                       "glossary": list(self.session.glossary)}))
        return self.session

    def snapshot(self) -> dict[str, Any]:
        """What the chair console and the landing page show about this session."""
        return {
            "id": self.session.id, "title": self.session.title, "source_lang": self.source_lang,
            "state": self.state, "lag_ms": self.lag_ms, "readers": dict(self.readers),
            "languages": list(self.languages()), "detected_language": self.detected_language,
            "level_db": self.level_db, "glossary": list(self.session.glossary),
            "started_at": self.session.started_at_ms, "public": self.session.public,
        }

    async def close(self) -> None:
        if self._readers_pending is not None:
            self._readers_pending.cancel()
        self.close_audio()
        for task in (self._recognition, self._english_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._lanes is not None:
            await self._lanes.close()
