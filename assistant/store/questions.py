"""The floor's questions in the SQLite store: rows, texts per language, voters.

Reached as ``store.questions`` (same connection, same thread rules as :class:`~.sqlite.Store`).
Device values are what the question board holds: hashes, never a device's own id.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..session.questions import Question, QuestionText, StoredQuestion


class QuestionRows:
    """Writes what the question board's effects say and reads a session's questions back."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def save(self, q: Question) -> None:
        """Insert the question, or update what changes (state, merge, votes, revision)."""
        self._db.execute(
            "INSERT INTO questions (session, id, number, lang, text, name, device, state, merged_into, votes,"
            " revision, asked_at_ms, changed_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(session, id) DO UPDATE SET state=excluded.state, merged_into=excluded.merged_into,"
            " votes=excluded.votes, revision=excluded.revision, changed_at_ms=excluded.changed_at_ms",
            (q.session, q.id, q.number, q.lang, q.text, q.name, q.device, q.state, q.merged_into, q.votes,
             q.revision, q.asked_at_ms, q.changed_at_ms))

    def save_text(self, session: str, question_id: str, qt: QuestionText) -> None:
        self._db.execute(
            "INSERT INTO question_texts (session, question_id, lang, text, fallback) VALUES (?,?,?,?,?)"
            " ON CONFLICT(session, question_id, lang) DO UPDATE SET text=excluded.text, fallback=excluded.fallback",
            (session, question_id, qt.lang, qt.text, int(qt.fallback)))

    def add_votes(self, session: str, question_id: str, devices: tuple[str, ...], at_ms: int) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO question_votes (session, question_id, device, at_ms) VALUES (?,?,?,?)",
            [(session, question_id, d, at_ms) for d in devices])

    def load(self, session: str) -> list[StoredQuestion]:
        """Every question of ``session`` with its texts and voters, in the order asked."""
        texts: dict[str, list[QuestionText]] = {}
        for qid, lang, text, fallback in self._db.execute(
                "SELECT question_id, lang, text, fallback FROM question_texts WHERE session=?", (session,)):
            texts.setdefault(qid, []).append(QuestionText(lang, text, bool(fallback)))
        voters: dict[str, list[str]] = {}
        for qid, device in self._db.execute(
                "SELECT question_id, device FROM question_votes WHERE session=?", (session,)):
            voters.setdefault(qid, []).append(device)
        rows = self._db.execute("SELECT * FROM questions WHERE session=? ORDER BY number", (session,)).fetchall()
        out = []
        for row in rows:
            q = _question(row)
            out.append(StoredQuestion(q, tuple(texts.get(q.id, ())), tuple(voters.get(q.id, ()))))
        return out


def _question(row: tuple[Any, ...]) -> Question:
    (session, qid, number, lang, text, name, device, state, merged_into, votes, revision, asked, changed) = row
    return Question(session=session, id=qid, number=number, lang=lang, text=text, device=device, asked_at_ms=asked,
                    name=name, state=state, merged_into=merged_into, votes=votes, revision=revision,
                    changed_at_ms=changed)
