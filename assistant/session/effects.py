"""What the session core asks its adapter to do, as frozen values, in the order given.

The adapter (``assistant.server.runtime``) carries each out: store first, then
publish, so a reader that reconnects always finds in the store what it missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..captions import Caption, Session
from ..protocol import Frame
from .translations import TranslationJob

CHAIR_TOPIC = "*chair"  # the bus topic of the chair consoles' frames (levels, reader counts, settings)


@dataclass(frozen=True, slots=True)
class CaptionAdded:
    """Store ``caption`` (its ``seq`` is the next of its language), then publish its frame."""

    caption: Caption


@dataclass(frozen=True, slots=True)
class CaptionRevised:
    """Store the new version of a caption (revision bumped) with its audit row, then publish a correction."""

    caption: Caption
    before: str
    author: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """Persist the session's fields (title, glossary, times, privacy)."""

    session: Session


@dataclass(frozen=True, slots=True)
class Publish:
    """Send ``frame`` to the readers of ``topic``: a language, or :data:`CHAIR_TOPIC`."""

    topic: str
    frame: Frame


@dataclass(frozen=True, slots=True)
class Translate:
    """Translate ``job.text``; answer with ``receive_translation`` or ``receive_translation_failure``."""

    job: TranslationJob


@dataclass(frozen=True, slots=True)
class FetchBacklog:
    """A language was opened late: answer with ``receive_backlog`` and the recent captions it lacks."""

    lang: str


@dataclass(frozen=True, slots=True)
class StartEnglish:
    """Start Whisper's own speech→English recogniser on the current audio (someone reads English)."""


@dataclass(frozen=True, slots=True)
class StopEnglish:
    """Stop the speech→English recogniser (its last reader left, or the audio ended)."""


@dataclass(frozen=True, slots=True)
class CloseAudio:
    """End the current audio feed (the chair ended the session)."""


@dataclass(frozen=True, slots=True)
class ReadersChanged:
    """The reader counts changed (the adapter coalesces these for the chair)."""

    readers: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Warn:
    """Something an operator should see in the log (said once, not per caption)."""

    message: str


Effect = Union[CaptionAdded, CaptionRevised, SessionChanged, Publish, Translate, FetchBacklog, StartEnglish,
               StopEnglish, CloseAudio, ReadersChanged, Warn]
