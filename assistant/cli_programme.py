"""``assistant programme``: import the conference programme into the store, or show it.

    assistant programme import FILE [--replace] [--timezone ZONE] [--format csv|json|ics]
    assistant programme show
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import ConfigError
from .programme import FORMATS, Programme, parse, zone
from .store import Store


def configure_programme_parser(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="programme_action", metavar="ACTION", required=True, help="what to do")
    a = actions.add_parser("import", help="read a programme (CSV, JSON or iCalendar) and store it, all or nothing")
    a.add_argument("file", type=Path, metavar="FILE", help="the programme: .csv, .json or .ics")
    a.add_argument("--replace", action="store_true", help="replace the stored programme (refused without it)")
    a.add_argument("--timezone", metavar="ZONE",
                   help="the time zone of times written without one, e.g. Europe/Paris (default: none; such "
                        "times are then an error)")
    a.add_argument("--format", choices=FORMATS, help="the file's format (default: from its name or content)")
    actions.add_parser("show", help="print the stored programme, room by room")


def run_programme_command(args: argparse.Namespace, database: Path) -> int:
    if args.programme_action == "show":
        store = Store.open(database)
        try:
            _show(store.programme.load())
        finally:
            store.close()
        return 0
    if args.timezone is not None:
        try:
            zone(args.timezone)
        except ValueError as exc:
            raise ConfigError(f"--timezone: {exc}") from None
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror}") from None
    programme = parse(data, name=args.file.name, fmt=args.format, default_tz=args.timezone)
    store = Store.open(database)
    try:
        store.programme.replace(programme, source=args.file.name, at_ms=time.time_ns() // 1_000_000,
                                replace=args.replace)
    finally:
        store.close()
    print(f"Imported {len(programme.talks)} talk(s) in {len(programme.rooms)} room(s) from {args.file.name}; "
          "a running server follows it within seconds")
    return 0


def _show(programme: Programme) -> None:
    if not programme.talks:
        print("no programme; `assistant programme import FILE` reads one", file=sys.stderr)
    for room in programme.rooms:
        print(f"{room.name} (/r/{room.id})")
        for t in programme.talks_in(room.id):
            who = f" — {', '.join(t.speakers)}" if t.speakers else ""
            print(f"  {t.local(t.start_ms):%Y-%m-%d %H:%M}–{t.local(t.end_ms):%H:%M} {t.timezone}  {t.title}{who}"
                  f"  [{t.id}, {t.language}]")
