"""The sessions this server runs: one :class:`SessionRuntime` per room, by id."""

from __future__ import annotations

import logging
from typing import Final, Iterator

from .. import protocol, validate
from ..captions import Session
from ..clock import Clock
from ..errors import NotFoundError
from ..hub import CaptionBus
from ..store import Store
from . import auth
from .rooms import session_exists
from .runtime import RecognizerFactory, SessionRuntime
from .translation import Translating, targets_of

log = logging.getLogger(__name__)

# What only the configuration (or the programme) says of a session: a restart applies its edits.
CONFIGURED: Final = ("source_lang", "languages")
# What a chair may change while the session runs (protocol.UpdateSession): a restart keeps the chair's.
CHAIRS: Final = ("title", "glossary", "public")


class Sessions:
    """Opens, finds and closes the live sessions; shared by every handler (``app[SESSIONS]``)."""

    def __init__(self, store: Store, bus: CaptionBus, clock: Clock, *,
                 recognizer_factory: RecognizerFactory | None, translator: Translating | None) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._recognizer_factory = recognizer_factory
        self._translator = translator
        self._runtimes: dict[str, SessionRuntime] = {}

    def open(self, session: Session) -> SessionRuntime:
        """Create (or resume) a session in the store and start its runtime. A session the store has
        already takes the spoken language and translation targets ``session`` gives (the configuration
        or the programme may have been edited since), and keeps what its chair may have changed."""
        stored = self._store.create_session(session)
        changes: dict[str, object] = {f: getattr(session, f) for f in CONFIGURED
                                      if getattr(session, f) != getattr(stored, f)}
        if changes:
            log.info("session %s: %s, as configured now", session.id,
                     ", ".join(f"{f} {getattr(stored, f)!r} -> {v!r}" for f, v in changes.items()))
        for f in CHAIRS:
            if getattr(session, f) != getattr(stored, f):
                log.info("session %s keeps its %s %r (the configuration says %r; its chair changes it)",
                         session.id, f, getattr(stored, f), getattr(session, f))
        if stored.ended_at_ms is not None:
            changes["ended_at_ms"] = None
        if changes:
            stored = self._store.update_session(stored.id, **changes)
        return self._run(stored)

    def _run(self, stored: Session) -> SessionRuntime:
        runtime = SessionRuntime(stored, store=self._store, bus=self._bus, clock=self._clock,
                                 recognizer_factory=self._recognizer_factory, translator=self._translator)
        self._runtimes[stored.id] = runtime
        return runtime

    async def create(self, session: Session, *, key: str | None) -> SessionRuntime:
        """A new session (from the API) with its key, started; ``exists`` when the store has the id."""
        if session.id in self._runtimes or self._store.has_session(session.id):
            raise session_exists(session.id)
        stored = self._store.create_session(session, via="api")
        if key:
            self._store.set_session_key_hash(session.id, auth.hash_session_key(key), self._clock.now_ms())
        return self._run(stored)

    def get(self, session_id: str) -> SessionRuntime:
        """The session ``session_id``: a running one, or one that ended (before a restart too: its page
        and the chair's corrections still work); NotFoundError when there is none."""
        runtime = self._runtimes.get(session_id) or self._ended(session_id)
        if runtime is None:
            raise NotFoundError(f"no session {validate.shown(session_id)}; the landing page lists the live sessions")
        return runtime

    def _ended(self, session_id: str) -> SessionRuntime | None:
        """A session that ended in an earlier run, opened ended: readers read it, chairs correct it."""
        try:
            stored = self._store.get_session(session_id)
        except NotFoundError:
            return None
        if stored.ended_at_ms is None:
            return None  # not ended, and not reopened by this run (a config session no longer configured)
        return self._run(stored)

    def targets(self, spoken: str) -> tuple[str, ...]:
        return targets_of(self._translator, spoken) if self._translator is not None else ()

    @property
    def translator(self) -> Translating | None:
        """The translation service every session shares (None: this server translates nothing)."""
        return self._translator

    def find(self, session_id: str) -> SessionRuntime | None:
        return self._runtimes.get(session_id)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._runtimes

    def __iter__(self) -> Iterator[SessionRuntime]:
        return iter(list(self._runtimes.values()))

    async def set_access(self, session_id: str, *, public: bool | None, key: str | None) -> None:
        """Make a session public or private and set (``key``) or remove (``""``) its key; None keeps."""
        runtime = self.get(session_id)
        if key is not None:
            digest = auth.hash_session_key(key) if key else None
            self._store.set_session_key_hash(session_id, digest, self._clock.now_ms())
        if public is not None and public != runtime.session.public:
            runtime.act(protocol.UpdateSession(title=None, glossary=None, public=public))

    async def issue_chair_token(self, session_id: str) -> tuple[str, str]:
        return auth.issue_scoped(self._store, "chair", session_id, self._clock.now_ms())

    async def close(self) -> None:
        """Stop every session's recognition and translation (server shutdown)."""
        for runtime in self._runtimes.values():
            await runtime.close()
