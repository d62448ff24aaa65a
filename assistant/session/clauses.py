"""Spoken pieces and the clauses that translation gets.

The recogniser may settle words in pieces sooner than a phone line fills (a
:class:`~assistant.asr.types.FinalCaption` with ``clause_end`` False). Each
piece is a caption of its own in the spoken language, stored and shown at once;
a translation waits for the whole clause (a translation of half a clause is a
worse translation) and is stored under the id of the clause's last piece, with
the span of all its pieces. Pure bookkeeping, used by
:class:`~assistant.session.core.SessionCore`::

    book.add(piece)                  # a spoken caption: the open clause grows
    clause = book.close()            # the clause as one source caption to translate (None if none open)
    book.revise(piece)               # a corrected piece: its clause to translate again (or None)
    book.translated(caption)         # a stored translation (new or revised) of a clause
    book.units(backlog)              # untranslated spoken captions → the clauses to translate

A final that is a whole clause (the recogniser's default) is its own clause:
the caption to translate is the caption itself.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Iterable

from ..captions import Caption, join_texts, lines_of


def as_clause(pieces: list[Caption]) -> Caption:
    """The pieces of one clause as a single source caption, under the id of its last piece."""
    if len(pieces) == 1:
        return pieces[0]
    first, last = pieces[0], pieces[-1]
    return dataclasses.replace(last, start_ms=first.start_ms, text=join_texts(p.text for p in pieces),
                               revision=sum(p.revision for p in pieces), continues=first.continues)


class ClauseBook:
    """The open clause and the recent closed ones (see the module docstring); ``keep`` bounds the memory."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._open: list[Caption] = []
        self._clause_of: OrderedDict[str, str] = OrderedDict()  # piece id → clause id (its last piece)
        self._members: OrderedDict[str, list[Caption]] = OrderedDict()  # clause id → its pieces, latest versions
        self._translations: OrderedDict[tuple[str, str], Caption] = OrderedDict()  # (clause id, lang) → stored

    # -- the open clause -----------------------------------------------------
    def add(self, piece: Caption) -> None:
        self._open.append(piece)

    @property
    def open_text(self) -> str:
        return join_texts(p.text for p in self._open)

    @property
    def open_start_ms(self) -> int | None:
        return self._open[0].start_ms if self._open else None

    def is_open(self, piece_id: str) -> bool:
        return any(p.id == piece_id for p in self._open)

    def close(self) -> Caption | None:
        """End the open clause; returns it as one caption to translate."""
        if not self._open:
            return None
        pieces, self._open = self._open, []
        clause = as_clause(pieces)
        if len(pieces) > 1:
            self._members[clause.id] = pieces
            for p in pieces:
                self._clause_of[p.id] = clause.id
            self._bound()
        return clause

    # -- corrections -----------------------------------------------------------
    def revise(self, piece: Caption) -> Caption | None:
        """A spoken piece was corrected: the clause to translate again, or None while its clause is open
        (the fix is translated with the clause when it closes)."""
        for i, p in enumerate(self._open):
            if p.id == piece.id:
                self._open[i] = piece
                return None
        clause_id = self._clause_of.get(piece.id)
        if clause_id is None:
            return piece
        pieces = [piece if p.id == piece.id else p for p in self._members[clause_id]]
        self._members[clause_id] = pieces
        return as_clause(pieces)

    def translated(self, caption: Caption) -> None:
        """A translation of a clause was stored (first version or revision)."""
        self._translations[(caption.id, caption.lang)] = caption
        while len(self._translations) > self._keep * 4:
            self._translations.popitem(last=False)

    def translation(self, clause_id: str, lang: str) -> Caption | None:
        """The stored translation of a recent clause in ``lang``, if this core made or saw it."""
        return self._translations.get((clause_id, lang))

    # -- backlog ---------------------------------------------------------------
    def units(self, captions: Iterable[Caption]) -> list[Caption]:
        """Spoken captions a language lacks (oldest first) as the clauses to translate: known clauses
        whole, other pieces by line; pieces of the open clause wait for it to close."""
        out: list[Caption] = []
        loose: list[Caption] = []
        done: set[str] = set()

        def flush() -> None:
            out.extend(as_clause(line) for line in lines_of(loose))
            loose.clear()

        for cap in captions:
            if self.is_open(cap.id):
                continue
            clause_id = self._clause_of.get(cap.id)
            if clause_id is None:
                if loose and cap.seq != loose[-1].seq + 1:
                    flush()  # pieces between them have their translation: not one line any more
                loose.append(cap)
                continue
            flush()
            if clause_id not in done:
                done.add(clause_id)
                out.append(as_clause(self._members[clause_id]))
        flush()
        return out

    def _bound(self) -> None:
        while len(self._members) > self._keep:
            _, pieces = self._members.popitem(last=False)
            for p in pieces:
                self._clause_of.pop(p.id, None)
