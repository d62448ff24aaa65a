"""Passes side by side (``RecognizerSettings.passes_in_flight``): the recogniser, the virtual replay
and the runner with scripted fakes; the real model's concurrent passes are in test_asr_model.py."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from assistant.asr import (
    EnergyVoiceDetector,
    FinalCaption,
    PartialCaption,
    RecognizerEvent,
    RecognizerSettings,
    ScriptedTranscriber,
    StreamingRecognizer,
    linear_cost,
    utterance,
)
from assistant.asr.cpu import CpuCounters, CpuWatch, PassMeter
from assistant.asr.replay import TimedEvent, replay_virtual
from assistant.asr.runner import RecognizerRunner
from assistant.asr.types import TranscribedSegment, Transcription, TranscriptionRequest
from assistant.captions import Word
from assistant.pcm import ms_to_samples
from tests.test_asr_core import synth

CHUNK = np.zeros(1_600, dtype=np.float32)  # 100 ms
SIDE_BY_SIDE = RecognizerSettings(passes_in_flight=2)
WORDS = " ".join(f"w{i}" for i in range(60)) + "."


def feed_until_due(rec: StreamingRecognizer, limit_ms: int = 5_000) -> TranscriptionRequest:
    for _ in range(limit_ms // 100):
        if (req := rec.transcription_due()) is not None:
            return req
        rec.receive_audio(CHUNK)
    raise AssertionError(f"no pass within {limit_ms} ms of audio")


def test_a_second_pass_starts_half_a_step_after_the_first_and_answers_come_in_order() -> None:
    rec = StreamingRecognizer(RecognizerSettings(use_vad=False, passes_in_flight=2), language="en")
    script = [utterance("one two three four five six seven eight", 0)]
    transcriber = ScriptedTranscriber(script)
    first = feed_until_due(rec)
    second = feed_until_due(rec)
    assert (first.final, second.final) == (False, False)
    assert second.end_ms - first.end_ms == SIDE_BY_SIDE.min_step_ms // 2
    for _ in range(20):  # two are out: no third, however much audio arrives
        rec.receive_audio(CHUNK)
        assert rec.transcription_due() is None
    with pytest.raises(ValueError, match="oldest"):
        rec.receive_transcription(transcriber.transcribe(second))
    rec.receive_transcription(transcriber.transcribe(first))
    rec.receive_transcription(transcriber.transcribe(second))
    rec.end_of_stream()
    while (req := rec.transcription_due()) is not None:
        rec.receive_transcription(transcriber.transcribe(req))
    assert rec.done
    text = " ".join(e.text for e in rec.events_received() if isinstance(e, FinalCaption))
    assert text == "one two three four five six seven eight"


def test_a_pass_starts_beside_another_only_while_a_core_is_spare() -> None:
    rec = StreamingRecognizer(RecognizerSettings(use_vad=False, passes_in_flight=2), language="en")
    rec.receive_spare_cores(0.5)  # what CpuWatch reports with the second core busy elsewhere
    first = feed_until_due(rec)
    for _ in range(SIDE_BY_SIDE.min_step_ms // 200):  # half a step: a second pass would be due now
        rec.receive_audio(CHUNK)
    assert rec.transcription_due() is None
    rec.receive_spare_cores(1.0)
    second = rec.transcription_due()
    assert second is not None and second.end_ms - first.end_ms == SIDE_BY_SIDE.min_step_ms // 2


def answer(req: TranscriptionRequest, text: str) -> Transcription:
    """``text`` read in ``req``'s window, one word per 300 ms from 0 (scripted times)."""
    words = tuple(Word(" " + t, i * 300, i * 300 + 300) for i, t in enumerate(text.split()))
    segment = TranscribedSegment(words, 0, words[-1].end_ms, 0.02, -0.2, 1.4)
    return Transcription(req.start_sample, req.end_sample, (segment,), "en", 0.99, 0)


