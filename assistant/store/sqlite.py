"""SQLite (WAL) store: every final caption is committed before any reader sees it.

A ``Store`` wraps one ``sqlite3`` connection and is used from one thread: the
server's event loop writes through it (each write is a short transaction), and
long reads such as exports open their own ``Store`` in a worker thread with
:meth:`Store.open` so they never hold up the loop.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, Sequence

from ..captions import Caption, Session
from ..errors import NotFoundError, StoreError
from .migrations import MIGRATIONS
from .programme import ProgrammeRows, SpeakerRows
from .questions import QuestionRows

FETCH_BATCH = 500  # rows per round trip when streaming a long session
MAX_IN_PARAMS = 900  # ids per "IN (...)" query, below the 999 parameters old SQLite builds allow
SESSION_COLUMNS = ("id, title, source_lang, created_at_ms, started_at_ms, ended_at_ms, languages, glossary,"
                   " public")
# How a session came to be: from the config file (opened from it at every start) or through the API
# (reopened from the store at start until it is ended).
CreatedVia = Literal["config", "api"]


@dataclass(frozen=True, slots=True)
class Revision:
    """One entry of the correction audit trail."""

    session: str
    caption_id: str
    lang: str
    revision: int
    before: str
    after: str
    author: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class CachedTranslation:
    """A translation made for an export after the event, of one revision of a spoken caption."""

    session: str
    caption_id: str
    source_revision: int
    lang: str
    text: str
    fallback: bool  # the translation looked degenerate: ``text`` is the original
    engine: str = ""  # what made it: the packages and their versions, and the glossary (see export.ondemand)


@dataclass(frozen=True, slots=True)
class ScopedToken:
    """A token that holds ``role`` in one session only; the token itself is never stored, only its hash."""

    id: str
    role: str
    session: str
    created_at_ms: int
    revoked_at_ms: int | None


class Store:
    """Sessions, captions, revisions, export translations and token hashes in one SQLite file."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._db = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> "Store":
        """Open (creating and migrating on first use) the database at ``path``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed caption survives a killed process.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            _migrate(conn)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the caption database {path}: {exc}. "
                             "Check the path in [storage] and that the disk is writable.") from exc
        return cls(conn, path)

    def close(self) -> None:
        self._db.close()

    @property
    def questions(self) -> QuestionRows:
        """The floor's questions of every session (:mod:`.questions`)."""
        return QuestionRows(self._db)

    @property
    def speakers(self) -> SpeakerRows:
        """Who spoke from which audio time on, per session (:mod:`.programme`)."""
        return SpeakerRows(self._db)

    @property
    def programme(self) -> ProgrammeRows:
        """The conference programme and when each talk ran (:mod:`.programme`)."""
        return ProgrammeRows(self._db)

    # -- sessions -------------------------------------------------------
    def create_session(self, s: Session, *, via: CreatedVia = "config") -> Session:
        """Insert ``s``; if it exists already, return the stored one unchanged."""
        self._db.execute(
            "INSERT OR IGNORE INTO sessions (id, title, source_lang, created_at_ms, started_at_ms,"
            " ended_at_ms, languages, glossary, public, created_via) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (s.id, s.title, s.source_lang, s.created_at_ms, s.started_at_ms, s.ended_at_ms,
             json.dumps(list(s.languages)), json.dumps(list(s.glossary)), int(s.public), via),
        )
        return self.get_session(s.id)

    def get_session(self, session_id: str) -> Session:
        row = self._db.execute(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no session {session_id!r}; `assistant export --list` shows the sessions")
        return _session(row)

    def has_session(self, session_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM sessions WHERE id=?", (session_id,)).fetchone() is not None

    def list_sessions(self) -> list[Session]:
        rows = self._db.execute(f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created_at_ms, id").fetchall()
        return [_session(r) for r in rows]

    def sessions_to_reopen(self) -> list[Session]:
        """Sessions created through the API and not ended: a restarted server runs them again."""
        rows = self._db.execute(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE created_via='api'"
                                " AND ended_at_ms IS NULL ORDER BY created_at_ms, id").fetchall()
        return [_session(r) for r in rows]

    def save_session(self, s: Session) -> None:
        """Write every field of a session that exists already."""
        self.update_session(s.id, title=s.title, source_lang=s.source_lang, started_at_ms=s.started_at_ms,
                            ended_at_ms=s.ended_at_ms, languages=s.languages, glossary=s.glossary, public=s.public)

    def update_session(self, session_id: str, **changes: Any) -> Session:
        """Change some of title, source_lang, started_at_ms, ended_at_ms, languages, glossary, public."""
        allowed = {"title", "source_lang", "started_at_ms", "ended_at_ms", "languages", "glossary", "public"}
        bad = set(changes) - allowed
        if bad:
            raise StoreError(f"cannot update session field(s) {sorted(bad)}")
        self.get_session(session_id)
        for key, value in changes.items():
            if key in ("languages", "glossary"):
                value = json.dumps(list(value))
            elif key == "public":
                value = int(value)
            self._db.execute(f"UPDATE sessions SET {key}=? WHERE id=?", (value, session_id))
        return self.get_session(session_id)

    # -- captions -------------------------------------------------------
    def insert_caption(self, c: Caption) -> None:
        """Store a new final caption under the ``seq`` the session core gave it (the next of its language)."""
        try:
            self._db.execute(
                "INSERT INTO captions (session, lang, seq, id, start_ms, end_ms, text, revision, origin,"
                " source_lang, source_text, fallback, created_at_ms, continues) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (c.session, c.lang, c.seq, c.id, c.start_ms, c.end_ms, c.text, c.revision, c.origin, c.source_lang,
                 c.source_text, int(c.fallback), c.created_at_ms, int(c.continues)),
            )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"caption {c.id!r} (seq {c.seq} of {c.session}/{c.lang}) is stored already: "
                             "two writers for one session?") from exc

    def latest_seqs(self, session: str) -> dict[str, int]:
        """The last ``seq`` of every language of ``session`` (where its numbering continues)."""
        rows = self._db.execute("SELECT lang, MAX(seq) FROM captions WHERE session=? GROUP BY lang",
                                (session,)).fetchall()
        return {str(lang): int(seq) for lang, seq in rows}

    def latest_seq(self, session: str, lang: str) -> int:
        (last,) = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM captions WHERE session=? AND lang=?", (session, lang)
        ).fetchone()
        return int(last)

    def captions_since(self, session: str, lang: str, since: int, limit: int = 1000) -> list[Caption]:
        """Captions of (session, lang) with ``seq > since``, oldest first, at most ``limit``."""
        rows = self._db.execute(
            "SELECT * FROM captions WHERE session=? AND lang=? AND seq>? ORDER BY seq LIMIT ?",
            (session, lang, since, limit),
        ).fetchall()
        return [_caption(r) for r in rows]

    def corrected_before(self, session: str, lang: str, upto: int, window: int) -> list[Caption]:
        """Corrected captions among the ``window`` captions ending at ``seq == upto``."""
        rows = self._db.execute(
            "SELECT * FROM captions WHERE session=? AND lang=? AND seq<=? AND seq>? AND revision>0"
            " ORDER BY seq", (session, lang, upto, upto - window),
        ).fetchall()
        return [_caption(r) for r in rows]

    def revised_since(self, session: str, lang: str, upto: int, at_ms: int) -> list[Caption]:
        """Captions with ``seq <= upto`` corrected at or after ``at_ms`` (what a lagging reader missed)."""
        rows = self._db.execute(
            "SELECT * FROM captions c WHERE c.session=? AND c.lang=? AND c.seq<=? AND c.revision>0 AND EXISTS"
            " (SELECT 1 FROM revisions r WHERE r.session=c.session AND r.caption_id=c.id AND r.lang=c.lang"
            " AND r.at_ms>=?) ORDER BY c.seq", (session, lang, upto, at_ms)).fetchall()
        return [_caption(r) for r in rows]

    def untranslated(self, session: str, source_lang: str, lang: str, limit: int) -> list[Caption]:
        """The latest ``limit`` captions of the spoken stream that have no ``lang`` version, oldest first.

        A piece of a clause translated as a whole has a version: the translation stored under a later
        piece of its line (the clause's last) that starts at or before it.
        """
        rows = self._db.execute(
            "SELECT * FROM captions s WHERE s.session=:s AND s.lang=:src AND NOT EXISTS (SELECT 1 FROM captions t"
            " WHERE t.session=s.session AND t.id=s.id AND t.lang=:lang)"
            # a later piece of the same line has a translation that starts at or before this piece
            " AND NOT EXISTS (SELECT 1 FROM captions u JOIN captions t ON t.session=u.session AND t.id=u.id"
            " AND t.lang=:lang WHERE u.session=s.session AND u.lang=s.lang AND u.seq>s.seq AND u.seq<COALESCE("
            "(SELECT x.seq FROM captions x WHERE x.session=s.session AND x.lang=s.lang AND x.seq>s.seq"
            " AND x.continues=0 ORDER BY x.seq LIMIT 1), 9223372036854775807)"
            " AND t.origin='translation' AND t.start_ms<=s.start_ms)"
            " ORDER BY s.seq DESC LIMIT :n",
            {"s": session, "src": source_lang, "lang": lang, "n": limit}).fetchall()
        return [_caption(r) for r in reversed(rows)]

    def get_caption(self, session: str, caption_id: str, lang: str) -> Caption:
        row = self._db.execute("SELECT * FROM captions WHERE session=? AND id=? AND lang=?",
                               (session, caption_id, lang)).fetchone()
        if row is None:
            raise NotFoundError(f"no caption {caption_id!r} in language {lang!r} of session {session!r}")
        return _caption(row)

    def translations_of(self, session: str, caption_id: str) -> list[Caption]:
        """Every language's version of one caption (source first)."""
        rows = self._db.execute("SELECT * FROM captions WHERE session=? AND id=? ORDER BY origin != 'asr'"
                                " AND origin != 'manual', lang", (session, caption_id)).fetchall()
        return [_caption(r) for r in rows]

    def revise(self, c: Caption, *, before: str, author: str, at_ms: int) -> None:
        """Store a caption's new version (text, revision, source text, fallback) and its audit row."""
        with _transaction(self._db):
            cur = self._db.execute(
                "UPDATE captions SET text=?, revision=?, source_text=?, fallback=? WHERE session=? AND id=? AND lang=?",
                (c.text, c.revision, c.source_text, int(c.fallback), c.session, c.id, c.lang),
            )
            if cur.rowcount != 1:
                raise NotFoundError(f"no caption {c.id!r} in language {c.lang!r} of session {c.session!r}")
            self._db.execute(
                "INSERT INTO revisions (session, caption_id, lang, revision, before, after, author, at_ms)"
                " VALUES (?,?,?,?,?,?,?,?)", (c.session, c.id, c.lang, c.revision, before, c.text, author, at_ms),
            )

    def revisions(self, session: str, caption_id: str | None = None) -> list[Revision]:
        sql = "SELECT * FROM revisions WHERE session=?"
        args: tuple[Any, ...] = (session,)
        if caption_id is not None:
            sql += " AND caption_id=?"
            args += (caption_id,)
        rows = self._db.execute(sql + " ORDER BY at_ms, rowid", args).fetchall()
        return [Revision(*r) for r in rows]

    def languages(self, session_id: str) -> list[str]:
        """Languages that have at least one caption, source language first."""
        s = self.get_session(session_id)
        rows = self._db.execute("SELECT DISTINCT lang FROM captions WHERE session=?", (session_id,)).fetchall()
        langs = sorted(r[0] for r in rows)
        if s.source_lang in langs:
            langs.remove(s.source_lang)
            langs.insert(0, s.source_lang)
        return langs

    def count_captions(self, session_id: str, lang: str) -> int:
        (n,) = self._db.execute("SELECT COUNT(*) FROM captions WHERE session=? AND lang=?",
                                (session_id, lang)).fetchone()
        return int(n)

    def iter_captions(self, session_id: str, lang: str) -> Iterator[Caption]:
        """Every caption of (session, lang) in seq order, fetched in batches (bounded memory)."""
        last = 0
        while True:
            batch = self.captions_since(session_id, lang, last, FETCH_BATCH)
            if not batch:
                return
            yield from batch
            last = batch[-1].seq

    def audio_end_ms(self, session_id: str) -> int:
        """The latest end time of any caption: where a resumed session's audio clock continues."""
        (end,) = self._db.execute("SELECT COALESCE(MAX(end_ms), 0) FROM captions WHERE session=?",
                                  (session_id,)).fetchone()
        return int(end)

    def spoken_languages(self, session_id: str) -> list[str]:
        """The languages spoken in the session's own stream (several in an "auto" session), sorted."""
        s = self.get_session(session_id)
        default = "en" if s.source_lang == "auto" else s.source_lang  # as the session core reads them
        rows = self._db.execute("SELECT DISTINCT COALESCE(source_lang, ?) FROM captions WHERE session=? AND lang=?",
                                (default, session_id, s.source_lang)).fetchall()
        return sorted(str(r[0]) for r in rows)

    def has_origin(self, session_id: str, lang: str, origin: str) -> bool:
        """Whether any caption of (session, lang) came from ``origin`` ("whisper-translate", say)."""
        row = self._db.execute("SELECT 1 FROM captions WHERE session=? AND lang=? AND origin=? LIMIT 1",
                               (session_id, lang, origin)).fetchone()
        return row is not None

    def captions_by_id(self, session_id: str, lang: str, ids: Sequence[str]) -> dict[str, Caption]:
        """The ``lang`` versions stored for these caption ids (those that have one), by id."""
        found: dict[str, Caption] = {}
        for part in _parts(ids):
            rows = self._db.execute(f"SELECT * FROM captions WHERE session=? AND lang=? AND id IN ({_marks(part)})",
                                    (session_id, lang, *part)).fetchall()
            found.update((c.id, c) for c in map(_caption, rows))
        return found

    # -- translations made for exports ------------------------------------
    def cached_translations(self, session_id: str, lang: str,
                            keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], CachedTranslation]:
        """The export translations into ``lang`` of these (caption id, source revision), where made."""
        wanted = set(keys)
        found: dict[tuple[str, int], CachedTranslation] = {}
        for part in _parts(list(dict.fromkeys(cid for cid, _ in keys))):
            rows = self._db.execute(
                f"SELECT session, caption_id, source_revision, lang, text, fallback, engine FROM export_translations"
                f" WHERE session=? AND lang=? AND caption_id IN ({_marks(part)})", (session_id, lang, *part)).fetchall()
            for row in rows:
                t = CachedTranslation(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6])
                if (t.caption_id, t.source_revision) in wanted:
                    found[(t.caption_id, t.source_revision)] = t
        return found

    def save_cached_translations(self, translations: Sequence[CachedTranslation]) -> None:
        """Keep these export translations; older revisions' translations of the same captions go."""
        with _transaction(self._db):
            for t in translations:
                self._db.execute("DELETE FROM export_translations WHERE session=? AND caption_id=? AND lang=?"
                                 " AND source_revision<?", (t.session, t.caption_id, t.lang, t.source_revision))
                self._db.execute(
                    "INSERT OR REPLACE INTO export_translations (session, caption_id, source_revision, lang, text,"
                    " fallback, engine) VALUES (?,?,?,?,?,?,?)",
                    (t.session, t.caption_id, t.source_revision, t.lang, t.text, int(t.fallback), t.engine))

    def count_to_translate(self, session_id: str, lang: str, engines: Mapping[str, str]) -> int:
        """Spoken captions (with text) that have neither a ``lang`` version nor an export translation of their
        current revision made by ``engines[their spoken language]``: what an export into ``lang`` still has
        to translate."""
        s = self.get_session(session_id)
        spoken = "en" if s.source_lang == "auto" else s.source_lang
        made_by = "NULL"  # no engine: nothing kept counts (e.engine = NULL is never true)
        made_args: tuple[str, ...] = ()
        if engines:
            made_by = "(CASE COALESCE(s.source_lang, ?) " + "WHEN ? THEN ? " * len(engines) + "END)"
            made_args = (spoken, *(x for pair in engines.items() for x in pair))
        (n,) = self._db.execute(
            "SELECT COUNT(*) FROM captions s WHERE s.session=? AND s.lang=? AND trim(s.text)<>'' AND s.continues=0"
            " AND COALESCE(s.source_lang, ?)<>? AND NOT EXISTS (SELECT 1 FROM captions t WHERE t.session=s.session AND t.id=s.id AND t.lang=?)"
            " AND NOT EXISTS (SELECT 1 FROM export_translations e WHERE e.session=s.session AND e.caption_id=s.id"
            f" AND e.source_revision=s.revision AND e.lang=? AND e.engine={made_by})",
            (session_id, s.source_lang, spoken, lang, lang, lang, *made_args)).fetchone()
        return int(n)

    # -- tokens ---------------------------------------------------------
    def token_hash(self, role: str) -> str | None:
        row = self._db.execute("SELECT hash FROM tokens WHERE role=?", (role,)).fetchone()
        return None if row is None else str(row[0])

    def set_token_hash(self, role: str, digest: str, at_ms: int) -> None:
        self._db.execute("INSERT INTO tokens (role, hash, created_at_ms) VALUES (?,?,?) ON CONFLICT(role)"
                         " DO UPDATE SET hash=excluded.hash, created_at_ms=excluded.created_at_ms",
                         (role, digest, at_ms))

    # -- tokens scoped to one session -------------------------------------
    def add_scoped_token(self, token_id: str, digest: str, role: str, session_id: str, at_ms: int) -> None:
        self._db.execute("INSERT INTO scoped_tokens (id, hash, role, session, created_at_ms) VALUES (?,?,?,?,?)",
                         (token_id, digest, role, session_id, at_ms))

    def put_scoped_token(self, digest: str, token: ScopedToken) -> None:
        """Store ``token`` as it is elsewhere (a cluster web node's copy of Redis), replacing any row with its
        hash or id."""
        self._db.execute("INSERT OR REPLACE INTO scoped_tokens (id, hash, role, session, created_at_ms, revoked_at_ms)"
                         " VALUES (?,?,?,?,?,?)", (token.id, digest, token.role, token.session, token.created_at_ms,
                                                   token.revoked_at_ms))

    def scoped_token(self, digest: str) -> ScopedToken | None:
        """The live (not revoked) scoped token with hash ``digest``, if any."""
        row = self._db.execute("SELECT id, role, session, created_at_ms, revoked_at_ms FROM scoped_tokens"
                               " WHERE hash=? AND revoked_at_ms IS NULL", (digest,)).fetchone()
        return None if row is None else ScopedToken(*row)

    def scoped_tokens(self, session_id: str | None = None) -> list[ScopedToken]:
        """Every scoped token (of one session, if given), revoked ones included, oldest first."""
        sql = "SELECT id, role, session, created_at_ms, revoked_at_ms FROM scoped_tokens"
        args: tuple[Any, ...] = ()
        if session_id is not None:
            sql += " WHERE session=?"
            args = (session_id,)
        return [ScopedToken(*r) for r in self._db.execute(sql + " ORDER BY created_at_ms, id", args).fetchall()]

    def revoke_scoped_tokens(self, *, token_id: str | None = None, session_id: str | None = None,
                             at_ms: int) -> int:
        """Revoke the token ``token_id``, or every token of ``session_id``; return how many were live."""
        if (token_id is None) == (session_id is None):
            raise StoreError("revoke one token (by id) or the tokens of one session, not both or neither")
        column, value = ("id", token_id) if token_id is not None else ("session", session_id)
        cursor = self._db.execute(f"UPDATE scoped_tokens SET revoked_at_ms=? WHERE {column}=?"
                                  " AND revoked_at_ms IS NULL", (at_ms, value))
        return int(cursor.rowcount)

    # -- session keys ---------------------------------------------------
    def session_key_hash(self, session_id: str) -> str | None:
        row = self._db.execute("SELECT hash FROM session_keys WHERE session=?", (session_id,)).fetchone()
        return None if row is None else str(row[0])

    def set_session_key_hash(self, session_id: str, digest: str | None, at_ms: int) -> None:
        """Store (or, with ``digest`` None, remove) the hashed key of a private session."""
        if digest is None:
            self._db.execute("DELETE FROM session_keys WHERE session=?", (session_id,))
            return
        self._db.execute("INSERT INTO session_keys (session, hash, set_at_ms) VALUES (?,?,?) ON CONFLICT(session)"
                         " DO UPDATE SET hash=excluded.hash, set_at_ms=excluded.set_at_ms",
                         (session_id, digest, at_ms))


