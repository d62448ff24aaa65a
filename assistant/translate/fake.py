"""A scripted Translator for tests and ``--dry-run``: no model, instant, predictable.

``FakeTranslator({("en", "fr"), ("en", "de")})`` answers ``"[fr] Hello"`` for
"Hello" en→fr, unless ``script`` says otherwise, and records every batch it got.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence

from assistant.errors import LanguageError


class FakeTranslator:
    """Translator with fixed pairs; output is ``[target] text`` or scripted."""

    def __init__(
        self,
        pairs: Iterable[tuple[str, str]],
        *,
        script: Mapping[tuple[str, str, str], str] | None = None,
        delay_s: float = 0.0,
        version: str = "1",
    ) -> None:
        self.pairs = frozenset(pairs)
        self.version = version  # of every pair's "package" (see edition); change it to "reinstall" them
        self.script = dict(script or {})
        self.delay_s = delay_s  # simulated model time per batch, slept on the worker thread
        self.batches: list[tuple[str, str, tuple[str, ...]]] = []
        self.loads: list[tuple[str, str]] = []  # pairs load() was asked for, in order
        self._lock = threading.Lock()

    def targets(self, source: str) -> tuple[str, ...]:
        return tuple(sorted(t for s, t in self.pairs if s == source and t != source))

    def edition(self, source: str, target: str) -> str:
        self._check(source, target)
        return f"{source}-{target} {self.version}"

    def load(self, source: str, target: str) -> None:
        self._check(source, target)
        with self._lock:
            self.loads.append((source, target))

    def translate_batch(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        self._check(source, target)
        with self._lock:
            self.batches.append((source, target, tuple(texts)))
        if self.delay_s:
            time.sleep(self.delay_s)
        return [self.script.get((source, target, text), f"[{target}] {text}") for text in texts]

    def _check(self, source: str, target: str) -> None:
        if (source, target) not in self.pairs:
            raise LanguageError(
                f"The fake translator has no pair '{source}'→'{target}'; "
                f"give it in FakeTranslator(pairs=...).",
                available=self.targets(source),
            )
