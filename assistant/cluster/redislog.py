"""The caption log in Redis Streams, read side: :class:`RedisLog` (async, for handlers) and
:class:`RedisReader` (sync, for an export stepped in a worker thread).

One stream per (session, language) whose entry ids are the captions' seqs
(``7-0`` is seq 7), so ``since=N`` is an exclusive range read on any node and a
second writer of the same seq fails in Redis. Layout: :mod:`.keys`. Writes come
only from the room's owner, through :mod:`.roomstore`.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import redis
import redis.asyncio as aioredis

from ..captions import Caption, Session
from ..errors import NotFoundError
from ..store.sqlite import Revision
from . import scripts
from .keys import ROOMS, RoomKeys, caption_from, seq_of, session_from, text

FETCH_BATCH = 500  # captions per round trip when an export streams a long session


def _order(source_lang: str, langs: list[str]) -> list[str]:
    out = sorted(langs)
    if source_lang in out:
        out.remove(source_lang)
        out.insert(0, source_lang)
    return out


def _versions(raw: list[bytes]) -> list[Caption]:
    caps = [caption_from(r) for r in raw]
    return sorted(caps, key=lambda c: (c.origin not in ("asr", "manual"), c.lang))


def _revision(raw: bytes) -> Revision:
    return Revision(**json.loads(raw))


class RedisLog:
    """:class:`~assistant.store.log.CaptionLog` over Redis: every read is one round trip (a script)."""

    def __init__(self, client: aioredis.Redis, url: str) -> None:
        self.redis = client
        self.url = url
        self._range = client.register_script(scripts.RANGE)
        self._corrected = client.register_script(scripts.CORRECTED)
        self._versions = client.register_script(scripts.VERSIONS)

    async def get_session(self, session_id: str) -> Session:
        raw = await self.redis.hget(ROOMS, session_id)
        if raw is None:
            raise NotFoundError(f"no session {session_id!r}; `assistant export --list` shows the sessions")
        return session_from(raw)

    async def list_sessions(self) -> list[Session]:
        rooms = [session_from(v) for v in (await self.redis.hgetall(ROOMS)).values()]
        return sorted(rooms, key=lambda s: (s.created_at_ms, s.id))

    async def latest_seq(self, session: str, lang: str) -> int:
        last: Any = await self.redis.xrevrange(RoomKeys(session).captions(lang), count=1)
        return seq_of(last[0][0]) if last else 0

    async def latest_seqs(self, session: str) -> dict[str, int]:
        langs = [text(lang) for lang in await self.redis.smembers(RoomKeys(session).langs)]
        return {lang: await self.latest_seq(session, lang) for lang in langs}

    async def captions_since(self, session: str, lang: str, since: int, limit: int) -> list[Caption]:
        return await self.range(session, lang, f"({since}-0", limit)

    async def range(self, session: str, lang: str, start: str, limit: int, *, newest_first: bool = False
                    ) -> list[Caption]:
        """Captions from entry id ``start`` (``(N-0`` excludes seq N; ``+`` is the end), current versions."""
        keys = RoomKeys(session)
        raw = await self._range(keys=[keys.captions(lang), keys.current(lang)],
                                args=[start, limit, "1" if newest_first else "0"])
        return [caption_from(r) for r in raw]

    async def corrected_before(self, session: str, lang: str, upto: int, window: int) -> list[Caption]:
        keys = RoomKeys(session)
        raw = await self._corrected(keys=[keys.corrected(lang), keys.current(lang)],
                                    args=[f"({upto - window}", upto])
        return [caption_from(r) for r in raw if r is not None]

    async def revised_since(self, session: str, lang: str, upto: int, at_ms: int) -> list[Caption]:
        keys = RoomKeys(session)
        raw = await self._corrected(keys=[keys.corrected_at(lang), keys.current(lang)], args=[at_ms, "+inf"])
        caps = [caption_from(r) for r in raw if r is not None]
        return sorted((c for c in caps if c.seq <= upto), key=lambda c: c.seq)

    async def translations_of(self, session: str, caption_id: str) -> list[Caption]:
        keys = RoomKeys(session)
        return _versions(await self._versions(keys=[keys.langs, keys.ids], args=[keys.prefix, caption_id]))

    async def revisions(self, session: str, caption_id: str | None = None) -> list[Revision]:
        entries: Any = await self.redis.xrange(RoomKeys(session).revisions)
        out = [_revision(fields[b"r"]) for _, fields in entries]
        return [r for r in out if caption_id is None or r.caption_id == caption_id]

    async def languages(self, session_id: str) -> list[str]:
        session = await self.get_session(session_id)
        langs = await self.redis.smembers(RoomKeys(session_id).langs)
        return _order(session.source_lang, [text(lang) for lang in langs])

    async def count_captions(self, session_id: str, lang: str) -> int:
        return int(await self.redis.xlen(RoomKeys(session_id).captions(lang)))

    def open_reader(self) -> "RedisReader":
        return RedisReader(redis.Redis.from_url(self.url))


class RedisReader:
    """A synchronous reader for exports (:class:`~assistant.export.storelike.StoreLike`), its own connection."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._range = client.register_script(scripts.RANGE)

    def list_sessions(self) -> list[Session]:
        raw: Any = self.redis.hgetall(ROOMS)
        return sorted((session_from(v) for v in raw.values()), key=lambda s: (s.created_at_ms, s.id))

    def get_session(self, session_id: str) -> Session:
        raw: Any = self.redis.hget(ROOMS, session_id)
        if raw is None:
            raise NotFoundError(f"no session {session_id!r}; `assistant export --list` shows the sessions")
        return session_from(raw)

    def languages(self, session_id: str) -> list[str]:
        session = self.get_session(session_id)
        langs: Any = self.redis.smembers(RoomKeys(session_id).langs)
        return _order(session.source_lang, [text(lang) for lang in langs])

    def count_captions(self, session_id: str, lang: str) -> int:
        n: Any = self.redis.xlen(RoomKeys(session_id).captions(lang))
        return int(n)

    def iter_captions(self, session_id: str, lang: str) -> Iterator[Caption]:
        keys = RoomKeys(session_id)
        last = 0
        while True:
            raw: Any = self._range(keys=[keys.captions(lang), keys.current(lang)],
                                   args=[f"({last}-0", FETCH_BATCH, "0"])
            batch = [caption_from(r) for r in raw]
            if not batch:
                return
            yield from batch
            last = batch[-1].seq

    def close(self) -> None:
        self.redis.close()
