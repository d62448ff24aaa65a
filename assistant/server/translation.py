"""Translation lanes: the asyncio side of the translations a session core asks for.

One lane per target language, started when a job for it arrives and finished
when its queue is empty; a lane translates what is waiting as one batch (the
service batches per pair) and hands every outcome back, in any order: the core
releases captions in their order and drops results for outdated revisions.
Every lane is an owned task, cancelled and awaited by :meth:`TranslationLanes.close`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Iterable, Protocol

from ..session import TranslationJob
from ..tasks import cancel_and_wait

log = logging.getLogger(__name__)

MAX_LANE_BATCH = 16  # jobs of one language translated together


class TranslationResultLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def fallback(self) -> bool: ...


class Translating(Protocol):
    """What the server needs of the translation service (assistant.translate.service)."""

    async def translate(self, text: str, source: str, target: str,
                        glossary: tuple[str, ...] = ()) -> TranslationResultLike: ...

    async def prepare(self, source: str, target: str) -> None: ...

    def available_targets(self, source_lang: str) -> tuple[str, ...]: ...

    def edition(self, source: str, target: str) -> str: ...


def targets_of(translator: Translating, spoken: str) -> tuple[str, ...]:
    """What captions spoken in ``spoken`` can be translated into; "auto" translates as English until detected."""
    source = "en" if spoken == "auto" else spoken
    return tuple(t for t in translator.available_targets(source) if t != source)


def offered(translator: Translating, spoken: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``targets_of`` each of ``spoken`` that has any (the package registry may read its folder: call it off
    the event loop)."""
    return {lang: reach for lang in spoken if (reach := targets_of(translator, lang))}


OnResult = Callable[[TranslationJob, str, bool], None]
OnFailure = Callable[[TranslationJob, str], None]


class TranslationLanes:
    """Runs one session's translation jobs; outcomes go to ``on_result`` / ``on_failure`` on the loop."""

    def __init__(self, service: Translating, on_result: OnResult, on_failure: OnFailure) -> None:
        self._service = service
        self._on_result = on_result
        self._on_failure = on_failure
        self._queues: dict[str, list[TranslationJob]] = {}
        self._partials: dict[str, TranslationJob] = {}  # per language, the newest partial not yet started
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._preparing: set[asyncio.Task[None]] = set()

    def submit(self, job: TranslationJob) -> None:
        """Queue a job; finals go first, and a partial replaces an older one of its language not yet started."""
        if job.partial:
            self._partials[job.lang] = job
        else:
            self._queues.setdefault(job.lang, []).append(job)
        task = self._tasks.get(job.lang)
        if task is None or task.done():
            self._tasks[job.lang] = asyncio.create_task(self._run(job.lang), name=f"translate-{job.lang}")

    def prepare(self, source: str, lang: str) -> None:
        """Load source→lang's model now, in the background: a reader chose the language, and its
        first caption should not wait for the model (nor hold back the other languages' captions)."""
        task = asyncio.create_task(self._prepare(source, lang), name=f"prepare-{lang}")
        self._preparing.add(task)
        task.add_done_callback(self._preparing.discard)

    async def _prepare(self, source: str, lang: str) -> None:
        try:
            await self._service.prepare(source, lang)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the first translation reports it to the session as a failure
            log.warning("could not load the %s→%s translation model ahead of its captions: %s", source, lang, exc)

    def queued(self) -> dict[str, int]:
        """Jobs waiting per language (not yet handed to the service)."""
        return {lang: len(q) for lang, q in self._queues.items() if q}

    async def _run(self, lang: str) -> None:
        queue = self._queues.setdefault(lang, [])
        while queue or lang in self._partials:
            if queue:
                batch, queue[:] = queue[:MAX_LANE_BATCH], queue[MAX_LANE_BATCH:]
            else:
                batch = [self._partials.pop(lang)]
            outcomes = await asyncio.gather(*(self._translate(job) for job in batch))
            for job, outcome in zip(batch, outcomes):
                if isinstance(outcome, str):
                    self._on_failure(job, outcome)
                else:
                    self._on_result(job, *outcome)

    async def _translate(self, job: TranslationJob) -> tuple[str, bool] | str:
        """The translation, or why it failed. Any error counts: a broken package must not stop a language."""
        try:
            result = await self._service.translate(job.text, job.source_lang, job.lang, job.glossary)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary of a model we do not control; reported as a failure
            return f"{type(exc).__name__}: {exc}"
        return result.text, result.fallback

    async def close(self) -> None:
        tasks = [*self._tasks.values(), *self._preparing]
        self._tasks.clear()
        self._preparing.clear()
        self._queues.clear()
        self._partials.clear()
        await cancel_and_wait(*tasks)
