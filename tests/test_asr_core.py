"""Pure tests of the streaming recogniser: scripted transcriber, energy VAD, virtual time."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from assistant.asr import (
    EnergyVoiceDetector,
    ClauseEnd,
    FinalCaption,
    LagReport,
    LanguageDetected,
    PartialCaption,
    RecognizerSettings,
    ScriptedTranscriber,
    ScriptedUtterance,
    StreamingRecognizer,
    linear_cost,
    utterance,
)
from assistant.asr.replay import TimedEvent, replay_virtual
from assistant.asr.text import (
    collapse_repeats,
    common_prefix_length,
    drop_crammed_copies,
    is_sound_annotation,
    join_word_pieces,
    normalize,
    similar_word,
    text_width,
)
from assistant.asr.types import TranscribedSegment, Transcription, TranscriptionRequest, VoiceActivity
from assistant.pcm import SAMPLE_RATE
from assistant.captions import Word
from assistant.errors import AudioFormatError

# The line-per-final mode; the pieces mode (the default) has its own tests below.
LINES = RecognizerSettings(final_pieces=False)
SPEECH_LEVEL = 0.1  # about -20 dBFS: speech for the energy VAD, silence is exact zeros


def synth(script: list[ScriptedUtterance], total_ms: int, seed: int = 0) -> np.ndarray:
    """Noise wherever the script has a word (the energy VAD hears it), zeros elsewhere."""
    rng = np.random.default_rng(seed)
    audio = np.zeros(total_ms * SAMPLE_RATE // 1000, dtype=np.float32)
    for utt in script:
        for w in utt.words:
            a, b = w.start_ms * 16, w.end_ms * 16
            audio[a:b] = rng.normal(0, SPEECH_LEVEL, b - a).astype(np.float32)
    return audio


def run(
    script: list[ScriptedUtterance],
    total_ms: int,
    settings: RecognizerSettings | None = None,
    *,
    cost_ms: int = 0,
    per_s_ms: int = 0,
    cost: Callable[[TranscriptionRequest], int] | None = None,
    language: str | None = "en",
    task: str = "transcribe",
) -> tuple[list[TimedEvent], ScriptedTranscriber]:
    """Replay ``script`` in virtual time; each pass costs ``cost`` (else ``cost_ms`` + ``per_s_ms`` per s)."""
    transcriber = ScriptedTranscriber(script, language="fr", cost=cost or linear_cost(cost_ms, per_s_ms))
    rec = StreamingRecognizer(settings or LINES, language=language, task=task)  # type: ignore[arg-type]
    events = replay_virtual(rec, synth(script, total_ms), transcriber, EnergyVoiceDetector())
    assert rec.done
    return events, transcriber


def finals(events: list[TimedEvent]) -> list[tuple[int, FinalCaption]]:
    return [(e.at_ms, e.event) for e in events if isinstance(e.event, FinalCaption)]


def final_text(events: list[TimedEvent]) -> str:
    return " ".join(f.text for _, f in finals(events))


def test_words_two_hypotheses_agree_on_are_committed_without_a_pause() -> None:
    # Continuous speech, no pause: only LocalAgreement can finalise the first sentence.
    script = [utterance("Hello world. This is a test of the streaming recogniser that goes on and on.", 500)]
    events, transcriber = run(script, 6_000)
    first_at, first = finals(events)[0]
    assert first.text == "Hello world."
    end_of_speech = script[0].words[-1].end_ms
    assert first_at < end_of_speech  # before the pause: committed by agreement
    covering = [r for r in transcriber.requests if r.end_ms >= first.end_ms and r.start_ms <= first.start_ms]
    assert len(covering) >= 2  # it took two hypotheses that contain it


def test_last_word_of_a_hypothesis_is_not_committed_by_agreement() -> None:
    # Whisper ends every window with a full stop; agreeing on "three." must not close a caption.
    rec = StreamingRecognizer(RecognizerSettings(final_pieces=False, use_vad=False, min_step_ms=100), language="en")
    script = [utterance("one two three.", 0)]
    transcriber = ScriptedTranscriber(script)
    rec.receive_audio(synth(script, 1_000))
    for _ in range(3):  # three identical hypotheses
        req = rec.transcription_due()
        assert req is not None
        rec.receive_transcription(transcriber.transcribe(req))
        rec.receive_audio(np.zeros(16 * 200, dtype=np.float32))
    events = rec.events_received()
    assert not any(isinstance(e, FinalCaption) for e in events)
    partials = [e for e in events if isinstance(e, PartialCaption)]
    assert {p.text for p in partials} == {"one two three."}
    # "one two" is agreed (shown as settled); "three." stays unstable
    assert [p.stable_text for p in partials] == ["", "one two"]


def test_pause_finalises_the_utterance_promptly() -> None:
    settings = LINES
    script = [utterance("we start here and stop", 300), utterance("much later again", 6_000)]
    events, _ = run(script, 9_000, settings)
    (at1, f1), (at2, f2) = finals(events)
    assert f1.text == "we start here and stop"
    assert f2.text == "much later again"
    last_word_end = script[0].words[-1].end_ms
    # endpoint silence + one VAD frame + one pass step at zero compute cost
    assert at1 - last_word_end <= settings.endpoint_silence_ms + settings.min_step_ms + 100
    assert at1 < script[1].words[0].start_ms


def test_silence_is_never_decoded_and_yields_no_captions() -> None:
    events, transcriber = run([], 30_000)
    assert transcriber.requests == []
    assert events == []


def test_no_passes_during_the_silence_between_utterances() -> None:
    script = [utterance("first words", 0), utterance("second words", 20_000)]
    events, transcriber = run(script, 21_000)
    gap_start, gap_end = script[0].words[-1].end_ms + 2_000, script[1].words[0].start_ms
    assert not [r for r in transcriber.requests if gap_start < r.end_ms < gap_end]
    assert final_text(events) == "first words second words"


def test_captions_end_at_sentences_and_respect_phone_limits() -> None:
    settings = LINES
    long_sentence = " ".join(f"word{i}" for i in range(60))
    text = f"Short one. Then a second sentence here! {long_sentence} end."
    script = [utterance(text, 200, word_ms=250)]
    events, _ = run(script, 20_000, settings)
    caps = [f for _, f in finals(events)]
    assert caps[0].text == "Short one."
    assert caps[1].text == "Then a second sentence here!"
    for cap in caps:
        assert len(cap.text) <= settings.caption_max_chars
        assert cap.end_ms - cap.start_ms <= settings.caption_max_ms
    assert normalize(final_text(events)) == normalize(text)


def test_window_stays_bounded_over_a_long_stream() -> None:
    # Ten virtual minutes of continuous speech: sentences of 12 words, no pauses.
    words_per_sentence, word_ms = 12, 300
    sentences = []
    t = 0
    for i in range(600 * 1000 // (words_per_sentence * word_ms)):
        body = " ".join(f"w{i}x{j}" for j in range(words_per_sentence - 1))
        sentences.append(utterance(f"{body} end{i}.", t, word_ms=word_ms))
        t += words_per_sentence * word_ms
    settings = LINES
    events, transcriber = run(sentences, t + 2_000, settings, cost_ms=50, per_s_ms=40)
    longest = max(r.end_ms - r.start_ms for r in transcriber.requests)
    assert longest <= settings.max_window_ms
    sentence_ms = words_per_sentence * word_ms
    # kept across captions for context, trimmed at a sentence end once past trim_window_ms
    assert 2 * sentence_ms < longest <= settings.trim_window_ms + sentence_ms + settings.context_ms
    expected = " ".join(" ".join(w.text for w in s.words) for s in sentences)
    assert normalize(final_text(events)) == normalize(expected)
    starts = [f.start_ms for _, f in finals(events)]
    assert starts == sorted(starts)


@pytest.mark.parametrize("beam", [1, 3])
def test_a_machine_too_slow_falls_behind_but_loses_no_word(beam: int) -> None:
    # Every pass costs 3 s plus 1 s per second of window: recognition falls ever further
    # behind; it catches up in steps, reports the lag, and every word still becomes final.
    script = [utterance(" ".join(f"w{i}" for i in range(200)), 0, word_ms=300)]
    settings = dataclasses.replace(LINES, beam_size=beam)
    events, transcriber = run(script, 62_000, settings, cost_ms=3_000, per_s_ms=1_000)
    reports = [e.event for e in events if isinstance(e.event, LagReport)]
    assert sum(r.dropped_ms for r in reports) == 0
    assert max(r.lag_ms for r in reports) > 20_000  # said, not hidden
    assert final_text(events).split() == [f"w{i}" for i in range(200)]
    assert max(r.end_ms - r.start_ms for r in transcriber.requests) <= settings.max_window_ms
    # each pass takes in at most max_backlog_ms of audio no pass had seen
    seen = 0
    for r in transcriber.requests:
        assert r.end_ms - max(seen, r.start_ms) <= settings.max_backlog_ms + settings.min_step_ms
        seen = max(seen, r.end_ms)
    # behind (from the second pass on), every pass is greedy, whatever the moving passes'
    # beam; the last one heard the last word
    first, *behind, last = transcriber.requests
    assert first.beam_size == beam
    assert len(behind) >= 5 and all(r.beam_size == 1 for r in behind)
    assert last.end_ms >= script[0].words[-1].end_ms


def test_a_burst_of_load_is_caught_up_without_losing_words() -> None:
    # Passes over the first 12 s are very slow (another job hogs the core), then fast again.
    words = " ".join(f"w{i}" for i in range(80)) + "."
    script = [utterance(words, 0, word_ms=300)]
    events, _ = run(script, 26_000, PIECES, cost=lambda r: 6_000 if r.start_ms < 12_000 else 300)
    assert " ".join(p.text for p in pieces(events)).split() == words.split()
    lags = [(e.at_ms, e.event.lag_ms) for e in events if isinstance(e.event, LagReport)]
    assert max(lag for _, lag in lags) > PIECES.degrade_lag_ms
    assert lags[-1][1] < PIECES.degrade_lag_ms  # caught up before the end
    assert all(e.event.dropped_ms == 0 for e in events if isinstance(e.event, LagReport))


def test_the_pass_that_closes_an_utterance_uses_the_beam() -> None:
    script = [utterance("Good morning everyone and welcome.", 300), utterance("Let us begin.", 4_000)]
    events, transcriber = run(script, 6_500, REFINE)
    closing = [r for r in transcriber.requests if r.final]
    moving = [r for r in transcriber.requests if not r.final]
    assert len(closing) == 2 and all(r.beam_size == PIECES.final_beam_size for r in closing)
    assert moving and all(r.beam_size == REFINE.beam_size == 1 for r in moving)
    assert " ".join(p.text for p in pieces(events)) == "Good morning everyone and welcome. Let us begin."


def test_moving_passes_take_the_beam_unprompted_only_while_recognition_keeps_up() -> None:
    # Three utterances, long pauses between them: later passes may carry the captions before
    # them as the prompt.
    script = [utterance("Good morning everyone and welcome to the session.", 300),
              utterance("Our first speaker comes from Chongqing and will talk about rivers.", 5_000),
              utterance("Questions come at the end of the talk please.", 11_000)]
    total = 15_500
    # Fast passes (the last one took 200 ms, under beam_max_lag_ms): the beam, no prompt.
    fast, fast_tr = run(script, total, PIECES, cost_ms=200)
    moving = [r for r in fast_tr.requests if not r.final]
    closing = [r for r in fast_tr.requests if r.final]
    assert len(moving) >= 6 and all(r.beam_size == PIECES.beam_size > 1 and r.prompt == "" for r in moving)
    assert all(r.beam_size == PIECES.final_beam_size for r in closing)
    # Slow passes (over beam_max_lag_ms, under degrade_lag_ms): greedy and prompted, as a box
    # that does not keep up decodes them; the closing passes keep the beam.
    slow_cost = PIECES.beam_max_lag_ms + 400
    assert slow_cost < PIECES.degrade_lag_ms
    slow, slow_tr = run(script, total, PIECES, cost_ms=slow_cost)
    later = [r for r in slow_tr.requests if not r.final][1:]  # the first pass follows no pass
    assert len(later) >= 4 and all(r.beam_size == 1 for r in later)
    assert any("Good morning" in r.prompt for r in later)
    assert all(r.beam_size == PIECES.final_beam_size for r in slow_tr.requests if r.final)
    said = " ".join(w.text for u in script for w in u.words)
    assert normalize(final_text(slow)) == normalize(final_text(fast)) == normalize(said)


def test_the_moving_beam_follows_the_cost_of_the_last_pass() -> None:
    # Another job hogs the core for the first 6 s (every pass 1.5 s), then passes are fast:
    # moving passes go greedy while they are slow, and take the beam again once fast.
    words = " ".join(f"w{i}" for i in range(40)) + "."
    script = [utterance(words, 0, word_ms=300)]
    events, transcriber = run(script, 14_000, PIECES, cost=lambda r: 1_500 if r.end_ms < 6_000 else 100)
    assert " ".join(p.text for p in pieces(events)).split() == words.split()
    beams = [(r.end_ms, r.beam_size) for r in transcriber.requests if not r.final]
    pairs = list(zip(beams, beams[1:]))  # (the pass before, the pass)
    after_slow = [b for (prev_end, _), (_, b) in pairs if prev_end < 6_000]
    after_fast = [b for (prev_end, _), (_, b) in pairs if prev_end >= 6_000]
    assert after_slow and all(b == 1 for b in after_slow)
    assert len(after_fast) >= 3 and all(b == PIECES.beam_size for b in after_fast)


def test_slow_passes_commit_from_one_hypothesis() -> None:
    script = [utterance(" ".join(f"w{i}" for i in range(40)) + ".", 0, word_ms=300)]
    fast, _ = run(script, 14_000, cost_ms=0)
    slow, slow_tr = run(script, 14_000, cost_ms=2_600)
    assert normalize(final_text(slow)) == normalize(final_text(fast))
    assert len(slow_tr.requests) < 12


def test_hallucinated_credit_on_noise_is_dropped() -> None:
    noise = utterance("Thank you for watching.", 4_000, no_speech_prob=0.5, avg_logprob=-0.8)
    speech = utterance("the real talk starts now.", 500)
    events, _ = run([speech, noise], 8_000)
    assert final_text(events) == "the real talk starts now."


def test_a_sound_annotation_is_not_speech() -> None:
    # Whisper writes a subtitle's "[calm music]" into the pause after a sentence, just
    # under its own no-speech thresholds (seen on Russian reading: 0.58 and -0.99).
    speech = utterance("поверхность сферического тела.", 500)
    music = utterance("СПОКОЙНАЯ МУЗЫКА", 2_600, no_speech_prob=0.58, avg_logprob=-0.99)
    events, _ = run([speech, music], 6_000, language="ru")
    assert final_text(events) == "поверхность сферического тела."
    assert is_sound_annotation("[Music]") and is_sound_annotation("(аплодисменты)") and is_sound_annotation("APPLAUSE")
    assert not any(map(is_sound_annotation, ["NASA", "the UN said", "ВВП", "你好", "Учился на медные деньги."]))


@pytest.mark.parametrize("word_probability,kept", [(0.02, False), (0.9, True)])
def test_a_segment_unsure_of_every_word_is_a_guess(word_probability: float, kept: bool) -> None:
    # Under Whisper's no-speech threshold (0.5), but unsure as a whole (-1.5) and of each word.
    speech = utterance("где теперь льды.", 500)
    guess = ScriptedUtterance((Word("и.", 1_400, 1_440, word_probability),), no_speech_prob=0.5, avg_logprob=-1.5)
    events, _ = run([speech, guess], 5_000, language="ru")
    assert final_text(events) == ("где теперь льды. и." if kept else "где теперь льды.")


def test_low_confidence_no_speech_segment_is_dropped() -> None:
    junk = utterance("la la la something", 3_000, no_speech_prob=0.9, avg_logprob=-1.5)
    events, _ = run([junk], 6_000)
    assert finals(events) == []


def test_repeated_phrase_loop_is_collapsed() -> None:
    # A decoding loop arrives within one pass, its copies squeezed into the window's end.
    said = utterance("I said", 200).words
    loop = utterance("the end the end the end the end the end.", 800, word_ms=40).words
    events, _ = run([ScriptedUtterance(said + loop)], 5_000)
    assert final_text(events) == "I said the end."


def test_collapse_keeps_natural_repetition() -> None:
    words = [Word(" " + t, i * 100, i * 100 + 90) for i, t in enumerate("no, no, I mean very very good".split())]
    assert [w.text.strip() for w in collapse_repeats(words)] == [w.text.strip() for w in words]
    loop = [Word(" x", i, i + 1) for i in range(6)]
    assert len(collapse_repeats(loop)) == 1


def test_auto_language_is_detected_once_and_labels_captions() -> None:
    script = [utterance("bonjour à tous.", 200), utterance("merci beaucoup.", 3_000)]
    events, transcriber = run(script, 5_000, language=None)
    detected = [e.event for e in events if isinstance(e.event, LanguageDetected)]
    assert [d.language for d in detected] == ["fr"]
    assert {f.language for _, f in finals(events)} == {"fr"}
    assert transcriber.requests[0].language is None
    assert transcriber.requests[-1].language == "fr"


def test_translate_task_labels_captions_english() -> None:
    script = [utterance("hello there.", 200)]
    events, transcriber = run(script, 3_000, language="ru", task="translate")
    assert {r.task for r in transcriber.requests} == {"translate"}
    assert [f.language for _, f in finals(events)] == ["en"]


def test_committed_text_is_the_prompt_and_times_are_monotonic() -> None:
    # the second utterance starts beyond the acoustic context kept before it
    second_at = 200 + 3 * 300 + RecognizerSettings().context_ms + 1_000
    script = [utterance("First sentence here.", 200), utterance("Second one follows.", second_at)]
    events, transcriber = run(script, second_at + 3_000)
    assert "First sentence here." in transcriber.requests[-1].prompt
    caps = [f for _, f in finals(events)]
    for a, b in zip(caps, caps[1:]):
        assert a.end_ms <= b.start_ms
    for cap in caps:
        assert all(w.start_ms <= w.end_ms for w in cap.words)
        assert cap.text == " ".join(w.text for w in cap.words)


def test_partial_holds_the_tail_and_is_cleared_after_the_final() -> None:
    script = [utterance("a partial caption grows here", 200)]
    events, _ = run(script, 4_000)
    partials = [e.event for e in events if isinstance(e.event, PartialCaption)]
    assert any(p.text.startswith("a partial") for p in partials)
    last_partial = max(i for i, e in enumerate(events) if isinstance(e.event, PartialCaption))
    last_final = max(i for i, e in enumerate(events) if isinstance(e.event, FinalCaption))
    assert last_partial > last_final
    assert events[last_partial].event.text == ""  # type: ignore[union-attr]


def test_end_of_stream_finalises_speech_without_a_pause() -> None:
    script = [utterance("cut off in the middle of", 200)]
    events, _ = run(script, 200 + 6 * 300)  # the recording ends mid-speech
    assert final_text(events) == "cut off in the middle of"


def test_wrong_audio_is_rejected_with_a_clear_error() -> None:
    rec = StreamingRecognizer(LINES)
    with pytest.raises(AudioFormatError, match="float32"):
        rec.receive_audio(np.zeros(10, dtype=np.int16))
    rec.end_of_stream()
    with pytest.raises(AudioFormatError, match="end_of_stream"):
        rec.receive_audio(np.zeros(10, dtype=np.float32))


def test_result_for_another_request_is_refused() -> None:
    rec = StreamingRecognizer(RecognizerSettings(final_pieces=False, use_vad=False))
    rec.receive_audio(np.zeros(32_000, dtype=np.float32))
    assert rec.transcription_due() is not None
    with pytest.raises(ValueError, match="not in flight"):
        rec.receive_transcription(Transcription(0, 5, (), "en"))


def test_vad_frames_before_the_covered_point_are_ignored() -> None:
    rec = StreamingRecognizer(LINES)
    rec.receive_audio(np.zeros(1024, dtype=np.float32))
    rec.receive_voice_activity(VoiceActivity(0, 512, (0.0, 0.0)))
    rec.receive_voice_activity(VoiceActivity(0, 512, (1.0, 1.0)))  # repeated: no speech appears
    assert rec.transcription_due() is None


class EchoingTranscriber(ScriptedTranscriber):
    """Whisper's habits at window edges: it echoes the prompt's last word at the window's
    start, and repeats the window's last two words into the trailing silence, crammed."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        segments = list(result.segments)
        if segments and request.prompt:
            echo = Word(" " + request.prompt.split()[-1], request.start_ms, request.start_ms + 200)
            first = segments[0]
            segments[0] = TranscribedSegment((echo, *first.words), echo.start_ms, first.end_ms)
        if segments and len(segments[-1].words) >= 2:
            last = segments[-1]
            at = last.words[-1].end_ms
            copy = tuple(Word(w.text, at + 10 * i, at + 10 * i + 10) for i, w in enumerate(last.words[-2:]))
            segments[-1] = TranscribedSegment((*last.words, *copy), last.start_ms, copy[-1].end_ms)
        return dataclasses.replace(result, segments=tuple(segments))


