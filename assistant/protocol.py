"""Wire protocol v1: encoding of server→client frames, parsing of client→server frames.

Pure functions over the value types in :mod:`assistant.captions`. Every
server→client frame is encoded once, to UTF-8 bytes, and the same bytes go to
every reader of a stream. The full description is ``docs/protocol.md``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from . import validate
from .captions import Caption, Correction, Partial, Session, Status
from .errors import ProtocolError

PROTOCOL_VERSION = 1
MAX_TEXT_CHARS = 2000  # longest caption text accepted from a person (a paragraph)
MAX_TITLE_CHARS = 200
MAX_TERM_CHARS = 100  # one glossary term
MAX_TERMS = 500
MAX_ID_CHARS = 100  # a caption id in a correction
SESSION_KEY_RE = validate.SESSION_KEY_RE

FrameKind = Literal["hello", "caption", "partial", "status", "correction", "error", "readers", "level",
                    "info", "question", "questions", "moderation", "room", "speaker"]


@dataclass(frozen=True, slots=True)
class Frame:
    """An encoded server→client message; ``seq`` is set for captions (ordering and resume)."""

    kind: FrameKind
    data: bytes
    seq: int | None = None


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def hello(session: Session, lang: str, languages: tuple[str, ...], latest_seq: int, *, reset: bool = False,
          questions: bool = True) -> Frame:
    """The first frame on a reader socket; ``reset`` says the client's ``since`` was beyond this stream's end
    (the store was reset), so the stream starts again from its first caption; ``questions`` False (sent as
    ``"questions": false``) says this server takes no questions from the floor (a cluster's web node)."""
    d: dict[str, Any] = {
        "type": "hello", "protocol": PROTOCOL_VERSION, "session": session.id, "title": session.title,
        "source_lang": session.source_lang, "lang": lang, "languages": list(languages),
        "started_at": session.started_at_ms, "seq": latest_seq,
    }
    if reset:
        d["reset"] = True
    if not questions:
        d["questions"] = False
    return Frame("hello", _dump(d))


def caption_dict(c: Caption) -> dict[str, Any]:
    d: dict[str, Any] = {
        "type": "caption", "seq": c.seq, "id": c.id, "lang": c.lang, "start_ms": c.start_ms,
        "end_ms": c.end_ms, "text": c.text, "final": True, "revision": c.revision, "origin": c.origin,
    }
    if c.source_text is not None:
        d["source_text"] = c.source_text
        d["source_lang"] = c.source_lang
    if c.origin in ("translation", "whisper-translate"):
        d["machine_translated"] = not c.fallback
    if c.fallback:
        d["fallback"] = True
    if c.continues:
        d["continues"] = True
    return d


def caption(c: Caption) -> Frame:
    return Frame("caption", _dump(caption_dict(c)), seq=c.seq)


class CaptionFrames:
    """The encoded frames of a session's recent captions: each revision encoded once, reused by replays."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._frames: OrderedDict[tuple[str, int], tuple[int, Frame]] = OrderedDict()

    def frame_for(self, cap: Caption) -> Frame:
        key = (cap.lang, cap.seq)
        cached = self._frames.get(key)
        if cached is not None and cached[0] == cap.revision:
            return cached[1]
        frame = caption(cap)
        self._frames[key] = (cap.revision, frame)
        if len(self._frames) > self._size:
            self._frames.popitem(last=False)
        return frame


def partial(p: Partial) -> Frame:
    d: dict[str, Any] = {"type": "partial", "lang": p.lang, "start_ms": p.start_ms, "end_ms": p.end_ms,
                         "text": p.text}
    if p.stable_text:
        d["stable_text"] = p.stable_text
    if p.source_text is not None:
        d["source_text"] = p.source_text
    return Frame("partial", _dump(d))


def status(s: Status) -> Frame:
    d: dict[str, Any] = {"type": "status", "live": s.live, "lag_ms": s.lag_ms, "state": s.state,
                         "started_at": s.started_at_ms}
    if s.translation_ms is not None:
        d["translation_ms"] = s.translation_ms
    if s.partials is not None:
        d["partials"] = s.partials
    return Frame("status", _dump(d))


def correction(c: Correction, source_text: str | None = None, fallback: bool = False) -> Frame:
    """A caption's new text; ``fallback``: a translated language shows the (corrected) original, marked."""
    d: dict[str, Any] = {"type": "correction", "seq": c.seq, "id": c.id, "lang": c.lang, "text": c.text,
                         "revision": c.revision}
    if source_text is not None:
        d["source_text"] = source_text
    if fallback:
        d["fallback"] = True
    return Frame("correction", _dump(d))


def error(code: str, message: str, **extra: Any) -> Frame:
    return Frame("error", _dump({"type": "error", "code": code, "message": message, **extra}))


def info(kind: FrameKind, payload: dict[str, Any]) -> Frame:
    """A frame of ``kind`` with an arbitrary JSON payload: the chair console's ``readers``, ``level`` and
    ``info``; the floor's ``question``, ``questions`` and ``moderation`` (see :mod:`assistant.session.questions`)."""
    return Frame(kind, _dump({"type": kind, **payload}))


# -- client → server -------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CaptionText:
    """A caption typed by a person (chair or human captioner)."""

    text: str
    lang: str | None


@dataclass(frozen=True, slots=True)
class CorrectCaption:
    id: str
    text: str
    lang: str | None


@dataclass(frozen=True, slots=True)
class Control:
    action: Literal["pause", "resume", "end", "start"]


@dataclass(frozen=True, slots=True)
class UpdateSession:
    """A chair's settings change; None leaves a field as it is. ``key`` "" removes the session key."""

    title: str | None
    glossary: tuple[str, ...] | None
    public: bool | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class ModerateQuestion:
    """A chair's decision on a delegate's question: approve, reject, merge (``into``), answering, answered."""

    id: str
    action: str
    into: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    pass


ClientMessage = CaptionText | CorrectCaption | Control | UpdateSession | ModerateQuestion | Ping
QUESTION_ACTIONS = ("approve", "reject", "merge", "answering", "answered")


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Parse one chair/reader text frame; raise ProtocolError with a code and a fix otherwise."""
    return parse_client_object(load_json(raw, "frame"))


def load_json(raw: str | bytes, what: str, *, fix: str = 'send a JSON object with a "type" field') -> object:
    """``json.loads`` that raises only ProtocolError (also for absurd nesting or numbers).

    Bytes must be UTF-8 (RFC 8259 §8.1), strictly: ``json.loads`` would also take UTF-16 or UTF-32
    and let UTF-8-encoded surrogates through."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw  # a leading BOM is ignored
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{what} is not UTF-8 text (byte {exc.start} cannot be read as UTF-8); "
                            "send JSON encoded as UTF-8") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(f"{what} is not JSON (or nested too deeply); {fix}") from None


