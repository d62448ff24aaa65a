"""Typed, frozen values for captions as they travel from recogniser to readers.

Times are milliseconds of *audio time*, counted from the session's audio start
(sample 0). ``seq`` numbers a (session, lang) stream: 1, 2, 3, ... with no gaps.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Literal

CaptionOrigin = Literal["asr", "manual", "translation", "whisper-translate"]
# Where a session stands: not started or between recordings, captioning, paused by the chair, over.
SessionState = Literal["idle", "live", "paused", "ended"]


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its audio-time span."""

    text: str
    start_ms: int
    end_ms: int
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class Caption:
    """A final caption line in one language.

    ``id`` is shared by a source caption and all its translations; ``seq`` is
    the position in the (session, lang) stream. ``revision`` is 0 when first
    made and grows by one with every correction. ``continues``: this caption is
    a piece that continues the previous caption's line (the recogniser settles
    words sooner than a phone line fills); readers and exports join it on.
    """

    session: str
    lang: str
    seq: int
    id: str
    start_ms: int
    end_ms: int
    text: str
    revision: int = 0
    origin: CaptionOrigin = "asr"
    source_lang: str | None = None
    source_text: str | None = None
    # Set when the text shown is not a translation although lang != source_lang
    # (the translation looked degenerate, so the source text stands in).
    fallback: bool = False
    created_at_ms: int | None = None
    continues: bool = False


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def join_texts(texts: Iterable[str]) -> str:
    """Join caption pieces into one line: a space between them, none between two Chinese,
    Japanese or Korean characters (the same rule as the pages' ``joinPieces``)."""
    out = ""
    for text in texts:
        text = text.strip()
        if not text:
            continue
        if out and not (_wide(out[-1]) and _wide(text[0])):
            out += " "
        out += text
    return out


def lines_of(captions: Iterable[Caption]) -> Iterator[list[Caption]]:
    """Group consecutive captions into lines, lazily: a caption that ``continues`` joins the line before it."""
    line: list[Caption] = []
    for cap in captions:
        if line and not cap.continues:
            yield line
            line = []
        line.append(cap)
    if line:
        yield line


@dataclass(frozen=True, slots=True)
class Partial:
    """The still-changing tail after the last final caption (replaces the previous one)."""

    session: str
    lang: str
    start_ms: int
    end_ms: int
    text: str
    # The prefix of ``text`` the recogniser has agreed on: it will not change any more.
    stable_text: str = ""
    # In a translated language: the agreed words of the spoken language that ``text`` translates.
    source_text: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """Where the session stands, and how far recognition trails the audio."""

    session: str
    state: SessionState
    lag_ms: int | None = None
    started_at_ms: int | None = None  # unix ms of audio time 0; set when the first audio (or typed caption) comes
    # In a translated language: how long translation adds after the spoken caption (included in ``lag_ms``).
    translation_ms: int | None = None
    # In a translated language with readers: whether they get text in progress now (partial frames); False
    # while the languages that get them are others (see :mod:`assistant.session.partials`).
    partials: bool | None = None

    @property
    def live(self) -> bool:
        """Whether audio is being captioned now (the frame's ``live``, kept for older clients)."""
        return self.state == "live"


@dataclass(frozen=True, slots=True)
class Correction:
    """A chair's fix of a caption line, in one language."""

    session: str
    lang: str
    seq: int
    id: str
    text: str
    revision: int


@dataclass(frozen=True, slots=True)
class Session:
    """A room: one audio source, one spoken language, its own captions."""

    id: str
    title: str
    source_lang: str  # "auto" or an ISO 639-1 code
    created_at_ms: int
    started_at_ms: int | None = None  # unix ms of audio time 0, once audio starts
    ended_at_ms: int | None = None
    languages: tuple[str, ...] = field(default_factory=tuple)  # translation targets offered
    glossary: tuple[str, ...] = field(default_factory=tuple)
    public: bool = True


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    """From ``audio_ms`` (audio time, like a caption's ``start_ms``) on, ``speaker`` is speaking."""

    session: str
    audio_ms: int
    speaker: str
