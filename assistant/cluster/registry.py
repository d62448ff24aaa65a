"""The rooms of a cluster as one web node serves them (``app[SESSIONS]`` on a web node).

Every second it looks at Redis: the open rooms (a room created on another web
node is served here within a second), the session records, tokens, rooms' own
chair tokens (new and revoked) and session keys (copied into the node's
in-memory store, which the synchronous access checks read), and it writes this
node's heartbeat and its reader counts per room and language, which the rooms'
owners sum. Nothing here outlives the process: a web node killed at any moment
loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter
from typing import Any, Iterator

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from .. import validate
from ..captions import Caption, Session
from ..clock import Clock
from ..errors import NotFoundError, UnavailableError
from ..protocol import UpdateSession
from ..session.core import ChairAction
from ..store import ScopedToken, Store
from ..server import auth
from ..server.rooms import session_exists
from ..tasks import cancel_and_wait
from . import commands
from .bus import RedisBus
from .keys import (KEPT_REPLY, NODES, OPEN, REPLIES, ROOMS, SCOPED_TOKENS, SESSION_KEYS, TOKENS, UNREACHABLE, WORKERS,
                   RoomKeys, scoped_from, scoped_json, session_from, session_json, text)
from .redislog import RedisLog
from .remote import RemoteRoom, initial_state

log = logging.getLogger(__name__)

POLL_S = 1.0  # how often rooms, tokens and keys are looked at again, and counts written
NODE_TTL_MS = 5_000  # a web node silent this long is gone: its reader counts no longer count
COMMAND_TIMEOUT_S = 12.0  # longer than a takeover (lease 5 s + scan + load)
REPLY_GRACE_S = 2.0  # after a command's deadline, for its answer to come back
KEPT_REPLY_POLL_S = 1.0  # a command unanswered this long looks for its kept answer, again every as long
COMMAND_STREAM_LEN = 1000


class RemoteRooms:
    """:class:`~assistant.server.rooms.RoomRegistry` of a web node; :meth:`start` before serving."""

    def __init__(self, client: aioredis.Redis, bus: RedisBus, log: RedisLog, mirror: Store, clock: Clock,
                 node: str) -> None:
        self._redis = client
        self._bus = bus
        self._log = log
        self._mirror = mirror
        self._clock = clock
        self.node = node
        self._rooms: dict[str, RemoteRoom] = {}
        self._counts: Counter[tuple[str, str]] = Counter()
        self._screens: Counter[tuple[str, str]] = Counter()  # of those readers, room screens
        self._dirty: set[tuple[str, str]] = set()
        self._keys: dict[str, str] = {}
        self._scoped: dict[str, ScopedToken] = {}  # token hash → chair token of one room, as Redis had it
        self._targets: dict[str, tuple[str, ...]] = {}  # spoken language → what every live worker translates it into
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        bus.on_state = self._state_changed

    async def start(self) -> None:
        """Listen for command replies, find the rooms, then keep looking every second."""
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(REPLIES + self.node)
        self._tasks.append(asyncio.create_task(self._replies(pubsub), name="command replies"))
        await self.refresh()
        self._tasks.append(asyncio.create_task(self._poll(), name="rooms poll"))

    # -- RoomRegistry ----------------------------------------------------------
    async def create(self, session: Session, *, key: str | None) -> RemoteRoom:
        """Create the room, with its key, for whichever node asks first (``exists`` for the others, even
        in the same instant): the session record, then the key, then the open set that the other nodes
        and the workers read, so nobody serves the room before its key is there."""
        if not await self._redis.hsetnx(ROOMS, session.id, session_json(session)):
            raise session_exists(session.id)
        log.info("room %s created", session.id)
        digest = auth.hash_session_key(key) if key else None
        if digest is not None:
            await self._redis.hset(SESSION_KEYS, session.id, digest)
        await self._redis.sadd(OPEN, session.id)
        await self._add(session, digest)
        return self._rooms[session.id]

    async def issue_chair_token(self, session_id: str) -> tuple[str, str]:
        """A chair token for ``session_id`` alone (its id, the token): in Redis for every node, here at once."""
        token, record = auth.new_scoped("chair", session_id, self._clock.now_ms())
        digest = auth.hash_token(token)
        await self._redis.hset(SCOPED_TOKENS, digest, scoped_json(record))
        self._mirror.put_scoped_token(digest, record)
        self._scoped[digest] = record
        return record.id, token

    def get(self, session_id: str) -> RemoteRoom:
        room = self._rooms.get(session_id)
        if room is None:
            raise NotFoundError(f"no session {validate.shown(session_id)}; the landing page lists the live sessions")
        return room

    def find(self, session_id: str) -> RemoteRoom | None:
        return self._rooms.get(session_id)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._rooms

    def __iter__(self) -> Iterator[RemoteRoom]:
        return iter(list(self._rooms.values()))

    async def set_access(self, session_id: str, *, public: bool | None, key: str | None) -> None:
        room = self.get(session_id)
        if key is not None:
            if key:
                digest = auth.hash_session_key(key)
                await self._redis.hset(SESSION_KEYS, session_id, digest)
            else:
                digest = None
                await self._redis.hdel(SESSION_KEYS, session_id)
            self._mirror.set_session_key_hash(session_id, digest, self._clock.now_ms())
        if public is not None and public != room.session.public:
            await room.perform(UpdateSession(title=None, glossary=None, public=public))

    def targets(self, spoken: str) -> tuple[str, ...]:
        """What every live worker translates ``spoken`` into (from their heartbeats): a room may go to any."""
        return self._targets.get(spoken, ())

    async def close(self) -> None:
        await cancel_and_wait(*self._tasks)
        fields: dict[str, list[str]] = {}
        for sid, lang in self._counts:
            fields.setdefault(sid, []).append(f"{self.node}|{lang}")
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for sid, names in fields.items():
                    pipe.hdel(RoomKeys(sid).readers, *names)
                    pipe.hdel(RoomKeys(sid).screens, *names)
                pipe.hdel(NODES, self.node)
                await pipe.execute()
        except UNREACHABLE:
            pass  # the counts expire with the node's heartbeat

    # -- commands ------------------------------------------------------------
    async def send(self, session_id: str, action: ChairAction) -> dict[str, Any]:
        """Hand ``action`` to the room's owner and wait for its outcome (UnavailableError if none comes)."""
        rid = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        deadline = self._clock.now_ms() + int(COMMAND_TIMEOUT_S * 1000)
        try:
            keys = RoomKeys(session_id)
            async with self._redis.pipeline(transaction=True) as pipe:  # a parked room is taken again to answer
                pipe.delete(keys.parked)
                pipe.xadd(keys.commands, {"a": commands.encode_action(action), "reply": self.node, "rid": rid,
                                          "deadline": deadline}, maxlen=COMMAND_STREAM_LEN, approximate=True)
                await pipe.execute()
            return await self._reply(rid, future)
        except TimeoutError:
            raise UnavailableError(f"no recognition worker answered for room {session_id!r} in "
                                   f"{COMMAND_TIMEOUT_S:.0f} s (is one running? a takeover takes up to 10 s); "
                                   "try again") from None
        except UNREACHABLE as exc:
            raise UnavailableError(f"this web node cannot reach Redis now ({exc}); try again") from None
        finally:
            self._pending.pop(rid, None)

    async def _reply(self, rid: str, future: asyncio.Future[dict[str, Any]]) -> dict[str, Any]:
        """The owner's answer: published to this node, or else kept in Redis (a message published while this
        node's subscription was down is lost). The owner drops a command past its deadline, so once that
        and :data:`REPLY_GRACE_S` have passed without an answer, it was not applied (TimeoutError)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + COMMAND_TIMEOUT_S + REPLY_GRACE_S
        while True:
            try:
                async with asyncio.timeout(max(0.0, min(KEPT_REPLY_POLL_S, give_up - loop.time()))):
                    return await asyncio.shield(future)
            except TimeoutError:
                kept: Any = await self._redis.get(KEPT_REPLY + rid)
                if kept is not None:
                    return json.loads(kept)  # type: ignore[no-any-return]
                if loop.time() >= give_up:
                    raise

    async def versions(self, session_id: str, caption_id: str) -> list[Caption]:
        return await self._log.translations_of(session_id, caption_id)

    async def _replies(self, pubsub: Any) -> None:
        while True:
            try:
                if pubsub is None:
                    pubsub = self._redis.pubsub()
                    await pubsub.subscribe(REPLIES + self.node)
                async for msg in pubsub.listen():
                    if msg.get("type") != "message":
                        continue
                    reply = json.loads(msg["data"])
                    future = self._pending.get(reply.get("rid", ""))
                    if future is not None and not future.done():
                        future.set_result(reply)
                raise RedisConnectionError("the reply subscription ended")  # listen() ends when unsubscribed
            except UNREACHABLE as exc:
                # A reply published while cut off is lost: its chair gets 503 and sends again.
                log.warning("Redis unreachable for command replies (%s); listening again in %.0f s", exc, POLL_S)
                await _discard(pubsub)
                pubsub = None
                await asyncio.sleep(POLL_S)

    # -- readers -------------------------------------------------------------
    def count(self, session_id: str, lang: str, delta: int, screen: bool = False) -> None:
        self._counts[(session_id, lang)] += delta
        if screen:
            self._screens[(session_id, lang)] += delta
        self._dirty.add((session_id, lang))

    def readers(self) -> dict[tuple[str, str], int]:
        """Readers connected to this node, per (room, language) (for the metrics)."""
        return {k: n for k, n in self._counts.items() if n > 0}

    # -- the poll ------------------------------------------------------------
    def _state_changed(self, session_id: str, raw: bytes) -> None:
        room = self._rooms.get(session_id)
        if room is not None:
            room.update(raw)

    async def _add(self, session: Session, key: str | None = None) -> None:
        """Serve a room from now on; ``key``: its key's hash, kept before the room is served (a
        private room found between two looks at the keys would refuse its own key meanwhile)."""
        self._mirror_session(session)
        if session.id in self._rooms:
            return
        if key is not None and self._keys.get(session.id) != key:
            self._mirror.set_session_key_hash(session.id, key, self._clock.now_ms())
            self._keys[session.id] = key
        await self._bus.follow(session.id)  # first: later states arrive in order through the tail
        state: Any = await self._redis.get(RoomKeys(session.id).state)
        state = state or initial_state(session, self.targets(session.source_lang))
        self._rooms[session.id] = RemoteRoom(state, clock=self._clock, send=self.send, versions=self.versions,
                                             count=self.count)

    def _mirror_session(self, session: Session) -> None:
        try:
            if self._mirror.get_session(session.id) == session:
                return
        except NotFoundError:
            self._mirror.create_session(session)
        self._mirror.save_session(session)

    async def refresh(self) -> None:
        """Look at Redis once: rooms, sessions, tokens, keys; write the heartbeat and changed counts."""
        now = self._clock.now_ms()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.smembers(OPEN)
            pipe.hgetall(TOKENS)
            pipe.hgetall(SESSION_KEYS)
            pipe.hgetall(WORKERS)
            pipe.hgetall(SCOPED_TOKENS)
            pipe.hset(NODES, self.node, now + NODE_TTL_MS)
            for sid, lang in self._dirty:
                field = f"{self.node}|{lang}"
                for key, n in ((RoomKeys(sid).readers, self._counts[(sid, lang)]),
                               (RoomKeys(sid).screens, self._screens[(sid, lang)])):
                    if n > 0:
                        pipe.hset(key, field, n)
                    else:
                        pipe.hdel(key, field)
            open_ids, tokens, keys, workers, scoped, *_ = await pipe.execute()
        self._dirty = set()
        self._counts = Counter({k: n for k, n in self._counts.items() if n > 0})
        self._screens = Counter({k: n for k, n in self._screens.items() if n > 0})
        ids = sorted(text(i) for i in open_ids)
        records = await self._redis.hmget(ROOMS, ids) if ids else []
        digests = {text(k): text(v) for k, v in keys.items()}
        for raw in records:
            if raw is not None:
                session = session_from(raw)
                await self._add(session, digests.get(session.id))
        for role, digest in tokens.items():
            if self._mirror.token_hash(text(role)) != text(digest):
                self._mirror.set_token_hash(text(role), text(digest), now)
        # Keys of the rooms this node knows (a new room's came with it: the creator writes the key, then
        # opens the room), changed or removed since the last look.
        current = {sid: digest for sid, digest in digests.items() if sid in self._rooms}
        for sid in set(self._keys) | set(current):
            if self._keys.get(sid) != current.get(sid):
                self._mirror.set_session_key_hash(sid, current.get(sid), now)
        self._keys = current
        chairs = {text(digest): scoped_from(raw) for digest, raw in scoped.items()}
        for digest, record in chairs.items():  # new and revoked ones (a revoked token stays in Redis, marked)
            if self._scoped.get(digest) != record:
                self._mirror.put_scoped_token(digest, record)
        self._scoped = chairs
        self._targets = _targets([json.loads(v) for v in workers.values()], now)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            t0 = time.perf_counter()
            try:
                await self.refresh()
            except UNREACHABLE as exc:
                log.warning("Redis unreachable (%s); serving what this node knows", exc)
            log.debug("rooms poll took %.1f ms", (time.perf_counter() - t0) * 1000)


async def _discard(pubsub: Any) -> None:
    """Close a subscription whose connection failed (its socket goes back or is dropped)."""
    if pubsub is None:
        return
    try:
        await pubsub.aclose()
    except UNREACHABLE:
        pass


def _targets(heartbeats: list[dict[str, Any]], now: int) -> dict[str, tuple[str, ...]]:
    """The translation targets every live worker has, per spoken language (none without a live worker)."""
    live = [beat.get("targets", {}) for beat in heartbeats if beat["expires"] > now]
    if not live:
        return {}
    common = {spoken: set(reach) for spoken, reach in live[0].items()}
    for targets in live[1:]:
        common = {spoken: reach & set(targets.get(spoken, ())) for spoken, reach in common.items()}
    return {spoken: tuple(sorted(reach)) for spoken, reach in common.items() if reach}
