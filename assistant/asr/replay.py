"""Virtual-time replay: drive a StreamingRecognizer through a recording without sleeping.

Chunk ``i`` "arrives" when its last sample would have been spoken; each pass
"takes" ``cost(result)`` ms (by default the measured ``compute_ms``, i.e.
compute-aware; pass ``cost=lambda r: 0`` for an infinitely fast machine).
Audio keeps arriving while a pass runs, exactly as with the asyncio runner.
Passes the recogniser runs side by side (``passes_in_flight``) each have a core
of their own, and their answers are taken in the order they were asked, as the
runner does.
Tests use it with the scripted fakes; the benchmark uses it with real models.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from assistant.asr.recognizer import StreamingRecognizer
from assistant.asr.transcriber import Transcriber
from assistant.asr.types import RecognizerEvent, Transcription
from assistant.pcm import AudioArray, ms_to_samples, samples_to_ms
from assistant.asr.vad import VoiceDetector


@dataclass(frozen=True, slots=True)
class TimedEvent:
    """An event and the virtual time (ms since the stream started) it was emitted at."""

    at_ms: int
    event: RecognizerEvent


def replay_virtual(
    recognizer: StreamingRecognizer,
    audio: AudioArray,
    transcriber: Transcriber,
    detector: VoiceDetector | None,
    *,
    chunk_ms: int = 100,
    cost: Callable[[Transcription], int] | None = None,
) -> list[TimedEvent]:
    """Feed ``audio`` in ``chunk_ms`` chunks in virtual time; return every event with its time."""
    pass_cost = cost or (lambda result: result.compute_ms)
    chunk = ms_to_samples(chunk_ms)
    events: list[TimedEvent] = []
    now = 0
    pos = 0
    pending: deque[tuple[Transcription, int]] = deque()  # results and when they are done, oldest first

    def collect() -> None:
        events.extend(TimedEvent(now, e) for e in recognizer.events_received())

    def start_passes() -> None:
        while (req := recognizer.transcription_due()) is not None:
            result = transcriber.transcribe(req)
            pending.append((result, now + max(0, pass_cost(result))))
        collect()

    while True:
        next_chunk_at = samples_to_ms(min(pos + chunk, len(audio))) if pos < len(audio) else None
        if pending and (next_chunk_at is None or pending[0][1] <= next_chunk_at):
            result, done_at = pending.popleft()
            now = max(now, done_at)
            recognizer.receive_transcription(result)
            collect()
            start_passes()
        elif next_chunk_at is not None:
            now = next_chunk_at
            piece = audio[pos : pos + chunk]
            pos += len(piece)
            recognizer.receive_audio(piece)
            if detector is not None:
                recognizer.receive_voice_activity(detector.process(piece))
            if pos >= len(audio):
                recognizer.end_of_stream()
            start_passes()
        else:
            start_passes()
            if not pending:
                break
    return events
