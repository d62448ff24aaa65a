"""Translators that wrap another Translator: pivoting through English, and an LRU cache.

Compose them by wrapping; the recommended stack is
``PivotTranslator(CachedTranslator(CTranslate2ArgosTranslator(registry)))``:
both hops of a pivoted translation go through the cache, so a Chinese caption
wanted in es, fr and de is translated to English once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.errors import LanguageError
from assistant.translate.engine import Translator
from assistant.translate.packages import PIVOT_LANGUAGE

DEFAULT_CACHE_ENTRIES = 4096  # sentences; a day of captions in a few languages


class PivotTranslator:
    """Serves source→target through ``pivot`` when the inner translator has no direct pair."""

    def __init__(self, inner: Translator, pivot: str = PIVOT_LANGUAGE) -> None:
        self.inner = inner
        self.pivot = pivot

    def targets(self, source: str) -> tuple[str, ...]:
        """Direct targets, plus the pivot's targets when source→pivot exists."""
        direct = set(self.inner.targets(source))
        if self.pivot in direct:
            direct |= set(self.inner.targets(self.pivot))
        return tuple(sorted(direct - {source}))

    def edition(self, source: str, target: str) -> str:
        """The direct pair's, or both hops' ("zh-en 1.9 > en-de 1.0")."""
        return " > ".join(self.inner.edition(a, b) for a, b in self._hops(source, target))

    def load(self, source: str, target: str) -> None:
        """Load the direct pair, or both hops."""
        if source != target:
            for a, b in self._hops(source, target):
                self.inner.load(a, b)

    def translate_batch(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Translate directly when possible, otherwise source→pivot→target."""
        if source == target:
            return list(texts)
        for a, b in self._hops(source, target):
            texts = self.inner.translate_batch(texts, a, b)
        return list(texts)

    def _hops(self, source: str, target: str) -> tuple[tuple[str, str], ...]:
        direct = self.inner.targets(source)
        if target in direct:
            return ((source, target),)
        if self.pivot in direct and target in self.inner.targets(self.pivot):
            return ((source, self.pivot), (self.pivot, target))
        available = self.targets(source)
        raise LanguageError(
            f"Cannot translate from '{source}' to '{target}', directly or through "
            f"'{self.pivot}'. Reachable from '{source}': {', '.join(available) or 'none'}. "
            "Install a package with `assistant languages add FILE.argosmodel`.",
            available=available,
        )


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counts since the cache was made: sentences served from cache, and computed."""

    hits: int
    misses: int
    entries: int


class _InFlight:
    """A sentence one thread is translating; others wanting it wait instead of redoing it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.text: str | None = None
        self.error: BaseException | None = None


class CachedTranslator:
    """LRU cache of (source, target, edition, text) → translation in front of another Translator.

    Thread-safe. Identical sentences requested at the same time from several
    threads are translated once. A package reinstalled in another version (its
    ``edition``) is not answered from what the old one translated.
    """

    def __init__(self, inner: Translator, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.inner = inner
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, str, str], str] = OrderedDict()
        self._in_flight: dict[tuple[str, str, str, str], _InFlight] = {}
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def targets(self, source: str) -> tuple[str, ...]:
        return self.inner.targets(source)

    def edition(self, source: str, target: str) -> str:
        return self.inner.edition(source, target)

    def load(self, source: str, target: str) -> None:
        self.inner.load(source, target)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries))

    def translate_batch(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Serve cached sentences; translate the rest in one inner batch."""
        found: dict[str, str] = {}
        mine: dict[str, _InFlight] = {}
        theirs: dict[str, _InFlight] = {}
        if source == target:
            return list(texts)
        edition = self.inner.edition(source, target)
        with self._lock:
            for text in dict.fromkeys(texts):
                key = (source, target, edition, text)
                if key in self._entries:
                    self._entries.move_to_end(key)
                    found[text] = self._entries[key]
                    self._hits += 1
                elif key in self._in_flight:
                    theirs[text] = self._in_flight[key]
                    self._hits += 1
                else:
                    mine[text] = self._in_flight[key] = _InFlight()
                    self._misses += 1
        if mine:
            self._compute(list(mine), source, target, edition, mine, found)
        for text, pending in theirs.items():
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            assert pending.text is not None
            found[text] = pending.text
        return [found[text] for text in texts]

    def _compute(
        self,
        texts: list[str],
        source: str,
        target: str,
        edition: str,
        pending: dict[str, _InFlight],
        found: dict[str, str],
    ) -> None:
        try:
            outputs = self.inner.translate_batch(texts, source, target)
        except BaseException as exc:
            with self._lock:
                for text in texts:
                    self._in_flight.pop((source, target, edition, text), None)
            for text in texts:
                pending[text].error = exc
                pending[text].done.set()
            raise
        with self._lock:
            for text, output in zip(texts, outputs):
                key = (source, target, edition, text)
                self._entries[key] = output
                self._entries.move_to_end(key)
                self._in_flight.pop(key, None)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        for text, output in zip(texts, outputs):
            pending[text].text = output
            pending[text].done.set()
            found[text] = output