def test_a_hypothesis_agrees_with_the_one_a_step_before_it_not_its_neighbour() -> None:
    # The second of three hypotheses reads "three" as "tree". One pass at a time, the third agrees
    # with the second, so "three" waits; side by side, the third was read 400 ms after the second
    # and agrees with the first, read a whole step (800 ms) before it.
    reads = ["one two three four", "one two tree four", "one two three four five"]

    def settled(rec: StreamingRecognizer) -> str:
        return " ".join(e.text for e in rec.events_received() if isinstance(e, FinalCaption))

    one = StreamingRecognizer(RecognizerSettings(use_vad=False), language="en")
    ends = []
    for text in reads:
        req = feed_until_due(one)
        ends.append(req.end_ms)
        one.receive_transcription(answer(req, text))
    assert ends[2] - ends[0] == 2 * SIDE_BY_SIDE.min_step_ms
    assert settled(one) == "one two"

    two = StreamingRecognizer(RecognizerSettings(use_vad=False, passes_in_flight=2), language="en")
    first, second = feed_until_due(two), feed_until_due(two)
    two.receive_transcription(answer(first, reads[0]))
    third = feed_until_due(two)
    two.receive_transcription(answer(second, reads[1]))
    two.receive_transcription(answer(third, reads[2]))
    assert third.end_ms - first.end_ms == SIDE_BY_SIDE.min_step_ms
    assert settled(two) == "one two three four"


def first_seen_and_final(events: list[TimedEvent], script_words: list[Word]) -> tuple[float, float]:
    """Median ms from each scripted word's end to the first partial or final showing it, and to its final."""
    seen: dict[int, int] = {}
    final: dict[int, int] = {}
    for e in events:
        if isinstance(e.event, (PartialCaption, FinalCaption)):
            for i, w in enumerate(script_words):
                shown = e.event.start_ms <= w.start_ms and w.end_ms <= e.event.end_ms
                if shown and i not in seen:
                    seen[i] = e.at_ms
                if shown and isinstance(e.event, FinalCaption) and i not in final:
                    final[i] = e.at_ms
    assert len(final) == len(script_words)
    return (statistics.median(seen[i] - w.end_ms for i, w in enumerate(script_words)),
            statistics.median(final[i] - w.end_ms for i, w in enumerate(script_words)))


def test_side_by_side_words_are_seen_and_final_sooner_and_none_is_lost() -> None:
    # Passes of 600 ms, as base on a slow 2-core box: one at a time a word waits for a pass to
    # start, then for it to end, then for the next to agree; side by side the waits halve.
    script = [utterance(WORDS, 0), utterance("and after a pause the end.", 20_000)]
    audio = synth(script, 24_000)
    results = {}
    for passes in (1, 2):
        transcriber = ScriptedTranscriber(script, cost=linear_cost(600, 0))
        rec = StreamingRecognizer(RecognizerSettings(passes_in_flight=passes), language="en")
        events = replay_virtual(rec, audio, transcriber, EnergyVoiceDetector())
        assert rec.done
        text = " ".join(e.event.text for e in events if isinstance(e.event, FinalCaption))
        assert text.split() == f"{WORDS} and after a pause the end.".split()
        results[passes] = (first_seen_and_final(events, [w for u in script for w in u.words]),
                           len(transcriber.requests))
    (seen1, final1), passes1 = results[1]
    (seen2, final2), passes2 = results[2]
    assert seen2 < seen1 and final2 < final1, results
    assert passes2 > 1.5 * passes1  # the price: about twice the passes


def test_behind_or_at_a_pause_passes_go_one_at_a_time() -> None:
    script = [utterance("one two three four five six", 0), utterance("seven eight nine", 4_000)]
    audio = synth(script, 6_000)
    detector = EnergyVoiceDetector()
    rec = StreamingRecognizer(SIDE_BY_SIDE, language="en")
    fed = 0

    def feed(ms: int) -> None:
        nonlocal fed
        piece = audio[ms_to_samples(fed) : ms_to_samples(fed + ms)]
        rec.receive_audio(piece)
        rec.receive_voice_activity(detector.process(piece))
        fed += ms

    while (first := rec.transcription_due()) is None:
        feed(100)
    # The speech stops at 1.8 s: once the pause is heard, the pass out is the last over moving
    # words, and the one that closes the utterance waits for it.
    feed(2_400)
    assert rec.transcription_due() is None
    rec.receive_transcription(ScriptedTranscriber(script).transcribe(first))
    closing = rec.transcription_due()
    assert closing is not None and closing.final


