"""The floor's questions on the server: a :class:`QuestionDesk` per session around a :class:`QuestionBoard`.

The desk feeds the board (delegates' questions and votes, the chair's decisions,
reader languages) with the time and the client's address, and carries out its
effects in order: store first, then publish, so a reader that reconnects finds
in the store what a frame told the others. Translations run as tasks the desk
owns, through the app's translation service; each tries the sources the board
names in turn (the original, then the chair's translation as a pivot) and hands
back the first that works, or a failure (the original stands in, marked).

:class:`QuestionDesks` (``app[QUESTIONS]``) makes a session's desk on first use:
the board then comes back from the store as it was, so questions, votes and
translations survive a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from typing import Any

from .. import protocol
from ..clock import Clock
from ..errors import LanguageError, ProtocolError
from ..hub import CaptionBus, Topic
from ..session.effects import Publish
from ..session.questions import (Question, QuestionBoard, QuestionEffect, QuestionJob, QuestionLimits,
                                 QuestionSaved, QuestionTextSaved, TranslateQuestion, VotesAdded)
from ..store import Store
from ..tasks import cancel_and_wait
from .runtime import SessionRuntime
from .sessions import Sessions
from .translation import Translating

log = logging.getLogger(__name__)

DEVICE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
DEVICE_HASH_CHARS = 32  # 128 bits: no two devices of a session collide


def device_key(session_id: str, device_id: str) -> str:
    """What the board and the store keep of a device: a hash, so the page's own id is never stored.

    Raises ProtocolError for an id that is not 16-64 letters, digits, "-" or "_".
    """
    if not DEVICE_RE.match(device_id):
        raise ProtocolError("send this device's random id (16-64 letters, digits, - or _) in the X-Device-Id "
                            "header; the delegate page does this by itself", code="bad_device")
    return hashlib.sha256(f"{session_id}\0{device_id}".encode()).hexdigest()[:DEVICE_HASH_CHARS]


def chair_language(runtime: SessionRuntime) -> str:
    """The language the chair reads questions in: the session's (English for an auto-detected one)."""
    return "en" if runtime.source_lang == "auto" else runtime.source_lang


