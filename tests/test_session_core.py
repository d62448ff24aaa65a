"""The session core in virtual time: every interleaving of captions, corrections and translations, in milliseconds."""

from __future__ import annotations

import json

import pytest

from assistant import protocol
from assistant.asr.types import PartialCaption
from assistant.errors import LanguageError, NotFoundError, ProtocolError
from assistant.captions import Session
from assistant.session import SessionCore, TranslationJob
from tests.helpers.session_replay import Replay


def test_captions_are_numbered_per_language_and_translations_keep_the_source_order() -> None:
    r = Replay.of(languages=("fr",), available=("fr",))
    r.audio(5)
    r.final("One.", 0, 900)
    r.final("Two.", 900, 1800)
    first, second = r.jobs
    r.answer(second)  # the second comes back first: it waits for the first
    assert r.texts("fr") == []
    r.answer(first)
    assert r.texts("fr") == ["[fr] One.", "[fr] Two."]
    assert [c.seq for c in r.captions["fr"].values()] == [1, 2]
    assert r.captions["fr"][1].source_text == "One." and r.captions["fr"][1].id == r.captions["en"][1].id


def test_a_correction_while_the_translation_is_in_flight_reaches_that_language() -> None:
    r = Replay.of(languages=("fr", "de"), available=("fr", "de"))
    r.audio(3)
    r.final("The Nobel price.", 0, 1500)
    old = {job.lang: job for job in r.jobs}
    r.correct("c1", "The Nobel prize.")
    new = [job for job in r.jobs if job not in old.values()]
    assert {job.text for job in new} == {"The Nobel prize."} and {job.lang for job in new} == {"fr", "de"}
    r.answer(old["fr"])  # the old revision's translation arrives late: dropped
    assert r.texts("fr") == []
    r.answer_all()
    assert r.texts("fr") == ["[fr] The Nobel prize."] and r.texts("de") == ["[de] The Nobel prize."]
    assert r.captions["fr"][1].revision == 0  # first stored version already has the corrected text


def test_a_correction_after_translation_revises_every_language_and_stale_results_are_dropped() -> None:
    r = Replay.of(languages=("fr",), available=("fr",))
    r.audio(3)
    r.final("Nobel price.", 0, 1500)
    r.answer_all()
    r.correct("c1", "Nobel prize.")
    first_fix = r.jobs[0]
    r.correct("c1", "The Nobel prize.")  # corrected again before the first re-translation came back
    r.answer(first_fix)
    assert r.texts("fr") == ["[fr] Nobel price."]
    r.answer_all()
    fr = r.captions["fr"][1]
    assert (fr.text, fr.revision, fr.source_text) == ("[fr] The Nobel prize.", 1, "The Nobel prize.")
    assert [f["type"] for f in r.frames["fr"]] == ["caption", "correction"]


def test_a_person_correcting_a_translation_wins_over_a_pending_retranslation() -> None:
    r = Replay.of(languages=("fr",), available=("fr",))
    r.audio(2)
    r.final("Hello.", 0, 900)
    r.answer_all()
    r.correct("c1", "Hello all.")
    r.correct("c1", "Bonjour à tous.", lang="fr")
    r.answer_all()
    assert r.texts("fr") == ["Bonjour à tous."]


@pytest.mark.parametrize("error", ["RuntimeError: boom", "KeyError: 'tokenizer'"])
def test_a_failed_translation_shows_the_original_marked_warns_once_and_the_next_is_translated(error: str) -> None:
    r = Replay.of(languages=("fr",), available=("fr",))
    r.audio(5)
    for i, text in enumerate(["One.", "Two.", "Three."]):
        r.final(text, i * 1000, i * 1000 + 900)
    one, two, three = r.jobs
    r.answer(one, fail=error)
    r.answer(two, fail=error)
    r.answer(three)
    assert r.texts("fr") == ["One.", "Two.", "[fr] Three."]
    assert [c.fallback for c in r.captions["fr"].values()] == [True, True, False]
    assert len(r.warnings) == 1 and "en→fr" in r.warnings[0] and error in r.warnings[0]


