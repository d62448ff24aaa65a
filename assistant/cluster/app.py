"""The application of a cluster node: ``web`` (pages and sockets of every room), ``worker`` (recognition
and translation of the rooms it leases), or ``all`` with Redis (both in one process).

A web node's handlers are the single process's, over other resources: the log
is Redis (:class:`~.redislog.RedisLog`), the bus tails Redis
(:class:`~.bus.RedisBus`), the rooms are views of their owners'
(:class:`~.registry.RemoteRooms`), and the store the access checks read is an
in-memory copy of Redis's sessions, tokens and keys. A worker serves only
``/healthz`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..asr.runner import SharedModel
from ..asr.transcriber import Transcriber
from ..captions import Session
from ..clock import SYSTEM_CLOCK, Clock
from ..config import Settings
from ..errors import StoreError, UnavailableError
from ..server import auth, engines
from ..server.app import add_routes, new_app
from ..server.keys import BUS, ISSUED_TOKENS, LOG, SESSIONS, STORE
from ..server.metrics import METRICS, Metrics
from ..server.runtime import RecognizerFactory
from ..server.translation import Translating
from ..store import Store
from . import ingest
from .appkeys import REDIS
from .bus import RedisBus
from .keys import OPEN, ROOMS, SOURCES, TOKENS, session_json, text
from .redislog import RedisLog
from .registry import RemoteRooms
from .worker import Worker

log = logging.getLogger(__name__)

OnReady = Callable[[web.Application], None]
# A node's Redis connections: enough for every room's blocking reads; past that, a command waits for a free one
# (a reconnect storm of 2,000 readers queues its replays here instead of failing with "Too many connections").
REDIS_CONNECTIONS = 256
REDIS_WAIT_S = 20.0
REDIS_TIMEOUT_S = 5.0  # a Redis that answers nothing for this long (paused, cut off) is unreachable; > XREAD blocks
WORKER = web.AppKey("worker", Worker)
NO_LOCAL_AUDIO = ("remote", "none")


def node_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def make_cluster_app(settings: Settings, *, transcriber: Transcriber | None = None,
                     translator: Translating | None = None, recognizer_factory: RecognizerFactory | None = None,
                     clock: Clock = SYSTEM_CLOCK, on_ready: OnReady | None = None) -> web.Application:
    """Build a node of the role in ``settings.cluster`` (Redis at ``settings.cluster.redis_url``)."""
    role, url = settings.cluster.role, settings.cluster.redis_url
    serves_web, runs_rooms = role in ("web", "all"), role in ("worker", "all")
    app = new_app(settings, clock)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        client = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
            url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_S, socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S))
        try:
            await client.ping()
        except (RedisConnectionError, OSError) as exc:
            await client.aclose()
            raise StoreError(f"cannot reach Redis at {url} ({exc}); start redis-server there "
                             "(docs/scaling.md) or fix cluster.redis_url / --redis") from None
        app[REDIS] = client
        redis_log = RedisLog(client, url)
        bus = RedisBus(client)
        app[LOG], app[BUS] = redis_log, bus
        await register_sessions(client, settings, clock, sources=runs_rooms)
        mirror = Store.open(Path(":memory:"))
        app[STORE] = mirror
        app[ISSUED_TOKENS] = await share_tokens(client, mirror, settings, clock)
        rooms: RemoteRooms | None = None
        metrics = app[METRICS]
        if serves_web:
            rooms = RemoteRooms(client, bus, redis_log, mirror, clock, node_name())
            await rooms.start()
            app[SESSIONS] = rooms
        worker: Worker | None = None
        closers: list[Callable[[], object]] = []
        if runs_rooms:
            factory, closers = await _speech(settings, transcriber, recognizer_factory, metrics)
            own_translator = engines.build_translator(settings) if translator is None else None
            worker = Worker(client, redis_log, bus, clock, recognizer_factory=factory,
                            translator=translator or own_translator, on_round_trip=metrics.redis_rtt.observe)
            app[WORKER] = worker
            await worker.start()
            if own_translator is not None:
                closers.append(own_translator.close)
        hosted = worker
        metrics.watch(runtimes=(lambda: [h.runtime for h in hosted.hosts.values() if h.runtime is not None])
                      if hosted is not None else None,
                      readers=rooms.readers if rooms is not None else None, room_readers=True, ping=client.ping)
        if on_ready is not None:
            on_ready(app)
        yield
        if worker is not None:
            await worker.close()
        if rooms is not None:
            await rooms.close()
        await bus.close()
        for close in closers:
            result = close()
            if asyncio.iscoroutine(result):
                await result
        mirror.close()
        await client.aclose()

    app.cleanup_ctx.append(lifecycle)
    app.middlewares.append(redis_unreachable)
    if serves_web:
        add_routes(app, ingest.audio_ws)
    else:
        app.router.add_get("/healthz", worker_health)
    return app


@web.middleware
async def redis_unreachable(request: web.Request, handler: Any) -> web.StreamResponse:
    """While Redis is down, paused or restarting, what needs it is a 503 ``busy`` (try again), not a 500."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("%s %s: Redis unreachable (%s)", request.method, auth.printable(auth.redact(request.path)), exc)
        raise UnavailableError("this node cannot reach Redis now (it may be restarting); try again in a few "
                               "seconds") from None


