"""The programme: CSV, JSON and iCalendar files read into one model; broken files report each bad field.

Pure core (no I/O but the test files), plus the ``assistant programme`` command on a real SQLite file.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.programme import Problem, Programme, ProgrammeError, Talk, detect, parse
from assistant.store import Store

DATA = Path(__file__).parent / "data" / "programme"
PARIS_9AM = int(datetime.datetime(2026, 6, 3, 7, 0, tzinfo=datetime.timezone.utc).timestamp() * 1000)
MIN = 60_000


def load(name: str, **kw: str) -> Programme:
    return parse((DATA / name).read_bytes(), name=name, **kw)  # type: ignore[arg-type]


def problems(name: str, data: bytes | None = None) -> list[tuple[int, str]]:
    with pytest.raises(ProgrammeError) as raised:
        parse(data if data is not None else (DATA / name).read_bytes(), name=name)
    assert "nothing was imported" in str(raised.value) or len(raised.value.problems) == 1
    return [(p.line, p.field) for p in raised.value.problems]


def essence(t: Talk) -> tuple[object, ...]:
    return (t.id, t.room, t.title, t.speakers, t.start_ms, t.end_ms, t.language, t.languages, t.glossary)


@pytest.mark.parametrize("name", ["day.csv", "day.json", "day.ics"])
def test_each_format_reads_the_same_day(name: str) -> None:
    p = load(name)
    assert [(r.id, r.name) for r in p.rooms] == [("hall-a", "Hall A"), ("room-2", "Room 2")]
    assert [t.id for t in p.talks] == ["opening", "keynote", "panel", "zh-talk", "room-2-0603-1000"]
    opening, keynote, panel, zh, lightning = p.talks
    assert opening.start_ms == PARIS_9AM and opening.end_ms == PARIS_9AM + 30 * MIN
    assert opening.timezone == "Europe/Paris" and opening.local(opening.start_ms).hour == 9
    assert keynote.title == "Engines, analytical" and keynote.speakers == ("Charles Babbage", "Ada Lovelace")
    assert keynote.end_ms - keynote.start_ms == 60 * MIN
    assert keynote.glossary == ("Difference Engine", "ACME")
    assert panel.speakers == ("Grace Hopper", "Alan Turing", "Ada Lovelace") and panel.languages == ()
    assert (zh.title, zh.language, zh.languages, zh.speakers) == ("机器翻译", "zh", ("en",), ("李娜",))
    assert zh.start_ms == PARIS_9AM
    assert lightning.language == "auto" and lightning.start_ms == PARIS_9AM + 60 * MIN
    assert opening.languages == ("fr", "zh")
    assert [essence(t) for t in p.talks] == [essence(t) for t in load("day.json").talks]


def test_programme_questions() -> None:
    p = load("day.json")
    assert p.scheduled_at("hall-a", PARIS_9AM + 45 * MIN) == p.talk("keynote")
    assert p.scheduled_at("hall-a", PARIS_9AM + 100 * MIN) is None  # the break
    assert p.next_after("hall-a", PARIS_9AM + 100 * MIN) == p.talk("panel")
    assert p.scheduled_at("hall-a", PARIS_9AM + 30 * MIN) == p.talk("keynote")  # end exclusive, start inclusive
    out = p.as_json()
    talks = out["talks"]
    assert isinstance(talks, list) and talks[0]["start"] == "2026-06-03T09:00+02:00"


def test_broken_csv_names_each_line_and_field() -> None:
    assert problems("broken.csv") == [
        (3, "room"), (4, "title"), (5, "end"), (6, "start"), (6, "end"), (7, "timezone"), (8, "language"),
        (9, "start"), (10, "start")]


def test_broken_json_names_each_line_and_field() -> None:
    assert problems("broken.json") == [(6, "room"), (7, "speeker"), (8, "speakers"), (10, "glossary"), (12, "id"),
                                       (14, "id")]


def test_broken_ics_names_each_event_line_and_property() -> None:
    found = problems("broken.ics")
    assert found == [(11, "DTSTART"), (11, "DTEND"), (18, "DTEND"), (18, "DTSTART"), (24, "X-ROOM (or LOCATION)"),
                     (30, "SUMMARY"), (30, "X-ROOM (or LOCATION)")]


def test_a_time_zone_for_floating_times() -> None:
    csv = b"room,title,start,end\nhall-a,Talk,2026-06-03 09:00,2026-06-03 09:30\n"
    assert problems("x.csv", csv) == [(2, "start"), (2, "end")]
    t = parse(csv, name="x.csv", default_tz="Asia/Tokyo").talks[0]
    assert t.timezone == "Asia/Tokyo" and t.start_ms == PARIS_9AM - 7 * 60 * MIN


@pytest.mark.parametrize(("data", "expected"), [
    (b"", [(1, "(file)")]),
    (b"room,title,start,end\n", [(1, "(file)")]),
    (b"room,titel,start,end\n", [(1, "titel"), (1, "title")]),
    (b"room,title,start,end\nhall-a,\xff,2026-06-03T09:00Z,2026-06-03T10:00Z\n", [(2, "(file)")]),
    (b'room,title,start,end\nhall-a,"Talk, open,2026-06-03T09:00Z,2026-06-03T10:00Z\n', [(2, "(row)")]),
    (b"room,title,start,end\nhall-a,A,2026-06-03T09:00Z,2026-06-03T10:00Z,extra\n", [(2, "(row)")]),
    (b"room,title,start,end,language\nhall-a,A,2026-06-03T09:00Z,2026-06-03T10:00Z,xx\n", [(2, "language")]),
])
def test_broken_csv_files(data: bytes, expected: list[tuple[int, str]]) -> None:
    assert problems("x.csv", data) == expected


def test_a_problem_never_echoes_a_whole_file() -> None:
    with pytest.raises(ProgrammeError) as refused:
        parse(b'"' * 100_000, name="x.csv")
    assert refused.value.problems and all(len(p.field) <= 60 and len(p.message) <= 400 for p in refused.value.problems)
    assert len(str(refused.value)) < 2_000


@pytest.mark.parametrize(("data", "expected"), [
    (b'{"talks": [\n{"room": "a", \n', [(3, "(file)")]),
    (b'[]', [(1, "talks")]),
    (b'{"talks": [], "extra": 1}', [(1, "extra")]),
    (b'{"timezone": "Nowhere/Land",\n "talks": [{"room": "a", "title": "T", "start": "2026-06-03T09:00",'
     b' "end": "2026-06-03T10:00"}]}', [(1, "timezone"), (2, "start"), (2, "end")]),
    (b'{"talks": [1]}', [(1, "talks[0]")]),
])
def test_broken_json_files(data: bytes, expected: list[tuple[int, str]]) -> None:
    assert problems("x.json", data) == expected


def test_spreadsheet_csv_with_semicolons_and_a_bom() -> None:
    data = "\ufeffroom;title;speakers;start;end;timezone\nhall-a;Café, crème;Zoë;2026-06-03 09:00;2026-06-03 09:45;" \
           "Europe/Paris\n".encode()
    (talk,) = parse(data, name="export.csv").talks
    assert (talk.title, talk.speakers, talk.start_ms) == ("Café, crème", ("Zoë",), PARIS_9AM)


def test_broken_ics_file() -> None:
    assert problems("x.ics", b"BEGIN:VCALENDAR\r\nnot a line\r\n") == [(1, "(file)")]


def test_problem_reads_as_a_sentence() -> None:
    assert str(Problem(3, "start", "is missing")) == "line 3, start: is missing"


def test_formats_told_apart() -> None:
    assert detect(b"{}", None) == "json" and detect(b"BEGIN:VCALENDAR", "x") == "ics"
    assert detect(b"room,title", "day.txt") == "csv" and detect(b"{}", "day.ics") == "ics"


# -- the command ------------------------------------------------------------------------------------
def run_cli(tmp_path: Path, *argv: str) -> int:
    return main(["--config", str(write_config(tmp_path)), "programme", *argv])


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "db.sqlite"}"\n')
    return config


def stored(tmp_path: Path) -> Programme:
    store = Store.open(tmp_path / "db.sqlite")
    try:
        return store.programme.load()
    finally:
        store.close()


def test_import_stores_all_or_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "import", str(DATA / "day.ics")) == 0
    assert "5 talk(s) in 2 room(s)" in capsys.readouterr().out
    first = stored(tmp_path)
    assert [essence(t) for t in first.talks] == [essence(t) for t in load("day.ics").talks]
    assert first.rooms == load("day.ics").rooms

    assert run_cli(tmp_path, "import", str(DATA / "day.json")) == 1  # refused without --replace
    assert "--replace" in capsys.readouterr().err
    assert run_cli(tmp_path, "import", "--replace", str(DATA / "broken.csv")) == 1
    err = capsys.readouterr().err
    assert "line 10, start: overlaps 'Opening'" in err and "nothing was imported" in err
    assert stored(tmp_path) == first  # the broken file changed nothing

    assert run_cli(tmp_path, "import", "--replace", str(DATA / "day.csv")) == 0
    assert stored(tmp_path).talk("room-2-0603-1000") is not None
    assert run_cli(tmp_path, "show") == 0
    assert "Hall A (/r/hall-a)" in capsys.readouterr().out


def test_import_errors_are_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "import", str(tmp_path / "missing.csv")) == 1
    assert "cannot read" in capsys.readouterr().err
    assert run_cli(tmp_path, "import", "--timezone", "Moon/Base", str(DATA / "day.csv")) == 1
    assert "--timezone: unknown time zone" in capsys.readouterr().err


def test_a_room_token_is_issued_for_a_programme_room(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "import", str(DATA / "day.csv")) == 0
    config = str(write_config(tmp_path))
    assert main(["--config", config, "tokens", "issue", "chair", "--session", "hall-a"]) == 0
    assert "a room of the programme: the token chairs every talk in it" in capsys.readouterr().err


def test_a_repeating_event_is_one_talk_a_day_with_its_exceptions() -> None:
    """A daily keynote over four days, one day cancelled (EXDATE), one moved and retitled (RECURRENCE-ID);
    lightning talks at a floating time until a UTC date."""
    p = load("repeating.ics")
    paris = datetime.timezone(datetime.timedelta(hours=2))
    got = [(t.id, t.title, t.local(t.start_ms).isoformat(), (t.end_ms - t.start_ms) // MIN, t.line) for t in p.talks]
    assert got == [
        ("keynote-0603", "Morning keynote", "2026-06-03T09:00:00+02:00", 60, 5),
        ("keynote-0604", "Morning keynote (moved)", "2026-06-04T09:30:00+02:00", 60, 16),
        ("keynote-0606", "Morning keynote", "2026-06-06T09:00:00+02:00", 60, 5),
        ("room-2-0603-1300", "Lightning talks", "2026-06-03T13:00:00+02:00", 30, 26),
        ("room-2-0604-1300", "Lightning talks", "2026-06-04T13:00:00+02:00", 30, 26),
    ]
    assert p.talks[0].start_ms == int(datetime.datetime(2026, 6, 3, 9, tzinfo=paris).timestamp() * 1000)


def test_a_weekly_event_keeps_its_local_time_across_a_clock_change() -> None:
    ics = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:w@x\r\nSUMMARY:Seminar\r\n"
           b"DTSTART;TZID=Europe/Paris:20260326T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=2\r\n"
           b"X-ROOM:hall-a\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    first, second = parse(ics, name="x.ics").talks
    assert [t.local(t.start_ms).strftime("%H:%M %z") for t in (first, second)] == ["09:00 +0100", "09:00 +0200"]
    assert second.start_ms - first.start_ms == (7 * 24 - 1) * 60 * MIN
    assert (first.id, second.id) == ("hall-a-0326-0900", "hall-a-0402-0900")


@pytest.mark.parametrize(("rule", "message"), [
    ("FREQ=DAILY", "repeats without end: give COUNT or UNTIL"),
    ("FREQ=SOMETIMES;COUNT=2", "cannot be read"),
])
def test_a_repeating_event_that_cannot_be_listed_is_refused(rule: str, message: str) -> None:
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:w@x\r\nSUMMARY:Talk\r\n"
           "DTSTART:20260603T090000Z\r\nDURATION:PT1H\r\nRRULE:" + rule + "\r\nX-ROOM:hall-a\r\nEND:VEVENT\r\n"
           "END:VCALENDAR\r\n").encode()
    with pytest.raises(ProgrammeError) as raised:
        parse(ics, name="x.ics")
    assert [(p.line, p.field) for p in raised.value.problems if p.field == "RRULE"] == [(4, "RRULE")]
    assert message in str(raised.value)
