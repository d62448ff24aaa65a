"""Reading a programme file: CSV, JSON or iCalendar, told apart by name or by content.

:func:`parse` takes the file's bytes (never a path: the CLI and the staff upload
read them) and returns the whole :class:`~.model.Programme` or raises
:class:`~.model.ProgrammeError` with every bad field and its line.

CSV: a header row, then one talk per row::

    room,room_name,title,speakers,start,end,timezone,language,languages,glossary
    hall-a,Hall A,Opening,Ada Lovelace;Alan Turing,2026-06-03 09:00,2026-06-03 09:30,Europe/Paris,en,fr;zh,ACME;GPU

JSON: ``{"timezone": …, "rooms": [{"id", "name"}], "talks": [{…the same fields…}]}``
with lists for ``speakers``, ``languages`` and ``glossary``. iCalendar: see :mod:`.ical`.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Literal

from .ical import parse_ical
from .model import Problem, Programme, ProgrammeError
from .rows import FIELDS, REQUIRED, Row, RoomRow, build, canonical

Format = Literal["csv", "json", "ics"]
FORMATS: tuple[Format, ...] = ("csv", "json", "ics")
MAX_FILE_BYTES = 4 * 1024 * 1024
JSON_KEYS = ("timezone", "rooms", "talks")


def detect(data: bytes, name: str | None = None) -> Format:
    """The format of a file: by its name's ending (.csv, .json, .ics/.ical), else by its first characters."""
    suffix = (name or "").lower().rsplit(".", 1)[-1] if name and "." in name else ""
    if suffix in ("csv", "tsv", "txt"):
        return "csv"
    if suffix == "json":
        return "json"
    if suffix in ("ics", "ical", "ifb", "icalendar"):
        return "ics"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:32].upper()
    if head.startswith((b"{", b"[")):
        return "json"
    if head.startswith(b"BEGIN:VCALENDAR"):
        return "ics"
    return "csv"


def parse(data: bytes, *, name: str | None = None, fmt: Format | None = None,
          default_tz: str | None = None) -> Programme:
    """The programme in ``data``; ``default_tz`` is the zone of times written without one."""
    if len(data) > MAX_FILE_BYTES:
        raise ProgrammeError([Problem(1, "(file)", f"the file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB")])
    text = _decode(data)
    kind = fmt or detect(data, name)
    if kind == "json":
        return _parse_json(text, default_tz)
    if kind == "ics":
        rows, tz, problems = parse_ical(text)
        return build(rows, default_tz=default_tz or tz, problems=problems)
    return _parse_csv(text, default_tz)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ProgrammeError([Problem(line, "(file)", "is not UTF-8 text: save the file as UTF-8 (in a spreadsheet: "
                                                      "CSV UTF-8) and import it again")]) from None


def _parse_csv(text: str, default_tz: str | None) -> Programme:
    sample = text[:4096]
    delimiter = ";" if sample.split("\n", 1)[0].count(";") > sample.split("\n", 1)[0].count(",") else ","
    if "\t" in sample.split("\n", 1)[0] and "," not in sample.split("\n", 1)[0]:
        delimiter = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems: list[Problem] = []
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ProgrammeError([Problem(1, "(header)", f"cannot be read as CSV: {exc}")]) from None
    if header is None:
        raise ProgrammeError([Problem(1, "(file)", "is empty: the first row names the columns ("
                                                   + ",".join(FIELDS) + ")")])
    columns: list[str | None] = []
    names: dict[str, str] = {}
    for raw in header:
        key = canonical(raw)
        if key is None:
            problems.append(Problem(1, raw.strip() or "(empty)", "is no column of a programme; the columns are "
                                    + ", ".join(FIELDS)))
        elif key in names:
            problems.append(Problem(1, raw.strip(), f"names the column {key!r} a second time"))
            key = None
        else:
            names[key] = raw.strip()
        columns.append(key)
    for key in REQUIRED:
        if key not in names:
            problems.append(Problem(1, key, f"the header has no {key!r} column (required: {', '.join(REQUIRED)})"))
    if problems:
        raise ProgrammeError(problems)
    rows: list[Row] = []
    line = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                if len(record) > len(columns):
                    problems.append(Problem(line, "(row)", f"has {len(record)} fields; the header names "
                                                           f"{len(columns)} (a comma inside a value needs quotes)"))
                values = {key: cell for key, cell in zip(columns, record) if key is not None}
                rows.append(Row(line, values, names))
            line = reader.line_num + 1
    except csv.Error as exc:
        hint = " (a quote opened here is never closed)" if "end of data" in str(exc) else ""
        problems.append(Problem(line, "(row)", f"cannot be read as CSV: {exc}{hint}"))
    return build(rows, default_tz=default_tz, problems=problems)