def test_echoed_prompt_and_crammed_repeats_never_reach_the_captions() -> None:
    # A long pause between the utterances (longer than the context kept): the echo lands far
    # from the committed end, and the first sentence is the prompt, not audio in the window.
    second_at = 300 + 5 * 300 + LINES.context_ms + 1_000
    script = [utterance("And so my fellow Americans.", 300), utterance("ask not what your country can do.", second_at)]
    transcriber = EchoingTranscriber(script)
    rec = StreamingRecognizer(dataclasses.replace(LINES, beam_size=1), language="en")  # prompted passes
    events = replay_virtual(rec, synth(script, second_at + 4_000), transcriber, EnergyVoiceDetector())
    assert any(r.prompt.endswith("Americans.") for r in transcriber.requests)  # the echo was offered
    assert [f.text for _, f in finals(events)] == ["And so my fellow Americans.", "ask not what your country can do."]


def test_crammed_copy_is_dropped_but_spoken_repetition_is_kept() -> None:
    said = [Word(" " + t, i * 300, i * 300 + 280) for i, t in enumerate("very very good indeed".split())]
    crammed = [Word(" good", 1_200, 1_210), Word(" indeed", 1_210, 1_220)]
    assert [w.text for w in drop_crammed_copies([*said, *crammed])] == [w.text for w in said]
    assert [w.text for w in drop_crammed_copies([*said, Word(" .", 1_200, 1_210)])] == [w.text for w in said]
    percent = [Word(" 4", 0, 200), Word("%", 200, 400)]
    assert drop_crammed_copies(percent) == percent