class QuestionDesk:
    """One session's questions: the board, its store rows, its translations and its frames."""

    def __init__(self, runtime: SessionRuntime, *, store: Store, bus: CaptionBus, clock: Clock,
                 translator: Translating | None, limits: QuestionLimits) -> None:
        self.runtime = runtime
        self._store = store
        self._bus = bus
        self._clock = clock
        self._translator = translator
        self._tasks: set[asyncio.Task[None]] = set()
        sid = runtime.session.id
        self.board = QuestionBoard(sid, chair_language(runtime), new_id=lambda: uuid.uuid4().hex[:12],
                                   stored=store.questions.load(sid),
                                   languages=(*runtime.session.languages, *runtime.core.readers), limits=limits)
        self._run_effects()

    @property
    def session_id(self) -> str:
        return self.runtime.session.id

    # -- delegates ---------------------------------------------------------------
    def submit(self, device_id: str, address: str, text: str, lang: str, name: str | None) -> Question:
        """A delegate's question (LimitError/ProtocolError when refused); the chair sees it at once."""
        if self.runtime.state == "ended":
            raise ProtocolError("this session has ended; it takes no more questions", code="ended")
        device = device_key(self.session_id, device_id)
        try:
            return self.board.submit(device, address, text, lang, name, self._clock.now_ms())
        finally:
            self._run_effects()

    def vote(self, question_id: str, device_id: str, address: str) -> tuple[Question, bool]:
        """A delegate's up-vote; whether it counted (False: this device had voted for it already)."""
        device = device_key(self.session_id, device_id)
        try:
            return self.board.vote(question_id, device, address, self._clock.now_ms())
        finally:
            self._run_effects()

    def delegate_view(self, lang: str, device_id: str | None) -> dict[str, Any]:
        """What a delegate's page loads: visible questions in ``lang``, its own questions, its votes."""
        view: dict[str, Any] = {"lang": lang, "questions": self.board.visible_in(lang), "mine": [], "voted": []}
        self._run_effects()
        limits = self.board.limits
        view["limits"] = {"max_chars": limits.max_chars, "max_name_chars": limits.max_name_chars,
                          "per_device": limits.per_device, "min_interval_s": limits.min_interval_ms // 1000}
        if device_id is not None:
            device = device_key(self.session_id, device_id)
            mine = self.board.of_device(device)
            view["mine"] = [as_asked(q) for q in mine]
            view["voted"] = self.board.voted_by(device)
            view["limits"]["left"] = max(0, limits.per_device - len(mine))
        return view

    def snapshot_frame(self, lang: str, *, always: bool = True) -> protocol.Frame | None:
        """The ``questions`` frame for a reader of ``lang``; None when no question is visible and not ``always``."""
        try:
            items = self.board.visible_in(lang)
        finally:
            self._run_effects()
        if not items and not always:
            return None
        return protocol.info("questions", {"lang": lang, "questions": items})

    # -- the chair ---------------------------------------------------------------
    def moderate(self, msg: protocol.ModerateQuestion) -> Question:
        """Apply the chair's decision; every console and reader learns it from the frames that follow."""
        try:
            return self.board.moderate(msg.id, msg.action, self._clock.now_ms(), into=msg.into)
        finally:
            self._run_effects()

    def chair_view(self) -> dict[str, Any]:
        """Every question as the chair console shows it, most votes first."""
        current = self.board.answering
        return {"lang": self.board.chair_lang, "answering": current.id if current is not None else None,
                "questions": [self.board.chair_dict(q) for q in self.board.questions()]}

    def chair_dict(self, q: Question) -> dict[str, Any]:
        return self.board.chair_dict(q)

    # -- effects -------------------------------------------------------------------
    def _run_effects(self) -> None:
        while effects := self.board.effects():
            for effect in effects:
                self._apply(effect)

    def _apply(self, effect: QuestionEffect) -> None:
        rows = self._store.questions
        if isinstance(effect, QuestionSaved):
            rows.save(effect.question)
        elif isinstance(effect, QuestionTextSaved):
            rows.save_text(effect.session, effect.question_id, effect.text)
        elif isinstance(effect, VotesAdded):
            rows.add_votes(effect.session, effect.question_id, effect.devices, effect.at_ms)
        elif isinstance(effect, Publish):
            self._bus.publish(Topic(self.session_id, effect.topic), effect.frame)
        elif isinstance(effect, TranslateQuestion):
            task = asyncio.get_running_loop().create_task(self._translate(effect.job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _translate(self, job: QuestionJob) -> None:
        """Try each source the board named; hand back the first real translation, else a failure."""
        for source in job.sources:
            if source.lang == job.lang:
                self.board.receive_translation(job, source.text, False)
                self._run_effects()
                return
            if self._translator is None:
                break
            try:
                result = await self._translator.translate(source.text, source.lang, job.lang,
                                                          self.runtime.session.glossary)
            except LanguageError:
                continue  # no package for this pair: the next source may have one
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a model we do not control; the original stands in
                log.warning("session %s: translating a question %s→%s failed (%s: %s); readers see the original",
                            self.session_id, source.lang, job.lang, type(exc).__name__, exc)
                break
            if not result.fallback:
                self.board.receive_translation(job, result.text, False)
                self._run_effects()
                return
        self.board.receive_translation_failure(job)
        self._run_effects()

    async def close(self) -> None:
        """Cancel the translations still running (server shutdown); the store has everything else."""
        await cancel_and_wait(*self._tasks)


class QuestionDesks:
    """Every session's desk, made on first use (``app[QUESTIONS]``)."""

    def __init__(self, sessions: Sessions, store: Store, bus: CaptionBus, clock: Clock,
                 translator: Translating | None, limits: QuestionLimits = QuestionLimits()) -> None:
        self._sessions = sessions
        self._store = store
        self._bus = bus
        self._clock = clock
        self._translator = translator
        self._limits = limits
        self._desks: dict[str, QuestionDesk] = {}

    def get(self, session_id: str) -> QuestionDesk:
        """The desk of the running session ``session_id``; NotFoundError when there is none."""
        runtime = self._sessions.get(session_id)
        desk = self._desks.get(session_id)
        if desk is None or desk.runtime is not runtime:
            desk = self._desks[session_id] = QuestionDesk(runtime, store=self._store, bus=self._bus,
                                                          clock=self._clock, translator=self._translator,
                                                          limits=self._limits)
        return desk

    async def close(self) -> None:
        for desk in self._desks.values():
            await desk.close()


def as_asked(q: Question) -> dict[str, Any]:
    """One of a delegate's own questions, as they wrote it, with where it stands."""
    d: dict[str, Any] = {"id": q.id, "number": q.number, "state": q.state, "lang": q.lang, "text": q.text,
                         "votes": q.votes, "asked_at": q.asked_at_ms}
    if q.name is not None:
        d["name"] = q.name
    if q.merged_into is not None:
        d["merged_into"] = q.merged_into
    return d
