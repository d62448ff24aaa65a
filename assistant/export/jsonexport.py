"""JSON transcript exporter, streamed one caption at a time.

The document is one object::

    {"format": "assistant-transcript", "version": 1,
     "session": {...}, "lang": "fr", "machine_translated": true, "note": "...",
     "captions": [{"id": ..., "seq": ..., ...}, ...],
     "caption_count": 123,
     "questions": [{"number": 1, "text": ..., "state": ..., "votes": ...}, ...],
     "speakers": [{"audio_ms": 0, "speaker": "Ada Lovelace"}, ...]}

Caption fields are the stored values, unchanged (times are not adjusted the
way subtitle cues are); ``machine_translated`` is added per caption. ``questions``
is the floor's questions in this language (:mod:`assistant.export.questions`), ``[]`` when none;
``speakers`` the speaker turns (``[]`` when none), and each caption then carries its ``speaker``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from assistant.captions import Caption, Session, SpeakerTurn
from assistant.export.chunks import batched, peek
from assistant.export.marks import is_machine_translated, transcript_info
from assistant.export.questions import QuestionEntry, question_record
from assistant.export.speakers import Speakers

FORMAT_NAME = "assistant-transcript"
FORMAT_VERSION = 1


def json_chunks(
    session: Session,
    captions: Iterable[Caption],
    lang: str | None = None,
    *,
    questions: Sequence[QuestionEntry] = (),
    speakers: Sequence[SpeakerTurn] = (),
) -> Iterator[bytes]:
    """Yield a UTF-8 JSON transcript whose "captions" array is written element by element."""
    return batched(_pieces(session, captions, lang, questions, Speakers(speakers)))


def caption_record(caption: Caption) -> dict[str, Any]:
    """The JSON object written for one caption."""
    return {
        "id": caption.id,
        "seq": caption.seq,
        "lang": caption.lang,
        "start_ms": caption.start_ms,
        "end_ms": caption.end_ms,
        "text": caption.text,
        "revision": caption.revision,
        "origin": caption.origin,
        "source_lang": caption.source_lang,
        "source_text": caption.source_text,
        "fallback": caption.fallback,
        "continues": caption.continues,
        "machine_translated": is_machine_translated(caption),
    }


def session_record(session: Session) -> dict[str, Any]:
    """The JSON object written for the session's metadata."""
    return {
        "id": session.id,
        "title": session.title,
        "source_lang": session.source_lang,
        "created_at_ms": session.created_at_ms,
        "started_at_ms": session.started_at_ms,
        "ended_at_ms": session.ended_at_ms,
        "languages": list(session.languages),
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _pieces(
    session: Session, captions: Iterable[Caption], lang: str | None, questions: Sequence[QuestionEntry] = (),
    speakers: Speakers | None = None,
) -> Iterator[str]:
    speakers = speakers if speakers is not None else Speakers()
    first, captions = peek(captions)
    info = transcript_info(session, lang, first)
    yield (
        f'{{"format":{_dumps(FORMAT_NAME)},"version":{FORMAT_VERSION},'
        f'"session":{_dumps(session_record(session))},"lang":{_dumps(info.lang)},'
        f'"machine_translated":{_dumps(info.translated_from is not None)},'
        f'"translated_from":{_dumps(info.translated_from)},"note":{_dumps(info.note)},'
        f'"captions":['
    )
    count = 0
    for caption in captions:
        record = caption_record(caption)
        if speakers:
            record["speaker"] = speakers.of(caption)[0]
        yield ("\n" if count == 0 else ",\n") + _dumps(record)
        count += 1
    yield (f'\n],"caption_count":{count},"questions":{_dumps([question_record(q) for q in questions])},'
           f'"speakers":{_dumps(speakers.records())}}}\n')
