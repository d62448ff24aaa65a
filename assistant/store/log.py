"""The caption log as the server's handlers and session runtimes see it, whatever holds it.

Two implementations: the embedded SQLite :class:`~assistant.store.sqlite.Store`
(through :class:`LocalLog`, one process) and Redis Streams
(:mod:`assistant.cluster.redislog`, many machines). Handlers read through the
asynchronous :class:`CaptionLog` (a Redis read is a network round trip and must
not hold up the event loop); a session runtime writes through the synchronous
:class:`RuntimeStore` (its writes are ordered effects of the session core; the
Redis one queues them in order and the reader sees a caption only once Redis has it).
Exports step a synchronous :class:`~assistant.export.storelike.StoreLike` in a
worker thread: :meth:`CaptionLog.open_reader` opens one there.
"""

from __future__ import annotations

from typing import Protocol

from ..captions import Caption, Session
from ..export.storelike import StoreLike
from .sqlite import Revision, Store


class ExportReader(StoreLike, Protocol):
    """A store opened in an export's worker thread; closed there when the export ends."""

    def close(self) -> None: ...


class CaptionLog(Protocol):
    """Read access to sessions and captions for the HTTP and WebSocket handlers."""

    async def get_session(self, session_id: str) -> Session:
        """The stored session; NotFoundError when there is none."""

    async def list_sessions(self) -> list[Session]: ...

    async def latest_seq(self, session: str, lang: str) -> int:
        """The last ``seq`` of (session, lang); 0 before the first caption."""

    async def captions_since(self, session: str, lang: str, since: int, limit: int) -> list[Caption]:
        """Captions with ``seq > since``, oldest first, at most ``limit``, each in its current revision."""

    async def corrected_before(self, session: str, lang: str, upto: int, window: int) -> list[Caption]:
        """Corrected captions among the ``window`` captions ending at ``seq == upto``."""

    async def revised_since(self, session: str, lang: str, upto: int, at_ms: int) -> list[Caption]:
        """Captions with ``seq <= upto`` corrected at or after ``at_ms``."""

    async def translations_of(self, session: str, caption_id: str) -> list[Caption]:
        """Every language's version of one caption, the spoken one first."""

    async def revisions(self, session: str, caption_id: str | None = None) -> list[Revision]: ...

    async def languages(self, session_id: str) -> list[str]:
        """Languages with at least one caption, the spoken one first."""

    async def count_captions(self, session_id: str, lang: str) -> int: ...

    def open_reader(self) -> ExportReader:
        """A reader for an export; call it in the thread that will step the export."""


class RuntimeStore(Protocol):
    """What a :class:`~assistant.server.runtime.SessionRuntime` reads and writes, synchronously."""

    def latest_seqs(self, session: str) -> dict[str, int]: ...

    def audio_end_ms(self, session_id: str) -> int: ...

    def insert_caption(self, c: Caption) -> None: ...

    def revise(self, c: Caption, *, before: str, author: str, at_ms: int) -> None: ...

    def save_session(self, s: Session) -> None: ...

    def translations_of(self, session: str, caption_id: str) -> list[Caption]: ...

    def untranslated(self, session: str, source_lang: str, lang: str, limit: int) -> list[Caption]: ...


class LocalLog:
    """The embedded log: the SQLite store, read on the event loop as before (short indexed queries)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get_session(self, session_id: str) -> Session:
        return self.store.get_session(session_id)

    async def list_sessions(self) -> list[Session]:
        return self.store.list_sessions()

    async def latest_seq(self, session: str, lang: str) -> int:
        return self.store.latest_seq(session, lang)

    async def captions_since(self, session: str, lang: str, since: int, limit: int) -> list[Caption]:
        return self.store.captions_since(session, lang, since, limit)

    async def corrected_before(self, session: str, lang: str, upto: int, window: int) -> list[Caption]:
        return self.store.corrected_before(session, lang, upto, window)

    async def revised_since(self, session: str, lang: str, upto: int, at_ms: int) -> list[Caption]:
        return self.store.revised_since(session, lang, upto, at_ms)

    async def translations_of(self, session: str, caption_id: str) -> list[Caption]:
        return self.store.translations_of(session, caption_id)

    async def revisions(self, session: str, caption_id: str | None = None) -> list[Revision]:
        return self.store.revisions(session, caption_id)

    async def languages(self, session_id: str) -> list[str]:
        return self.store.languages(session_id)

    async def count_captions(self, session_id: str, lang: str) -> int:
        return self.store.count_captions(session_id, lang)

    def open_reader(self) -> ExportReader:
        return Store.open(self.store.path)
