"""The question board on its own: limits, votes once per device, merges, ordering, the state machine, languages."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from assistant.errors import LimitError, NotFoundError, ProtocolError
from assistant.session.effects import CHAIR_TOPIC, Publish
from assistant.session.questions import (QuestionBoard, QuestionJob, QuestionLimits, QuestionSaved, QuestionText,
                                         QuestionTextSaved, StoredQuestion, TranslateQuestion, VotesAdded)

T0 = 1_750_000_000_000
MIN = 60_000


def board(chair_lang: str = "en", **limits: Any) -> QuestionBoard:
    ids = (f"q{i}" for i in itertools.count(1))
    return QuestionBoard("main", chair_lang, new_id=lambda: next(ids), limits=QuestionLimits(**limits))


def frames(b: QuestionBoard) -> list[tuple[str, dict[str, Any]]]:
    """The published frames among the queued effects, as (topic, decoded frame)."""
    return [(e.topic, json.loads(e.frame.data)) for e in b.effects() if isinstance(e, Publish)]


def jobs(effects: list[Any]) -> list[QuestionJob]:
    return [e.job for e in effects if isinstance(e, TranslateQuestion)]


def ask(b: QuestionBoard, device: str = "dev-a", text: str = "Why now?", lang: str = "en", *,
        address: str = "10.0.0.1", at: int = T0, name: str | None = None) -> str:
    return b.submit(device, address, text, lang, name, at).id


def test_a_question_is_stored_and_shown_to_the_chair_only_until_approved() -> None:
    b = board()
    q = b.submit("dev-a", "10.0.0.1", "  Why   now?\n", "en", " Ana ", T0)
    assert (q.number, q.text, q.name, q.state, q.votes) == (1, "Why now?", "Ana", "pending", 0)
    effects = b.effects()
    assert isinstance(effects[0], QuestionSaved) and isinstance(effects[1], QuestionTextSaved)
    published = [(e.topic, json.loads(e.frame.data)) for e in effects if isinstance(e, Publish)]
    assert [(topic, f["type"], f["state"], f["text"]) for topic, f in published] == [
        (CHAIR_TOPIC, "moderation", "pending", "Why now?")]
    assert b.snapshot_frame("en").data == b'{"type":"questions","lang":"en","questions":[]}'
    b.moderate(q.id, "approve", T0 + 1)
    published = frames(b)
    assert [(topic, f["type"], f["state"]) for topic, f in published] == [
        (CHAIR_TOPIC, "moderation", "approved"), ("en", "question", "approved")]
    assert json.loads(b.snapshot_frame("en").data)["questions"][0]["text"] == "Why now?"


def test_length_rate_and_count_limits_per_device_say_what_to_do() -> None:
    b = board(per_device=2, min_interval_ms=30_000, max_chars=20)
    with pytest.raises(ProtocolError, match="at most 20") as too_long:
        ask(b, text="x" * 21)
    assert too_long.value.code == "too_long"
    with pytest.raises(ProtocolError, match="empty"):
        ask(b, text=" \n\t ")
    ask(b, at=T0)
    with pytest.raises(LimitError, match="wait 30 s") as soon:
        ask(b, at=T0 + 1)
    assert soon.value.code == "rate_limited" and soon.value.retry_after_s == 30
    ask(b, "dev-b", at=T0 + 1)  # another device is not held up
    ask(b, at=T0 + 30_000)
    with pytest.raises(ProtocolError, match="2 questions") as count:  # waiting would not help: no LimitError
        ask(b, at=T0 + 10 * MIN)
    assert count.value.code == "question_limit" and not isinstance(count.value, LimitError)


def test_one_address_cannot_ask_or_vote_without_end_by_inventing_devices() -> None:
    b = board(address_questions=3, address_votes=2, address_window_ms=10 * MIN)
    for i in range(3):
        ask(b, f"dev-{i}", at=T0 + i)
    with pytest.raises(LimitError, match="your network") as flood:
        ask(b, "dev-9", at=T0 + 5)
    assert flood.value.retry_after_s == (10 * MIN - 5 + 999) // 1000
    ask(b, "dev-9", address="10.0.0.2", at=T0 + 5)  # another address is not held up
    ask(b, "dev-9b", at=T0 + 10 * MIN)  # the window moved on
    b.moderate("q1", "approve", T0)
    b.vote("q1", "v1", "10.0.0.7", T0)
    b.vote("q1", "v2", "10.0.0.7", T0)
    with pytest.raises(LimitError, match="too many votes"):
        b.vote("q1", "v3", "10.0.0.7", T0)


def test_a_device_votes_once_and_only_for_open_questions() -> None:
    b = board()
    qid = ask(b)
    with pytest.raises(ProtocolError, match="not open for votes"):
        b.vote(qid, "dev-b", "10.0.0.2", T0)
    b.moderate(qid, "approve", T0)
    b.effects()
    q, counted = b.vote(qid, "dev-b", "10.0.0.2", T0)
    assert counted and q.votes == 1
    effects = b.effects()
    assert VotesAdded("main", qid, ("dev-b",), T0) in effects
    q, counted = b.vote(qid, "dev-b", "10.0.0.2", T0 + 1)
    assert not counted and q.votes == 1 and b.effects() == []
    assert b.voted_by("dev-b") == [qid]
    b.moderate(qid, "answered", T0 + 2)
    with pytest.raises(ProtocolError, match="was answered"):
        b.vote(qid, "dev-c", "10.0.0.3", T0 + 3)
    with pytest.raises(NotFoundError):
        b.vote("nope", "dev-c", "10.0.0.3", T0 + 3)


def test_the_chair_sees_questions_ordered_by_votes_then_in_the_order_asked() -> None:
    b = board()
    ids = [ask(b, f"dev-{i}", f"Question {i}?") for i in range(4)]
    for qid in ids:
        b.moderate(qid, "approve", T0)
    for voter in ("v1", "v2"):
        b.vote(ids[2], voter, "10.0.0.9", T0)
    b.vote(ids[3], "v1", "10.0.0.9", T0)
    assert [q.number for q in b.questions()] == [3, 4, 1, 2]
    snapshot = json.loads(b.snapshot_frame("en").data)["questions"]
    assert [(q["number"], q["votes"]) for q in snapshot] == [(3, 2), (4, 1), (1, 0), (2, 0)]


def test_merge_brings_the_duplicates_asker_and_voters_to_the_kept_question() -> None:
    b = board()
    keep, dup = ask(b, "dev-a", "Budget?"), ask(b, "dev-b", "What about the budget?")
    b.moderate(keep, "approve", T0)
    b.moderate(dup, "approve", T0)
    for voter in ("v1", "v2"):
        b.vote(dup, voter, "10.0.0.9", T0)
    b.vote(keep, "v1", "10.0.0.9", T0)
    b.effects()
    merged = b.moderate(dup, "merge", T0 + 1, into=keep)
    assert merged.state == "merged" and merged.merged_into == keep
    assert b.get(keep).votes == 3  # v1 (once), v2, and dev-b who asked the duplicate
    published = frames(b)
    assert ("en", {"type": "question", "id": dup, "number": 2, "state": "merged", "revision": merged.revision,
                   "merged_into": keep}) in published
    _, counted = b.vote(dup, "v3", "10.0.0.9", T0 + 2)  # a vote for the duplicate goes to the kept one
    assert counted and b.get(keep).votes == 4 and b.get(dup).votes == 2
    assert b.moderate(dup, "merge", T0 + 3, into=keep) is b.get(dup)  # again: nothing changes
    with pytest.raises(ProtocolError, match="itself"):
        b.moderate(keep, "merge", T0, into=keep)
    other = ask(b, "dev-c", "Rejected?")
    b.moderate(other, "reject", T0)
    with pytest.raises(ProtocolError, match="merge into a question that is"):
        b.moderate(ask(b, "dev-d", "Another?"), "merge", T0, into=other)


def test_state_machine_allows_only_sensible_moves_and_one_question_on_screen() -> None:
    b = board()
    q1, q2 = ask(b, "dev-a"), ask(b, "dev-b", "Second?")
    with pytest.raises(ProtocolError, match="unknown action"):
        b.moderate(q1, "delete", T0)
    b.moderate(q1, "answering", T0)  # the chair may pick a pending question straight away
    assert b.answering is not None and b.answering.id == q1
    b.moderate(q2, "approve", T0)
    b.moderate(q2, "answering", T0 + 1)
    assert b.get(q1).state == "answered" and b.answering is not None and b.answering.id == q2
    revision = b.get(q2).revision
    b.effects()
    assert b.moderate(q2, "answering", T0 + 2).revision == revision and b.effects() == []  # idempotent
    b.moderate(q2, "reject", T0 + 3)
    assert b.answering is None
    with pytest.raises(ProtocolError, match="is rejected; it cannot be marked answered"):
        b.moderate(q2, "answered", T0 + 4)
    b.moderate(q2, "approve", T0 + 5)  # a rejection can be taken back
    with pytest.raises(ProtocolError, match="only pending or approved questions can be merged"):
        b.moderate(q1, "merge", T0, into=q2)


def test_a_visible_question_that_is_rejected_leaves_every_readers_view() -> None:
    b = board()
    qid = ask(b)
    b.reader_language("fr")
    b.moderate(qid, "approve", T0)
    (job,) = jobs(b.effects())
    assert (job.lang, job.sources) == ("fr", (QuestionText("en", "Why now?"),))
    b.receive_translation(job, "Pourquoi maintenant ?", False)
    b.effects()
    b.moderate(qid, "reject", T0 + 1)
    hidden = [(topic, f["state"], "text" in f) for topic, f in frames(b) if f["type"] == "question"]
    assert hidden == [("en", "rejected", False), ("fr", "rejected", False)]
    assert json.loads(b.snapshot_frame("fr").data)["questions"] == []


def test_a_question_is_translated_for_the_chair_then_for_each_reader_language_with_a_pivot() -> None:
    b = board("en")
    qid = ask(b, text="我们什么时候开始？", lang="zh")
    (to_chair,) = jobs(b.effects())
    assert to_chair == QuestionJob("main", qid, "en", (QuestionText("zh", "我们什么时候开始？"),))
    b.reader_language("fr")
    b.moderate(qid, "approve", T0)  # before the chair's translation arrived: French waits for the pivot
    assert jobs(b.effects()) == []
    b.receive_translation(to_chair, "When do we start?", False)
    effects = b.effects()
    chair = [json.loads(e.frame.data) for e in effects if isinstance(e, Publish) and e.topic == CHAIR_TOPIC]
    assert chair[-1]["text"] == "When do we start?" and chair[-1]["source_text"] == "我们什么时候开始？"
    english = [json.loads(e.frame.data) for e in effects if isinstance(e, Publish) and e.topic == "en"]
    assert english[-1]["text"] == "When do we start?" and english[-1]["machine_translated"] is True
    (to_fr,) = jobs(effects)
    assert to_fr.sources == (QuestionText("zh", "我们什么时候开始？"), QuestionText("en", "When do we start?"))
    b.receive_translation_failure(to_fr)  # no route at all: the original stands in, marked
    (fr,) = json.loads(b.snapshot_frame("fr").data)["questions"]
    assert fr["text"] == "我们什么时候开始？" and fr["fallback"] is True and fr["machine_translated"] is False


def test_a_pending_question_shows_the_chair_the_original_while_it_is_translated() -> None:
    b = board("en")
    qid = ask(b, text="¿Cuándo?", lang="es")
    chair = b.chair_dict(b.get(qid))
    assert chair["translating"] is True and chair["text"] == "¿Cuándo?" and chair["lang"] == "es"


def test_the_board_comes_back_from_the_store_as_it_was() -> None:
    b = board("en")
    qid = ask(b, text="我们什么时候开始？", lang="zh")
    (to_chair,) = jobs(b.effects())
    b.receive_translation(to_chair, "When do we start?", False)
    b.moderate(qid, "approve", T0)
    b.vote(qid, "v1", "10.0.0.9", T0)
    saved = b.get(qid)
    stored = StoredQuestion(saved, (QuestionText("zh", "我们什么时候开始？"), QuestionText("en", "When do we start?")),
                            ("v1",))
    again = QuestionBoard("main", "en", new_id=lambda: "q2", stored=[stored], languages=("de",))
    (to_de,) = jobs(again.effects())  # German is read now and had no text yet
    assert to_de.lang == "de"
    assert again.get(qid) == saved and again.vote(qid, "v1", "10.0.0.9", T0)[1] is False
    with pytest.raises(LimitError):
        again.submit(saved.device, "10.0.0.1", "Again?", "zh", None, T0 + 1)  # the device's pace is kept too
    assert again.submit("dev-new", "10.0.0.1", "New?", "en", None, T0 + 1).number == 2
