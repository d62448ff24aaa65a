"""From the rows of a programme file to a :class:`~.model.Programme`, checking every field.

Each format reader (:mod:`.formats`) turns its file into :class:`Row` values: the
line where a talk begins, its fields under their canonical names (``room``,
``title``, ``start``…) and how the file spells each one (``DTSTART`` in iCalendar),
so that a problem names the line and the field the organiser will look for.
:func:`build` checks them all and raises one :class:`~.model.ProgrammeError`
with every problem found, or returns the whole programme: nothing in between.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Mapping

from .. import protocol, validate
from ..errors import ConfigError, ProtocolError
from .model import Problem, Programme, ProgrammeError, Room, Talk, zone

MAX_TALKS = 2000
MAX_ROOMS = 200
MAX_SPEAKERS = 20
MAX_SPEAKER_CHARS = 100
MAX_LANGUAGES = 50
MAX_ROOM_ID_CHARS = 40  # a talk's generated id is "{room}-MMDD-HHMM": it must stay a session id (63)
ROOM_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DEFAULT_LANGUAGE = "auto"  # a talk whose language the file does not give: Whisper detects it

# The canonical fields of a talk, and other names a file may use for them (any case).
FIELDS = ("id", "room", "room_name", "title", "speakers", "start", "end", "timezone", "language", "languages",
          "glossary")
REQUIRED = ("room", "title", "start", "end")
ALIASES = {"speaker": "speakers", "lang": "language", "spoken_language": "language", "tz": "timezone",
           "time_zone": "timezone", "translations": "languages", "room_id": "room", "talk_id": "id",
           "starts": "start", "ends": "end", "name": "title"}


def canonical(name: str) -> str | None:
    """The canonical field a file's column or key names (None: no field of a talk)."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    key = ALIASES.get(key, key)
    return key if key in FIELDS else None


@dataclass(frozen=True, slots=True)
class Row:
    """One talk as a file gave it: ``values`` by canonical field, ``names`` as the file spells them."""

    line: int
    values: Mapping[str, object]
    names: Mapping[str, str] = field(default_factory=dict)

    def name(self, key: str) -> str:
        return self.names.get(key, key)


@dataclass(frozen=True, slots=True)
class RoomRow:
    """A room a file declares on its own (JSON ``rooms``), with the line it is on."""

    line: int
    id: object
    name: object


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, line: int, where: str, message: str) -> None:
        self.problems.append(Problem(line, where, message))


def build(rows: list[Row], *, rooms: list[RoomRow] | None = None, default_tz: str | None = None,
          problems: list[Problem] | None = None) -> Programme:
    """The programme of ``rows``, or ProgrammeError listing every problem (with ``problems`` found before)."""
    out = _Collector()
    out.problems.extend(problems or ())
    if len(rows) > MAX_TALKS:
        raise ProgrammeError([Problem(rows[MAX_TALKS].line, "(file)", f"more than {MAX_TALKS} talks")])
    declared = _declared_rooms(rooms or [], out)
    names: dict[str, str] = dict(declared)
    talks: list[Talk] = []
    for row in rows:
        talk = _talk(row, default_tz, out)
        if talk is None:
            continue
        room_name = _optional_text(row, "room_name", MAX_SPEAKER_CHARS, out)
        if rooms is not None and talk.room not in declared:
            out.add(row.line, row.name("room"), f"room {talk.room!r} is not in \"rooms\" "
                                                f"({', '.join(declared) or 'none'})")
        elif room_name and names.setdefault(talk.room, room_name) != room_name:
            out.add(row.line, row.name("room_name"), f"room {talk.room!r} is called {names[talk.room]!r} "
                                                     f"on an earlier row, not {room_name!r}")
        names.setdefault(talk.room, talk.room)
        talks.append(talk)
    if not rows and not out.problems:
        out.add(1, "(file)", "no talks: the file has a header or an outline but no talk in it")
    _check_together(talks, out)
    if len(names) > MAX_ROOMS:
        out.add(1, "room", f"more than {MAX_ROOMS} rooms")
    if out.problems:
        raise ProgrammeError(sorted(out.problems, key=lambda p: p.line))
    order = list(names)
    talks.sort(key=lambda t: (order.index(t.room), t.start_ms, t.id))
    return Programme(rooms=tuple(Room(rid, name) for rid, name in names.items()), talks=tuple(talks))


