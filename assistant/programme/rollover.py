"""Which talk each room holds, decided from the programme, the time and the chair (no I/O, no clock).

Verbs: :meth:`Rollover.receive_time` (the clock moved), :meth:`~Rollover.receive_next`
(the chair's "Next talk"), :meth:`~Rollover.receive_hold` (the chair keeps a talk past
its end), :meth:`~Rollover.receive_programme` (a new import); then
:meth:`~Rollover.decisions` gives what to carry out, in order: :class:`EndTalk`,
:class:`StartTalk`, :class:`HoldTalk`. :meth:`~Rollover.wake_at` says when the clock
can next change anything, so the adapter sleeps until then.

The rules, room by room:

1. By the clock, a room with no talk on starts the talk whose time slot covers now,
   unless that talk has run already.
2. By the clock, the talk on ends at its scheduled end, unless it is held.
3. The chair's "Next talk" ends the talk on now and starts the room's next talk that has not
   run yet (the one after, in the programme's order), whatever the time: an overrun ends
   late and the next talk starts then. A talk the chair starts after its scheduled start is
   held: the clock does not cut a programme running late; the chair's next "Next talk"
   ends it. The chair can also hold a talk on time (an overrun foreseen) or release it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Protocol

from ..errors import NotFoundError
from .model import Programme, Talk

By = Literal["clock", "chair", "programme"]


@dataclass(frozen=True, slots=True)
class StartTalk:
    """Start ``talk`` in its room at ``at_ms``: its session opens and the room's audio goes to it."""

    room: str
    talk: Talk
    at_ms: int
    by: By
    held: bool = False


@dataclass(frozen=True, slots=True)
class EndTalk:
    """End talk ``talk`` (an id) in ``room`` at ``at_ms``: its session ends, its transcript is complete."""

    room: str
    talk: str
    at_ms: int
    by: By


@dataclass(frozen=True, slots=True)
class HoldTalk:
    """The talk on in ``room`` is now held (the clock will not end it) or released."""

    room: str
    talk: str
    held: bool


Decision = StartTalk | EndTalk | HoldTalk


class RunRecord(Protocol):
    """A talk's run as stored (``store.programme.runs()``): restores the state after a restart."""

    @property
    def talk(self) -> str: ...

    @property
    def room(self) -> str: ...

    @property
    def started_at_ms(self) -> int: ...

    @property
    def ended_at_ms(self) -> int | None: ...

    @property
    def held(self) -> bool: ...