def test_corrections_reach_the_whisper_english_stream() -> None:
    r = Replay.of(source_lang="ru", available=())  # no package reaches English: Whisper's own English
    assert r.core.whisper_english() and "en" in r.core.languages()
    r.audio(1)
    r.core.reader_joined("en")
    r.run()
    assert r.english_running
    r.final("Нобелевская прения.", 0, 1500)
    r.final("Nobel debate.", 0, 1500, english=True)
    r.correct("c1", "Нобелевская премия.")
    (job,) = r.jobs
    assert job.lang == "en" and job.text == "Нобелевская премия." and job.caption_id == r.captions["en"][1].id
    r.answer(job, fail="LanguageError: no ru→en package")  # no route: the corrected original, marked
    en = r.captions["en"][1]
    assert (en.text, en.fallback, en.revision, en.source_text) == ("Нобелевская премия.", True, 1,
                                                                   "Нобелевская премия.")


def test_a_language_opened_late_is_back_filled_then_follows_live() -> None:
    r = Replay.of(available=("fr",))
    r.audio(5)
    r.final("One.", 0, 900)
    r.final("Two.", 900, 1800)
    assert r.jobs == []  # nobody reads French yet
    r.core.reader_joined("fr")
    r.run()
    r.final("Three.", 1800, 2700)
    r.answer_all()
    assert r.texts("fr") == ["[fr] One.", "[fr] Two.", "[fr] Three."]
    r.core.reader_left("fr")
    r.run()
    r.final("Four.", 2700, 3600)
    assert r.jobs == []


def test_status_carries_started_at_when_the_audio_starts_and_again_for_a_new_recording() -> None:
    r = Replay.of()
    r.core.reader_joined("en")
    r.run()
    r.audio(1)
    status = [f for f in r.frames["en"] if f["type"] == "status"]
    assert status[-1]["state"] == "live" and status[-1]["started_at"] == r.core.session.started_at_ms is not None
    r.core.audio_closed()
    r.core.recognition_finished()
    r.run()
    r.audio_open = False
    r.audio(1)  # a new recording: readers hear about it even though started_at stays
    status = [f for f in r.frames["en"] if f["type"] == "status"]
    assert [s["state"] for s in status[-2:]] == ["idle", "live"]


def test_pause_drops_what_is_said_while_paused_but_keeps_what_was_said_before() -> None:
    r = Replay.of()
    r.audio(2)
    r.core.receive_chair_action(protocol.Control("pause"), r.now_ms)
    r.run()
    assert r.core.paused_audio
    r.audio(3)
    r.final("Said before the pause.", 500, 1900)
    r.final("Said during the pause.", 2500, 4000)
    r.partial("still paused", 4100, 4500)
    r.core.receive_chair_action(protocol.Control("resume"), r.now_ms)
    r.run()
    r.audio(1)
    r.final("After.", 5100, 5800)
    assert r.texts("en") == ["Said before the pause.", "After."]
    assert not [f for f in r.frames["en"] if f["type"] == "partial" and f["text"] == "still paused"]


def test_a_room_taken_over_while_paused_stays_paused_until_the_chair_resumes() -> None:
    # A new owner whose predecessor finished captions up to 3 s of audio, and left the room paused 5 s in.
    core = SessionCore(Session("s", "S", "en", 0, started_at_ms=Replay.now_ms - 5_000), latest_seqs={},
                       audio_end_ms=3000, new_id=lambda: "c1", speech_recognition=True)
    r = Replay(core)
    r.run()
    r.core.restore_paused()
    r.run()
    assert r.core.state == "paused" and r.core.paused_audio
    r.audio(2)  # the audio that arrived meanwhile: the room does not turn live
    assert r.core.state == "paused"
    r.final("Said during the pause.", 3200, 4500)
    r.final("Said while the owner changed.", 5200, 6500)
    r.core.restore_paused()  # twice is once
    r.run()
    r.core.receive_chair_action(protocol.Control("resume"), r.now_ms)
    r.run()
    r.audio(2)
    position = r.core.audio_position_ms
    r.final("After the resume.", position - 1500, position - 200)
    assert r.texts("en") == ["After the resume."]
    assert [f["state"] for f in r.frames["en"] if f["type"] == "status"][-2:] == ["paused", "live"]


