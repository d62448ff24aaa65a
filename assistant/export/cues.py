"""Cue times and cue text for subtitle formats, plus the clock formats exporters share.

Use :func:`timed_cues` on final captions in seq order: each cue keeps the
caption's own ``start_ms``/``end_ms`` to the millisecond and changes them only
where a player would misbehave:

* a start before the previous cue's end (or before 0) moves up to that end;
* an end at or before the start becomes ``start + MIN_CUE_MS``, cut short at
  the next caption's start so it still does not overlap;
* an end after the next caption's start is cut back to that start.

So cues never overlap and never have zero length.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from assistant.captions import Caption, join_texts, lines_of

MIN_CUE_MS = 1000  # duration given to a caption whose end <= start, when the next one leaves room

_MS_PER_SECOND = 1000
_MS_PER_MINUTE = 60 * _MS_PER_SECOND
_MS_PER_HOUR = 60 * _MS_PER_MINUTE

# C0 controls other than tab/newline/CR, and DEL: invisible, and some parsers choke on them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Any run of dashes ending in ">" would read as an SRT/VTT timing arrow.
_ARROW = re.compile(r"-{2,}>")


@dataclass(frozen=True, slots=True)
class Cue:
    """A caption placed on the subtitle timeline (times in ms of audio time)."""

    caption: Caption
    start_ms: int
    end_ms: int


def whole_lines(captions: Iterable[Caption]) -> Iterator[Caption]:
    """Join pieces (captions that ``continue`` the one before) into whole lines, lazily.

    A line keeps its first piece's id and seq and spans all its pieces; it is
    marked a fallback when any piece is (the mark must not be lost).
    """
    return (_joined(line) for line in lines_of(captions))


def _joined(pieces: list[Caption]) -> Caption:
    if len(pieces) == 1:
        return pieces[0]
    first = pieces[0]
    source = [p.source_text for p in pieces if p.source_text is not None]
    return dataclasses.replace(
        first, end_ms=max(p.end_ms for p in pieces), text=join_texts(p.text for p in pieces),
        revision=max(p.revision for p in pieces), fallback=any(p.fallback for p in pieces),
        source_text=join_texts(source) if source else None, continues=False)


def timed_cues(captions: Iterable[Caption]) -> Iterator[Cue]:
    """Yield one :class:`Cue` per caption, with non-overlapping, non-empty spans.

    Looks one caption ahead, so memory stays constant however long the stream.
    """
    floor_ms = 0
    pending: Caption | None = None
    for upcoming in captions:
        if pending is not None:
            cue = _place(pending, floor_ms, upcoming.start_ms)
            floor_ms = cue.end_ms
            yield cue
        pending = upcoming
    if pending is not None:
        yield _place(pending, floor_ms, None)


def _place(caption: Caption, floor_ms: int, next_start_ms: int | None) -> Cue:
    start = max(caption.start_ms, floor_ms, 0)
    end = caption.end_ms if caption.end_ms > start else start + MIN_CUE_MS
    if next_start_ms is not None and next_start_ms > start:
        end = min(end, next_start_ms)
    # When the next caption starts at or before this one, it is pushed after
    # this cue's end instead (via floor_ms), so there is still no overlap.
    return Cue(caption, start, end)


def clean_cue_text(text: str) -> str:
    """Return caption text safe for an SRT/VTT cue: no blank lines, no ``-->``, no controls."""
    text = _ARROW.sub("->", _CONTROL.sub("", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def one_line(text: str) -> str:
    """Return ``text`` on a single line with runs of whitespace collapsed (for txt/docx)."""
    return " ".join(_CONTROL.sub("", text).split())


def clock(ms: int) -> str:
    """Format ``ms`` as ``HH:MM:SS`` (hours grow past 99 if they must)."""
    hours, rest = divmod(max(ms, 0), _MS_PER_HOUR)
    minutes, rest = divmod(rest, _MS_PER_MINUTE)
    return f"{hours:02d}:{minutes:02d}:{rest // _MS_PER_SECOND:02d}"


def clock_ms(ms: int, separator: str = ".") -> str:
    """Format ``ms`` as ``HH:MM:SS.mmm`` (WebVTT; pass ``","`` for the SRT spelling)."""
    return f"{clock(ms)}{separator}{max(ms, 0) % _MS_PER_SECOND:03d}"
