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

A repeating event (``RRULE`` with ``COUNT`` or ``UNTIL``, ``RDATE``, ``EXDATE``; the
daily keynote of a three-day conference) is one talk per occurrence, at the same
wall-clock time in its zone; an event with the same ``UID`` and a ``RECURRENCE-ID``
replaces that occurrence (a moved or retitled talk). An occurrence's id is its
``X-TALK-ID`` and its date (``keynote-0604``; with the time too where one day has
two), or made from room and time as for any talk.
"""

from __future__ import annotations

import datetime
import itertools
import re
import unicodedata
from typing import Any

import icalendar
from dateutil import rrule

from .model import Problem
from .rows import MAX_ROOM_ID_CHARS, MAX_TALKS, Row

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
    events = [(begins[n] if n < len(begins) else 1, event) for n, event in enumerate(cal.walk("VEVENT"))]
    overrides = {(str(e.get("UID")), _when(e.get("RECURRENCE-ID"))): (line, e)
                 for line, e in events if e.get("UID") is not None and e.get("RECURRENCE-ID") is not None}
    rows: list[Row] = []
    problems: list[Problem] = []
    used: set[int] = set()  # the lines of overrides that replaced an occurrence
    for line, event in events:
        for prop, message in getattr(event, "errors", ()):
            if str(prop) not in ("DTSTART", "DTEND"):  # a time is checked with the row, and told how to write it
                problems.append(Problem(line, str(prop), f"cannot be read: {message}"))
        if event.get("RECURRENCE-ID") is not None and event.get("UID") is not None:
            continue  # read with the event it changes (or alone, below, when there is none)
        values = _values(event)
        starts, problem = _occurrences(event, values.get("start"))
        if problem is not None:
            problems.append(Problem(line, *problem))
        if starts is None:
            rows.append(Row(line, values, PROPERTIES))
            continue
        dates = [s.date() for s in starts]
        suffix = "%m%d" if len(set(dates)) == len(dates) else "%m%d-%H%M"
        for start in starts:
            at, one = line, _shifted(values, start)
            if (found := overrides.get((str(event.get("UID")), start))) is not None:
                at, changed = found
                used.add(at)
                one = _values(changed)
            if "id" in values:
                one["id"] = f"{values['id']}-{start:{suffix}}"
            rows.append(Row(at, one, PROPERTIES))
    rows += [Row(line, _values(e), PROPERTIES) for line, e in overrides.values() if line not in used]
    rows.sort(key=lambda r: r.line)
    return rows, str(tz) if tz is not None else None, problems


def _occurrences(event: Any, start: object) -> tuple[list[datetime.datetime] | None, tuple[str, str] | None]:
    """The starts of a repeating event (None: it does not repeat, or has no time to repeat from), and a problem."""
    rules, dates = _all(event, "RRULE"), _all(event, "RDATE")
    if not (rules or dates) or not isinstance(start, datetime.datetime):
        return None, None
    found = rrule.rruleset()
    found.rdate(start)
    for rule in rules:
        if not isinstance(rule, icalendar.vRecur):
            return None, None  # icalendar could not read it: reported with the event's errors
        if "COUNT" not in rule and "UNTIL" not in rule:
            return None, ("RRULE", "repeats without end: give COUNT or UNTIL (a programme lists each talk)")
        try:
            # A floating start repeats in local time: an UNTIL in UTC is read as local too.
            found.rrule(rrule.rrulestr(_ical(rule), dtstart=start, ignoretz=start.tzinfo is None))
        except (ValueError, TypeError) as exc:
            return None, ("RRULE", f"cannot be read: {exc}")
    try:
        for prop, add in (("RDATE", found.rdate), ("EXDATE", found.exdate)):
            for value in _all(event, prop):
                for d in getattr(value, "dts", ()):
                    if isinstance(d.dt, datetime.datetime):
                        add(d.dt)
        starts = list(itertools.islice(found, MAX_TALKS + 1))
    except TypeError:  # a zoned time beside a floating one
        return None, ("RDATE / EXDATE", "mixes times with and without a zone")
    return starts, None


def _ical(value: Any) -> str:
    return str(value.to_ical().decode())


def _shifted(values: dict[str, object], start: datetime.datetime) -> dict[str, object]:
    """The event's values for the occurrence starting at ``start``: as long as the first one."""
    first, end = values["start"], values.get("end")
    one = {**values, "start": start}
    if isinstance(first, datetime.datetime) and isinstance(end, datetime.datetime):
        one["end"] = start + (end - first)
    return one


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
    try:
        dt = getattr(prop, "dt", None)
    except ValueError:  # icalendar keeps a value it could not read as a "broken" property that raises here
        dt = None
    return dt if dt is not None else str(prop)


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:MAX_ROOM_ID_CHARS].strip("-")
