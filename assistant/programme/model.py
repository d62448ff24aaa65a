"""The conference programme as values: rooms, talks, and the problems of a file that is not one.

Times are unix milliseconds (UTC); each talk keeps the time zone its file gave
(``Europe/Paris``, ``+02:00``, ``UTC``) so that pages show the times the printed
programme shows. Nothing here reads a clock: "now" is always an argument.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

from ..errors import ProtocolError

MAX_PROBLEMS_SHOWN = 50  # a file with more bad rows reports the first ones and how many more


@dataclass(frozen=True, slots=True)
class Room:
    """A room of the venue: ``id`` is its permanent address (``/r/{id}``), ``name`` what people call it."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Talk:
    """One talk: its own session (id ``id``) in ``room`` from ``start_ms`` to ``end_ms`` (unix ms, UTC)."""

    id: str
    room: str
    title: str
    start_ms: int
    end_ms: int
    timezone: str  # an IANA name, a fixed offset like "+02:00", or "UTC"
    language: str  # spoken: "en", ... or "auto"
    speakers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # translated always, read or not
    glossary: tuple[str, ...] = ()  # names and acronyms: Whisper's hot words, verbatim in translation
    line: int = 0  # where the file defined it (for messages)

    def local(self, at_ms: int) -> datetime.datetime:
        """``at_ms`` as a time in this talk's own zone."""
        return datetime.datetime.fromtimestamp(at_ms / 1000, zone(self.timezone))

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "room": self.room, "title": self.title, "speakers": list(self.speakers),
                "start_ms": self.start_ms, "end_ms": self.end_ms, "timezone": self.timezone,
                "start": self.local(self.start_ms).isoformat(timespec="minutes"),
                "end": self.local(self.end_ms).isoformat(timespec="minutes"),
                "language": self.language, "languages": list(self.languages), "glossary": list(self.glossary)}


@dataclass(frozen=True, slots=True)
class Programme:
    """Rooms in the file's order and talks sorted by room, then start."""

    rooms: tuple[Room, ...] = ()
    talks: tuple[Talk, ...] = ()
    # Indexes, made once: the roll-over asks these at every tick, for every room.
    _rooms: dict[str, Room] = field(init=False, repr=False, compare=False)
    _talks: dict[str, Talk] = field(init=False, repr=False, compare=False)
    _by_room: dict[str, tuple[Talk, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_room: dict[str, list[Talk]] = {}
        for t in self.talks:
            by_room.setdefault(t.room, []).append(t)
        object.__setattr__(self, "_rooms", {r.id: r for r in self.rooms})
        object.__setattr__(self, "_talks", {t.id: t for t in self.talks})
        object.__setattr__(self, "_by_room", {room: tuple(sorted(ts, key=lambda t: (t.start_ms, t.id)))
                                              for room, ts in by_room.items()})

    def room(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    def talk(self, talk_id: str) -> Talk | None:
        return self._talks.get(talk_id)

    def talks_in(self, room_id: str) -> tuple[Talk, ...]:
        """The talks of one room, earliest first."""
        return self._by_room.get(room_id, ())

    def scheduled_at(self, room_id: str, at_ms: int) -> Talk | None:
        """The talk the timetable has in ``room_id`` at ``at_ms`` (start inclusive, end exclusive)."""
        return next((t for t in self.talks_in(room_id) if t.start_ms <= at_ms < t.end_ms), None)

    def next_after(self, room_id: str, at_ms: int) -> Talk | None:
        """The first talk of ``room_id`` that starts after ``at_ms``."""
        return next((t for t in self.talks_in(room_id) if t.start_ms > at_ms), None)

    def as_json(self) -> dict[str, object]:
        return {"rooms": [{"id": r.id, "name": r.name} for r in self.rooms],
                "talks": [t.as_json() for t in self.talks]}


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one field of one row: ``line`` of the file (1-based), ``field`` as the file names it."""

    line: int
    field: str
    message: str

    def __post_init__(self) -> None:  # a field or value may be a whole malformed file: never echo it back whole
        object.__setattr__(self, "field", _clip(self.field, MAX_FIELD_CHARS))
        object.__setattr__(self, "message", _clip(self.message, MAX_MESSAGE_CHARS))

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "message": self.message}


MAX_FIELD_CHARS, MAX_MESSAGE_CHARS = 60, 400


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


class ProgrammeError(ProtocolError):
    """A programme file that cannot be imported; ``problems`` lists every bad field found (nothing is imported)."""

    code = "bad_programme"

    def __init__(self, problems: tuple[Problem, ...] | list[Problem], summary: str = "") -> None:
        self.problems = tuple(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:MAX_PROBLEMS_SHOWN])
        more = len(self.problems) - MAX_PROBLEMS_SHOWN
        tail = f"\n  … and {more} more" if more > 0 else ""
        head = summary or (f"the programme has {len(self.problems)} problem(s); nothing was imported "
                           "(fix them and import the whole file again):")
        super().__init__(f"{head}\n{shown}{tail}", code=self.code)


def zone(name: str) -> datetime.tzinfo:
    """The time zone a talk's ``timezone`` names: "UTC", a fixed offset "+02:00", or an IANA name.

    Raises ValueError for a name that is none of these.
    """
    if name == "UTC":
        return datetime.timezone.utc
    if name[:1] in "+-" and len(name) == 6 and name[3] == ":":
        sign = 1 if name[0] == "+" else -1
        if not (name[1:3].isdigit() and name[4:6].isdigit()) or int(name[1:3]) > 23 or int(name[4:6]) > 59:
            raise ValueError(f"unknown time zone {name!r}: an offset is written like '+02:00' or '-05:30'")
        hours, minutes = int(name[1:3]), int(name[4:6])
        return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder ("Europe"), too long
        shown = name if len(name) <= 64 else name[:64] + "…"
        raise ValueError(f"unknown time zone {shown!r}: use an IANA name like 'Europe/Paris', or 'UTC'") from exc