def test_end_closes_the_audio_and_typed_captions_are_timed_after_the_last_line() -> None:
    r = Replay.of()
    r.audio(3)
    r.final("Spoken.", 0, 2500)
    typed = r.core.receive_chair_action(protocol.CaptionText("Typed.", None), r.now_ms)
    assert typed is not None and typed.start_ms >= 2500 and typed.origin == "manual"
    r.core.receive_chair_action(protocol.Control("end"), r.now_ms)
    r.run()
    assert r.core.state == "ended" and not r.audio_open and r.core.session.ended_at_ms == r.now_ms
    r.audio(1)  # a new recording (a capture station started again): the session goes on, no longer ended
    assert r.core.status("en").state == "live" and r.core.session.ended_at_ms is None
    assert r.sessions_saved[-1].ended_at_ms is None


def test_an_ended_session_refuses_pause_and_resume_and_a_second_end_keeps_its_end() -> None:
    r = Replay.of()
    r.audio(2)
    r.core.receive_chair_action(protocol.Control("end"), r.now_ms)
    r.run()
    ended_at, frames = r.core.session.ended_at_ms, len(r.frames["en"])
    for action in ("pause", "resume", "start"):
        with pytest.raises(ProtocolError) as info:
            r.core.receive_chair_action(protocol.Control(action), r.now_ms + 1000)
        assert info.value.code == "ended" and f"cannot {action}" in str(info.value)
    r.core.receive_chair_action(protocol.Control("end"), r.now_ms + 2000)
    r.run()
    assert r.core.state == "ended" and r.core.session.ended_at_ms == ended_at and len(r.frames["en"]) == frames


def test_unknown_languages_and_captions_are_narrow_errors() -> None:
    r = Replay.of(available=("fr",))
    with pytest.raises(LanguageError) as info:
        r.core.check_language("ja")
    assert info.value.available == ("en", "fr")
    with pytest.raises(NotFoundError):
        r.correct("nope", "text")


# -- translated text in progress -------------------------------------------------------------------------------------

def partial_jobs(r: Replay) -> list[TranslationJob]:
    return [job for job in r.jobs if job.partial]


def agreed(r: Replay, text: str, stable: str, start_ms: int = 0) -> None:
    r.core.receive_recognizer_event(PartialCaption(start_ms, start_ms + 2000, text, stable_text=stable), r.now_ms)
    r.run()


def test_a_translated_reader_sees_the_agreed_words_in_progress_then_the_final() -> None:
    r = Replay.of(available=("fr",))
    r.core.reader_joined("fr")
    r.audio(2)
    agreed(r, "We will now", "We will")
    (job,) = partial_jobs(r)
    assert job.text == "We will"
    r.now_ms += 100
    r.answer(job)
    assert r.frames["fr"][-1] == {"type": "partial", "lang": "fr", "start_ms": 0, "end_ms": 2000,
                                  "text": "[fr] We will", "source_text": "We will"}
    r.now_ms += 1000
    agreed(r, "We will now begin the", "We will now begin")
    (job,) = partial_jobs(r)
    r.answer(job)
    assert r.frames["fr"][-1]["text"] == "[fr] We will now begin"
    r.final("We will now begin the session.", 0, 2500)
    (final,) = r.jobs
    r.answer(final)
    kinds = [f["type"] for f in r.frames["fr"] if f["type"] in ("partial", "caption")]
    assert kinds == ["partial", "partial", "caption", "partial"]  # the last clears the text in progress
    assert r.frames["fr"][-1]["text"] == "" and r.texts("fr") == ["[fr] We will now begin the session."]


def test_a_partial_for_a_caption_that_closed_meanwhile_is_dropped() -> None:
    r = Replay.of(available=("fr",))
    r.core.reader_joined("fr")
    r.audio(2)
    agreed(r, "Good morning", "Good morning")
    (late,) = partial_jobs(r)
    r.final("Good morning everyone.", 0, 1500)
    r.answer(late)
    assert not [f for f in r.frames.get("fr", []) if f["type"] == "partial"]


