"""An in-memory store for tests and ``--dry-run``: a :class:`~assistant.export.ondemand.TranscriptStore`.

Holds sessions, captions and export translations in dicts; keeps only the
latest revision of each (session, lang, seq), as the real store does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from assistant.captions import Caption, CaptionOrigin, Session
from assistant.errors import NotFoundError
from assistant.store.sqlite import CachedTranslation

if TYPE_CHECKING:
    from assistant.export.ondemand import TranscriptStore


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
    """Sessions, final captions and export translations kept in memory; satisfies TranscriptStore."""

    def __init__(self, sessions: Iterable[Session] = (), captions: Iterable[Caption] = ()) -> None:
        self._sessions: dict[str, Session] = {}
        self._captions: dict[tuple[str, str], dict[int, Caption]] = {}
        self._translations: dict[tuple[str, str, str], CachedTranslation] = {}  # (session, id, lang): latest
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


    def captions_since(self, session: str, lang: str, since: int, limit: int = 1000) -> list[Caption]:
        stream = self._captions.get((session, lang), {})
        return [stream[seq] for seq in sorted(stream) if seq > since][:limit]

    def spoken_languages(self, session_id: str) -> list[str]:
        session = self.get_session(session_id)
        default = "en" if session.source_lang == "auto" else session.source_lang
        return sorted({c.source_lang or default for c in self.iter_captions(session_id, session.source_lang)})

    def has_origin(self, session_id: str, lang: str, origin: str) -> bool:
        return any(c.origin == origin for c in self.iter_captions(session_id, lang))

    def captions_by_id(self, session_id: str, lang: str, ids: Sequence[str]) -> dict[str, Caption]:
        wanted = set(ids)
        return {c.id: c for c in self.iter_captions(session_id, lang) if c.id in wanted}

    def untranslated(self, session: str, source_lang: str, lang: str, limit: int) -> list[Caption]:
        have = {c.id for c in self.iter_captions(session, lang)}
        missing = [c for c in self.iter_captions(session, source_lang) if c.id not in have]
        return missing[-limit:] if limit > 0 else []

    def cached_translations(self, session_id: str, lang: str,
                            keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], CachedTranslation]:
        found = {}
        for cid, revision in keys:
            t = self._translations.get((session_id, cid, lang))
            if t is not None and t.source_revision == revision:
                found[(cid, revision)] = t
        return found

    def save_cached_translations(self, translations: Sequence[CachedTranslation]) -> None:
        for t in translations:
            self._translations[(t.session, t.caption_id, t.lang)] = t

    def count_to_translate(self, session_id: str, lang: str, engines: Mapping[str, str]) -> int:
        session = self.get_session(session_id)
        default = "en" if session.source_lang == "auto" else session.source_lang
        have = {c.id for c in self.iter_captions(session_id, lang)}
        return sum(1 for c in self.iter_captions(session_id, session.source_lang)
                   if c.text.strip() and (c.source_lang or default) != lang and c.id not in have
                   and not any(t.engine == engines.get(c.source_lang or default)
                               for t in self.cached_translations(session_id, lang, [(c.id, c.revision)]).values()))


if TYPE_CHECKING:
    # Let mypy prove that MemoryStore satisfies the Protocol the CLI takes.
    _CONFORMS: TranscriptStore = MemoryStore()
