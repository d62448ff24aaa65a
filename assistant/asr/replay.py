"""Virtual-time replay: drive a StreamingRecognizer through a recording without sleeping.

Chunk ``i`` "arrives" when its last sample would have been spoken; each pass
"takes" ``cost(result)`` ms (by default the measured ``compute_ms``, i.e.
compute-aware; pass ``cost=lambda r: 0`` for an infinitely fast machine).
Audio keeps arriving while a pass runs, exactly as with the asyncio runner.
Tests use it with the scripted fakes; the benchmark uses it with real models.
"""

from __future__ import annotations

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
    pending: tuple[Transcription, int] | None = None

    def collect() -> None:
        events.extend(TimedEvent(now, e) for e in recognizer.events_received())

    def start_pass() -> tuple[Transcription, int] | None:
        req = recognizer.transcription_due()
        collect()
        if req is None:
            return None
        result = transcriber.transcribe(req)
        return result, now + max(0, pass_cost(result))

    while True:
        next_chunk_at = samples_to_ms(min(pos + chunk, len(audio))) if pos < len(audio) else None
        if pending is not None and (next_chunk_at is None or pending[1] <= next_chunk_at):
            now = pending[1]
            recognizer.receive_transcription(pending[0])
            collect()
            pending = start_pass()
        elif next_chunk_at is not None:
            now = next_chunk_at
            piece = audio[pos : pos + chunk]
            pos += len(piece)
            recognizer.receive_audio(piece)
            if detector is not None:
                recognizer.receive_voice_activity(detector.process(piece))
            if pos >= len(audio):
                recognizer.end_of_stream()
            if pending is None:
                pending = start_pass()
            else:
                collect()
        else:
            pending = start_pass()
            if pending is None:
                break
    return events