def _declared_rooms(rooms: list[RoomRow], out: _Collector) -> dict[str, str]:
    found: dict[str, str] = {}
    for r in rooms:
        rid = _room_id(r.id, r.line, "rooms.id", out)
        name = r.name if r.name is not None else rid
        try:
            clean = validate.text(name, "the name", max_chars=MAX_SPEAKER_CHARS)
        except ProtocolError as exc:
            out.add(r.line, "rooms.name", str(exc))
            continue
        if rid is None:
            continue
        if rid in found:
            out.add(r.line, "rooms.id", f"room {rid!r} is declared twice")
        found[rid] = clean
    return found


def _room_id(value: object, line: int, where: str, out: _Collector) -> str | None:
    if isinstance(value, str) and ROOM_ID_RE.match(value.strip()):
        return value.strip()
    out.add(line, where, f"a room id is 1-{MAX_ROOM_ID_CHARS} lower-case letters, digits, '-' or '_' (it is the "
                         f"room's web address /r/ID), not {validate.shown(value)}")
    return None


def _talk(row: Row, default_tz: str | None, out: _Collector) -> Talk | None:
    before = len(out.problems)
    for key in REQUIRED:
        if _absent(row.values.get(key)):
            out.add(row.line, row.name(key), "is missing: every talk needs room, title, start and end")
    room = None if _absent(row.values.get("room")) else _room_id(row.values["room"], row.line, row.name("room"), out)
    title = _required_text(row, "title", protocol.MAX_TITLE_CHARS, out)
    tz_name, tz_ok = _timezone(row, default_tz, out)
    start = _time(row, "start", tz_name, out) if tz_ok else None
    end = _time(row, "end", tz_name, out) if tz_ok else None
    language = _language(row, out)
    speakers = _list(row, "speakers", MAX_SPEAKERS, MAX_SPEAKER_CHARS, ";", out)
    glossary = _list(row, "glossary", protocol.MAX_TERMS, protocol.MAX_TERM_CHARS, ";", out)
    languages = _languages(row, language, out)
    if start is not None and end is not None and end[0] <= start[0]:
        out.add(row.line, row.name("end"), "ends before it starts (or when it starts)")
    if len(out.problems) > before or room is None or title is None or start is None or end is None:
        return None
    talk_id = _talk_id(row, room, start[1], out)
    if talk_id is None:
        return None
    return Talk(id=talk_id, room=room, title=title, start_ms=start[0], end_ms=end[0], timezone=start[2],
                language=language, speakers=speakers, languages=languages, glossary=glossary, line=row.line)


def _check_together(talks: list[Talk], out: _Collector) -> None:
    """Ids used once, and no two talks of one room at the same time."""
    seen: dict[str, Talk] = {}
    for t in talks:
        if t.id in seen:
            out.add(t.line, "id", f"talk id {t.id!r} is used on line {seen[t.id].line} too; each talk needs its own "
                                  "(it is the id of its session and transcript)")
        seen.setdefault(t.id, t)
    by_room: dict[str, list[Talk]] = {}
    for t in talks:
        by_room.setdefault(t.room, []).append(t)
    for room_talks in by_room.values():
        room_talks.sort(key=lambda t: (t.start_ms, t.line))
        for before, after in zip(room_talks, room_talks[1:]):
            if after.start_ms < before.end_ms:
                out.add(after.line, "start", f"overlaps {before.title!r} (line {before.line}) in room {after.room!r},"
                                             f" which ends at {before.local(before.end_ms):%H:%M}")


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _required_text(row: Row, key: str, limit: int, out: _Collector) -> str | None:
    value = row.values.get(key)
    if _absent(value):
        return None
    try:
        return validate.text(value, "it", max_chars=limit)
    except ProtocolError as exc:
        out.add(row.line, row.name(key), str(exc))
        return None


def _optional_text(row: Row, key: str, limit: int, out: _Collector) -> str | None:
    return None if _absent(row.values.get(key)) else _required_text(row, key, limit, out)


def _timezone(row: Row, default_tz: str | None, out: _Collector) -> tuple[str | None, bool]:
    """The row's zone (or the file's) and whether it is a zone at all (a bad one is reported once, here)."""
    value = row.values.get("timezone")
    if _absent(value):
        return default_tz, True
    if not isinstance(value, str):
        out.add(row.line, row.name("timezone"), f"must be a time zone name like 'Europe/Paris', not {validate.shown(value)}")
        return None, False
    try:
        zone(value.strip())
    except ValueError as exc:
        out.add(row.line, row.name("timezone"), str(exc))
        return None, False
    return value.strip(), True