def test_partials_slow_down_when_translation_is_slow_and_finals_go_first() -> None:
    r = Replay.of(available=("fr",))
    r.core.reader_joined("fr")
    r.audio(2)
    words = "one two three four five six seven eight nine ten".split()
    asked = []
    for i in range(1, len(words)):
        r.now_ms += 300
        agreed(r, " ".join(words[:i + 1]), " ".join(words[:i]))
        for job in partial_jobs(r):
            asked.append(r.now_ms)
            r.now_ms += 1500  # a slow translation: 1.5 s each
            r.answer(job)
    gaps = [b - a for a, b in zip(asked, asked[1:])]
    assert gaps and min(gaps) >= 1500 and int(r.core.partials_report()["fr"]["interval_ms"]) > 1500
    # Finals queued for French: no partials until they are out.
    for i in range(3):
        r.final(f"Line {i}.", 3000 + i * 1000, 3900 + i * 1000)
    r.now_ms += 10_000
    agreed(r, "more words here", "more words")
    assert partial_jobs(r) == []


def test_words_held_back_by_the_interval_are_asked_for_as_soon_as_it_passes() -> None:
    # The next piece arrives 200 ms after the last request, too soon; no recogniser event
    # follows, yet the language gets it once its interval has passed, on the audio clock.
    r = Replay.of(available=("fr",))
    r.core.reader_joined("fr")
    r.audio(2)
    r.piece("We will", 0, 800, line_start=True)
    (job,) = partial_jobs(r)
    r.now_ms += 100
    r.answer(job)
    r.now_ms += 100
    r.piece("now begin", 800, 1600)
    assert partial_jobs(r) == []  # held back
    for _ in range(10):
        r.audio(0.1)
    (job,) = partial_jobs(r)
    assert job.text == "We will now begin"


def test_with_many_languages_the_most_read_get_partials() -> None:
    langs = ("ar", "de", "es", "fr", "ja", "ru", "zh", "pt")
    r = Replay.of(available=langs)
    for n, lang in enumerate(langs):
        for _ in range(n + 1):
            r.core.reader_joined(lang)
    r.audio(2)
    agreed(r, "Hello everyone", "Hello")
    assert {job.lang for job in partial_jobs(r)} == {"zh", "pt", "ru", "ja"}
    report = r.core.partials_report()
    assert report["ar"]["partials"] == "off" and report["pt"]["partials"] == "live"


def test_a_language_left_without_partials_is_told_so_and_told_again_when_they_come_back() -> None:
    langs = ("de", "es", "fr", "ja", "ru")  # five languages read, four get partials
    r = Replay.of(available=langs)
    for n, lang in enumerate(langs):
        for _ in range(n + 1):
            r.core.reader_joined(lang)
    r.run()
    assert r.core.status("de").partials is False and r.core.status("es").partials is True
    assert r.core.status("en").partials is None  # the spoken language: not a question of translation
    assert [f["partials"] for f in r.frames["de"] if f["type"] == "status"] == [False]  # the moment ru came
    for _ in range(4):  # Japanese readers leave: four languages are read, and German has partials again
        r.core.reader_left("ja")
    r.run()
    assert [f["partials"] for f in r.frames["de"] if f["type"] == "status"] == [False, True]
    assert not [f for f in r.frames.get("es", []) if f["type"] == "status"]  # nothing changed for Spanish
    r.audio(2)
    agreed(r, "Hello everyone", "Hello")
    assert {job.lang for job in partial_jobs(r)} == {"de", "es", "fr", "ru"}


def test_a_language_keeps_its_partials_until_another_has_clearly_more_readers() -> None:
    r = Replay.of(available=("de", "es", "fr", "ja", "ru"))
    for lang in ("de", "es", "fr", "ja"):
        for _ in range(4):
            r.core.reader_joined(lang)
    for _ in range(5):
        r.core.reader_joined("ru")  # one reader more than each of the four: they keep their partials
    r.run()
    assert [lang for lang in "de es fr ja ru".split() if r.core.status(lang).partials] == ["de", "es", "fr", "ja"]
    r.core.reader_joined("ru")  # six against four: two more, and a quarter more
    r.run()
    assert [lang for lang in "de es fr ja ru".split() if r.core.status(lang).partials] == ["es", "fr", "ja", "ru"]
    r.core.reader_joined("de")  # five against four: German does not take them back
    r.run()
    assert r.core.status("de").partials is False
    assert [f["partials"] for f in r.frames["de"] if f["type"] == "status"] == [False]  # one change, told once
    r.audio(2)
    agreed(r, "Hello everyone", "Hello")
    assert {job.lang for job in partial_jobs(r)} == {"es", "fr", "ja", "ru"}


