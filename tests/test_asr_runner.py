"""The asyncio runner with fakes: passes run on the model executor while audio keeps flowing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from assistant.asr import (
    EnergyVoiceDetector,
    FinalCaption,
    RecognizerEvent,
    RecognizerSettings,
    ScriptedTranscriber,
    Transcription,
    TranscriptionRequest,
    utterance,
)
from assistant.asr.runner import RecognizerRunner
from tests.test_asr_core import synth

CHUNK = 1_600  # 100 ms


async def chunks(audio: np.ndarray, after_last: threading.Event | None = None) -> AsyncIterator[np.ndarray]:
    for i in range(0, len(audio), CHUNK):
        yield audio[i : i + CHUNK]
        await asyncio.sleep(0)
    if after_last is not None:
        after_last.set()


class GatedTranscriber:
    """Wraps a transcriber; its first pass blocks until the source has delivered everything."""

    def __init__(self, inner: ScriptedTranscriber, gate: threading.Event) -> None:
        self.inner, self.gate, self.threads = inner, gate, set[str]()

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        self.threads.add(threading.current_thread().name)
        assert self.gate.wait(timeout=20), "the runner stopped reading audio while a pass ran"
        return self.inner.transcribe(request)


def lines(events: list[RecognizerEvent]) -> list[str]:
    """Caption lines made of the final pieces (a piece with line_start begins a line)."""
    out: list[str] = []
    for e in events:
        if isinstance(e, FinalCaption):
            if e.line_start or not out:
                out.append(e.text)
            else:
                out[-1] += " " + e.text
    return out


async def test_runner_produces_captions_and_never_blocks_the_source() -> None:
    script = [utterance("Good morning everyone.", 300), utterance("Welcome to the talk.", 3_000)]
    audio = synth(script, 6_000)
    gate = threading.Event()
    transcriber = GatedTranscriber(ScriptedTranscriber(script), gate)
    events: list[RecognizerEvent] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model") as executor:
        runner = RecognizerRunner(transcriber, EnergyVoiceDetector(), executor=executor, language="en")
        await asyncio.wait_for(runner.run(chunks(audio, gate), events.append), timeout=30)
    assert lines(events) == ["Good morning everyone.", "Welcome to the talk."]
    assert transcriber.threads == {"model_0"}
    assert runner.recognizer.done


async def test_two_streams_share_one_model_thread() -> None:
    scripts = [[utterance("first stream speaks.", 200)], [utterance("second stream answers.", 400)]]
    results: list[list[RecognizerEvent]] = [[], []]
    with ThreadPoolExecutor(max_workers=1) as executor:
        runners = [
            RecognizerRunner(ScriptedTranscriber(s), EnergyVoiceDetector(), executor=executor, language="en")
            for s in scripts
        ]
        await asyncio.gather(
            *(r.run(chunks(synth(s, 3_000)), out.append) for r, s, out in zip(runners, scripts, results))
        )
    assert [lines(out) for out in results] == [
        ["first stream speaks."],
        ["second stream answers."],
    ]


async def test_transcriber_errors_reach_the_caller() -> None:
    class Broken:
        def transcribe(self, request: TranscriptionRequest) -> Transcription:
            raise RuntimeError("model exploded")

    audio = synth([utterance("anything at all", 0)], 2_000)
    with ThreadPoolExecutor(max_workers=1) as executor:
        runner = RecognizerRunner(Broken(), EnergyVoiceDetector(), executor=executor)
        with pytest.raises(RuntimeError, match="exploded"):
            await runner.run(chunks(audio), lambda e: None)


def test_runner_needs_a_detector_when_vad_is_on() -> None:
    with ThreadPoolExecutor(max_workers=1) as executor:
        with pytest.raises(ValueError, match="VoiceDetector"):
            RecognizerRunner(ScriptedTranscriber([]), None, executor=executor)
        RecognizerRunner(ScriptedTranscriber([]), None, RecognizerSettings(use_vad=False), executor=executor)