def _time(row: Row, key: str, tz_name: str | None, out: _Collector) -> tuple[int, datetime.datetime, str] | None:
    """(unix ms, local time, the zone's name) of a start or end; a problem when it is no time or has no zone."""
    value = row.values.get(key)
    if _absent(value):
        return None
    where = row.name(key)
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            out.add(row.line, where, f"{validate.shown(value)} is not a date and time: write it like 2026-06-03T09:30 "
                                     "(or 2026-06-03 09:30, optionally with an offset such as +02:00)")
            return None
    if not isinstance(value, datetime.datetime):
        kind = "a whole day" if isinstance(value, datetime.date) else validate.shown(value)
        out.add(row.line, where, f"must be a date and time (like 2026-06-03T09:30), not {kind}")
        return None
    if value.tzinfo is None:
        if tz_name is None:
            out.add(row.line, where, f"{value:%Y-%m-%d %H:%M} has no time zone: add an offset (2026-06-03T09:30+02:00)"
                                     ", a timezone column or field (Europe/Paris), or import with --timezone")
            return None
        value = value.replace(tzinfo=zone(tz_name))
    elif tz_name is not None:
        value = value.astimezone(zone(tz_name))
    else:
        tz_name = _zone_name(value)
    return int(value.timestamp() * 1000), value, tz_name


def _zone_name(value: datetime.datetime) -> str:
    key = getattr(value.tzinfo, "key", None)
    if isinstance(key, str):
        return key
    offset = value.utcoffset() or datetime.timedelta(0)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _language(row: Row, out: _Collector) -> str:
    value = row.values.get("language")
    if _absent(value):
        return DEFAULT_LANGUAGE
    try:
        return validate.spoken_language(value.strip() if isinstance(value, str) else value, "it")
    except ProtocolError as exc:
        out.add(row.line, row.name("language"), str(exc))
        return DEFAULT_LANGUAGE


def _split(value: object, separators: str) -> list[object] | None:
    if isinstance(value, str):
        return [p for p in re.split(f"[{re.escape(separators)}]", value) if p.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _list(row: Row, key: str, count: int, chars: int, separators: str, out: _Collector) -> tuple[str, ...]:
    value = row.values.get(key)
    if _absent(value):
        return ()
    items = _split(value, separators)
    where = row.name(key)
    if items is None:
        out.add(row.line, where, f"must be a list (or text separated by '{separators[0]}'), not {validate.shown(value)}")
        return ()
    if len(items) > count:
        out.add(row.line, where, f"has {len(items)} entries; at most {count}")
        return ()
    clean: list[str] = []
    for i, item in enumerate(items):
        try:
            clean.append(validate.text(item, f"entry {i + 1}", max_chars=chars))
        except ProtocolError as exc:
            out.add(row.line, where, str(exc))
    return tuple(dict.fromkeys(clean))


def _languages(row: Row, spoken: str, out: _Collector) -> tuple[str, ...]:
    value = row.values.get("languages")
    if _absent(value):
        return ()
    items = _split(value, ",; ")
    where = row.name("languages")
    if items is None or len(items) > MAX_LANGUAGES:
        out.add(row.line, where, f"must be at most {MAX_LANGUAGES} language codes like fr;de, not {validate.shown(value)}")
        return ()
    codes: list[str] = []
    for item in items:
        try:
            codes.append(validate.language(item.strip() if isinstance(item, str) else item, "each language"))
        except ProtocolError as exc:
            out.add(row.line, where, str(exc))
    return tuple(dict.fromkeys(c for c in codes if c != spoken))


def _talk_id(row: Row, room: str, start: datetime.datetime, out: _Collector) -> str | None:
    value = row.values.get("id")
    if _absent(value):
        return f"{room}-{start:%m%d-%H%M}"  # the same file imported again gives the same ids
    try:
        return validate.session_id(value.strip() if isinstance(value, str) else value, "it", error=ConfigError)
    except ConfigError as exc:
        out.add(row.line, row.name("id"), f"{exc} (a talk's id is the id of its session)")
        return None

