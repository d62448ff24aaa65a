"""The roll-over core: a day of talks replayed in virtual time, by the clock and by the chair (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import NotFoundError
from assistant.programme import Programme, parse
from assistant.programme.rollover import EndTalk, HoldTalk, Rollover, StartTalk
from assistant.store.programme import TalkRun

DATA = Path(__file__).parent / "data" / "programme"
MIN = 60_000


def day() -> Programme:
    return parse((DATA / "day.json").read_bytes(), name="day.json")


def at(programme: Programme, talk: str, minutes: float = 0) -> int:
    found = programme.talk(talk)
    assert found is not None
    return found.start_ms + int(minutes * MIN)


def said(rollover: Rollover) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for d in rollover.decisions():
        if isinstance(d, StartTalk):
            out.append(("start", d.talk.id, d.by) + (("held",) if d.held else ()))
        elif isinstance(d, EndTalk):
            out.append(("end", d.talk, d.by))
        else:
            assert isinstance(d, HoldTalk)
            out.append(("hold" if d.held else "release", d.talk))
    return out


def replay(rollover: Rollover, start_ms: int, end_ms: int) -> list[tuple[int, tuple[str, ...]]]:
    """Step the clock from ``start_ms`` to ``end_ms`` as the adapter does: tick, then sleep until wake_at."""
    out: list[tuple[int, tuple[str, ...]]] = []
    now = start_ms
    while now <= end_ms:
        rollover.receive_time(now)
        out += [(now, d) for d in said(rollover)]
        wake = rollover.wake_at(now)
        if wake is None:
            break
        now = wake
    return out


def test_a_day_rolls_over_by_the_clock() -> None:
    p = day()
    r = Rollover(p)
    nine = at(p, "opening")
    events = replay(r, nine - 30 * MIN, nine + 6 * 60 * MIN)
    assert events == [
        (nine, ("start", "opening", "clock")), (nine, ("start", "zh-talk", "clock")),
        (nine + 30 * MIN, ("end", "opening", "clock")), (nine + 30 * MIN, ("start", "keynote", "clock")),
        (nine + 60 * MIN, ("end", "zh-talk", "clock")), (nine + 60 * MIN, ("start", "room-2-0603-1000", "clock")),
        (nine + 90 * MIN, ("end", "keynote", "clock")),
        (nine + 105 * MIN, ("end", "room-2-0603-1000", "clock")),
        (nine + 120 * MIN, ("start", "panel", "clock")), (nine + 180 * MIN, ("end", "panel", "clock"))]
    assert r.current("hall-a") is None and r.wake_at(nine + 180 * MIN) is None


def test_the_chair_ends_an_overrun_late_and_the_next_talk_starts_then() -> None:
    p = day()
    r = Rollover(p)
    r.receive_time(at(p, "opening"))
    said(r)
    r.receive_hold("hall-a", True)  # the opening will run over: the clock must not cut it
    assert said(r) == [("hold", "opening")]
    r.receive_time(at(p, "keynote", 5))
    assert said(r) == []  # 09:35: past the opening's end, but it is held; room 2's talk runs till 10:00
    assert r.current("hall-a") == p.talk("opening")
    assert r.upcoming("hall-a", at(p, "keynote", 5)) == p.talk("keynote")
    started = r.receive_next("hall-a", at(p, "keynote", 10))  # ten minutes late
    assert started == p.talk("keynote")
    assert said(r) == [("end", "opening", "chair"), ("start", "keynote", "chair", "held")]
    # The keynote started late: the clock lets it run past 10:30 ...
    r.receive_time(at(p, "keynote", 75))
    assert r.current("hall-a") == p.talk("keynote") and said(r) == [("end", "zh-talk", "clock")]
    # ... until the chair ends it; the panel (11:00) was not due yet: the room waits, then the clock starts it.
    assert r.receive_next("hall-a", at(p, "keynote", 76)) == p.talk("panel")
    assert said(r) == [("end", "keynote", "chair"), ("start", "panel", "chair")]
    r.receive_time(at(p, "panel", 60))
    assert said(r) == [("end", "panel", "clock")]
    with pytest.raises(NotFoundError, match="none left"):
        r.receive_next("hall-a", at(p, "panel", 61))


def test_next_early_skips_nothing_and_the_clock_does_not_restart_a_talk() -> None:
    p = day()
    r = Rollover(p)
    r.receive_time(at(p, "opening", 1))
    said(r)
    r.receive_next("hall-a", at(p, "opening", 20))  # the opening ends early; the keynote starts early
    assert said(r) == [("end", "opening", "chair"), ("start", "keynote", "chair")]
    r.receive_time(at(p, "keynote"))  # the keynote's scheduled start: nothing (it is on already)
    assert [d for d in said(r) if d[1] in ("opening", "keynote")] == []
    r.receive_time(at(p, "keynote", 60))
    assert ("end", "keynote", "clock") in said(r)
    r.receive_time(at(p, "keynote", 61))
    assert said(r) == [] and r.current("hall-a") is None


def test_a_restart_continues_where_the_runs_left_off() -> None:
    p = day()
    runs = [TalkRun("opening", "hall-a", at(p, "opening"), at(p, "keynote", 8)),
            TalkRun("keynote", "hall-a", at(p, "keynote", 8), None, held=True)]
    r = Rollover(p, runs)
    assert r.current("hall-a") == p.talk("keynote") and r.held("hall-a")
    r.receive_time(at(p, "keynote", 70))
    assert [d for d in said(r) if d[1] in ("opening", "keynote")] == []  # held: not ended, opening not rerun
    r.receive_hold("hall-a", False)
    assert said(r) == [("release", "keynote")]
    r.receive_time(at(p, "keynote", 71))
    assert said(r) == [("end", "keynote", "clock")]


def test_a_new_programme_ends_a_talk_it_drops() -> None:
    p = day()
    r = Rollover(p)
    r.receive_time(at(p, "opening", 5))
    said(r)
    shorter = Programme(rooms=p.rooms, talks=tuple(t for t in p.talks if t.id != "opening"))
    r.receive_programme(shorter, at(p, "opening", 6))
    assert said(r) == [("end", "opening", "programme")]
    with pytest.raises(NotFoundError, match="no room"):
        r.receive_next("nowhere", 0)
    with pytest.raises(NotFoundError, match="no talk on"):
        r.receive_hold("hall-a", True)