class Rollover:
    """The talk on in each room of one programme; see the module docstring for the rules."""

    def __init__(self, programme: Programme, runs: Iterable[RunRecord] = ()) -> None:
        self._programme = programme
        self._current: dict[str, str] = {}  # room -> talk id
        self._started: set[str] = set()  # talks that have run (or are running)
        self._started_at: dict[str, int] = {}
        self._held: set[str] = set()  # rooms whose talk the clock does not end
        self._decisions: list[Decision] = []
        for run in sorted(runs, key=lambda r: r.started_at_ms):
            self._started.add(run.talk)
            self._started_at[run.talk] = run.started_at_ms
            if run.ended_at_ms is None and programme.talk(run.talk) is not None:
                self._current[run.room] = run.talk
                if run.held:
                    self._held.add(run.room)

    # -- what the adapter reads ---------------------------------------------------------------------
    @property
    def programme(self) -> Programme:
        return self._programme

    def current(self, room: str) -> Talk | None:
        """The talk on in ``room`` now (None between talks)."""
        talk_id = self._current.get(room)
        return self._programme.talk(talk_id) if talk_id is not None else None

    def held(self, room: str) -> bool:
        return room in self._held

    def has_run(self, talk_id: str) -> bool:
        return talk_id in self._started

    def upcoming(self, room: str, now_ms: int) -> Talk | None:
        """The talk "Next talk" would start in ``room`` (also the "Next: …" a room page shows)."""
        talks = [t for t in self._programme.talks_in(room) if t.id not in self._started]
        anchor = self.current(room) or self._last_started(room)
        if anchor is not None:
            later = [t for t in talks if t.start_ms >= anchor.start_ms]
            return later[0] if later else None
        ahead = [t for t in talks if t.end_ms > now_ms]
        return ahead[0] if ahead else None

    def wake_at(self, now_ms: int) -> int | None:
        """The earliest time after ``now_ms`` at which the clock may start or end a talk (None: never)."""
        times: list[int] = []
        for room in self._programme.rooms:
            talk = self.current(room.id)
            if talk is not None:
                if room.id not in self._held:
                    times.append(max(talk.end_ms, now_ms + 1))
                continue
            times += [t.start_ms for t in self._programme.talks_in(room.id)
                      if t.id not in self._started and t.start_ms > now_ms]
        return min(times) if times else None

    def decisions(self) -> list[Decision]:
        """What to carry out since the last call, in order."""
        out, self._decisions = self._decisions, []
        return out

    # -- verbs ------------------------------------------------------------------------------------------
    def receive_time(self, now_ms: int) -> None:
        """The clock reads ``now_ms``: end the talks past their end, start the ones due (rules 1 and 2)."""
        for room in self._programme.rooms:
            talk = self.current(room.id)
            if talk is not None and talk.end_ms <= now_ms and room.id not in self._held:
                self._end(room.id, talk.id, now_ms, "clock")
                talk = None
            if talk is None:
                due = self._programme.scheduled_at(room.id, now_ms)
                if due is not None and due.id not in self._started:
                    self._start(due, now_ms, "clock", held=False)

    def receive_next(self, room: str, now_ms: int) -> Talk | None:
        """The chair's "Next talk": end the talk on, start the next one (returned; None when it was the last)."""
        if self._programme.room(room) is None:
            raise NotFoundError(f"no room {room!r} in the programme; GET /api/programme lists the rooms")
        on, following = self.current(room), self.upcoming(room, now_ms)
        if on is None and following is None:
            raise NotFoundError(f"room {room!r} has no talk on and none left to start today")
        if on is not None:
            self._end(room, on.id, now_ms, "chair")
        if following is not None:
            self._start(following, now_ms, "chair", held=now_ms > following.start_ms)
        return following

    def receive_hold(self, room: str, held: bool) -> None:
        """The chair holds the talk on in ``room`` past its end (True), or lets the clock end it (False)."""
        talk = self.current(room)
        if talk is None:
            raise NotFoundError(f"room {room!r} has no talk on to hold")
        if held != (room in self._held):
            (self._held.add if held else self._held.discard)(room)
            self._decisions.append(HoldTalk(room, talk.id, held))

    def receive_programme(self, programme: Programme, now_ms: int) -> None:
        """A new import: a talk on that the new programme lacks (or moves to another room) ends now."""
        for room, talk_id in list(self._current.items()):
            new = programme.talk(talk_id)
            if new is None or new.room != room:
                self._end(room, talk_id, now_ms, "programme")
        self._programme = programme

    # -- helpers ----------------------------------------------------------------------------------------
    def _start(self, talk: Talk, at_ms: int, by: By, *, held: bool) -> None:
        self._current[talk.room] = talk.id
        self._started.add(talk.id)
        self._started_at[talk.id] = at_ms
        (self._held.add if held else self._held.discard)(talk.room)
        self._decisions.append(StartTalk(talk.room, talk, at_ms, by, held))

    def _end(self, room: str, talk_id: str, at_ms: int, by: By) -> None:
        del self._current[room]
        self._held.discard(room)
        self._decisions.append(EndTalk(room, talk_id, at_ms, by))

    def _last_started(self, room: str) -> Talk | None:
        ran = [t for t in self._programme.talks_in(room) if t.id in self._started_at]
        return max(ran, key=lambda t: (self._started_at[t.id], t.start_ms)) if ran else None