def _parse_json(text: str, default_tz: str | None) -> Programme:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProgrammeError([Problem(exc.lineno, "(file)", f"is not JSON: {exc.msg} (column {exc.colno})")]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("talks"), list):
        raise ProgrammeError([Problem(1, "talks", 'the file must be an object with a "talks" list '
                                                  '(and optionally "rooms" and "timezone")')])
    problems = [Problem(1, key, f"is not a key of a programme; the keys are {', '.join(JSON_KEYS)}")
                for key in doc if key not in JSON_KEYS]
    tz = doc.get("timezone", default_tz)
    if tz is not None and not isinstance(tz, str):
        problems.append(Problem(1, "timezone", "must be a time zone name like 'Europe/Paris'"))
        tz = None
    elif isinstance(tz, str):
        from .model import zone
        try:
            zone(tz)
        except ValueError as exc:
            problems.append(Problem(_line_of(text, "timezone"), "timezone", str(exc)))
            tz = None
    talk_lines = _item_lines(text, "talks")
    rows: list[Row] = []
    for i, item in enumerate(doc["talks"]):
        line = talk_lines[i] if i < len(talk_lines) else 1
        where = f"talks[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(line, where, "must be an object with room, title, start, end, …"))
            continue
        values: dict[str, object] = {}
        names: dict[str, str] = {}
        for key, value in item.items():
            field = canonical(key)
            if field is None:
                problems.append(Problem(line, key, "is no field of a talk; the fields are " + ", ".join(FIELDS)))
                continue
            values[field], names[field] = value, key
        rows.append(Row(line, values, names))
    rooms: list[RoomRow] | None = None
    if "rooms" in doc:
        if not isinstance(doc["rooms"], list):
            problems.append(Problem(_line_of(text, "rooms"), "rooms", 'must be a list of {"id": …, "name": …}'))
        else:
            room_lines = _item_lines(text, "rooms")
            rooms = []
            for i, item in enumerate(doc["rooms"]):
                line = room_lines[i] if i < len(room_lines) else 1
                if not isinstance(item, dict):
                    problems.append(Problem(line, f"rooms[{i}]", 'must be an object {"id": …, "name": …}'))
                    continue
                rooms.append(RoomRow(line, item.get("id"), item.get("name")))
    return build(rows, rooms=rooms, default_tz=tz, problems=problems)


def _line_of(text: str, key: str) -> int:
    at = text.find(f'"{key}"')
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def _item_lines(text: str, key: str) -> list[int]:
    """The line where each item of the top-level list ``key`` starts (the file is valid JSON)."""
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if text[pos:pos + 1] != "{":
        return []
    pos = _skip(text, pos + 1)
    while pos < len(text) and text[pos] != "}":
        name, pos = decoder.raw_decode(text, pos)
        pos = _skip(text, _skip(text, pos) + 1)  # past ':'
        if name == key and text[pos:pos + 1] == "[":
            lines: list[int] = []
            pos = _skip(text, pos + 1)
            line, counted = text.count("\n", 0, pos) + 1, pos  # counted on from item to item, not from the start
            while text[pos:pos + 1] != "]":
                line += text.count("\n", counted, pos)
                counted = pos
                lines.append(line)
                _, pos = decoder.raw_decode(text, pos)
                pos = _skip(text, pos)
                if text[pos:pos + 1] == ",":
                    pos = _skip(text, pos + 1)
            return lines
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos:pos + 1] == ",":
            pos = _skip(text, pos + 1)
    return []


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
