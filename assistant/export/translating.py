"""Translation for exports: a blocking front of the asyncio translation service.

Exporters are synchronous generators stepped in a worker thread, while the
translation service (:class:`assistant.translate.TranslationService`) lives on
an event loop and batches requests per language pair. The export asks through
a :class:`BlockingTranslator`:

* :class:`LoopTranslator` — the server's own service, on the server's loop; the
  worker thread waits for each batch while the loop keeps serving everyone;
* :class:`ThreadedTranslator` — a service on a loop thread of its own, for
  synchronous callers (``assistant export``); the thread starts with the first
  translation and stops at :meth:`~ThreadedTranslator.close`.

Never call ``translate`` on the loop that runs the service: it would wait for itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

BATCH_TIMEOUT_S = 600.0  # one batch of sentences; far beyond any real batch, it only stops a wait on a dead loop


@dataclass(frozen=True, slots=True)
class TranslationRequest:
    """One caption text to translate from ``source`` into ``target``, keeping ``glossary`` terms verbatim."""

    text: str
    source: str
    target: str
    glossary: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TranslatedText:
    """The translation of one request; ``fallback``: it looked degenerate, so ``text`` is the original."""

    text: str
    fallback: bool


class BlockingTranslator(Protocol):
    """What an export needs of translation; both methods block and may be called from any thread but the loop's."""

    def targets(self, source: str) -> tuple[str, ...]:
        """Languages reachable from ``source`` now (installed packages, pivots included)."""
        ...

    def edition(self, source: str, target: str) -> str:
        """What would translate ``source`` into ``target`` now (the packages and their versions): an export
        translation made by another is made again. Raises LanguageError when the pair cannot be served."""
        ...

    def translate(self, requests: Sequence[TranslationRequest]) -> list[TranslatedText]:
        """Translate every request (one batch); raises LanguageError when a pair cannot be served."""
        ...


class _ResultLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def fallback(self) -> bool: ...


class AsyncTranslation(Protocol):
    """The asyncio translation service as exports see it (``TranslationService`` satisfies it)."""

    async def translate(self, text: str, source: str, target: str,
                        glossary: tuple[str, ...] = ()) -> _ResultLike: ...

    def available_targets(self, source_lang: str) -> tuple[str, ...]: ...

    def edition(self, source: str, target: str) -> str: ...


class ClosableTranslation(AsyncTranslation, Protocol):
    async def close(self) -> None: ...


class LoopTranslator:
    """A :class:`BlockingTranslator` over ``service`` running on ``loop`` (which must be running)."""

    def __init__(self, service: AsyncTranslation, loop: asyncio.AbstractEventLoop) -> None:
        self._service = service
        self._loop = loop

    def targets(self, source: str) -> tuple[str, ...]:
        return self._service.available_targets(source)

    def edition(self, source: str, target: str) -> str:
        return self._service.edition(source, target)

    def translate(self, requests: Sequence[TranslationRequest]) -> list[TranslatedText]:
        if not requests:
            return []
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("LoopTranslator.translate() called on its own loop: call it from a worker thread")
        future = asyncio.run_coroutine_threadsafe(self._all(requests), self._loop)
        return future.result(timeout=BATCH_TIMEOUT_S)

    async def _all(self, requests: Sequence[TranslationRequest]) -> list[TranslatedText]:
        # All at once: the service sends the ones of one language pair to its model together.
        results = await asyncio.gather(*(self._service.translate(r.text, r.source, r.target, r.glossary)
                                         for r in requests))
        return [TranslatedText(r.text, r.fallback) for r in results]


class ThreadedTranslator:
    """A :class:`BlockingTranslator` that runs the service ``make_service()`` builds on a loop thread of its own.

    Nothing is built until the first call, and the thread starts with the first
    translation; use it as a context manager (or call :meth:`close`) to stop both.
    """

    def __init__(self, make_service: Callable[[], ClosableTranslation]) -> None:
        self._make_service = make_service
        self._service: ClosableTranslation | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _built(self) -> ClosableTranslation:
        with self._lock:
            if self._service is None:
                self._service = self._make_service()
            return self._service

    def targets(self, source: str) -> tuple[str, ...]:
        return self._built().available_targets(source)

    def edition(self, source: str, target: str) -> str:
        return self._built().edition(source, target)

    def translate(self, requests: Sequence[TranslationRequest]) -> list[TranslatedText]:
        service = self._built()
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="export-translation",
                                                daemon=True)
                self._thread.start()
            loop = self._loop
        return LoopTranslator(service, loop).translate(requests)

    def close(self) -> None:
        """Finish the service's queued work, then stop its loop thread (idempotent)."""
        with self._lock:
            service, loop, thread = self._service, self._loop, self._thread
            self._service = self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            if service is not None:
                asyncio.run_coroutine_threadsafe(service.close(), loop).result(timeout=BATCH_TIMEOUT_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def __enter__(self) -> ThreadedTranslator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
