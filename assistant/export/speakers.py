"""Speaker turns in transcripts: who was speaking when each caption began.

:class:`Speakers` answers, for captions in audio order, the speaker of each and
whether a new turn starts there; every exporter writes turns its own way (a
"Name:" line in text and DOCX, a prefix on the turn's first SRT cue, a WebVTT
voice span on every cue, a ``speaker`` field in JSON).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from assistant.captions import Caption, SpeakerTurn


class Speakers:
    """The speaker turns of one session; :meth:`of` for captions taken in audio order."""

    def __init__(self, turns: Sequence[SpeakerTurn] = ()) -> None:
        ordered = sorted(turns, key=lambda t: t.audio_ms)
        self._starts = [t.audio_ms for t in ordered]
        self._names = [t.speaker for t in ordered]
        self._last: str | None = None

    def __bool__(self) -> bool:
        return bool(self._starts)

    def at(self, audio_ms: int) -> str | None:
        """Who was speaking at ``audio_ms`` (None before the first turn, or with no turns)."""
        i = bisect.bisect_right(self._starts, audio_ms) - 1
        return self._names[i] if i >= 0 and self._names[i] else None

    def of(self, caption: Caption) -> tuple[str | None, bool]:
        """The speaker of ``caption`` and whether a turn starts with it (the speaker differs from the
        previous caption's); call in caption order."""
        name = self.at(caption.start_ms)
        changed = name is not None and name != self._last
        self._last = name
        return name, changed

    def records(self) -> list[dict[str, object]]:
        """The turns as JSON objects: ``{"audio_ms", "speaker"}``."""
        return [{"audio_ms": ms, "speaker": name} for ms, name in zip(self._starts, self._names)]