def parse_client_object(obj: object) -> ClientMessage:
    """Validate a decoded client message (a frame, or an HTTP body with ``type`` added)."""
    if not isinstance(obj, dict):
        raise ProtocolError("frame must be a JSON object with a \"type\" field")
    kind = obj.get("type")
    if kind == "ping":
        return Ping()
    if kind == "caption_text":
        return CaptionText(text=_text(obj, "text"), lang=_lang(obj))
    if kind == "correct":
        return CorrectCaption(id=_caption_id(obj.get("id")), text=_text(obj, "text"), lang=_lang(obj))
    if kind in ("pause", "resume", "end", "start"):
        return Control(action=kind)
    if kind == "update":
        title = obj.get("title")
        if title is not None:
            title = parse_title(title)
        glossary = obj.get("glossary")
        if glossary is not None:
            glossary = parse_glossary(glossary)
        public = obj.get("public")
        if public is not None and not isinstance(public, bool):
            raise ProtocolError("\"public\" must be true or false")
        key = obj.get("key")
        if key is not None and key != "":
            key = validate.session_key(key, '"key"', hint=', or "" to remove the key')
        return UpdateSession(title=title, glossary=glossary, public=public, key=key)
    if kind == "question":
        return parse_moderation(obj)
    raise ProtocolError(f"unknown message type {validate.shown(kind)}; expected one of ping, caption_text, correct,"
                        " pause, resume, end, update, question", code="unknown_type")


def parse_moderation(obj: dict[str, Any]) -> ModerateQuestion:
    """``{"id", "action", "into"?}``: a chair's decision on a question (a frame, or an HTTP body)."""
    action = obj.get("action")
    if action not in QUESTION_ACTIONS:
        raise ProtocolError(f"\"action\" must be one of {', '.join(QUESTION_ACTIONS)}, not {validate.shown(action)}",
                            code="bad_action")
    into = obj.get("into")
    if action == "merge":
        into = _question_id(obj.get("into"), '"into"')
    elif into is not None:
        raise ProtocolError("\"into\" goes only with the merge action")
    return ModerateQuestion(id=_question_id(obj.get("id"), '"id"'), action=str(action), into=into)


def parse_title(value: object) -> str:
    """A session title from a person: one line, 1-200 characters, no control characters."""
    return validate.text(value, '"title"', max_chars=MAX_TITLE_CHARS)


def parse_glossary(value: object) -> tuple[str, ...]:
    """Glossary terms from a person: at most 500, each one line of 1-100 characters; duplicates dropped."""
    if not isinstance(value, list) or len(value) > MAX_TERMS:
        raise ProtocolError(f"\"glossary\" must be a list of at most {MAX_TERMS} terms of 1-{MAX_TERM_CHARS} "
                            "characters")
    terms = (validate.text(t, f'"glossary" term {i + 1}', max_chars=MAX_TERM_CHARS) for i, t in enumerate(value))
    return tuple(dict.fromkeys(terms))


def _caption_id(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError("\"id\" must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise ProtocolError(f"\"id\" is longer than {MAX_ID_CHARS} characters")
    return validate.unicode(value.strip(), '"id"')


def _question_id(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"{where} must be a question's id, a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise ProtocolError(f"{where} is longer than {MAX_ID_CHARS} characters")
    return validate.unicode(value.strip(), where)


def _text(obj: dict[str, Any], key: str) -> str:
    return validate.text(obj.get(key), f'"{key}"', max_chars=MAX_TEXT_CHARS)


def _lang(obj: dict[str, Any]) -> str | None:
    lang = obj.get("lang")
    return None if lang is None else validate.language(lang, '"lang"')

