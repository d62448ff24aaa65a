"""Which translations a session is waiting for, and in what order they may be released.

Pure bookkeeping, used by :class:`~assistant.session.core.SessionCore`. Every
request is keyed by (caption id, language) and carries a ``ticket``; a result
whose ticket is not the latest for its key is stale (the caption was corrected
meanwhile) and is dropped: the newer request is already out. New captions of a
language are released in the source order, so a fast translation never
overtakes a slow one; a re-translation of a caption the language already has
is released at once, as a revision.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..captions import Caption


@dataclass(frozen=True, slots=True)
class TranslationJob:
    """One text to translate: the source version ``revision`` of ``caption_id`` into ``lang``."""

    caption_id: str
    lang: str
    text: str
    source_lang: str
    revision: int
    ticket: int
    glossary: tuple[str, ...] = ()
    # A partial: the agreed words of the still-open caption (``epoch`` counts closed captions).
    partial: bool = False
    epoch: int = 0
    requested_at_ms: int = 0


@dataclass(slots=True)
class _Pending:
    ticket: int
    source: Caption  # the source version being translated (its text, span, revision)
    base: Caption | None  # the stored version in the target language, when revising one
    result: tuple[str, bool] | None = None  # (text, fallback) once translated


@dataclass(slots=True)
class Released:
    """A translation ready to store: new in its language (``base`` None) or a revision of ``base``."""

    lang: str
    source: Caption
    base: Caption | None
    text: str
    fallback: bool


@dataclass
class TranslationBook:
    """The translations pending for one session (see the module docstring)."""

    _pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)
    _order: dict[str, deque[str]] = field(default_factory=dict)  # lang → caption ids awaiting first release
    _tickets: int = 0

    def request_new(self, source: Caption, lang: str, source_lang: str, glossary: tuple[str, ...]
                    ) -> TranslationJob | None:
        """Queue the first translation of ``source`` into ``lang``; None if one is already pending."""
        key = (source.id, lang)
        if key in self._pending:
            return None
        self._order.setdefault(lang, deque()).append(source.id)
        return self._request(key, source, None, source_lang, glossary)

    def request_revision(self, source: Caption, lang: str, base: Caption | None, source_lang: str,
                         glossary: tuple[str, ...]) -> TranslationJob | None:
        """Translate ``source`` (a corrected text) again into ``lang``.

        A caption still waiting for its first release keeps its place in the order
        and gets the new text; one already stored (``base``) is revised when the
        result comes. None when ``lang`` has neither (nothing to update).
        """
        key = (source.id, lang)
        pending = self._pending.get(key)
        if pending is not None:
            return self._request(key, source, pending.base, source_lang, glossary)
        if base is None:
            return None
        return self._request(key, source, base, source_lang, glossary)

    def _request(self, key: tuple[str, str], source: Caption, base: Caption | None, source_lang: str,
                 glossary: tuple[str, ...]) -> TranslationJob:
        self._tickets += 1
        self._pending[key] = _Pending(self._tickets, source, base)
        return TranslationJob(source.id, key[1], source.text, source_lang, source.revision, self._tickets, glossary)

    def is_pending(self, caption_id: str, lang: str) -> bool:
        return (caption_id, lang) in self._pending

    def set_base(self, caption: Caption) -> None:
        """The stored version of a pending revision changed (the chair corrected it)."""
        pending = self._pending.get((caption.id, caption.lang))
        if pending is not None and pending.base is not None:
            pending.base = caption

    def cancel(self, caption_id: str, lang: str) -> None:
        """Forget a pending revision (a person corrected that language directly: people win)."""
        pending = self._pending.get((caption_id, lang))
        if pending is not None and pending.base is not None:
            del self._pending[(caption_id, lang)]

    def drop_language(self, lang: str) -> None:
        """Stop waiting for first translations into ``lang`` (nobody reads it; back-filled on return)."""
        for caption_id in self._order.pop(lang, deque()):
            self._pending.pop((caption_id, lang), None)

    def receive(self, job: TranslationJob, text: str, fallback: bool) -> list[Released]:
        """Record a result; return what may be stored now, in order. Stale results return nothing."""
        key = (job.caption_id, job.lang)
        pending = self._pending.get(key)
        if pending is None or pending.ticket != job.ticket:
            return []
        if pending.base is not None:
            del self._pending[key]
            return [Released(job.lang, pending.source, pending.base, text, fallback)]
        pending.result = (text, fallback)
        released = []
        order = self._order.get(job.lang, deque())
        while order:
            head = self._pending.get((order[0], job.lang))
            if head is None:
                order.popleft()
                continue
            if head.result is None:
                break
            order.popleft()
            del self._pending[(head.source.id, job.lang)]
            released.append(Released(job.lang, head.source, None, *head.result))
        return released

    def queued_first(self) -> dict[str, int]:
        """Per language, the captions waiting for their first translation."""
        return {lang: len(order) for lang, order in self._order.items() if order}

    def __len__(self) -> int:
        return len(self._pending)