def test_a_misspelt_crammed_copy_is_dropped_but_a_spoken_near_repeat_is_kept() -> None:
    said = [Word(" запад", 0, 400), Word(" от", 400, 600), Word(" Африке", 600, 1_000), Word(" в", 1_000, 1_500)]
    crammed = [Word(" атфрике", 1_500, 1_600), Word(" в", 1_600, 1_600)]
    rest = [Word(" атлантическом", 1_600, 2_300)]
    assert [w.text for w in drop_crammed_copies([*said, *crammed, *rest])] == [w.text for w in [*said, *rest]]
    # Said in full, a similar phrase is speech ("в Африке, в Африке" said twice); so are unlike words.
    spoken = [*said, Word(" Африки", 1_500, 1_900), Word(" в", 1_900, 2_300)]
    assert drop_crammed_copies(spoken) == spoken
    unlike = [*said, Word(" Азии", 1_500, 1_600), Word(" в", 1_600, 1_600)]
    assert drop_crammed_copies(unlike) == unlike


def test_a_misspelt_re_decoding_is_the_same_word() -> None:
    assert similar_word("bussum", "busom") and similar_word("африке", "атфрике")
    assert similar_word("america", "americans")  # an ending
    assert not similar_word("азии", "африке") and not similar_word("в", "во")
    assert not similar_word("mensaje", "marque") and not similar_word("sept", "sent")


def test_window_keeps_the_utterance_start_across_captions() -> None:
    # Short sentences without pauses: captions close, the window keeps its start (context).
    text = "One two three. Four five six. Seven eight nine. Ten eleven twelve. Thirteen fourteen."
    script = [utterance(text, 300)]
    settings = LINES
    events, transcriber = run(script, 300 + 15 * 300 + 1_500, settings)
    caps = [f for _, f in finals(events)]
    assert [c.text for c in caps][:2] == ["One two three.", "Four five six."]
    assert normalize(final_text(events)) == normalize(text)
    first_closed = finals(events)[0][0]
    later = [r for r in transcriber.requests if r.end_ms > first_closed]
    assert later and all(r.start_ms == transcriber.requests[0].start_ms for r in later)
    # captioned text inside the window is audio, not prompt
    assert all("One two three." not in r.prompt for r in later)


def test_stable_text_is_the_agreed_prefix_and_only_grows() -> None:
    text = "this caption line keeps growing for quite a while without any punctuation at all"
    script = [utterance(text, 300)]
    one_line = RecognizerSettings(final_pieces=False, caption_max_chars=200, caption_max_ms=20_000)
    events, _ = run(script, 300 + 14 * 300 + 1_500, one_line)
    partials = [(e.at_ms, e.event) for e in events if isinstance(e.event, PartialCaption) and e.event.text]
    assert all(p.text.startswith(p.stable_text) for _, p in partials)
    stables = [p.stable_text for _, p in partials]
    assert all(b.startswith(a) for a, b in zip(stables, stables[1:]))
    (final_at, final), = finals(events)
    assert final.text == text
    # most of the line was shown as settled well before the caption closed
    settled_early = [p.stable_text for at, p in partials if at < final_at]
    assert len(settled_early[-1].split()) >= len(text.split()) // 2


def test_captions_close_at_clauses_and_short_pauses() -> None:
    # Phone lines: a clause of ~40 chars closes; so does a 400 ms breath inside speech,
    # unless what came before it is a mere fragment ("and then at"): that joins the next words.
    first = utterance("When the meeting starts, we look at the budget, and then at the plans", 300, word_ms=250)
    after_pause = first.words[-1].end_ms + 400
    second = utterance("for next year. And then at", after_pause, word_ms=250)
    after_fragment = second.words[-1].end_ms + 400
    third = utterance("the staff.", after_fragment, word_ms=250)
    events, _ = run([first, second, third], after_fragment + 2 * 250 + 1_500)
    assert [f.text for _, f in finals(events)] == [
        "When the meeting starts, we look at the budget,",
        "and then at the plans",
        "for next year.",
        "And then at the staff.",
    ]


def test_a_pass_over_two_utterances_does_not_finalise_the_second_unheard() -> None:
    # The first pass saw all the audio while VAD lagged behind (a busy VAD thread).
    script = [utterance("Good morning everyone.", 300), utterance("Welcome to the talk.", 3_000)]
    audio = synth(script, 6_000)
    transcriber = ScriptedTranscriber(script)
    detector = EnergyVoiceDetector()
    rec = StreamingRecognizer(LINES, language="en")
    split = 16 * 1_024  # VAD frames are 512 samples
    rec.receive_audio(audio)
    rec.receive_voice_activity(detector.process(audio[:split]))
    first = rec.transcription_due()
    assert first is not None and first.end_ms == 6_000
    rec.receive_voice_activity(detector.process(audio[split:]))
    rec.receive_transcription(transcriber.transcribe(first))
    rec.end_of_stream()
    while (req := rec.transcription_due()) is not None:
        rec.receive_transcription(transcriber.transcribe(req))
    assert rec.done
    texts = [e.text for e in rec.events_received() if isinstance(e, FinalCaption)]
    assert texts == ["Good morning everyone.", "Welcome to the talk."]