def test_a_language_on_a_room_screen_gets_partials_before_any_number_of_phones() -> None:
    r = Replay.of(available=("ar", "de", "es", "fr", "ja"))
    for lang in ("de", "es", "fr", "ja"):
        for _ in range(40):
            r.core.reader_joined(lang)
    r.core.reader_joined("ar", screen=True)  # the projector of the hall shows Arabic; no phone reads it
    r.run()
    assert r.core.readers["ar"] == 1 and r.core.screens["ar"] == 1  # a reader, counted once where readers are
    assert [lang for lang in "ar de es fr ja".split() if r.core.status(lang).partials] == ["ar", "es", "fr", "ja"]
    for _ in range(200):  # German phones take partials from a language on phones only, never from the screen
        r.core.reader_joined("de")
    r.run()
    assert [lang for lang in "ar de es fr ja".split() if r.core.status(lang).partials] == ["ar", "de", "fr", "ja"]
    r.audio(2)
    agreed(r, "Hello everyone", "Hello")
    assert {job.lang for job in partial_jobs(r)} == {"ar", "de", "fr", "ja"}
    r.core.reader_left("ar", screen=True)  # the screen is switched off: its language is no longer read
    r.run()
    assert "ar" not in r.core.screens and "ar" not in r.core.readers and r.core.status("es").partials is True


def test_a_correction_still_reaches_a_language_that_had_partials() -> None:
    r = Replay.of(available=("fr",))
    r.core.reader_joined("fr")
    r.audio(2)
    agreed(r, "Nobel price", "Nobel")
    r.answer_all()
    r.final("Nobel price.", 0, 1500)
    r.answer_all()
    r.correct(r.captions["en"][1].id, "Nobel prize.")
    r.answer_all()
    assert r.texts("fr") == ["[fr] Nobel prize."] and r.frames["fr"][-1]["type"] == "correction"


# -- no language offered stays empty; each reader's own lag ------------------------------------------------------------

def test_a_typed_line_reaches_whisper_english_readers_as_the_original_marked() -> None:
    r = Replay.of(source_lang="ar", available=())
    r.core.reader_joined("en")
    r.run()
    typed = r.core.receive_chair_action(protocol.CaptionText("مرحبا بكم", None), r.now_ms)
    r.run()
    assert typed is not None and r.core.state == "live"  # typed captions only: live while the chair types
    (job,) = r.jobs
    r.answer(job, fail="LanguageError: no ar→en package")
    en = r.captions["en"][1]
    assert (en.text, en.fallback, en.source_text) == ("مرحبا بكم", True, "مرحبا بكم")


def test_each_language_is_told_its_own_lag_translation_included() -> None:
    r = Replay.of(languages=("fr",), available=("fr",))
    r.core.reader_joined("fr")
    r.audio(2)
    r.final("One.", 0, 900)
    r.now_ms += 1800  # the French translation takes 1.8 s
    r.answer_all()
    fr = [f for f in r.frames["fr"] if f["type"] == "status"][-1]
    assert fr["translation_ms"] == 1800 and fr["lag_ms"] == 1800
    en = [f for f in r.frames["en"] if f["type"] == "status"][-1]
    assert "translation_ms" not in en and r.core.status("fr").lag_ms == 1800
    chair = [f for f in r.frames["*chair"] if f.get("lags")][-1]
    assert chair["lags"] == {"fr": 1800}


# -- finals as pieces: shown at once, translated by whole clauses ----------------------------------------------------

def test_pieces_are_shown_at_once_and_translated_as_one_clause() -> None:
    r = Replay.of(languages=("fr",), available=("fr",))
    r.audio(3)
    r.piece("We will now", 0, 900, line_start=True)
    assert r.texts("en") == ["We will now"] and [j for j in r.jobs if not j.partial] == []
    r.piece("begin the session.", 900, 2000, clause_end=True)
    (job,) = r.jobs
    assert job.text == "We will now begin the session."
    r.answer(job)
    en, fr = r.captions["en"], r.captions["fr"]
    assert (en[1].continues, en[2].continues) == (False, True)
    (line,) = fr.values()
    assert (line.id, line.start_ms, line.end_ms, line.source_text, line.continues) == (
        en[2].id, 0, 2000, "We will now begin the session.", False)
    assert json.loads(protocol.caption(en[2]).data)["continues"] is True
    assert "continues" not in json.loads(protocol.caption(en[1]).data)


