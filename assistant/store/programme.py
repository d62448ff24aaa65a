"""The conference programme in the SQLite store, and when each talk really ran.

Reached as ``store.programme`` (same connection, same thread rules as
:class:`~.sqlite.Store`). An import replaces the rooms and talks whole, in one
transaction: a reader sees the old programme or the new one, never a mix.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from ..captions import SpeakerTurn
from ..errors import ProtocolError
from ..programme import Problem, Programme, ProgrammeError, Room, Talk


@dataclass(frozen=True, slots=True)
class ImportInfo:
    """The last import: when, from which file, how much."""

    at_ms: int
    source: str
    rooms: int
    talks: int


@dataclass(frozen=True, slots=True)
class TalkRun:
    """When a talk really started and ended in its room (``ended_at_ms`` None: it is on); ``held``: the
    clock does not end it (the chair will)."""

    talk: str
    room: str
    started_at_ms: int
    ended_at_ms: int | None
    held: bool = False


class ProgrammeExists(ProtocolError):
    """An import without ``replace`` over a stored programme (HTTP 409)."""

    code = "exists"


class ProgrammeRows:
    """Stores and loads the programme; records talk runs."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def replace(self, programme: Programme, *, source: str, at_ms: int, replace: bool) -> None:
        """Store ``programme`` in place of the stored one (refused unless ``replace`` when there is one)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            (held,) = self._db.execute("SELECT COUNT(*) FROM programme_talks").fetchone()
            if held and not replace:
                raise ProgrammeExists(f"a programme of {held} talk(s) is stored already; import with --replace "
                                      "(on the staff page: tick \"Replace the programme\") to replace it whole",
                                      code="exists")
            clashes = self._clashes(programme)
            if clashes:
                raise ProgrammeError(clashes)
            self._db.execute("DELETE FROM programme_talks")
            self._db.execute("DELETE FROM programme_rooms")
            self._db.executemany("INSERT INTO programme_rooms (id, name, position) VALUES (?,?,?)",
                                 [(r.id, r.name, i) for i, r in enumerate(programme.rooms)])
            self._db.executemany(
                "INSERT INTO programme_talks (id, room, title, speakers, start_ms, end_ms, timezone, language,"
                " languages, glossary, line) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(t.id, t.room, t.title, json.dumps(list(t.speakers)), t.start_ms, t.end_ms, t.timezone, t.language,
                  json.dumps(list(t.languages)), json.dumps(list(t.glossary)), t.line) for t in programme.talks])
            self._db.execute("DELETE FROM programme_imports")
            self._db.execute("INSERT INTO programme_imports (at_ms, source, rooms, talks) VALUES (?,?,?,?)",
                             (at_ms, source, len(programme.rooms), len(programme.talks)))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _clashes(self, programme: Programme) -> list[Problem]:
        """Talks whose id is a session that is no talk (of the stored programme, or one that ran): a talk's
        session must be its own, not a room made by hand or from the config."""
        talks = {r[0] for r in self._db.execute("SELECT id FROM programme_talks UNION SELECT talk FROM talk_runs")}
        ids = [t.id for t in programme.talks]
        taken: set[str] = set()
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            taken |= {r[0] for r in self._db.execute(
                f"SELECT id FROM sessions WHERE id IN ({','.join('?' * len(part))})", part)}
        return [Problem(t.line, "id", f"{t.id!r} is the id of a session that is not a talk of the programme; "
                                      "give the talk another id") for t in programme.talks
                if t.id in taken and t.id not in talks]

    def load(self) -> Programme:
        """The stored programme (empty when none was imported)."""
        rooms = tuple(Room(i, n) for i, n in self._db.execute(
            "SELECT id, name FROM programme_rooms ORDER BY position"))
        order = {r.id: i for i, r in enumerate(rooms)}
        talks = [Talk(id=row[0], room=row[1], title=row[2], speakers=tuple(json.loads(row[3])), start_ms=row[4],
                      end_ms=row[5], timezone=row[6], language=row[7], languages=tuple(json.loads(row[8])),
                      glossary=tuple(json.loads(row[9])), line=row[10])
                 for row in self._db.execute(
                     "SELECT id, room, title, speakers, start_ms, end_ms, timezone, language, languages, glossary,"
                     " line FROM programme_talks")]
        talks.sort(key=lambda t: (order.get(t.room, len(order)), t.start_ms, t.id))
        return Programme(rooms=rooms, talks=tuple(talks))

    def last_import(self) -> ImportInfo | None:
        row = self._db.execute("SELECT at_ms, source, rooms, talks FROM programme_imports").fetchone()
        return None if row is None else ImportInfo(*row)

    # -- talk runs ------------------------------------------------------
    def start_talk(self, talk: str, room: str, at_ms: int, *, held: bool = False) -> None:
        """Record that ``talk`` started (again, after an end: the run is reopened)."""
        self._db.execute("INSERT INTO talk_runs (talk, room, started_at_ms, held) VALUES (?,?,?,?) ON CONFLICT(talk)"
                         " DO UPDATE SET ended_at_ms=NULL, held=excluded.held", (talk, room, at_ms, int(held)))

    def hold_talk(self, talk: str, held: bool) -> None:
        self._db.execute("UPDATE talk_runs SET held=? WHERE talk=?", (int(held), talk))

    def end_talk(self, talk: str, at_ms: int) -> None:
        self._db.execute("UPDATE talk_runs SET ended_at_ms=? WHERE talk=? AND ended_at_ms IS NULL", (at_ms, talk))

    def runs(self, room: str | None = None) -> list[TalkRun]:
        """Every talk run (of one room), earliest first."""
        sql = "SELECT talk, room, started_at_ms, ended_at_ms, held FROM talk_runs"
        args: tuple[str, ...] = ()
        if room is not None:
            sql, args = sql + " WHERE room=?", (room,)
        return [TalkRun(r[0], r[1], r[2], r[3], bool(r[4]))
                for r in self._db.execute(sql + " ORDER BY started_at_ms, talk", args)]


class SpeakerRows:
    """The speaker turns of every session (``store.speakers``)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def add(self, turn: SpeakerTurn, at_ms: int) -> None:
        """Store a change of speaker (a second change at the same audio time replaces the first)."""
        self._db.execute("INSERT OR REPLACE INTO speaker_turns (session, audio_ms, speaker, at_ms) VALUES (?,?,?,?)",
                         (turn.session, turn.audio_ms, turn.speaker, at_ms))

    def load(self, session: str) -> list[SpeakerTurn]:
        """The session's speaker turns in audio order."""
        return [SpeakerTurn(session, ms, name) for ms, name in self._db.execute(
            "SELECT audio_ms, speaker FROM speaker_turns WHERE session=? ORDER BY audio_ms", (session,))]
