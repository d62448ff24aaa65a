"""What the handlers need of a room, wherever its session runs.

In one process a room is its :class:`~assistant.server.runtime.SessionRuntime`.
On a web node of a cluster it is a :class:`~assistant.cluster.remote.RemoteRoom`:
a view of the state the owning worker publishes, whose chair actions travel to
that worker and come back with their result. :func:`act` and :func:`correct`
hide the difference (a local action is applied at once; a remote one is awaited).
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol, runtime_checkable

from .. import protocol
from ..captions import Caption, Session, SessionState, Status
from ..clock import Clock
from ..errors import ProtocolError
from ..session.core import ChairAction
from .runtime import SessionRuntime


class Room(Protocol):
    """The read side of a room and its reader counts, as the reader, chair and staff handlers use it."""

    clock: Clock

    @property
    def session(self) -> Session: ...

    @property
    def source_lang(self) -> str: ...

    @property
    def state(self) -> SessionState: ...

    def status(self, lang: str | None = None) -> Status: ...

    def languages(self) -> tuple[str, ...]: ...

    def check_language(self, lang: str) -> None:
        """Raise LanguageError unless readers may ask for ``lang``."""

    def snapshot(self) -> dict[str, Any]: ...

    def frame_for(self, cap: Caption) -> protocol.Frame:
        """The encoded frame of a caption (cached: a replay to many readers encodes once)."""

    def reader_joined(self, lang: str, *, screen: bool = False) -> None:
        """A reader of ``lang`` connected; ``screen``: a room screen (it ranks first for text in progress)."""

    def reader_left(self, lang: str, *, screen: bool = False) -> None: ...


@runtime_checkable
class RemoteActions(Protocol):
    """A room whose chair actions are carried out elsewhere (the worker that owns it)."""

    async def perform(self, action: ChairAction) -> Caption | None: ...

    async def fix(self, caption_id: str, text: str, *, lang: str | None, author: str) -> Caption: ...


class RoomRegistry(Protocol):
    """The rooms a server serves, by session id (``app[SESSIONS]``)."""

    async def create(self, session: Session, *, key: str | None) -> Room:
        """Create a new session with its session key (None: none) and serve it; :func:`session_exists`
        when the id is taken, however close together two requests come."""

    def get(self, session_id: str) -> Room:
        """The room ``session_id``; NotFoundError when there is none."""

    def find(self, session_id: str) -> Room | None: ...

    def __contains__(self, session_id: str) -> bool: ...

    def __iter__(self) -> Iterator[Room]: ...

    async def set_access(self, session_id: str, *, public: bool | None, key: str | None) -> None:
        """Make a session public or private and set (``key``) or remove (``""``) its key; None keeps."""

    async def issue_chair_token(self, session_id: str) -> tuple[str, str]:
        """A new chair token good in ``session_id`` alone, on every node: (its id, the token, to show once)."""

    def targets(self, spoken: str) -> tuple[str, ...]:
        """What a session spoken in ``spoken`` can be translated into here (may read the package folder)."""

    async def close(self) -> None: ...


def session_exists(sid: str) -> ProtocolError:
    """The refusal of a POST for an id that is taken (409 ``exists``)."""
    return ProtocolError(f"session {sid!r} exists already, and a POST does not change it: change its title, "
                         f"privacy or key with PATCH /api/sessions/{sid} (chair token), or pick another id",
                         code="exists")


async def act(room: Room, action: ChairAction) -> Caption | None:
    """Apply a chair's action (typed caption, control, settings); returns a caption it made."""
    if isinstance(room, RemoteActions):
        return await room.perform(action)
    assert isinstance(room, SessionRuntime)
    return room.act(action)


async def correct(room: Room, caption_id: str, text: str, *, lang: str | None, author: str) -> Caption:
    """Fix one caption; a fix in the spoken language is translated again into every language."""
    if isinstance(room, RemoteActions):
        return await room.fix(caption_id, text, lang=lang, author=author)
    assert isinstance(room, SessionRuntime)
    return room.correct(caption_id, text, lang=lang, author=author)