class Counters:
    """/proc as CpuWatch reads it, on a clock that moves a quarter second a read: ``idle`` cores idle."""

    def __init__(self, idle: float) -> None:
        self.idle, self.at = idle, 0.0

    def clock(self) -> float:
        return self.at

    def read(self, meter: PassMeter) -> CpuCounters:
        self.at += 0.25
        return CpuCounters(self.at, self.idle * self.at, None, meter.extra_seconds())


@pytest.mark.parametrize("cpu", [None, Counters(idle=1.0)], ids=["unwatched", "a core idle"])
async def test_the_runner_runs_two_passes_at_once_on_a_two_thread_executor(cpu: Counters | None) -> None:
    script = [utterance(WORDS, 0)]
    audio = synth(script, 20_000)
    loop = asyncio.get_running_loop()
    started, overlapped = asyncio.Event(), asyncio.Event()
    both = threading.Barrier(2, timeout=30)  # the first two passes each wait for the other
    entered = 0
    count = threading.Lock()

    class Together(ScriptedTranscriber):
        def transcribe(self, request: TranscriptionRequest) -> Transcription:
            nonlocal entered
            with count:
                entered += 1
                n = entered
            if n <= 2:
                loop.call_soon_threadsafe((started if n == 1 else overlapped).set)
                both.wait()  # BrokenBarrierError if the second never starts beside the first
            return super().transcribe(request)

    async def source() -> AsyncIterator[np.ndarray]:
        for i in range(0, len(audio), 1_600):
            if i == ms_to_samples(1_600):  # enough for a first pass: the rest waits for it to start
                await started.wait()
            if i == ms_to_samples(2_400):  # then enough for a second beside it: the rest waits for that
                await overlapped.wait()
            yield audio[i : i + 1_600]
            await asyncio.sleep(0)

    events: list[RecognizerEvent] = []
    with ThreadPoolExecutor(max_workers=2) as executor:
        watch = None if cpu is None else CpuWatch(PassMeter(1), cpu.read, cpu.clock)
        runner = RecognizerRunner(Together(script), EnergyVoiceDetector(), SIDE_BY_SIDE, executor=executor,
                                  language="en", cpu=watch)
        await asyncio.wait_for(runner.run(source(), events.append), timeout=60)
    text = " ".join(e.text for e in events if isinstance(e, FinalCaption))
    assert text.split() == WORDS.split()


async def test_the_runner_runs_one_pass_at_a_time_while_no_core_is_spare() -> None:
    script = [utterance(WORDS, 0)]
    audio = synth(script, 20_000)
    running = most = 0
    count = threading.Lock()

    class Counting(ScriptedTranscriber):
        def transcribe(self, request: TranscriptionRequest) -> Transcription:
            nonlocal running, most
            with count:
                running += 1
                most = max(most, running)
            try:
                time.sleep(0.06)  # 600 ms of audio at the source's pace: a second pass would be due
                return super().transcribe(request)
            finally:
                with count:
                    running -= 1

    async def source() -> AsyncIterator[np.ndarray]:
        for i in range(0, len(audio), 1_600):
            yield audio[i : i + 1_600]
            await asyncio.sleep(0.01)  # ten times real time

    cpu = Counters(idle=0.2)  # the second core is busy with something else
    meter = PassMeter(1)
    events: list[RecognizerEvent] = []
    with ThreadPoolExecutor(max_workers=2) as executor:
        runner = RecognizerRunner(Counting(script), EnergyVoiceDetector(), SIDE_BY_SIDE,
                                  executor=executor, language="en", cpu=CpuWatch(meter, cpu.read, cpu.clock))
        await asyncio.wait_for(runner.run(source(), events.append), timeout=60)
    assert most == 1
    text = " ".join(e.text for e in events if isinstance(e, FinalCaption))
    assert text.split() == WORDS.split()
