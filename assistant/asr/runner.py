"""The asyncio adapter: drives one StreamingRecognizer from an async audio source.

Inference runs on the model's executor (one thread per model, shared by every
session using that model), VAD on a small per-stream thread; the event loop
only moves data, so audio keeps being accepted while a pass runs.

Wiring (server/CLI)::

    shared = load_shared_model(resolve_model("base", models_dir))   # once per model
    runner = RecognizerRunner(shared.transcriber, SileroVoiceDetector(),
                              executor=shared.executor, language="en")
    await runner.run(audio_chunks, on_event)    # returns when the source ends
    shared.close()                               # at shutdown
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from assistant.asr.cpu import CpuWatch
from assistant.asr.recognizer import StreamingRecognizer
from assistant.asr.transcriber import FasterWhisperTranscriber, Transcriber
from assistant.asr.types import RecognizerEvent, RecognizerSettings, Task, Transcription, VoiceActivity
from assistant.pcm import AudioArray
from assistant.asr.vad import VoiceDetector
from assistant.models import ModelInfo


@dataclass(frozen=True, slots=True)
class SharedModel:
    """One loaded Whisper model and the threads its passes run on (one per pass that may run at once),
    and, with more than one, the watch on the spare cores that lets a pass start beside another."""

    info: ModelInfo
    transcriber: FasterWhisperTranscriber
    executor: ThreadPoolExecutor
    passes: int = 1  # passes that may run at once (RecognizerSettings.passes_in_flight)
    cpu: CpuWatch | None = None

    def close(self) -> None:
        """Stop the model thread after the passes already queued."""
        self.executor.shutdown(wait=True)


def load_shared_model(
    info: ModelInfo, *, compute_type: str = "int8", cpu_threads: int = 0, beam_size: int = 1, passes: int = 1
) -> SharedModel:
    """Load ``info``'s model (blocking, seconds) and make its executor; call once per model.

    ``passes``: decodes that may run at once (``RecognizerSettings.passes_in_flight``), each
    on ``cpu_threads`` threads of its own."""
    transcriber = FasterWhisperTranscriber(
        info.path, compute_type=compute_type, cpu_threads=cpu_threads, beam_size=beam_size, passes=passes
    )
    executor = ThreadPoolExecutor(max_workers=passes, thread_name_prefix=f"whisper-{info.name}")
    return SharedModel(info, transcriber, executor, passes, CpuWatch(transcriber.meter) if passes > 1 else None)


class RecognizerRunner:
    """Runs one stream: audio chunks in, recogniser events out through ``on_event``."""

    def __init__(
        self,
        transcriber: Transcriber,
        detector: VoiceDetector | None,
        settings: RecognizerSettings | None = None,
        *,
        executor: Executor,
        language: str | None = None,
        task: Task = "transcribe",
        hotwords: tuple[str, ...] = (),
        vad_executor: Executor | None = None,
        cpu: CpuWatch | None = None,
    ) -> None:
        settings = settings or RecognizerSettings()
        if detector is None and settings.use_vad:
            raise ValueError("a VoiceDetector is required unless settings.use_vad is False")
        self.recognizer = StreamingRecognizer(settings, language=language, task=task, hotwords=hotwords)
        self._transcriber = transcriber
        self._detector = detector
        self._executor = executor
        self._vad_executor = vad_executor
        self._cpu = cpu  # passes side by side start only while it sees a core spare

    async def run(
        self, audio: AsyncIterator[AudioArray], on_event: Callable[[RecognizerEvent], None]
    ) -> None:
        """Consume ``audio`` (float32 16 kHz mono chunks) to its end; every word is finalised."""
        loop = asyncio.get_running_loop()
        rec = self.recognizer
        own_vad = self._vad_executor is None and self._detector is not None
        vad_executor = self._vad_executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="vad")
        next_chunk: asyncio.Future[AudioArray] | None = asyncio.ensure_future(anext(audio))
        vad_pending: deque[asyncio.Future[VoiceActivity]] = deque()
        passes: deque[asyncio.Future[Transcription]] = deque()  # oldest first; answered in this order
        ended = False
        try:
            while True:
                if self._cpu is not None:
                    rec.receive_spare_cores(self._cpu.spare_cores())
                while (req := rec.transcription_due()) is not None:
                    passes.append(loop.run_in_executor(self._executor, self._transcriber.transcribe, req))
                for event in rec.events_received():
                    on_event(event)
                if ended and not vad_pending and not passes and rec.done:
                    return
                waiting: set[asyncio.Future[Any]] = {next_chunk} if next_chunk is not None else set()
                if passes:
                    waiting.add(passes[0])
                if vad_pending:
                    waiting.add(vad_pending[0])
                if not waiting:
                    return  # only reachable if the recogniser stalls; nothing left to wait on
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if next_chunk is not None and next_chunk.done():
                    try:
                        chunk = next_chunk.result()
                    except StopAsyncIteration:
                        next_chunk = None
                    else:
                        rec.receive_audio(chunk)
                        if self._detector is not None:
                            vad_pending.append(loop.run_in_executor(vad_executor, self._detector.process, chunk))
                        next_chunk = asyncio.ensure_future(anext(audio))
                while vad_pending and vad_pending[0].done():
                    rec.receive_voice_activity(vad_pending.popleft().result())
                if next_chunk is None and not vad_pending and not ended:
                    ended = True
                    rec.end_of_stream()
                if passes and passes[0].done():
                    rec.receive_transcription(passes.popleft().result())
        finally:
            if next_chunk is not None:
                next_chunk.cancel()
            if own_vad:
                vad_executor.shutdown(wait=False)