class StretchingTranscriber(ScriptedTranscriber):
    """Whisper's aligner around pauses: the word before a pause runs on into it (to the window's
    end when nothing follows), the word after starts where the one before ended, and a word
    decoded again long after it was said loses its ending ("Americans." as "America")."""

    renamed = 0

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        words = [w for s in result.segments for w in s.words]
        out: list[Word] = []
        for i, w in enumerate(words):
            start, end, text = w.start_ms, w.end_ms, w.text
            if i and start - words[i - 1].end_ms > 300:
                start = words[i - 1].end_ms
            if i + 1 < len(words) and words[i + 1].start_ms - end > 300:
                end = words[i + 1].start_ms - 40
            elif i + 1 == len(words):
                end = request.end_ms - 40
            if text.strip() == "Americans." and request.end_ms - w.end_ms > 1_000:
                text = " America"
                self.renamed += 1
            out.append(Word(text, start, end))
        if not out:
            return result
        segment = dataclasses.replace(result.segments[0], words=tuple(out), start_ms=out[0].start_ms,
                                      end_ms=out[-1].end_ms)
        return dataclasses.replace(result, segments=(segment,))


def test_words_stretched_over_pauses_are_neither_lost_nor_repeated() -> None:
    script = [utterance("And so my fellow Americans.", 300), utterance("ask not", 3_000),
              utterance("what your country can do for you.", 5_000)]
    transcriber = StretchingTranscriber(script)
    rec = StreamingRecognizer(LINES, language="en")
    events = replay_virtual(rec, synth(script, 9_000), transcriber, EnergyVoiceDetector())
    assert transcriber.renamed  # the re-decoding with another ending was offered
    assert final_text(events) == "And so my fellow Americans. ask not what your country can do for you."
    first, second = [f for _, f in finals(events)]  # "ask not" is a fragment: held for what follows
    # word times are the speech, not the pauses the aligner stretched words over
    assert 1_800 <= first.end_ms <= 2_000
    assert [w.text for w in second.words[:3]] == ["ask", "not", "what"]
    assert 3_600 <= second.words[1].end_ms <= 3_800 and 4_800 <= second.words[2].start_ms <= 5_000


def test_a_copy_with_a_word_the_aligner_could_not_place_is_dropped() -> None:
    said = [Word(" ask", 3_260, 3_820), Word(" not", 3_820, 4_060)]
    echo = [Word(" ask", 4_060, 4_060), Word(" not", 4_060, 4_680)]
    assert drop_crammed_copies([*said, *echo]) == said


def test_a_fragment_before_a_pause_is_held_for_the_next_words() -> None:
    # A lecturer's hesitations: "So I, ... when I think about it." is one line, not two.
    first = utterance("So I,", 300)
    second = utterance("when I think about normative questions.", 1_800)
    events, _ = run([first, second], 6_000)
    assert [f.text for _, f in finals(events)] == ["So I, when I think about normative questions."]
    # while held, the fragment is shown settled (stable) in the partial line
    held = [e.event for e in events if isinstance(e.event, PartialCaption) and e.at_ms < 1_800]
    assert held and held[-1].stable_text == "So I,"


def test_a_held_fragment_is_closed_after_a_long_silence() -> None:
    script = [utterance("Thank you", 300), utterance("Next speaker please.", 6_000)]
    events, _ = run(script, 9_000)
    (at, fragment), (_, second) = finals(events)
    assert fragment.text == "Thank you" and second.text == "Next speaker please."
    hold = RecognizerSettings().caption_hold_ms
    assert fragment.end_ms + hold <= at <= fragment.end_ms + hold + 1_000  # not before, not much after


def test_line_limits_count_chinese_characters_double() -> None:
    # 40 characters of Chinese fill about as much of a phone line as 80 Latin letters.
    words = "我们 今天 讨论 气候 变化 对于 城市 发展 带来 影响 以及 各国 应该 如何 共同 应对 这个 挑战 问题 谢谢".split()
    script = [utterance(" ".join(words), 300, word_ms=250)]
    events, _ = run(script, 300 + len(words) * 250 + 1_500, language="zh")
    lines = [f.text for _, f in finals(events)]
    assert len(lines) >= 2 and "".join(lines).replace(" ", "") == "".join(words)
    assert all(text_width(line) <= RecognizerSettings().caption_max_chars for line in lines)


# ---- finals as pieces (the default) ----------------------------------------------

PIECES = RecognizerSettings()
# Greedy moving passes, and a pause always runs one closing pass with the beam.
REFINE = dataclasses.replace(PIECES, refine_at_pause=True, beam_size=1)

# Scripts covering agreement commits, sentence and clause ends, short pauses, held
# fragments (continued and closed after silence), phone limits and end of stream.
PIECE_SCRIPTS: list[tuple[list[ScriptedUtterance], int]] = [
    ([utterance("Hello world. This is a test of the streaming recogniser that goes on and on.", 500)], 6_000),
    ([utterance("When the meeting starts, we look at the budget, and then at the plans", 300, word_ms=250),
      utterance("for next year. And then at", 4_500, word_ms=250),
      utterance("the staff.", 6_700, word_ms=250)], 8_700),
    ([utterance("So I,", 300), utterance("when I think about normative questions.", 1_800)], 6_000),
    ([utterance("Thank you", 300), utterance("Next speaker please.", 6_000)], 9_000),
    ([utterance("this caption line keeps growing for quite a while without any punctuation at all", 300)], 6_000),
    ([utterance("One two three. Four five six. Seven eight nine. Ten eleven twelve. Thirteen fourteen.", 300)], 6_300),
    # the stream ends in the middle of speech
    ([utterance("and the last words run right to the end of the recording", 300)], 300 + 12 * 300),
]


def pieces(events: list[TimedEvent]) -> list[FinalCaption]:
    return [e.event for e in events if isinstance(e.event, FinalCaption)]


def lines_of(parts: list[FinalCaption]) -> list[list[FinalCaption]]:
    lines: list[list[FinalCaption]] = []
    for p in parts:
        if p.line_start or not lines:
            lines.append([])
        lines[-1].append(p)
    return lines


@pytest.mark.parametrize("script,total_ms", PIECE_SCRIPTS)
def test_pieces_rebuild_exactly_the_lines_of_the_line_mode(script: list[ScriptedUtterance], total_ms: int) -> None:
    line_events, _ = run(script, total_ms, LINES)
    piece_events, _ = run(script, total_ms, PIECES)
    lines = [f for _, f in finals(line_events)]
    grouped = lines_of(pieces(piece_events))
    # every committed word in exactly one piece, lines made of pieces as before
    assert [" ".join(p.text for p in line) for line in grouped] == [f.text for f in lines]
    assert [tuple(w for p in line for w in p.words) for line in grouped] == [f.words for f in lines]
    assert all(p.text and p.words and p.start_ms == p.words[0].start_ms and p.end_ms == p.words[-1].end_ms
               for line in grouped for p in line)
    assert pieces(piece_events)[0].line_start
    # each line's words are final no later than its line was, the first ones sooner or at once
    line_at = [at for at, _ in finals(line_events)]
    piece_at = {id(e.event): e.at_ms for e in piece_events}
    for line, closed_at in zip(grouped, line_at):
        assert all(piece_at[id(p)] <= closed_at for p in line)


@pytest.mark.parametrize("script,total_ms", PIECE_SCRIPTS)
def test_every_clause_is_closed_once_and_partials_hold_only_moving_words(
    script: list[ScriptedUtterance], total_ms: int
) -> None:
    events, _ = run(script, total_ms, PIECES)
    open_clause = False
    shown_final: list[str] = []
    for e in events:
        ev = e.event
        if isinstance(ev, FinalCaption):
            # a line starts only after the previous clause was closed
            assert not (ev.line_start and open_clause)
            open_clause = not ev.clause_end
            shown_final.extend(normalize(w.text) for w in ev.words)
        elif isinstance(ev, ClauseEnd):
            assert open_clause  # only when a clause is open, only once
            open_clause = False
        elif isinstance(ev, PartialCaption):
            assert ev.stable_text == ""
    assert not open_clause  # the end of the stream closes the last clause
    assert " ".join(shown_final) == normalize(" ".join(w.text for u in script for w in u.words))


