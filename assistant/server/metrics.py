"""``GET /metrics``: what an operator graphs, in Prometheus's text format (``prometheus-client``).

Values that already exist (reader counts, lag, translation queues and delays)
are read when Prometheus scrapes, so serving captions pays nothing for them.
Recognition pass time and dropped audio are observed on their way past
(:meth:`Metrics.observe_factory`, :meth:`Metrics.timed`), Redis round trips by
the owner's writer and by a ``PING`` at each scrape.

    captions_readers{room,lang}                    reader sockets on this process (one process, web node)
    captions_room_readers{room,lang}               readers of a room this worker owns, over every web node
    captions_recognition_lag_seconds{room}         how far recognition trails the audio
    captions_translation_queue{room,lang}          final translations waiting
    captions_translation_delay_seconds{room,lang}  what translation adds to a caption in that language
    captions_dropped_audio_seconds_total           audio skipped because recognition could not keep up
    captions_recognition_pass_seconds              one Whisper pass (histogram)
    captions_redis_round_trip_seconds              one Redis round trip (histogram)
"""

from __future__ import annotations

import time
from typing import Any, AsyncIterator, Callable, Iterable, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..asr.transcriber import Transcriber
from ..asr.types import LagReport, Transcription, TranscriptionRequest
from ..pcm import AudioArray
from .runtime import Recognizer, RecognizerFactory, SessionRuntime

PASS_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
RTT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)

Runtimes = Callable[[], Iterable[SessionRuntime]]
ReaderCounts = Callable[[], dict[tuple[str, str], int]]
Ping = Callable[[], Any]


class Metrics:
    """One process's metrics, in a registry of its own (several apps in one test process never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.pass_time = Histogram("captions_recognition_pass_seconds", "Time of one recognition pass",
                                   buckets=PASS_BUCKETS, registry=self.registry)
        self.redis_rtt = Histogram("captions_redis_round_trip_seconds", "One Redis round trip",
                                   buckets=RTT_BUCKETS, registry=self.registry)
        self.dropped = Counter("captions_dropped_audio_seconds", "Audio skipped because recognition fell behind",
                               registry=self.registry)
        self._live = _Live()
        self.registry.register(self._live)
        self._ping: Ping | None = None

    def watch(self, *, runtimes: Runtimes | None = None, readers: ReaderCounts | None = None,
              room_readers: bool = False, ping: Ping | None = None) -> None:
        """Say where the live values are: the runtimes this process runs, its reader sockets, its Redis."""
        self._live.runtimes = runtimes
        self._live.readers = readers
        self._live.room_readers = room_readers
        self._ping = ping

    def timed(self, transcriber: Transcriber) -> Transcriber:
        """``transcriber`` with each pass's time observed."""
        return _Timed(transcriber, self.pass_time.observe)

    def observe_factory(self, factory: RecognizerFactory) -> RecognizerFactory:
        """``factory``'s recognisers, with the audio they drop counted."""

        def make(language: str | None, glossary: tuple[str, ...], task: Any = "transcribe") -> Recognizer:
            inner = factory(language, glossary) if task == "transcribe" else factory(language, glossary, task=task)
            return _Watched(inner, self.dropped.inc)

        return make

    async def handle(self, request: web.Request) -> web.Response:
        if self._ping is not None:
            t0 = time.perf_counter()
            await self._ping()
            self.redis_rtt.observe(time.perf_counter() - t0)
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


class _Live(Collector):
    def __init__(self) -> None:
        self.runtimes: Runtimes | None = None
        self.readers: ReaderCounts | None = None
        self.room_readers = False

    def collect(self) -> Iterator[GaugeMetricFamily]:
        readers = GaugeMetricFamily("captions_readers", "Reader sockets on this process",
                                    labels=["room", "lang"])
        room = GaugeMetricFamily("captions_room_readers", "Readers of an owned room over every web node",
                                 labels=["room", "lang"])
        lag = GaugeMetricFamily("captions_recognition_lag_seconds", "How far recognition trails the audio",
                                labels=["room"])
        queue = GaugeMetricFamily("captions_translation_queue", "Final translations waiting",
                                  labels=["room", "lang"])
        delay = GaugeMetricFamily("captions_translation_delay_seconds", "What translation adds to a caption",
                                  labels=["room", "lang"])
        if self.readers is not None:
            for (sid, lang), n in sorted(self.readers().items()):
                readers.add_metric([sid, lang], n)
        for runtime in self.runtimes() if self.runtimes is not None else ():
            sid = runtime.session.id
            counts = runtime.core.readers
            if self.readers is None:
                for lang, n in sorted(counts.items()):
                    (room if self.room_readers else readers).add_metric([sid, lang], n)
            if runtime.core.lag_ms is not None:
                lag.add_metric([sid], runtime.core.lag_ms / 1000)
            queues = runtime.translation_queues()  # languages read in translation are shown at 0 too
            for lang in sorted(set(queues) | {lang for lang in counts if lang != runtime.source_lang}):
                queue.add_metric([sid, lang], queues.get(lang, 0))
            for lang in sorted(counts):
                ms = runtime.status(lang).translation_ms
                if ms is not None:
                    delay.add_metric([sid, lang], ms / 1000)
        yield from (readers, room, lag, queue, delay)


class _Timed:
    def __init__(self, inner: Transcriber, observe: Callable[[float], None]) -> None:
        self._inner = inner
        self._observe = observe

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        t0 = time.perf_counter()
        try:
            return self._inner.transcribe(request)
        finally:
            self._observe(time.perf_counter() - t0)


class _Watched:
    def __init__(self, inner: Recognizer, dropped: Callable[[float], None]) -> None:
        self._inner = inner
        self._dropped = dropped

    async def run(self, audio: AsyncIterator[AudioArray], on_event: Callable[[Any], None]) -> None:
        def seen(event: Any) -> None:
            if isinstance(event, LagReport) and event.dropped_ms:
                self._dropped(event.dropped_ms / 1000)
            on_event(event)

        await self._inner.run(audio, seen)


METRICS = web.AppKey("metrics", Metrics)
