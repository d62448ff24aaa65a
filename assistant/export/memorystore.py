"""An in-memory :class:`~assistant.export.storelike.StoreLike` for tests and ``--dry-run``.

Holds sessions and captions in dicts; keeps only the latest revision of
each (session, lang, seq), as the real store's ``iter_captions`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from assistant.captions import Caption, CaptionOrigin, Session
from assistant.errors import NotFoundError

if TYPE_CHECKING:
    from assistant.export.storelike import StoreLike


SAMPLE_TEXTS = {
    "en": "Welcome everyone to the opening session of the conference",
    "zh": "欢迎大家参加本次会议的开幕式",
    "ar": "مرحبا بكم جميعا في الجلسة الافتتاحية للمؤتمر",
    "ru": "Добро пожаловать на открытие конференции",
}
SAMPLE_CAPTION_MS = 2500  # length of each synthetic caption
SAMPLE_GAP_MS = 300  # silence between synthetic captions


def synthetic_captions(
    session: Session, lang: str, count: int, *, origin: CaptionOrigin | None = None
) -> Iterator[Caption]:
    """Yield ``count`` plausible captions lazily (for benchmarks, demos and tests).

    Text comes from :data:`SAMPLE_TEXTS` (English when ``lang`` has none);
    captions in another language than the session's are translations.
    """
    translated = lang != session.source_lang
    text = SAMPLE_TEXTS.get(lang, SAMPLE_TEXTS["en"])
    for seq in range(1, count + 1):
        start = (seq - 1) * (SAMPLE_CAPTION_MS + SAMPLE_GAP_MS)
        yield Caption(
            session=session.id,
            lang=lang,
            seq=seq,
            id=f"{session.id}-{seq}",
            start_ms=start,
            end_ms=start + SAMPLE_CAPTION_MS,
            text=f"{text} {seq}",
            origin=origin if origin is not None else ("translation" if translated else "asr"),
            source_lang=session.source_lang if translated else None,
            source_text=f"{SAMPLE_TEXTS['en']} {seq}" if translated else None,
        )


class MemoryStore:
    """Sessions and final captions kept in memory; satisfies StoreLike."""

    def __init__(self, sessions: Iterable[Session] = (), captions: Iterable[Caption] = ()) -> None:
        self._sessions: dict[str, Session] = {}
        self._captions: dict[tuple[str, str], dict[int, Caption]] = {}
        for session in sessions:
            self.add_session(session)
        self.add_captions(captions)

    def add_session(self, session: Session) -> None:
        """Add or replace a session."""
        self._sessions[session.id] = session

    def add_captions(self, captions: Iterable[Caption]) -> None:
        """Store captions; a higher revision of the same (session, lang, seq) replaces the older."""
        for caption in captions:
            stream = self._captions.setdefault((caption.session, caption.lang), {})
            old = stream.get(caption.seq)
            if old is None or caption.revision >= old.revision:
                stream[caption.seq] = caption

    def list_sessions(self) -> list[Session]:
        return sorted(self._sessions.values(), key=lambda s: (s.created_at_ms, s.id))

    def get_session(self, session_id: str) -> Session:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise NotFoundError(
                f"no session {session_id!r}; `assistant export --list` shows the sessions"
            ) from None

    def languages(self, session_id: str) -> list[str]:
        """Languages with captions, the session's source language first, then alphabetical."""
        session = self.get_session(session_id)
        langs = sorted(lang for (sid, lang), stream in self._captions.items() if sid == session_id and stream)
        return sorted(langs, key=lambda lang: lang != session.source_lang)

    def count_captions(self, session_id: str, lang: str) -> int:
        return len(self._captions.get((session_id, lang), {}))

    def iter_captions(self, session_id: str, lang: str) -> Iterator[Caption]:
        stream = self._captions.get((session_id, lang), {})
        for seq in sorted(stream):
            yield stream[seq]


if TYPE_CHECKING:
    # Let mypy prove that MemoryStore satisfies the Protocol the CLI takes.
    _CONFORMS: StoreLike = MemoryStore()