def test_committed_words_are_final_at_once_as_pieces_of_one_line() -> None:
    text = "this caption line keeps growing for quite a while without any punctuation at all"
    script = [utterance(text, 300)]
    settings = dataclasses.replace(PIECES, caption_max_chars=200, caption_max_ms=20_000)
    events, _ = run(script, 300 + 14 * 300 + 1_500, settings)
    parts = pieces(events)
    assert len(parts) >= 3 and [p.line_start for p in parts] == [True] + [False] * (len(parts) - 1)
    assert [p.clause_end for p in parts] == [False] * (len(parts) - 1) + [True]
    assert " ".join(p.text for p in parts) == text
    # the first word is final long before the line ends, about two passes after it was said
    first_at = next(e.at_ms for e in events if isinstance(e.event, FinalCaption))
    assert first_at < script[0].words[len(script[0].words) // 2].end_ms
    # a partial never repeats a final word
    for e in events:
        if isinstance(e.event, PartialCaption) and e.event.text:
            assert e.event.start_ms >= max((p.end_ms for p in parts if p.end_ms <= e.event.start_ms), default=0)


def test_a_short_clause_is_a_piece_of_its_own_and_the_line_continues() -> None:
    script = [utterance("Well, as I said, the plan holds for next year.", 300)]
    events, _ = run(script, 300 + 10 * 300 + 1_500, PIECES)
    parts = pieces(events)
    assert " ".join(p.text for p in parts) == "Well, as I said, the plan holds for next year."
    assert [p.line_start for p in parts][0] and not any(p.line_start for p in parts[1:])
    # clause marks end pieces, and those pieces end clauses
    for p in parts:
        assert p.clause_end == (p is parts[-1] or p.text.endswith(","))
        assert "," not in p.text[:-1]
    assert [p.text.split()[-1] for p in parts if p.text.endswith(",")] == ["Well,", "said,"]


def test_a_held_fragment_ends_its_clause_with_clause_end_after_the_silence() -> None:
    script = [utterance("Thank you", 300), utterance("Next speaker please.", 6_000)]
    events, _ = run(script, 9_000, PIECES)
    timed = [e for e in events if isinstance(e.event, (FinalCaption, ClauseEnd))]
    end = next(i for i, e in enumerate(timed) if isinstance(e.event, ClauseEnd))
    held = [e.event for e in timed[:end]]
    assert all(isinstance(p, FinalCaption) and not p.clause_end for p in held)
    assert " ".join(p.text for p in held if isinstance(p, FinalCaption)) == "Thank you"
    # shown final at once (before the pause is over), not after the hold
    assert timed[end - 1].at_ms < 300 + 600 + PIECES.endpoint_silence_ms + 1_000
    closing = timed[end]
    assert isinstance(closing.event, ClauseEnd) and closing.event.end_ms == 900
    hold = PIECES.caption_hold_ms
    assert 900 + hold <= closing.at_ms <= 900 + hold + 1_000
    rest = [e.event for e in timed[end + 1 :]]
    assert all(isinstance(p, FinalCaption) for p in rest)
    assert isinstance(rest[0], FinalCaption) and rest[0].line_start
    assert " ".join(p.text for p in rest if isinstance(p, FinalCaption)) == "Next speaker please."


def test_a_held_fragment_continues_its_line_with_the_next_words() -> None:
    script = [utterance("So I", 300), utterance("think about normative questions.", 1_800)]
    events, _ = run(script, 6_000, PIECES)
    parts = pieces(events)
    before_pause = [p for p in parts if p.end_ms <= 900]
    assert " ".join(p.text for p in before_pause) == "So I"
    assert parts[0].line_start and not any(p.line_start for p in parts[1:])
    assert [p.clause_end for p in parts] == [False] * (len(parts) - 1) + [True]
    assert " ".join(p.text for p in parts) == "So I think about normative questions."
    assert not [e for e in events if isinstance(e.event, ClauseEnd)]


def test_a_line_closed_by_a_later_word_ends_its_clause_with_clause_end() -> None:
    # The next word would overflow the phone line: the line closes without a new piece.
    first = utterance("When the meeting starts we look at the budget and then at the plans", 300, word_ms=250)
    events, _ = run([first], 300 + 14 * 250 + 1_500, PIECES)
    timed = [e.event for e in events if isinstance(e.event, (FinalCaption, ClauseEnd))]
    end = next(i for i, e in enumerate(timed) if isinstance(e, ClauseEnd))
    first_line = [p for p in timed[:end] if isinstance(p, FinalCaption)]
    assert " ".join(p.text for p in first_line) == "When the meeting starts we look at the budget and then at"
    assert not any(p.clause_end for p in first_line)
    assert timed[end] == ClauseEnd(first_line[-1].end_ms)
    second = timed[end + 1 :]
    assert isinstance(second[0], FinalCaption) and second[0].line_start
    assert " ".join(p.text for p in second if isinstance(p, FinalCaption)) == "the plans"


def test_chinese_pieces_make_the_same_lines() -> None:
    words = "我们 今天 讨论 气候 变化 对于 城市 发展 带来 影响 以及 各国 应该 如何 共同 应对 这个 挑战 问题 谢谢".split()
    script = [utterance(" ".join(words), 300, word_ms=250)]
    line_events, _ = run(script, 300 + len(words) * 250 + 1_500, LINES, language="zh")
    piece_events, _ = run(script, 300 + len(words) * 250 + 1_500, PIECES, language="zh")
    grouped = lines_of(pieces(piece_events))
    assert [tuple(w for p in line for w in p.words) for line in grouped] == [f.words for _, f in finals(line_events)]


def test_a_speakers_own_repetition_is_kept_and_a_squeezed_loop_is_not() -> None:
    said = [Word(" " + t, 300 * i, 300 * i + 280) for i, t in enumerate("more words words words words here".split())]
    assert collapse_repeats(said) == said
    phrase = [Word(" " + t, 250 * i, 250 * i + 240) for i, t in enumerate("I'm sorry I'm sorry I'm sorry".split())]
    assert collapse_repeats(phrase) == phrase
    squeezed = [Word(" " + t, 2_000 + 60 * i, 2_000 + 60 * i + 50) for i, t in enumerate(("the end " * 4 + "the end.").split())]
    assert [w.text.strip() for w in collapse_repeats(squeezed)] == ["the", "end."]
    endless = [Word(" go", 300 * i, 300 * i + 280) for i in range(12)]
    assert len(collapse_repeats(endless)) == 1


def test_a_repeated_word_said_slowly_reaches_the_captions() -> None:
    script = [utterance("and we need more words words words words on the slides.", 300)]
    events, _ = run(script, 300 + 11 * 300 + 1_500, PIECES)
    assert " ".join(p.text for p in pieces(events)) == "and we need more words words words words on the slides."


Ending = Callable[[Word, Word, TranscriptionRequest], Word]


class StopsShortWhenClosing(ScriptedTranscriber):
    """Whisper ending a decode early: the pass that closes an utterance reads no further than ``word``
    (its first three words, without one), and gives that word back as ``ending(word, the last word
    said, request)`` where one is given."""

    def __init__(self, script: list[ScriptedUtterance], word: str | None = None, ending: Ending | None = None) -> None:
        super().__init__(script)
        self.word, self.ending = word, ending

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if not request.final or not result.segments:
            return result
        first = result.segments[0]
        cut = next((i for i, w in enumerate(first.words) if w.text == self.word), None) if self.word else 3
        if cut is None:
            return result
        kept = first.words[:cut]
        if self.ending is not None:
            kept = (*kept, self.ending(first.words[cut], first.words[-1], request))
        return dataclasses.replace(result, segments=(dataclasses.replace(first, words=kept, end_ms=kept[-1].end_ms),))


def test_words_a_closing_pass_stopped_short_of_are_kept_from_the_pass_before() -> None:
    text = "to lock or unlock the conference when a conference is locked only administrators join"
    script = [utterance(text, 300, word_ms=250), utterance("Next.", 6_000)]
    transcriber = StopsShortWhenClosing(script)
    rec = StreamingRecognizer(REFINE, language="en")
    events = replay_virtual(rec, synth(script, 8_000), transcriber, EnergyVoiceDetector())
    assert any(r.final for r in transcriber.requests)  # the closing pass ran, and stopped short
    assert " ".join(p.text for p in pieces(events)) == text + " Next."


def test_a_word_looping_on_one_letter_is_dropped() -> None:
    words = [Word(" конусе", 0, 400), Word(" полициииииииииииииии", 400, 2_000), Word(" сквозь", 2_000, 2_300)]
    assert [w.text for w in drop_crammed_copies(words)] == [" конусе", " сквозь"]
    kept = [Word(" Mississippi", 0, 500), Word(" 100000", 500, 900), Word(" zzz", 900, 1_000)]
    assert drop_crammed_copies(kept) == kept


class LoopsInsideAWordWhenClosing(ScriptedTranscriber):
    """The closing pass loops on one letter over the utterance's middle words."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if not request.final or not result.segments:
            return result
        first = result.segments[0]
        w = first.words
        if len(w) < 8:
            return result
        loop = Word(" поверхностиииииииииииии", w[4].start_ms, w[7].end_ms)
        looped = dataclasses.replace(first, words=(*w[:4], loop, *w[8:]))
        return dataclasses.replace(result, segments=(looped,))


def test_words_lost_to_a_loop_inside_the_closing_pass_are_kept_from_the_pass_before() -> None:
    text = "сквозь балки лесов поблескивала металлическая с частой клепкой поверхность сферического тела"
    script = [utterance(text, 300, word_ms=300), utterance("Далее.", 7_000)]
    transcriber = LoopsInsideAWordWhenClosing(script)
    rec = StreamingRecognizer(dataclasses.replace(REFINE, agreement_tail_ms=5_000), language="ru")
    events = replay_virtual(rec, synth(script, 9_000), transcriber, EnergyVoiceDetector())
    assert " ".join(p.text for p in pieces(events)) == text + " Далее."


class RetimesAWordWhenClosing(ScriptedTranscriber):
    """The closing pass starts one word 250 ms late, leaving that much speech without words
    before it ("упал, | разбил" where the pass before had "разбил" from "упал"'s end)."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if not request.final or not result.segments:
            return result
        segments = tuple(
            dataclasses.replace(seg, words=tuple(
                Word(w.text, w.start_ms + 250, w.end_ms, w.probability) if w.text == " разбил" else w for w in seg.words))
            for seg in result.segments
        )
        return dataclasses.replace(result, segments=segments)


def test_a_word_the_closing_pass_timed_later_is_not_filled_in_again() -> None:
    text = "мы втянули его и он упал разбил земную кору и отклонил полюсы"
    script = [utterance(text, 300, word_ms=400), utterance("Далее.", 7_500)]
    transcriber = RetimesAWordWhenClosing(script)
    rec = StreamingRecognizer(dataclasses.replace(REFINE, agreement_tail_ms=6_000), language="ru")
    events = replay_virtual(rec, synth(script, 9_500), transcriber, EnergyVoiceDetector())
    assert any(r.final for r in transcriber.requests)
    assert " ".join(p.text for p in pieces(events)) == text + " Далее."


@pytest.mark.parametrize("word, ending", [
    # A loop after "didn't": its last copy of "know" is squeezed into the pause at the window's end.
    (" know", lambda w, last, req: Word(" know", req.end_ms - 20, req.end_ms)),
    # The decode stops after "didn't", which the aligner stretches over the "know that" it never read.
    (" didn't", lambda w, last, req: dataclasses.replace(w, end_ms=last.end_ms)),
], ids=["squeezed-into-the-pause", "stretched-over-the-rest"])
def test_words_a_closing_pass_lost_at_its_last_word_are_kept_from_the_pass_before(
        word: str, ending: Ending) -> None:
    text = "then he said with the loans oh I didn't know that"
    script = [utterance(text, 300, word_ms=260), utterance("Next.", 6_000)]
    transcriber = StopsShortWhenClosing(script, word, ending)
    rec = StreamingRecognizer(dataclasses.replace(REFINE, agreement_tail_ms=5_000), language="en")
    events = replay_virtual(rec, synth(script, 8_000), transcriber, EnergyVoiceDetector())
    assert any(r.final and r.end_ms < 6_000 for r in transcriber.requests)
    assert " ".join(p.text for p in pieces(events)) == text + " Next."
    # ... each at its own time: a stretched word is cut back where the words it covered start.
    said = {w.text.strip(): w for w in script[0].words}
    got = {w.text.strip(): w for p in pieces(events) for w in p.words}
    assert [(got[t].start_ms, got[t].end_ms) for t in ("didn't", "know", "that")] == [
        (said[t].start_ms, said[t].end_ms) for t in ("didn't", "know", "that")]


class PullsAWordBackOverWordsItSkips(ScriptedTranscriber):
    """The first two moving passes that hear "your head" skip it; the second also pulls "giving"
    back to where "your" starts, as the aligner does over speech that a pass did not read."""

    def __init__(self, script: list[ScriptedUtterance]) -> None:
        super().__init__(script)
        self.skipped = 0

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        words = [w for seg in result.segments for w in seg.words]
        said = {w.text.strip(): w for w in words}
        if request.final or self.skipped >= 2 or "giving" not in said or "your" not in said:
            return result
        self.skipped += 1
        pulled_to = said["your"].start_ms if self.skipped == 2 else said["giving"].start_ms
        kept = tuple(dataclasses.replace(w, start_ms=pulled_to) if w.text == " giving" else w
                     for w in words if w.text not in (" your", " head"))
        return dataclasses.replace(result, segments=(dataclasses.replace(result.segments[0], words=kept),))


def test_a_word_a_pass_pulled_back_over_words_it_skipped_is_not_agreed_on() -> None:
    text = "how can you be running with a cloud over your head giving trump the spotlight to himself to unload"
    script = [utterance(text, 300, word_ms=260), utterance("Next.", 9_000)]
    transcriber = PullsAWordBackOverWordsItSkips(script)
    events = replay_virtual(StreamingRecognizer(PIECES, language="en"), synth(script, 11_000), transcriber,
                            EnergyVoiceDetector())
    assert transcriber.skipped == 2
    assert " ".join(p.text for p in pieces(events)) == text + " Next."


class SpellsTheNumberOutLater(ScriptedTranscriber):
    """Passes after the first two read "3" as "tres", timed a little later: Whisper re-decoding
    the last committed word in another spelling."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if len(self.requests) <= 2:
            return result
        segments = tuple(
            dataclasses.replace(seg, words=tuple(
                Word(" tres", w.start_ms + 60, w.end_ms + 40, w.probability) if w.text == " 3" else w for w in seg.words))
            for seg in result.segments
        )
        return dataclasses.replace(result, segments=segments)


def test_the_last_committed_word_decoded_again_in_another_spelling_is_not_a_new_word() -> None:
    text = "pulse 3 para activar o desactivar el modo silencio"
    script = [utterance(text, 300), utterance("Adiós.", 5_000)]
    transcriber = SpellsTheNumberOutLater(script)
    events = replay_virtual(StreamingRecognizer(language="es"), synth(script, 7_000), transcriber, EnergyVoiceDetector())
    got = [p.text for p in pieces(events)]
    assert got[0] == "pulse 3"  # committed by agreement before the respelling
    assert " ".join(got) == text + " Adiós."


def test_a_loop_of_a_whole_long_prompt_is_collapsed() -> None:
    phrase = "для справки нажмите ноль, буквы из имени вашего абонента,".split()
    said = [Word(" " + t, 400 * i, 400 * i + 380) for i, t in enumerate(phrase)]
    end = said[-1].end_ms
    crammed = [Word(" " + t, end + 5 * i, end + 5 * i + 5) for i, t in enumerate(phrase)]
    assert [w.text for w in drop_crammed_copies([*said, *crammed])] == [w.text for w in said]
    squeezed = [Word(" " + t, 10 * i, 10 * i + 10) for i, t in enumerate(phrase * 4)]
    assert [w.text.strip() for w in collapse_repeats(squeezed)] == phrase


class LoopsEveryOtherPass(ScriptedTranscriber):
    """Every other moving pass falls into a loop: a stock sentence forty times over the speech
    it had read right the pass before, its copies stacked at the window's end (compression ratio 5.5)."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if request.final or len(self.requests) % 2:
            return result
        end = request.end_ms
        stock = [Word(" " + t, end, end) for t in "I'm going to start with the first item.".split()] * 40
        looped = TranscribedSegment(words=(Word(" I'm", end - 1_400, end), *stock), start_ms=end - 1_400, end_ms=end,
                                    no_speech_prob=0.7, avg_logprob=-0.4, compression_ratio=5.5)
        return dataclasses.replace(result, segments=(looped,))


def test_a_pass_that_loops_over_speech_read_before_leaves_the_hypothesis_and_closes_nothing() -> None:
    text = " ".join(f"press {n} for the department number {n}," for n in "one two three four five six seven eight".split())
    script = [utterance(text, 300, word_ms=280), utterance("Goodbye.", 20_000)]
    transcriber = LoopsEveryOtherPass(script)
    events = replay_virtual(StreamingRecognizer(language="en"), synth(script, 22_000), transcriber, EnergyVoiceDetector())
    assert sum(1 for r in transcriber.requests if not r.final) >= 10  # half of them looped
    assert " ".join(p.text for p in pieces(events)) == text + " Goodbye."


class LoopsAtTheEnd(ScriptedTranscriber):
    """Every moving pass reads the speech, then repeats its last words ten times, stacked at the
    window's end (compression ratio 3.5): Whisper's usual loop where the audio stops."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if request.final or not result.segments:
            return result
        seg = result.segments[-1]
        copies = [Word(w.text, request.end_ms, request.end_ms) for w in seg.words[-3:]] * 10
        looped = dataclasses.replace(seg, words=(*seg.words, *copies), compression_ratio=3.5)
        return dataclasses.replace(result, segments=(*result.segments[:-1], looped))


def test_a_pass_that_loops_after_reading_the_speech_still_agrees() -> None:
    text = "the session on quantum sensing starts at ten in hall three and the panel on climate models follows it at noon"
    script = [utterance(text, 300), utterance("Thank you.", 9_500)]
    events = replay_virtual(StreamingRecognizer(language="en"), synth(script, 11_500), LoopsAtTheEnd(script), EnergyVoiceDetector())
    assert " ".join(p.text for p in pieces(events)) == text + " Thank you."
    speech_end = script[0].words[-1].end_ms
    assert min(e.at_ms for e in events if isinstance(e.event, FinalCaption)) < speech_end - 2_000  # finals while it is said


def test_two_splits_of_the_same_letters_agree() -> None:
    def words(text: str) -> list[Word]:
        return [Word(" " + t, 0, 0) for t in text.split()]

    assert common_prefix_length(words("учился на медные деньги"), words("учился намедные деньги. с")) == 3
    assert common_prefix_length(words("сквозьбалки лесов"), words("сквозь балки лесов блестели")) == 3
    assert common_prefix_length(words("for accounting and other"), words("for accounting another")) == 2  # not the same letters
    assert common_prefix_length(words("dial 5-0-0 to"), words("dial 500 to attempt")) == 3  # one word, written otherwise
    assert common_prefix_length(words("dial 5 to"), words("dial 500 to attempt")) == 1


def test_pieces_whisper_split_off_a_word_are_joined_back() -> None:
    decoded = [Word(" dial", 0, 300, 0.9), Word(" 5", 300, 500, 0.9), Word("-0-0", 500, 900, 0.5),
               Word(" well", 1_000, 1_200), Word("-known", 1_200, 1_500), Word(" U", 1_600, 1_700), Word(".S.", 1_700, 1_900),
               Word(" 28.8", 2_000, 2_400), Word("-kilometre", 2_400, 2_900), Word(" 50", 3_000, 3_200), Word("%", 3_200, 3_400),
               Word(" l", 3_500, 3_550), Word("'homme", 3_550, 3_900)]
    joined = join_word_pieces(decoded)
    assert [w.text for w in joined] == [" dial", " 5-0-0", " well-known", " U.S.", " 28.8-kilometre", " 50%", " l'homme"]
    assert (joined[1].start_ms, joined[1].end_ms) == (300, 900) and joined[1].probability == pytest.approx(0.7)
    # a mark after a space, or after a mark, is a word of its own (the stray-mark rules judge it)
    apart = [Word(" wait", 0, 300), Word(" -", 300, 400), Word(" so.", 500, 800), Word("-", 800, 900)]
    assert join_word_pieces(apart) == apart
    # Chinese has no spaces between words: only a piece starting with a mark joins ("50" "%")
    zh = [Word("我们", 0, 300), Word("有", 300, 400), Word("50", 400, 600), Word("%", 600, 700), Word("的", 700, 800)]
    assert [w.text for w in join_word_pieces(zh)] == ["我们", "有", "50%", "的"]


def test_the_tail_of_a_word_said_again_right_after_it_is_an_echo() -> None:
    words = [Word(" миров", 0, 500), Word(" ров", 500, 650), Word(" между", 900, 1_200)]
    assert [w.text for w in drop_crammed_copies(words)] == [" миров", " между"]
    kept = [Word(" this", 0, 200), Word(" is", 200, 300), Word(" where", 300, 600), Word(" here", 600, 900),
            Word(" ignore", 1_000, 1_300), Word(" ore", 1_700, 1_900)]
    assert drop_crammed_copies(kept) == kept


class FillsPauses(ScriptedTranscriber):
    """Whisper filling the silence after an utterance with a word of its own."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if not result.segments:
            return result
        last = result.segments[-1]
        at = last.words[-1].end_ms + 300
        if at + 250 > request.end_ms:
            return result
        filled = dataclasses.replace(last, words=(*last.words, Word(" спасибо", at, at + 250)), end_ms=at + 250)
        return dataclasses.replace(result, segments=(*result.segments[:-1], filled))


def test_a_word_inside_a_pause_is_not_speech() -> None:
    script = [utterance("сквозь балки лесов.", 300), utterance("Далее.", 3_000)]
    transcriber = FillsPauses(script)
    rec = StreamingRecognizer(PIECES, language="ru")
    events = replay_virtual(rec, synth(script, 5_000), transcriber, EnergyVoiceDetector())
    assert " ".join(p.text for p in pieces(events)) == "сквозь балки лесов. Далее."


def test_a_word_ending_where_the_vad_first_hears_the_next_utterance_is_its_first_word() -> None:
    # "решетка. К сожалению": the unstressed "К" was too quiet for the VAD, whose pause ran on
    # into "сожалению"; Whisper read it there (p 0.97), and so did the offline pass.
    script = [utterance("Нажмите клавишу решетка.", 300), utterance("К сожалению, не найдено.", 3_000)]
    late = Word("сожалению,", 3_400, 3_600)  # the VAD hears the speech 100 ms after "К" ends
    heard = [script[0], dataclasses.replace(script[1], words=(late, *script[1].words[2:]))]
    rec = StreamingRecognizer(PIECES, language="ru")
    events = replay_virtual(rec, synth(heard, 6_000), ScriptedTranscriber(script), EnergyVoiceDetector())
    assert " ".join(p.text for p in pieces(events)) == "Нажмите клавишу решетка. К сожалению, не найдено."


class EndsWithAFiller(ScriptedTranscriber):
    """Whisper ending a pass with a word of its own squeezed onto the last word ("Ciao." in 40 ms)."""

    def __init__(self, script: list[ScriptedUtterance], probability: float, span: tuple[int, int], text: str = " Ciao.") -> None:
        super().__init__(script)
        self.probability, self.span, self.text = probability, span, text

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if not result.segments:
            return result
        last = result.segments[-1]
        end = last.words[-1].end_ms
        filler = Word(self.text, end + self.span[0], end + self.span[1], self.probability)
        return dataclasses.replace(result, segments=(*result.segments[:-1], dataclasses.replace(last, words=(*last.words, filler))))


@pytest.mark.parametrize("probability,span,kept", [
    (0.1, (-40, 0), False),  # squeezed into 40 ms on the last word
    (0.1, (0, 350), False),  # after the last word, running on into the pause
    (0.1, (-40, 120), False),  # mostly in the pause, ending 120 ms into it ("monos No,")
    (0.9, (-40, 0), True),  # Whisper was sure
    (0.9, (0, 350), True),
])
def test_an_unsure_word_hardly_said_after_the_last_one_is_a_filler(
    probability: float, span: tuple[int, int], kept: bool
) -> None:
    script = [utterance("Grazie per la sua pazienza.", 300), utterance("Per chiamare questo numero.", 3_500)]
    transcriber = EndsWithAFiller(script, probability, span)
    rec = StreamingRecognizer(PIECES, language="it")
    events = replay_virtual(rec, synth(script, 6_000), transcriber, EnergyVoiceDetector())
    text = " ".join(p.text for p in pieces(events))
    assert ("Ciao." in text) == kept
    assert text.replace(" Ciao.", "") == "Grazie per la sua pazienza. Per chiamare questo numero."


@pytest.mark.parametrize("probability,kept", [(0.11, False), (0.9, True)])
def test_an_unsure_short_word_on_the_last_ones_fading_end_is_a_filler(probability: float, kept: bool) -> None:
    # "представителя. Я." (80 ms, p 0.11): too few letters to count as squeezed, and over
    # speech, so not running on into the pause either; a short, unsure word before a pause.
    script = [utterance("Ожидающих ответа представителя.", 300), utterance("Вам доступны следующие опции.", 4_000)]
    transcriber = EndsWithAFiller(script, probability, (-80, 0), " Я.")
    rec = StreamingRecognizer(PIECES, language="ru")
    events = replay_virtual(rec, synth(script, 7_000), transcriber, EnergyVoiceDetector())
    text = " ".join(p.text for p in pieces(events))
    assert ("Я." in text) == kept
    assert text.replace(" Я.", "") == "Ожидающих ответа представителя. Вам доступны следующие опции."


def test_an_unsure_short_word_inside_speech_is_kept() -> None:
    # Short unsure words inside speech are often right ("y" in 100 ms): only a pause after one makes it a filler.
    words = tuple(Word(" " + t, 300 + i * 300, 300 + i * 300 + (100 if t == "y" else 300), 0.2 if t == "y" else 1.0)
                  for i, t in enumerate("Presione uno y espere la señal.".split()))
    events, _ = run([ScriptedUtterance(words)], 4_500, PIECES, language="es")
    assert final_text(events) == "Presione uno y espere la señal."


def test_an_unsure_word_said_at_length_is_kept() -> None:
    words = tuple(Word(t, 300 + i * 300, 600 + i * 300, 0.2 if t == "Skylsa" else 1.0)
                  for i, t in enumerate("On the question of Skylsa, the worker nodded.".split()))
    script = [ScriptedUtterance(words)]
    events, _ = run(script, 4_500, PIECES)
    assert final_text(events) == "On the question of Skylsa, the worker nodded."


@pytest.mark.parametrize("context_ms", [1_000, 1_700, 2_000, 2_300])
def test_the_context_kept_before_the_next_utterance_starts_between_words(context_ms: int) -> None:
    # A window that starts inside a word decodes its tail as noise ("en elante de número"
    # for "la tecla de número"), and Whisper may then give nothing for the new speech.
    script = [utterance("one two three four five six seven.", 200), utterance("eight nine ten eleven.", 3_500)]
    events, transcriber = run(script, 6_000, dataclasses.replace(LINES, context_ms=context_ms))
    words = [w for utt in script for w in utt.words]
    after_pause = [r for r in transcriber.requests if r.end_ms > 3_500]
    assert after_pause and all(r.start_ms > 200 for r in after_pause)
    for r in after_pause:
        assert not any(w.start_ms < r.start_ms < w.end_ms for w in words), r.start_ms
    assert normalize(final_text(events)) == normalize("one two three four five six seven eight nine ten eleven")


def test_after_a_looped_pass_the_window_s_committed_words_are_its_prefix() -> None:
    # Every pass of the second utterance comes back looped (a confident loop: collapsed, kept).
    first = "Plain words come first."
    second_at = 300 + 4 * 300 + 1_000
    text = "One two three. Four five six. Seven eight nine. Ten eleven twelve. Thirteen fourteen."
    script = [utterance(first, 300), utterance(text, second_at, compression_ratio=3.0)]
    total = second_at + 15 * 300 + 1_500
    events, transcriber = run(script, total)
    assert normalize(final_text(events)) == normalize(f"{first} {text}")
    first_loop = next(i for i, r in enumerate(transcriber.requests) if r.end_ms > second_at + 300)
    assert not any(r.prefix for r in transcriber.requests[: first_loop + 1])
    offered = [r for r in transcriber.requests if r.prefix]
    assert offered
    for r in offered:
        # the window's audio starts with the prefix: committed words, in order, from the window's start
        words = f"{first} {text}".split()
        said = [w.text.strip() for w in r.prefix]
        at = words.index(said[0])
        assert said == words[at : at + len(said)]
        assert r.start_ms <= r.prefix[0].start_ms
    plain_events, plain = run(script, total, dataclasses.replace(LINES, prefix_after_loop=False))
    assert not any(r.prefix for r in plain.requests)
    assert final_text(plain_events) == final_text(events)


class ReadsANameTwoWays(ScriptedTranscriber):
    """Every other moving pass spells one name otherwise ("Kowalczyk" / "Kovalchik"): two passes in a row
    never agree on it, so agreement alone would settle nothing from it on until the speaker pauses."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if request.final or len(self.requests) % 2:
            return result
        respelt = [dataclasses.replace(seg, words=tuple(Word(" Kovalchik", w.start_ms, w.end_ms, w.probability)
                                                        if w.text == " Kowalczyk" else w for w in seg.words))
                   for seg in result.segments]
        return dataclasses.replace(result, segments=tuple(respelt))


class LoopsPastTheAudio(ReadsANameTwoWays):
    """As ReadsANameTwoWays, and every moving pass also loops past the end of its audio: its words
    are all there, but its compression ratio says it looped (as base did on held-out Russian prompts,
    "звание ща обонент" / "звание и на следующий абонент", then a loop)."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if request.final:
            return result
        looped = RecognizerSettings().compression_ratio_threshold + 0.5
        return dataclasses.replace(result, segments=tuple(dataclasses.replace(seg, compression_ratio=looped)
                                                          for seg in result.segments))


@pytest.mark.parametrize(("settle_after_ms", "reader"), [
    (0, ReadsANameTwoWays),
    (RecognizerSettings().settle_after_ms, ReadsANameTwoWays),
    # a pass that looped past its audio settles them too
    (RecognizerSettings().settle_after_ms, LoopsPastTheAudio),
])
def test_a_word_passes_keep_reading_differently_settles_once_heard_long_before_the_window_s_end(
        settle_after_ms: int, reader: type[ReadsANameTwoWays]) -> None:
    text = ("our next speaker professor Kowalczyk has spent twenty years measuring how glaciers in the high "
            "mountains of central asia respond to warming winters and drier summers and she will show")
    script = [utterance(text, 300, word_ms=300), utterance("Thank you.", 15_000)]
    settings = RecognizerSettings(settle_after_ms=settle_after_ms)
    events = replay_virtual(StreamingRecognizer(settings, language="en"), synth(script, 17_000),
                            reader(script), EnergyVoiceDetector())
    settled = [(word, e.at_ms) for e in events if isinstance(e.event, FinalCaption) for word in e.event.text.split()]
    assert [w for w, _ in settled][4] in ("Kowalczyk", "Kovalchik")
    assert " ".join(w for i, (w, _) in enumerate(settled) if i != 4) == text.replace(" Kowalczyk", "") + " Thank you."
    late = [at - said.end_ms for (_, at), said in zip(settled, script[0].words)]
    if settle_after_ms:  # each word within the rule's time, a step and a pass after it was said
        assert max(late) <= settle_after_ms + 2 * RecognizerSettings().min_step_ms, late
    else:  # from the name on, every word waited for the pause after "show" (or the window's cap)
        assert min(late[4:]) > 0 and settled[4][1] > script[0].words[-1].end_ms, late


def read_until(result: Transcription, end_ms: int) -> Transcription:
    """``result`` with no word after ``end_ms``: Whisper ended the decode there."""
    heard = [dataclasses.replace(seg, words=tuple(w for w in seg.words if w.end_ms <= end_ms))
             for seg in result.segments]
    return dataclasses.replace(result, segments=tuple(seg for seg in heard if seg.words))


class DeafAfterItsContext(ScriptedTranscriber):
    """Moving passes over a window that starts in the words before ``onset_ms`` read those words and
    nothing after them (as base did for "hasta luego gracias por probar", pass after pass, in held-out
    Spanish); a closing pass, or a window starting at the new speech, reads everything."""

    def __init__(self, script: list[ScriptedUtterance], onset_ms: int) -> None:
        super().__init__(script)
        self.onset_ms = onset_ms

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if request.final or request.start_ms >= self.onset_ms - RecognizerSettings().preroll_ms:
            return result
        return read_until(result, self.onset_ms)


@pytest.mark.parametrize("deaf_speech_ms", [0, RecognizerSettings().deaf_speech_ms])
def test_a_window_whose_context_hides_the_new_speech_drops_the_context(deaf_speech_ms: int) -> None:
    first = "Plain words come first and then a pause."
    second_at = 300 + 9 * 300 + 1_000
    second = ("hasta luego gracias por probar el sistema de conferencias de código abierto y buenas noches "
              "a todos los presentes en la sala")
    script = [utterance(first, 300), utterance(second, second_at)]
    end = script[1].words[-1].end_ms
    transcriber = DeafAfterItsContext(script, second_at)
    settings = RecognizerSettings(deaf_speech_ms=deaf_speech_ms)
    events = replay_virtual(StreamingRecognizer(settings, language="en"), synth(script, end + 2_000), transcriber,
                            EnergyVoiceDetector())
    hasta = [at for at, f in finals(events) if "hasta" in f.text.split()]
    moving = [r for r in transcriber.requests if not r.final and r.end_ms > second_at]
    if deaf_speech_ms:
        # the second deaf pass in a row drops the context; the next reads the new words and the one
        # after agrees with it: "hasta" is final while the speaker still talks
        assert normalize(final_text(events)) == normalize(f"{first} {second}")
        assert any(r.start_ms >= second_at - settings.preroll_ms for r in moving)
        assert hasta[0] < end - 1_000, (hasta, end)
    else:  # every moving pass keeps the context and hears nothing: nothing is final before the pause (the
        # pass that covers it heard nothing either, so here the words are lost)
        assert all(r.start_ms < second_at - settings.preroll_ms for r in moving)
        assert not [at for at in hasta if at < end], (hasta, end)


def test_a_pass_that_heard_none_of_a_short_utterance_does_not_close_it_unheard() -> None:
    first = "Plain words come first and then a pause."
    second_at = 300 + 9 * 300 + 1_000
    script = [utterance(first, 300), utterance("muchas gracias", second_at)]
    end = script[1].words[-1].end_ms
    transcriber = DeafAfterItsContext(script, second_at)
    events = replay_virtual(StreamingRecognizer(RecognizerSettings(), language="en"), synth(script, end + 3_000),
                            transcriber, EnergyVoiceDetector())
    # too short for the window to drop its context: the closing pass (which hears it) captions it
    assert normalize(final_text(events)) == normalize(f"{first} muchas gracias")


class DeafForAWhile(ScriptedTranscriber):
    """Moving passes that end from a second after ``onset_ms`` until ``until_ms`` read the words up to
    ``onset_ms`` and nothing after them (base read "... press one." and stopped, twice, over "To speak with
    a customer advocate" in held-out English prompts); every other pass reads everything."""

    def __init__(self, script: list[ScriptedUtterance], onset_ms: int, until_ms: int) -> None:
        super().__init__(script)
        self.onset_ms, self.until_ms = onset_ms, until_ms

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if request.final or not self.onset_ms + 1_000 <= request.end_ms < self.until_ms:
            return result
        return read_until(result, self.onset_ms)


def test_a_deaf_pass_still_agrees_with_the_hypothesis_on_the_words_it_read() -> None:
    text = ("the committee will now hear the report on water quality in the northern districts and then move on "
            "to the budget for the coming year before the lunch break at noon")
    script = [utterance(text, 300)]
    said = script[0].words
    districts = 13  # the last word the deaf passes read; the hypothesis before them read on past it
    transcriber = DeafForAWhile(script, said[districts].end_ms, said[districts].end_ms + 5_000)
    events = replay_virtual(StreamingRecognizer(RecognizerSettings(), language="en"), synth(script, 12_000),
                            transcriber, EnergyVoiceDetector())
    settled = [(word, e.at_ms) for e in events if isinstance(e.event, FinalCaption) for word in e.event.text.split()]
    assert " ".join(w for w, _ in settled) == text
    late = [at - w.end_ms for (_, at), w in zip(settled, said)]
    # final at the first deaf pass, which agrees on it; not once the deaf passes are over (5.4 s)
    assert late[districts] <= 2 * RecognizerSettings().min_step_ms, late
    deaf = [r for r in transcriber.requests
            if not r.final and transcriber.onset_ms + 1_000 <= r.end_ms < transcriber.until_ms]
    assert len(deaf) >= 2


class StopsShort(ScriptedTranscriber):
    """Passes read nothing after ``stop_ms`` (base's closing pass read "… and then press the" and stopped,
    with "pound key" 0.7 s before the end of held-out English prompts), unless ``forced_reads_on`` and the
    pass is forced through a prefix."""

    def __init__(self, script: list[ScriptedUtterance], stop_ms: int, *, forced_reads_on: bool) -> None:
        super().__init__(script)
        self.stop_ms, self.forced_reads_on = stop_ms, forced_reads_on

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = super().transcribe(request)
        if request.prefix and self.forced_reads_on:
            return result
        return read_until(result, self.stop_ms)


@pytest.mark.parametrize(("unread_speech_ms", "forced_reads_on"), [
    (0, True),
    (RecognizerSettings().unread_speech_ms, True),
    (RecognizerSettings().unread_speech_ms, False),  # read again once, not again and again
])
def test_an_utterance_whose_passes_stopped_short_of_its_end_is_read_on_after_its_words(
        unread_speech_ms: int, forced_reads_on: bool) -> None:
    text = "after the tone say your name and then press the pound key"
    script = [utterance(text, 300)]
    said = script[0].words
    transcriber = StopsShort(script, said[-4].end_ms, forced_reads_on=forced_reads_on)
    events = replay_virtual(StreamingRecognizer(RecognizerSettings(unread_speech_ms=unread_speech_ms), language="en"),
                            synth(script, said[-1].end_ms + 3_000), transcriber, EnergyVoiceDetector())
    forced = [r for r in transcriber.requests if r.prefix]
    closed = [e.at_ms for e in events
              if isinstance(e.event, ClauseEnd) or (isinstance(e.event, FinalCaption) and e.event.clause_end)]
    if unread_speech_ms:  # the pass that would close it runs once more, forced through the words it read
        assert [" ".join(w.text.strip() for w in r.prefix) for r in forced] == ["after the tone say your name and then press"]
        assert forced[0].final
    else:
        assert not forced
    assert final_text(events) == (text if unread_speech_ms and forced_reads_on else text.removesuffix(" the pound key"))
    assert len(closed) == 1 and closed[0] < said[-1].end_ms + 2_000
