"""Measure the programme: reading a large file in each format, storing it, and a day's roll-over.

    .venv/bin/python benchmarks/programme.py [--rooms 40] [--talks-per-room 50]

Prints, per format (CSV, JSON, iCalendar), the file size and the time to read and check it; the time to
store it (one transaction) and load it back; then the roll-over core replaying the whole day in virtual
time (ticks, decisions, time per tick) as the server's adapter would step it.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import tempfile
import time
from pathlib import Path

from assistant.programme import Programme, parse
from assistant.programme.rollover import Rollover
from assistant.store import Store

DAY = datetime.datetime(2026, 6, 3, 8, 0)
TALK_MIN = 20


def talks(rooms: int, per_room: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for r in range(rooms):
        for i in range(per_room):
            start = DAY + datetime.timedelta(minutes=i * TALK_MIN)
            out.append({"id": f"r{r}-t{i}", "room": f"room-{r}", "title": f"Talk {i} in room {r}",
                        "speakers": [f"Speaker {i}", f"Guest {r}"], "start": start.isoformat(timespec="minutes"),
                        "end": (start + datetime.timedelta(minutes=TALK_MIN - 2)).isoformat(timespec="minutes"),
                        "timezone": "Europe/Paris", "language": "en", "languages": ["fr", "zh"],
                        "glossary": ["ACME", f"Term{i}"]})
    return out


def as_csv(rows: list[dict[str, object]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "room", "title", "speakers", "start", "end", "timezone", "language", "languages", "glossary"])
    for t in rows:
        writer.writerow([t["id"], t["room"], t["title"], ";".join(t["speakers"]), t["start"], t["end"],  # type: ignore[arg-type]
                         t["timezone"], t["language"], ";".join(t["languages"]), ";".join(t["glossary"])])  # type: ignore[arg-type]
    return buf.getvalue().encode()


def as_ics(rows: list[dict[str, object]]) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN", "X-WR-TIMEZONE:Europe/Paris"]
    for t in rows:
        start = str(t["start"]).replace("-", "").replace(":", "") + "00"
        end = str(t["end"]).replace("-", "").replace(":", "") + "00"
        lines += ["BEGIN:VEVENT", f"UID:{t['id']}@bench", f"X-TALK-ID:{t['id']}", f"SUMMARY:{t['title']}",
                  f"DTSTART;TZID=Europe/Paris:{start}", f"DTEND;TZID=Europe/Paris:{end}", f"X-ROOM:{t['room']}",
                  *[f"X-SPEAKER:{s}" for s in t["speakers"]],  # type: ignore[attr-defined]
                  "X-LANGUAGE:en", "X-LANGUAGES:fr,zh", f"X-GLOSSARY:{';'.join(t['glossary'])}",  # type: ignore[arg-type]
                  "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def timed(label: str, fn: object) -> object:
    start = time.perf_counter()
    result = fn()  # type: ignore[operator]
    print(f"  {label:<34} {1000 * (time.perf_counter() - start):8.1f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rooms", type=int, default=40, help="rooms in the programme")
    parser.add_argument("--talks-per-room", type=int, default=50, help="talks in each room (2,000 in all by default)")
    args = parser.parse_args()
    rows = talks(args.rooms, args.talks_per_room)
    files = {"day.csv": as_csv(rows), "day.json": json.dumps({"talks": rows}).encode(), "day.ics": as_ics(rows)}
    print(f"{len(rows)} talks in {args.rooms} rooms")
    programme: Programme | None = None
    for name, data in files.items():
        print(f"{name}: {len(data) / 1000:.0f} kB")
        programme = timed("read and check", lambda: parse(data, name=name))  # type: ignore[assignment]
    assert programme is not None
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "bench.sqlite3")
        timed("store (one transaction)", lambda: store.programme.replace(programme, source="day.csv", at_ms=0,
                                                                          replace=True))
        timed("load back", store.programme.load)
        store.close()
    rollover = Rollover(programme)
    now, ticks, decisions = programme.talks[0].start_ms - 60_000, 0, 0
    start = time.perf_counter()
    while True:
        rollover.receive_time(now)
        decisions += len(rollover.decisions())
        ticks += 1
        wake = rollover.wake_at(now)
        if wake is None:
            break
        now = wake
    took = time.perf_counter() - start
    print(f"roll-over of the day: {ticks} ticks, {decisions} decisions, {1000 * took:.1f} ms "
          f"({1e6 * took / ticks:.0f} µs per tick)")


if __name__ == "__main__":
    main()
