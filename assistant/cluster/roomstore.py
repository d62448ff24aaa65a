"""The owner's store for one room: what its session runtime reads, kept here, written through to Redis.

A :class:`~assistant.server.runtime.SessionRuntime` reads and writes its store
synchronously (:class:`~assistant.store.log.RuntimeStore`). On a worker that
store is this: loaded from the Redis log when the worker takes the room
(:meth:`RoomStore.load`: the next seqs, where audio time continues, the recent
captions a correction or a late language needs), answering reads from memory,
and turning every write into commands on the room's :class:`~.writer.FencedWriter`.
"""

from __future__ import annotations


import dataclasses
import itertools
from collections import OrderedDict

from ..captions import Caption, Session
from ..store.sqlite import Revision
from .keys import ROOMS, RoomKeys, caption_json, dumps, session_json
from .redislog import RedisLog
from .writer import FencedWriter

RECENT_IDS = 2000  # caption ids (every language) kept for corrections and late languages


class RoomStore:
    """:class:`~assistant.store.log.RuntimeStore` of one room on its owner."""

    def __init__(self, session: Session, writer: FencedWriter, *, latest: dict[str, int], audio_end_ms: int,
                 recent: list[Caption]) -> None:
        self.session = session
        self.keys = RoomKeys(session.id)
        self.writer = writer
        self._latest = dict(latest)
        self._audio_end_ms = audio_end_ms
        self._recent: OrderedDict[str, dict[str, Caption]] = OrderedDict()
        for cap in recent:
            self._remember(cap)

    @staticmethod
    async def load(log: RedisLog, session: Session) -> tuple[dict[str, int], int, list[Caption]]:
        """What a new owner needs from the log: latest seqs, audio end, recent captions (spoken ones first)."""
        latest = await log.latest_seqs(session.id)
        end = await log.redis.hget(RoomKeys(session.id).meta, "audio_end_ms")
        recent: list[Caption] = []
        for lang in sorted(latest, key=lambda lang: lang != session.source_lang):
            caps = await log.range(session.id, lang, "+", RECENT_IDS, newest_first=True)
            recent.extend(reversed(caps))
        return latest, int(end or 0), recent

    def _remember(self, cap: Caption) -> None:
        versions = self._recent.get(cap.id)
        if versions is None:
            if cap.lang != self.session.source_lang and cap.origin == "translation":
                return  # a translation of a caption older than the window
            versions = self._recent[cap.id] = {}
            while len(self._recent) > RECENT_IDS:
                self._recent.popitem(last=False)
        versions[cap.lang] = cap

    # -- reads ---------------------------------------------------------------
    def latest_seqs(self, session: str) -> dict[str, int]:
        return dict(self._latest)

    def audio_end_ms(self, session_id: str) -> int:
        return self._audio_end_ms

    def translations_of(self, session: str, caption_id: str) -> list[Caption]:
        versions = self._recent.get(caption_id, {})
        return sorted(versions.values(), key=lambda c: (c.origin not in ("asr", "manual"), c.lang))

    def untranslated(self, session: str, source_lang: str, lang: str, limit: int) -> list[Caption]:
        spoken = [v for v in self._recent.values() if source_lang in v]
        missing = []
        for i, versions in enumerate(spoken):
            if lang in versions:
                continue
            piece = versions[source_lang]
            # as the SQLite store: a later piece of the same line holds this one's clause translation
            line = itertools.takewhile(lambda v: v[source_lang].continues, spoken[i + 1:])
            if not any(lang in v and v[lang].origin == "translation" and v[lang].start_ms <= piece.start_ms
                       for v in line):
                missing.append(piece)
        return missing[-limit:] if limit > 0 else []

    def known(self, caption_id: str) -> bool:
        """Whether the versions of ``caption_id`` are held here (else a web node sends them along)."""
        return caption_id in self._recent

    # -- writes --------------------------------------------------------------
    def insert_caption(self, c: Caption) -> None:
        k = self.keys
        self._latest[c.lang] = c.seq
        self._remember(c)
        w = self.writer
        w.submit("XADD", k.captions(c.lang), f"{c.seq}-0", "c", caption_json(c))
        w.submit("SADD", k.langs, c.lang)
        w.submit("HSET", k.ids, f"{c.id}|{c.lang}", c.seq)
        if c.end_ms > self._audio_end_ms:
            self._audio_end_ms = c.end_ms
            w.submit("HSET", k.meta, "audio_end_ms", c.end_ms)

    def revise(self, c: Caption, *, before: str, author: str, at_ms: int) -> None:
        k = self.keys
        if c.id in self._recent:
            self._recent[c.id][c.lang] = c
        rev = Revision(c.session, c.id, c.lang, c.revision, before, c.text, author, at_ms)
        w = self.writer
        w.submit("HSET", k.current(c.lang), c.seq, caption_json(c))
        w.submit("ZADD", k.corrected(c.lang), c.seq, c.seq)
        w.submit("ZADD", k.corrected_at(c.lang), at_ms, c.seq)
        w.submit("XADD", k.revisions, "*", "r", dumps(dataclasses.asdict(rev)))

    def save_session(self, s: Session) -> None:
        self.session = s
        self.writer.submit("HSET", ROOMS, s.id, session_json(s))