async def _speech(settings: Settings, transcriber: Transcriber | None, factory: RecognizerFactory | None,
                  metrics: Metrics) -> tuple[RecognizerFactory | None, list[Callable[[], object]]]:
    """The recogniser factory a worker uses, as ``make_app`` builds it, and what closes it."""
    if factory is not None:
        return metrics.observe_factory(factory), []
    if transcriber is not None:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcriber")
        return (metrics.observe_factory(engines.transcriber_factory(metrics.timed(transcriber), executor)),
                [lambda: executor.shutdown(wait=True)])
    if not engines.needs_speech_recognition(settings):
        return None, []
    shared: SharedModel = await asyncio.get_running_loop().run_in_executor(None, engines.load_whisper, settings)
    return metrics.observe_factory(engines.whisper_factory(shared, metrics.timed)), [shared.close]


async def register_sessions(client: aioredis.Redis, settings: Settings, clock: Clock, *, sources: bool) -> None:
    """Make the configured sessions exist and be served (kept as they are if they exist already).

    A worker also records a session's recording, so that whichever worker owns
    the room plays it (from where the last one stopped, after a takeover).
    """
    for s in settings.sessions:
        session = Session(id=s.id, title=s.title or s.id, source_lang=s.language, created_at_ms=clock.now_ms(),
                          languages=s.languages, glossary=s.glossary, public=s.public)
        await client.hsetnx(ROOMS, s.id, session_json(session))
        await client.sadd(OPEN, s.id)
        if sources and s.source not in NO_LOCAL_AUDIO:
            if s.source == "mic" or s.source.startswith("mic:"):
                log.warning("session %s: a worker plays no microphone; capture it with `assistant capture` "
                            "to any web node", s.id)
                continue
            await client.hset(SOURCES, s.id, str(Path(s.source).resolve()))


async def share_tokens(client: aioredis.Redis, mirror: Store, settings: Settings,
                       clock: Clock) -> list[auth.IssuedToken]:
    """The chair and staff tokens every node of the cluster accepts.

    A configured token wins; otherwise the first node to start generates one
    (shown once, by that node) and the others take its hash from Redis.
    """
    now = clock.now_ms()
    for role, stored in (await client.hgetall(TOKENS)).items():
        mirror.set_token_hash(text(role), text(stored), now)
    issued = auth.ensure_tokens(mirror, {"chair": settings.auth.chair_token, "staff": settings.auth.staff_token},
                                now)
    out = []
    for t in issued:
        digest = mirror.token_hash(t.role)
        assert digest is not None
        if t.source == "config":
            await client.hset(TOKENS, t.role, digest)
        elif t.source == "generated" and not await client.hsetnx(TOKENS, t.role, digest):
            winner = await client.hget(TOKENS, t.role)
            mirror.set_token_hash(t.role, text(winner), now)
            t = auth.IssuedToken(t.role, None, "stored")
        out.append(t)
    return out


async def worker_health(request: web.Request) -> web.Response:
    worker = request.app[WORKER]
    return web.json_response({"ok": True, "role": "worker", "worker": worker.name, "rooms": sorted(worker.hosts)})
