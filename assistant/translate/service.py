"""The asyncio translation stage: batch caption sentences per language pair, off the loop.

The server calls ``await service.translate(text, source, target, glossary)`` once
per (final caption, wanted language) and assigns sequence numbers itself.
Requests for the same pair that arrive while that pair is busy are sent
together as one batch (up to ``max_batch``); each pair has at most one batch
running, different pairs run in parallel on ``workers`` threads. Nothing here
blocks the event loop. A phrase repeated over and over reaches the model
three times (``squeeze_repeats``), and a degenerate translation comes back as
the source text with ``fallback=True``.

Make one service per process at startup, ``await close()`` at shutdown.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from assistant.errors import LanguageError
from assistant.translate.engine import Translator
from assistant.translate.glossary import Protected, protect, restore
from assistant.translate.quality import is_degenerate, squeeze_repeats

DEFAULT_WORKERS = 3  # threads mostly wait inside CTranslate2; 3 beat 2 on 2 cores
DEFAULT_MAX_BATCH = 16  # sentences per model call; more only adds latency on 2 cores


@dataclass(frozen=True, slots=True)
class TranslationResult:
    """A translated caption text; ``fallback`` means the source text stands in."""

    text: str
    fallback: bool
    elapsed_ms: int  # from the translate() call to the result, queueing included


@dataclass(frozen=True, slots=True)
class _Job:
    source_text: str  # what was said; it stands in for a degenerate translation
    text: str  # what the model is given: source_text with long repetitions squeezed
    protected: Protected  # text with the glossary's terms held out


@dataclass(slots=True)
class _Request:
    job: _Job
    future: asyncio.Future[tuple[str, bool]]


class TranslationService:
    """Asynchronous front of a blocking Translator, with per-pair batching."""

    def __init__(
        self,
        translator: Translator,
        *,
        workers: int = DEFAULT_WORKERS,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if workers < 1 or max_batch < 1:
            raise ValueError(f"workers and max_batch must be >= 1, got {workers}, {max_batch}")
        self.translator = translator
        self.max_batch = max_batch
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="translate")
        self._slots = asyncio.Semaphore(workers)
        self._pending: dict[tuple[str, str], list[_Request]] = {}
        self._drainers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._closed = False

    def available_targets(self, source: str) -> tuple[str, ...]:
        """Languages captions in source can be translated into (sorted)."""
        return self.translator.targets(source)

    def edition(self, source: str, target: str) -> str:
        """What translates source→target now (see :meth:`Translator.edition`)."""
        return self.translator.edition(source, target)

    def check_pair(self, source: str, target: str) -> None:
        """Raise LanguageError (with ``available``) unless source→target can be served."""
        if source == target:
            return
        available = self.available_targets(source)
        if target not in available:
            raise LanguageError(
                f"Captions in '{source}' cannot be translated into '{target}': no installed "
                f"package reaches it. Available: {', '.join(available) or 'none'}. Install "
                f"one with `assistant languages add FILE.argosmodel` or "
                f"`assistant languages add --from-index {source}:{target}`.",
                available=available,
            )

    async def prepare(self, source: str, target: str) -> None:
        """Load source→target's models on a worker thread, so that its first caption does not wait
        for them (a reader chose the language). LanguageError (from the translator, which reads the
        installed packages off the event loop) if the pair cannot be served."""
        if self._closed:
            raise RuntimeError("TranslationService.prepare() called after close()")
        if source != target:
            async with self._slots:  # a worker, as a batch takes one
                await asyncio.get_running_loop().run_in_executor(self._executor, self.translator.load, source, target)

    async def translate(
        self, text: str, source: str, target: str, glossary: tuple[str, ...] = ()
    ) -> TranslationResult:
        """Translate one caption sentence; LanguageError if the pair cannot be served."""
        if self._closed:
            raise RuntimeError("TranslationService.translate() called after close()")
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.check_pair(source, target)
        if source == target or not text.strip():
            return TranslationResult(text, False, 0)
        future: asyncio.Future[tuple[str, bool]] = loop.create_future()
        pair = (source, target)
        squeezed = squeeze_repeats(text)
        self._pending.setdefault(pair, []).append(
            _Request(_Job(text, squeezed, protect(squeezed, glossary)), future)
        )
        if pair not in self._drainers:
            self._drainers[pair] = asyncio.create_task(self._drain(pair))
        translated, fallback = await future
        elapsed_ms = round((loop.time() - started) * 1000)
        return TranslationResult(translated, fallback, elapsed_ms)

    async def _drain(self, pair: tuple[str, str]) -> None:
        loop = asyncio.get_running_loop()
        queue = self._pending[pair]
        try:
            while queue:
                async with self._slots:
                    # Everything that queued up while we waited goes in this batch.
                    batch = [r for r in queue[: self.max_batch] if not r.future.done()]
                    del queue[: self.max_batch]
                    if not batch:
                        continue
                    jobs = [r.job for r in batch]
                    try:
                        results = await loop.run_in_executor(
                            self._executor, self._run_batch, jobs, pair[0], pair[1]
                        )
                    except Exception as exc:  # delivered to every caller of this batch
                        for request in batch:
                            if not request.future.done():
                                request.future.set_exception(exc)
                        continue
                    for request, result in zip(batch, results):
                        if not request.future.done():
                            request.future.set_result(result)
        finally:
            del self._drainers[pair]
            if not queue:
                self._pending.pop(pair, None)

    def _run_batch(self, jobs: list[_Job], source: str, target: str) -> list[tuple[str, bool]]:
        # Runs on a worker thread.
        outputs = self.translator.translate_batch(
            [job.protected.text for job in jobs], source, target
        )
        results: list[tuple[str, bool]] = []
        for job, output in zip(jobs, outputs):
            restored = restore(output, job.protected)
            if restored is None:
                # The model lost a placeholder: translate the plain text; the
                # term often survives on its own.
                restored = self.translator.translate_batch([job.text], source, target)[0]
            if is_degenerate(job.text, restored):
                results.append((job.source_text, True))
            else:
                results.append((restored, False))
        return results

    async def close(self) -> None:
        """Finish the requests already queued, then stop the worker threads."""
        self._closed = True
        while self._drainers:
            await asyncio.gather(*self._drainers.values(), return_exceptions=True)
        self._executor.shutdown(wait=False)
