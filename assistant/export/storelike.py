"""What the export command needs from the caption store.

The SQLite store implements this Protocol; tests use an in-memory fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from assistant.captions import Caption, Session, SpeakerTurn
from assistant.session.questions import StoredQuestion


class StoreLike(Protocol):
    """Read access to sessions and their final captions."""

    def list_sessions(self) -> list[Session]:
        """Every session, in the order the store prefers to list them."""
        ...

    def get_session(self, session_id: str) -> Session:
        """The session with this id; raises NotFoundError when there is none."""
        ...

    def languages(self, session_id: str) -> list[str]:
        """Languages that have at least one caption in this session."""
        ...

    def count_captions(self, session_id: str, lang: str) -> int:
        """How many final captions :meth:`iter_captions` will yield."""
        ...

    def iter_captions(self, session_id: str, lang: str) -> Iterator[Caption]:
        """Final captions in seq order, latest revision of each, read lazily."""
        ...


class QuestionRowsLike(Protocol):
    def load(self, session: str) -> list[StoredQuestion]:
        """Every question of the session with its texts and voters."""
        ...


@runtime_checkable
class HasQuestions(Protocol):
    """A store that also keeps the floor's questions (the SQLite store does; a captions-only fake need not)."""

    @property
    def questions(self) -> QuestionRowsLike: ...


class SpeakerRowsLike(Protocol):
    def load(self, session: str) -> list[SpeakerTurn]:
        """The session's speaker turns in audio order."""
        ...


@runtime_checkable
class HasSpeakers(Protocol):
    """A store that also keeps who spoke when (the SQLite store does; a captions-only fake need not)."""

    @property
    def speakers(self) -> SpeakerRowsLike: ...
