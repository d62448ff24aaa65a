"""The aiohttp application factory.

``make_app(settings, ...)`` builds the app; resources (store, bus, session
runtimes, the recogniser's model thread, translation workers) live in its
cleanup context and every socket is closed with GOING_AWAY on shutdown.
Tests pass fakes (a scripted transcriber, a test translator, a fixed clock).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator, Awaitable, Callable, Mapping

from aiohttp import web

from ..asr.runner import SharedModel
from ..asr.transcriber import Transcriber
from ..audio.sources import AudioSource
from ..captions import Session
from ..clock import SYSTEM_CLOCK, Clock
from ..config import Settings
from ..errors import ProtocolError
from ..hub import CaptionBus, MemoryBus
from ..store import Store
from ..store.log import LocalLog
from ..tasks import cancel_and_wait
from . import access, auth, chair, engines, floor, ingest, pages, programme, readers, roomsocket, speakers, staff
from .boundary import MALFORMED_REQUESTS, error_middleware
from .jobs import ExportJobs
from .keys import BUS, CLOCK, CONNECTIONS, EXPORT_JOBS, ISSUED_TOKENS, LOG, QUESTIONS, SESSIONS, SETTINGS, SOCKETS, \
    SPEAKERS, STORE, TALKS, THROTTLE, TRANSLATOR
from .limits import AuthThrottle, ConnectionLimiter
from .metrics import METRICS, Metrics
from .questions import QuestionDesks
from .runtime import RecognizerFactory
from .sessions import Sessions
from .sockets import going_away
from .sources import feed
from .speakers import SpeakerDesk
from .talks import TalkRooms
from .translation import Translating

log = logging.getLogger(__name__)

OnReady = Callable[[web.Application], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY_BYTES = 1024 * 1024  # HTTP request bodies (JSON) larger than this get 413
MAX_SEQ = 2**53  # a since= beyond this is no caption number (and no SQLite integer)
MAX_SEQ_DIGITS = len(str(MAX_SEQ))  # longer is too large, without asking int() (it refuses 4300 digits)


def make_app(settings: Settings, *, transcriber: Transcriber | None = None, translator: Translating | None = None,
             recognizer_factory: RecognizerFactory | None = None, store: Store | None = None,
             bus: CaptionBus | None = None, clock: Clock = SYSTEM_CLOCK, on_ready: OnReady | None = None,
             sources: Mapping[str, AudioSource] | None = None) -> web.Application:
    """Build the app; its cleanup context makes (and at shutdown closes) what is not passed in.

    Speech: ``recognizer_factory`` (tests' own recognisers) wins; else ``transcriber``
    (the dry run's script) runs on an inference thread of its own; else the Whisper
    model of ``settings`` is loaded, when some session may get audio. Translation:
    ``translator``, else the Argos packages of ``settings``. ``store``/``bus``
    default to the SQLite file and the in-process bus. ``sources`` maps session ids
    to local audio sources (a recording, a microphone) that start with the app.
    """
    app = new_app(settings, clock)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        own_executor: ThreadPoolExecutor | None = None
        shared: SharedModel | None = None
        factory = recognizer_factory
        metrics = app[METRICS]
        if factory is None and transcriber is not None:
            own_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcriber")
            factory = engines.transcriber_factory(metrics.timed(transcriber), own_executor)
        elif factory is None and engines.needs_speech_recognition(settings):
            shared = await loop.run_in_executor(None, engines.load_whisper, settings)
            factory = engines.whisper_factory(shared, metrics.timed)
        if factory is not None:
            factory = metrics.observe_factory(factory)
        own_translator = engines.build_translator(settings) if translator is None else None
        if (shared_translator := translator or own_translator) is not None:  # always: one of the two is set
            app[TRANSLATOR] = shared_translator  # exports translate with it too
        own_store = store is None
        db = store or Store.open(settings.storage.database_path)
        app[STORE] = db
        app[LOG] = LocalLog(db)
        app[BUS] = bus or MemoryBus()
        app[ISSUED_TOKENS] = auth.ensure_tokens(
            db, {"chair": settings.auth.chair_token, "staff": settings.auth.staff_token}, clock.now_ms())
        sessions = Sessions(db, app[BUS], clock, recognizer_factory=factory, translator=shared_translator)
        app[SESSIONS] = sessions
        metrics.watch(runtimes=lambda: sessions)
        app[QUESTIONS] = QuestionDesks(sessions, db, app[BUS], clock, shared_translator)
        for s in settings.sessions:
            sessions.open(Session(id=s.id, title=s.title or s.id, source_lang=s.language,
                                  created_at_ms=clock.now_ms(), languages=s.languages,
                                  glossary=s.glossary, public=s.public))
        for stored in db.sessions_to_reopen():  # created through the API, not ended: as they were
            if stored.id not in sessions:
                sessions.open(stored)
        app[SPEAKERS] = desk = SpeakerDesk(db, app[BUS])
        app[TALKS] = talks = TalkRooms(db, sessions, app[BUS], clock, on_start=speakers.first_speaker(desk))
        talks.start()  # the programme's talks on now are opened, and the clock followed
        feeds = [asyncio.create_task(feed(sessions.get(sid), src)) for sid, src in (sources or {}).items()]
        if on_ready is not None:
            on_ready(app)
        yield
        await cancel_and_wait(*feeds)
        await talks.close()
        await app[QUESTIONS].close()
        await sessions.close()
        await app[BUS].close()
        if own_translator is not None:
            await own_translator.close()
        if own_executor is not None:
            own_executor.shutdown(wait=True)
        if shared is not None:
            await loop.run_in_executor(None, shared.close)
        if own_store:
            db.close()

    app.cleanup_ctx.append(lifecycle)
    app.cleanup_ctx.append(staff.export_worker)
    add_routes(app, ingest.audio_ws)
    return app


def new_app(settings: Settings, clock: Clock) -> web.Application:
    """An application with our middleware, headers, limits and shutdown; resources and routes come after."""
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES,
                          handler_args={"access_log_class": auth.RedactingAccessLogger})
    app.on_response_prepare.append(pages.security_headers)
    app.on_shutdown.append(going_away)
    logging.getLogger("aiohttp.server").addFilter(MALFORMED_REQUESTS)  # once: the same filter is not added twice
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[SOCKETS] = weakref.WeakSet()
    app[CONNECTIONS] = ConnectionLimiter(settings.server, settings.limits.max_connections_per_ip)
    app[EXPORT_JOBS] = ExportJobs()
    app[THROTTLE] = AuthThrottle(settings.limits.auth_failures)
    app[METRICS] = Metrics()
    app.router.add_get("/metrics", app[METRICS].handle)
    return app


def add_routes(app: web.Application, audio_ws: Handler) -> None:
    """The pages, the API and the sockets; ``audio_ws`` serves capture stations (a cluster's web node
    writes their audio to Redis)."""
    app.router.add_get("/", pages.page("index.html"))
    app.router.add_get("/s/{session}", pages.page("delegate.html"))
    app.router.add_get("/s/{session}/display", pages.page("display.html"), name=pages.FRAMEABLE_ROUTE)
    app.router.add_get("/chair/{session}", pages.page("chair.html"))
    app.router.add_get("/staff", pages.page("staff.html"))
    app.router.add_get("/static/{path:.+}", pages.static_file)
    app.router.add_get("/healthz", pages.health)
    app.router.add_get("/api/sessions", staff.list_sessions)
    app.router.add_post("/api/sessions", staff.create_session)
    app.router.add_get("/api/languages", staff.list_languages)
    app.router.add_patch("/api/sessions/{session}", chair.patch_session)
    app.router.add_get("/api/sessions/{session}/qr.svg", pages.qr_svg)
    app.router.add_post("/api/sessions/{session}/captions", chair.post_caption)
    app.router.add_patch("/api/sessions/{session}/captions/{caption}", chair.patch_caption)
    app.router.add_get("/api/sessions/{session}/captions/{caption}/revisions", chair.get_revisions)
    app.router.add_post("/api/sessions/{session}/control", chair.post_control)
    app.router.add_get(r"/api/sessions/{session}/export.{fmt:[a-z]+}", staff.export)
    app.router.add_get(r"/api/sessions/{session}/transcript.{fmt:[a-z]+}", staff.transcript)
    app.router.add_get("/api/exports/{job}", staff.export_progress)
    floor.add_routes(app)
    programme.add_routes(app)
    roomsocket.add_routes(app)
    speakers.add_routes(app)
    app.router.add_get("/ws/captions/{session}", guard_reader_socket(readers.captions_ws))
    app.router.add_get("/ws/audio/{session}", audio_ws)
    app.router.add_get("/ws/chair/{session}", chair.chair_ws)


def guard_reader_socket(handler: Handler) -> Handler:
    """Checks before a reader's upgrade: the page's origin, the session, its key, the since range.

    The reader socket itself (``readers.captions_ws``) limits connections per
    address and validates ``lang`` and the form of ``since``.
    """

    async def guarded(request: web.Request) -> web.StreamResponse:
        access.check_origin(request)
        access.require_reader(request, request.app[SESSIONS].get(request.match_info["session"]).session)
        since = request.query.get("since", "0").lstrip("0")
        if since.isascii() and since.isdigit() and (len(since) > MAX_SEQ_DIGITS or int(since) > MAX_SEQ):
            raise ProtocolError(f"since must be a caption number from 0 to {MAX_SEQ} (the last seq you saw)",
                                code="bad_since")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise ProtocolError("this is a WebSocket endpoint: connect with ws:// or wss://", code="not_websocket")
        return await handler(request)

    return guarded