def test_a_clause_that_continues_a_line_is_translated_as_continuing_it() -> None:
    r = Replay.of(languages=("fr",), available=("fr",))
    r.audio(4)
    r.piece("When the data came in,", 0, 1500, line_start=True, clause_end=True)
    r.piece("we were surprised", 1500, 2500)
    r.clause_end(2600)  # a pause ended the clause without a new piece
    r.answer_all()
    assert r.texts("fr") == ["[fr] When the data came in,", "[fr] we were surprised"]
    assert [c.continues for c in r.captions["fr"].values()] == [False, True]


def test_translated_readers_see_the_open_clause_in_progress() -> None:
    r = Replay.of(available=("fr",))
    r.core.reader_joined("fr")
    r.audio(3)
    r.piece("We will now", 0, 900, line_start=True)
    (job,) = partial_jobs(r)
    assert job.text == "We will now"
    r.answer(job)
    assert r.frames["fr"][-1]["type"] == "partial" and r.frames["fr"][-1]["text"] == "[fr] We will now"
    r.piece("begin the session.", 900, 2000, clause_end=True)
    r.answer_all()
    kinds = [f["type"] for f in r.frames["fr"] if f["type"] in ("partial", "caption")]
    assert kinds == ["partial", "caption", "partial"] and r.frames["fr"][-1]["text"] == ""


def test_correcting_a_piece_translates_its_whole_clause_again() -> None:
    r = Replay.of(languages=("fr",), available=("fr",))
    r.audio(3)
    r.piece("The Nobel price", 0, 900, line_start=True)
    r.piece("goes to chemistry.", 900, 2000, clause_end=True)
    r.answer_all()
    r.correct("c1", "The Nobel prize")
    (job,) = r.jobs
    assert (job.caption_id, job.text) == ("c2", "The Nobel prize goes to chemistry.")
    r.answer(job)
    (fr,) = r.captions["fr"].values()
    assert (fr.text, fr.revision, fr.source_text) == ("[fr] The Nobel prize goes to chemistry.", 1,
                                                      "The Nobel prize goes to chemistry.")
    assert r.frames["fr"][-1]["type"] == "correction"


def test_a_piece_corrected_before_its_clause_closes_is_translated_with_the_fix() -> None:
    r = Replay.of(languages=("fr",), available=("fr",))
    r.audio(3)
    r.piece("The Nobel price", 0, 900, line_start=True)
    r.correct("c1", "The Nobel prize")
    assert r.jobs == []
    r.piece("goes to chemistry.", 900, 2000, clause_end=True)
    (job,) = r.jobs
    assert job.text == "The Nobel prize goes to chemistry."


def test_a_language_opened_late_gets_whole_clauses_and_waits_for_the_open_one() -> None:
    r = Replay.of(languages=("fr",), available=("fr", "de"))
    r.audio(5)
    r.piece("One and", 0, 500, line_start=True)
    r.piece("two.", 500, 900, clause_end=True)
    r.piece("Three", 900, 1500, line_start=True)
    r.answer_all()
    r.core.reader_joined("de")
    r.run()
    assert [j.text for j in r.jobs] == ["One and two."]  # "Three" waits for its clause
    r.piece("and four.", 1500, 2000, clause_end=True)
    r.answer_all()
    assert r.texts("de") == ["[de] One and two.", "[de] Three and four."]
    assert r.texts("fr") == [t.replace("[de]", "[fr]") for t in r.texts("de")]


def test_pieces_of_chinese_are_joined_without_spaces_and_typed_lines_close_the_open_clause() -> None:
    r = Replay.of(source_lang="zh", languages=("en",), available=("en",))
    r.audio(3)
    r.piece("我们现在", 0, 900, line_start=True, language="zh")
    r.core.receive_chair_action(protocol.CaptionText("欢迎", None), r.now_ms)
    r.run()
    assert [j.text for j in r.jobs] == ["我们现在", "欢迎"]
    r.piece("开始", 3000, 3400, line_start=True, language="zh")
    r.piece("会议。", 3400, 3900, clause_end=True, language="zh")
    assert r.jobs[-1].text == "开始会议。"
