"""iCalendar programmes (``.ics``, RFC 5545), read with the ``icalendar`` package.

One ``VEVENT`` per talk::

    BEGIN:VEVENT
    UID:opening@example.org
    SUMMARY:Opening
    DTSTART;TZID=Europe/Paris:20260603T090000
    DTEND;TZID=Europe/Paris:20260603T093000      (or DURATION:PT30M)
    LOCATION:Hall A                              the room's name; its id is made from it (hall-a)
    X-ROOM:hall-a                                or given (the /r/ID address)
    ATTENDEE;CN=Ada Lovelace:mailto:ada@example.org   each speaker (or X-SPEAKER:Ada Lovelace)
    X-LANGUAGE:en                                spoken language
    X-LANGUAGES:fr,zh                            translated always
    X-GLOSSARY:ACME;GPU                          names and acronyms
    X-TALK-ID:opening                            the talk's session id (else made from room and time)
    END:VEVENT

Floating times (no TZID, no Z) are in the calendar's ``X-WR-TIMEZONE``. A problem
names the line of the event's ``BEGIN:VEVENT`` and the property.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from typing import Any

import icalendar

from .model import Problem
from .rows import MAX_ROOM_ID_CHARS, Row

PROPERTIES = {"start": "DTSTART", "end": "DTEND", "room_name": "LOCATION", "room": "X-ROOM (or LOCATION)",
              "speakers": "ATTENDEE", "language": "X-LANGUAGE", "languages": "X-LANGUAGES",
              "glossary": "X-GLOSSARY", "id": "X-TALK-ID", "title": "SUMMARY", "timezone": "X-TIMEZONE"}


def parse_ical(text: str) -> tuple[list[Row], str | None, list[Problem]]:
    """The talks of a calendar, its default zone (``X-WR-TIMEZONE``) and the problems found reading it."""
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        return [], None, [Problem(1, "(file)", f"is not an iCalendar file: {exc}")]
    begins = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip().upper() == "BEGIN:VEVENT"]
    tz = cal.get("X-WR-TIMEZONE")
    rows: list[Row] = []
    problems: list[Problem] = []
    for n, event in enumerate(cal.walk("VEVENT")):
        line = begins[n] if n < len(begins) else 1
        for prop, message in getattr(event, "errors", ()):
            problems.append(Problem(line, str(prop), f"cannot be read: {message}"))
        rows.append(Row(line, _values(event), PROPERTIES))
    return rows, str(tz) if tz is not None else None, problems


def _values(event: Any) -> dict[str, object]:
    values: dict[str, object] = {}
    for key, prop in (("title", "SUMMARY"), ("room_name", "LOCATION"), ("language", "X-LANGUAGE"),
                      ("languages", "X-LANGUAGES"), ("id", "X-TALK-ID"), ("timezone", "X-TIMEZONE")):
        if event.get(prop) is not None:
            values[key] = str(event.get(prop))
    for key, prop in (("start", "DTSTART"), ("end", "DTEND")):
        if (value := _when(event.get(prop))) is not None:
            values[key] = value
    duration = event.get("DURATION")
    if "end" not in values and duration is not None and isinstance(values.get("start"), datetime.datetime):
        values["end"] = values["start"] + duration.dt
    room = event.get("X-ROOM")
    if room is not None:
        values["room"] = str(room)
    elif "room_name" in values:
        # The room's id (its /r/ address) is made from its name; a name that makes none (会议室) is
        # reported as a bad room id, with the name, so the fix (an X-ROOM line) is clear.
        values["room"] = _slug(str(values["room_name"])) or str(values["room_name"])
    speakers = [str(a.params.get("CN") or a).removeprefix("mailto:") for a in _all(event, "ATTENDEE")]
    speakers += [str(s) for s in _all(event, "X-SPEAKER")]
    if speakers:
        values["speakers"] = speakers
    glossary = [term for g in _all(event, "X-GLOSSARY") for term in re.split(r"[;,]", str(g)) if term.strip()]
    if glossary:
        values["glossary"] = glossary
    return values


def _all(event: Any, prop: str) -> list[Any]:
    found = event.get(prop)
    if found is None:
        return []
    return list(found) if isinstance(found, list) else [found]


def _when(prop: Any) -> object:
    """A DTSTART/DTEND's date-time (or date), or the text it had when it is neither."""
    if prop is None:
        return None
    dt = getattr(prop, "dt", None)
    return dt if dt is not None else str(prop)


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:MAX_ROOM_ID_CHARS].strip("-")