class _transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _migrate(conn: sqlite3.Connection) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise StoreError(f"the database was made by a newer version (schema {version}); upgrade the software")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")


def _parts(items: Sequence[str]) -> Iterator[Sequence[str]]:
    """``items`` in slices short enough for one ``IN (...)`` (SQLite allows 999 parameters on old builds)."""
    for i in range(0, len(items), MAX_IN_PARAMS):
        yield items[i:i + MAX_IN_PARAMS]


def _marks(items: Sequence[str]) -> str:
    return ",".join("?" * len(items))


def _session(row: tuple[Any, ...]) -> Session:
    (sid, title, lang, created, started, ended, languages, glossary, public) = row
    return Session(id=sid, title=title, source_lang=lang, created_at_ms=created, started_at_ms=started,
                   ended_at_ms=ended, languages=tuple(json.loads(languages)),
                   glossary=tuple(t for t in json.loads(glossary) if _encodable(t)), public=bool(public))


def _encodable(text: str) -> bool:
    """False for a string that cannot be sent as UTF-8 (a lone surrogate). Older versions stored
    such glossary terms (JSON-escaped); skipping them keeps those sessions readable."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _caption(row: tuple[Any, ...]) -> Caption:
    (session, lang, seq, cid, start, end, text, revision, origin, source_lang, source_text, fallback,
     created, continues) = row
    return Caption(session=session, lang=lang, seq=seq, id=cid, start_ms=start, end_ms=end, text=text,
                   revision=revision, origin=origin, source_lang=source_lang, source_text=source_text,
                   fallback=bool(fallback), created_at_ms=created, continues=bool(continues))
