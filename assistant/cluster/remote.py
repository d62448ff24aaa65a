"""A room as a web node sees it: the state its owner publishes, and a way to reach that owner.

The owner writes the room's state (session, state, per-language status, the
languages offered, the console snapshot) to Redis and into the live stream
whenever it changes; the web node's tail hands it to :meth:`RemoteRoom.update`
in order with the frames, so a reader's first status is never older than the
frames that follow it. Chair actions go to the owner as commands
(:mod:`.commands`) and their results come back. Reader counts are counted here
and summed over web nodes by the owner.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, cast

from .. import protocol
from ..captions import Caption, Session, SessionState, Status
from ..clock import Clock
from ..errors import LanguageError, NotFoundError
from ..session.core import ChairAction, Correct
from .commands import raise_if_error, reply_caption
from .keys import dumps, session_from, session_json


Send = Callable[[str, ChairAction], Awaitable[dict[str, Any]]]  # (room, action) → the owner's reply
Versions = Callable[[str, str], Awaitable[list[Caption]]]  # (room, caption id) → its versions in the log
Count = Callable[[str, str, int, bool], None]  # (room, lang, +1 / -1, a room screen)


def initial_state(session: Session, targets: tuple[str, ...]) -> bytes:
    """What a room shows before any worker has taken it: its languages are those every live worker
    translates into (``targets``), as one server offers what its packages reach."""
    languages = [session.source_lang, *[t for t in targets if t != session.source_lang]]
    return dumps({"session": json.loads(session_json(session)), "state": "idle",
                  "languages": languages, "statuses": {}, "snapshot": {}})


class RemoteRoom:
    """:class:`~assistant.server.rooms.Room` and :class:`~assistant.server.rooms.RemoteActions` on a web node."""

    def __init__(self, state: bytes, *, clock: Clock, send: Send, versions: Versions, count: Count) -> None:
        self.clock = clock
        self._send = send
        self._versions = versions
        self._count = count
        self._frames = protocol.CaptionFrames()
        self._state: dict[str, Any] = {}
        self._session: Session
        self.update(state)

    def update(self, raw: bytes) -> None:
        """The owner's newest state (from the live stream, or read when the room was found)."""
        self._state = json.loads(raw)
        self._session = session_from(dumps(self._state["session"]))

    # -- Room ----------------------------------------------------------------
    @property
    def session(self) -> Session:
        return self._session

    @property
    def source_lang(self) -> str:
        return self._session.source_lang

    @property
    def state(self) -> SessionState:
        return cast(SessionState, self._state["state"])

    def status(self, lang: str | None = None) -> Status:
        statuses = self._state["statuses"]
        s = statuses.get(lang or self.source_lang) or statuses.get(self.source_lang)
        if s is None:
            return Status(self._session.id, self.state, None, self._session.started_at_ms)
        return Status(self._session.id, cast(SessionState, s["state"]), s["lag_ms"], s["started_at_ms"],
                      s.get("translation_ms"), s.get("partials"))

    def languages(self) -> tuple[str, ...]:
        return tuple(self._state["languages"])

    def check_language(self, lang: str) -> None:
        if lang not in self.languages():
            raise LanguageError(f"captions in {lang!r} are not available for this session; "
                                f"choose one of {', '.join(self.languages())}", self.languages())

    def snapshot(self) -> dict[str, Any]:
        s = self._session
        base: dict[str, Any] = {
            "id": s.id, "title": s.title, "source_lang": s.source_lang, "state": self.state, "lag_ms": None,
            "readers": {}, "languages": list(self.languages()), "detected_language": None,
            "glossary": list(s.glossary), "started_at": s.started_at_ms, "public": s.public, "translation": {},
            "level_db": None}
        return {**base, **self._state["snapshot"]}

    def frame_for(self, cap: Caption) -> protocol.Frame:
        return self._frames.frame_for(cap)

    def reader_joined(self, lang: str, *, screen: bool = False) -> None:
        self._count(self._session.id, lang, 1, screen)

    def reader_left(self, lang: str, *, screen: bool = False) -> None:
        self._count(self._session.id, lang, -1, screen)

    # -- RemoteActions -------------------------------------------------------
    async def perform(self, action: ChairAction) -> Caption | None:
        reply = await self._send(self._session.id, action)
        raise_if_error(reply)
        if reply.get("snapshot"):
            self._state = {**self._state, "snapshot": reply["snapshot"], "state": reply["snapshot"]["state"]}
        return reply_caption(reply)

    async def fix(self, caption_id: str, text: str, *, lang: str | None, author: str) -> Caption:
        versions = tuple(await self._versions(self._session.id, caption_id))
        if not versions:
            raise NotFoundError(f"no caption {caption_id!r} in session {self._session.id!r}")
        fixed = await self.perform(Correct(versions, lang or self.source_lang, text, author))
        assert fixed is not None
        return fixed
