"""Translation lanes: one ordered lane per (session, target language) that someone reads.

Each final caption in the spoken language is queued on every lane; a lane
translates what is waiting as one batch (the service batches per pair), then
stores and publishes the results in caption order. A language nobody reads has
no lane and costs nothing. A lane that opens late first back-fills the recent
captions, so a reader who switches language sees what was said so far.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import TYPE_CHECKING, Protocol

from ..captions import Caption
from ..errors import AssistantError

if TYPE_CHECKING:
    from .runtime import SessionRuntime

log = logging.getLogger(__name__)

BACKFILL_CAPTIONS = 300  # how far back a newly opened language is filled in
MAX_LANE_BATCH = 16  # captions translated together by one lane
AVAILABLE_REFRESH_MS = 3_000  # how often the installed packages are looked at again


class TranslationResultLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def fallback(self) -> bool: ...


class Translating(Protocol):
    """What the server needs of the translation service (assistant.translate.service)."""

    async def translate(self, text: str, source: str, target: str,
                        glossary: tuple[str, ...] = ()) -> TranslationResultLike: ...

    def available_targets(self, source_lang: str) -> tuple[str, ...]: ...


class TranslationLanes:
    """The translation lanes of one session."""

    def __init__(self, runtime: "SessionRuntime", service: Translating) -> None:
        self._rt = runtime
        self._service = service
        self._lanes: dict[str, tuple[asyncio.Queue[tuple[Caption, str]], asyncio.Task[None]]] = {}
        source = runtime.source_lang
        self._lookup_source = "en" if source == "auto" else source
        self._available = service.available_targets(self._lookup_source)
        self._available_at_ms = runtime.clock.now_ms()
        for lang in runtime.session.languages:
            self.want(lang)

    def available(self) -> tuple[str, ...]:
        """The languages installed packages reach; re-read every few seconds, so a package
        added while the server runs is offered without a restart (every connect asks)."""
        now = self._rt.clock.now_ms()
        if now - self._available_at_ms >= AVAILABLE_REFRESH_MS:
            self._available = self._service.available_targets(self._lookup_source)
            self._available_at_ms = now
        return self._available

    def want(self, lang: str) -> None:
        if lang in self._lanes or lang == self._rt.source_lang:
            return
        queue: asyncio.Queue[tuple[Caption, str]] = asyncio.Queue()
        store, sid = self._rt.store, self._rt.session.id
        for cap in store.untranslated(sid, self._rt.source_lang, lang, BACKFILL_CAPTIONS):
            queue.put_nowait((cap, cap.source_lang or self._rt.source_lang))
        self._lanes[lang] = (queue, asyncio.create_task(self._run(lang, queue)))

    def unwant(self, lang: str) -> None:
        lane = self._lanes.pop(lang, None)
        if lane is not None:
            lane[1].cancel()

    def submit(self, cap: Caption, spoken: str) -> None:
        for queue, _ in self._lanes.values():
            queue.put_nowait((cap, spoken))

    def retranslate(self, fixed: Caption) -> None:
        """Re-translate a corrected caption in every language that already has it."""
        for other in self._rt.store.translations_of(fixed.session, fixed.id):
            if other.lang != fixed.lang:
                asyncio.create_task(self._correct(fixed, other))

    async def _correct(self, fixed: Caption, old: Caption) -> None:
        spoken = fixed.source_lang or self._rt.source_lang
        text, fallback = await self._translate(fixed.text, spoken, old.lang)
        new = self._rt.store.correct(fixed.session, fixed.id, old.lang, text, author="translation",
                                     at_ms=self._rt.clock.now_ms(), source_text=fixed.text, fallback=fallback)
        self._rt._publish_correction(new)

    async def _translate(self, text: str, source: str, target: str) -> tuple[str, bool]:
        try:
            result = await self._service.translate(text, source, target, self._rt.session.glossary)
        except AssistantError as exc:
            # The reader still gets the line, marked as the original, rather than a gap.
            log.warning("translation %s→%s failed: %s", source, target, exc)
            return text, True
        return result.text, result.fallback

    async def _run(self, lang: str, queue: asyncio.Queue[tuple[Caption, str]]) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < MAX_LANE_BATCH:
                batch.append(queue.get_nowait())
            results = await asyncio.gather(*(self._translate(c.text, spoken, lang) for c, spoken in batch))
            for (cap, spoken), (text, fallback) in zip(batch, results):
                try:
                    out = self._rt.store.append_caption(
                        cap.session, lang, id=cap.id, start_ms=cap.start_ms, end_ms=cap.end_ms, text=text,
                        origin="translation", source_lang=spoken, source_text=cap.text, fallback=fallback,
                        created_at_ms=self._rt.clock.now_ms())
                except sqlite3.IntegrityError:
                    continue  # already translated (back-fill met a live caption)
                self._rt.publish_caption(out)

    async def close(self) -> None:
        tasks = [task for _, task in self._lanes.values()]
        self._lanes.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
