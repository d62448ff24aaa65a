"""The thin asyncio adapter of the roll-over core: the programme drives the rooms.

:class:`TalkRooms` holds a :class:`~assistant.programme.rollover.Rollover` and carries
out its decisions: a talk starting opens its session (title, language, languages,
glossary from the programme) and the room's audio moves to it; a talk ending ends its
session. It wakes when the core says something is due, and at least every
``RELOAD_S`` to pick up a programme imported meanwhile (the CLI writes the store).
Every change is published on the room's bus topic as a ``room`` frame
(``/ws/rooms/{room}``, docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from .. import protocol, validate
from ..captions import Session
from ..clock import Clock
from ..errors import AssistantError, NotFoundError
from ..hub import CaptionBus, Topic
from ..programme import Programme, Talk
from ..programme.rollover import EndTalk, HoldTalk, Rollover, StartTalk
from ..store import Store
from ..tasks import cancel_and_wait
from .roomaudio import RoomAudio
from .runtime import SessionRuntime
from .sessions import Sessions

log = logging.getLogger(__name__)

RELOAD_S = 2.0  # the loop wakes at least this often: a programme imported by the CLI is followed within it
ROOM_TOPIC = "*room"  # a room's bus topic is Topic(room id, ROOM_TOPIC)
PAST_TALKS = 50  # past talks a room frame lists (a day has far fewer)


class TalkRooms:
    """The rooms of the programme, each with the talk on now; shared by handlers (``app[TALKS]``)."""

    def __init__(self, store: Store, sessions: Sessions, bus: CaptionBus, clock: Clock, *,
                 on_start: Callable[[SessionRuntime, Talk, int], None] | None = None) -> None:
        self._store = store
        self._on_start = on_start
        self._sessions = sessions
        self._bus = bus
        self._clock = clock
        self._imported = store.programme.last_import()
        self._rollover = Rollover(store.programme.load(), store.programme.runs())
        self._audio: dict[str, RoomAudio] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def programme(self) -> Programme:
        return self._rollover.programme

    def start(self) -> None:
        """Reopen the talks on (after a restart), catch up with the clock, and follow it from now on."""
        for room in self.programme.rooms:
            talk = self._rollover.current(room.id)
            if talk is not None:
                self.audio(room.id).switch(self._open(talk, self._clock.now_ms()))
        self.tick()
        self._task = asyncio.create_task(self._follow_the_clock(), name="programme")
        self._task.add_done_callback(_report_crash)

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _follow_the_clock(self) -> None:
        while True:
            now = self._clock.now_ms()
            wake = self._rollover.wake_at(now)
            await asyncio.sleep(RELOAD_S if wake is None else min(RELOAD_S, max(0.0, (wake - now) / 1000)))
            try:
                self.tick()
            except AssistantError as exc:  # the store refused a write: try again at the next wake-up
                log.warning("programme: %s", exc)

    # -- verbs -----------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Follow a new import, then the clock: start and end the talks that are due."""
        now = self._clock.now_ms()
        info = self._store.programme.last_import()
        if info != self._imported:
            self._imported = info
            self._rollover.receive_programme(self._store.programme.load(), now)
            self._carry_out(everyone=True)
        self._rollover.receive_time(now)
        self._carry_out()

    def next_talk(self, room: str) -> Talk | None:
        """The chair's "Next talk" in ``room``: the talk started (None: the last one ended)."""
        started = self._rollover.receive_next(room, self._clock.now_ms())
        self._carry_out()
        return started

    def hold(self, room: str, held: bool) -> None:
        """The chair keeps the talk on past its end (or lets the clock end it)."""
        self._rollover.receive_hold(room, held)
        self._carry_out()

    def audio(self, room: str) -> RoomAudio:
        """The room's audio target (``/ws/rooms/{room}/audio``); NotFoundError for a room not in the programme."""
        if self.programme.room(room) is None:
            raise NotFoundError(f"no room {validate.shown(room)} in the programme; GET /api/programme lists the rooms")
        return self._audio.setdefault(room, RoomAudio(room))

    def current(self, room: str) -> Talk | None:
        return self._rollover.current(room)

    def upcoming(self, room: str) -> Talk | None:
        """The talk "Next talk" would start in ``room`` now ("Next: …")."""
        return self._rollover.upcoming(room, self._clock.now_ms())

    def room_of_talk(self, talk_id: str) -> str | None:
        talk = self.programme.talk(talk_id)
        return talk.room if talk is not None else None

    # -- what readers see ------------------------------------------------------------------------------
    def state(self, room: str) -> dict[str, Any]:
        """The ``room`` frame's payload: the talk on now, the next one, the past ones with their transcripts."""
        found = self.programme.room(room)
        if found is None:
            raise NotFoundError(f"no room {validate.shown(room)} in the programme; GET /api/programme lists the rooms")
        now_ms = self._clock.now_ms()
        on = self._rollover.current(room)
        upcoming = self._rollover.upcoming(room, now_ms)
        runs = {r.talk: r for r in self._store.programme.runs(room)}
        past = [t for t in self.programme.talks_in(room)
                if t.id in runs and runs[t.id].ended_at_ms is not None and (on is None or t.id != on.id)]
        return {"room": room, "name": found.name, "held": self._rollover.held(room),
                "now": _talk(on, runs) if on is not None else None,
                "next": _talk(upcoming, runs) if upcoming is not None else None,
                "past": [_talk(t, runs) for t in past[-PAST_TALKS:]]}

    def frame(self, room: str) -> protocol.Frame:
        return protocol.info("room", self.state(room))

    # -- carrying out ----------------------------------------------------------------------------------
    def _carry_out(self, *, everyone: bool = False) -> None:
        touched: set[str] = {r.id for r in self.programme.rooms} if everyone else set()
        for d in self._rollover.decisions():
            touched.add(d.room)
            if isinstance(d, EndTalk):
                self._end(d)
            elif isinstance(d, StartTalk):
                self._store.programme.start_talk(d.talk.id, d.room, d.at_ms, held=d.held)
                runtime = self._open(d.talk, d.at_ms)
                self.audio(d.room).switch(runtime)
                if self._on_start is not None:
                    self._on_start(runtime, d.talk, d.at_ms)
                log.info("room %s: talk %r started (%s)", d.room, d.talk.id, d.by)
            elif isinstance(d, HoldTalk):
                self._store.programme.hold_talk(d.talk, d.held)
        for room in touched:
            if self.programme.room(room) is not None:
                self._bus.publish(Topic(room, ROOM_TOPIC), self.frame(room))

    def _end(self, d: EndTalk) -> None:
        audio = self._audio.get(d.room)
        runtime = self._sessions.find(d.talk)
        if audio is not None and audio.target is runtime:
            audio.switch(None)  # the last words are recognised into the talk that ends
        if runtime is not None and runtime.state != "ended":
            runtime.act(protocol.Control("end"))
        self._store.programme.end_talk(d.talk, d.at_ms)
        log.info("room %s: talk %r ended (%s)", d.room, d.talk, d.by)

    def _open(self, talk: Talk, at_ms: int) -> SessionRuntime:
        """The talk's session, running (created from the programme the first time)."""
        running = self._sessions.find(talk.id)
        if running is not None:
            return running
        return self._sessions.open(Session(id=talk.id, title=talk.title, source_lang=talk.language, created_at_ms=at_ms,
                                           languages=talk.languages, glossary=talk.glossary, public=True))


def _report_crash(task: asyncio.Task[None]) -> None:
    """The clock follower stopped other than by shutdown: the rooms no longer roll over by themselves."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("the programme stopped following the clock (talks roll over only by the chair's \"Next talk\" "
                  "until the server restarts)", exc_info=exc)


def _talk(talk: Talk, runs: dict[str, Any]) -> dict[str, Any]:
    run = runs.get(talk.id)
    return {**talk.as_json(), "path": f"/s/{talk.id}",
            "started_at": run.started_at_ms if run is not None else None,
            "ended_at": run.ended_at_ms if run is not None else None}
