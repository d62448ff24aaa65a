"""How far an export has come: captions written, translations made, and how it ended.

One :class:`ExportProgress` per export. The export's worker thread counts
(:meth:`ExportProgress.counted` around each entry's captions,
:meth:`~ExportProgress.translated` per batch); anyone may read a consistent
:meth:`~ExportProgress.report` at any time (the staff page polls it over HTTP,
``assistant export`` draws a progress bar from it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from assistant.captions import Caption

ExportState = Literal["running", "done", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class ProgressReport:
    """A snapshot of one export."""

    state: ExportState
    fmt: str
    langs: tuple[str, ...]
    lang: str | None  # the language being written now
    captions_done: int
    captions_total: int  # captions the export writes (each language once per format in a zip)
    translations_done: int
    translations_total: int  # captions that had no translation yet when the export started
    message: str | None = None  # why it failed

    def as_json(self) -> dict[str, object]:
        """The object ``GET /api/exports/{job}`` answers."""
        return {"state": self.state, "format": self.fmt, "langs": list(self.langs), "lang": self.lang,
                "captions_done": self.captions_done, "captions_total": self.captions_total,
                "translations_done": self.translations_done, "translations_total": self.translations_total,
                "message": self.message}


class ExportProgress:
    """Counters of one export; written by its worker thread, read from anywhere."""

    def __init__(self, fmt: str, langs: Iterable[str], *, captions_total: int = 0, translations_total: int = 0,
                 listener: Callable[[ProgressReport], None] | None = None) -> None:
        """``listener`` gets a report after every change, on the thread that made it (a progress bar's update)."""
        self._lock = threading.Lock()
        self._listener = listener
        self._fmt = fmt
        self._langs = tuple(langs)
        self._lang: str | None = None
        self._state: ExportState = "running"
        self._message: str | None = None
        self._captions_done = 0
        self._captions_total = captions_total
        self._translations_done = 0
        self._translations_total = translations_total

    def counted(self, captions: Iterable[Caption], lang: str) -> Iterator[Caption]:
        """Yield ``captions`` (the entry in ``lang``), counting each as the exporter takes it."""
        with self._lock:
            self._lang = lang
        for caption in captions:
            yield caption
            with self._lock:
                self._captions_done += 1
            self._changed()

    def translated(self, count: int) -> None:
        """``count`` more captions were translated for this export."""
        with self._lock:
            self._translations_done += count
            # A correction made while the export runs can add work; the total is never below what was done.
            self._translations_total = max(self._translations_total, self._translations_done)
        self._changed()

    def finish(self, state: ExportState, message: str | None = None) -> None:
        """The export ended (done, failed, or its reader went away); the first call wins."""
        with self._lock:
            if self._state == "running":
                self._state, self._message = state, message

    def _changed(self) -> None:
        if self._listener is not None:
            self._listener(self.report())

    def report(self) -> ProgressReport:
        with self._lock:
            return ProgressReport(self._state, self._fmt, self._langs, self._lang, self._captions_done,
                                  max(self._captions_total, self._captions_done), self._translations_done,
                                  self._translations_total, self._message)
