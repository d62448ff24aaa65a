"""SRT and WebVTT exporters: synchronous generators of UTF-8 byte chunks.

Both take final captions in seq order and place them with
:func:`~assistant.export.cues.timed_cues`; captions whose text is empty after
cleaning are left out (an empty cue would end the cue block early).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

import srt

from assistant.captions import Caption, Session, SpeakerTurn
from assistant.export.chunks import batched, peek
from assistant.export.cues import Cue, clean_cue_text, clock_ms, one_line, timed_cues
from assistant.export.marks import transcript_info
from assistant.export.speakers import Speakers

_VTT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def srt_chunks(session: Session, captions: Iterable[Caption], *,
               speakers: Sequence[SpeakerTurn] = ()) -> Iterator[bytes]:
    """Yield an SRT file (numbered 1, 2, 3, ...) for ``captions``, composed by the ``srt`` library; the
    first cue of each speaker's turn starts with "Name: "."""
    return batched(_srt_pieces(captions, Speakers(speakers)))


def _srt_pieces(captions: Iterable[Caption], speakers: Speakers) -> Iterator[str]:
    for index, (cue, text) in enumerate(_non_empty_cues(captions), start=1):
        name, turn = speakers.of(cue.caption)
        if turn and name:
            text = f"{one_line(name)}: {text}"
        subtitle = srt.Subtitle(
            index=index,
            start=dt.timedelta(milliseconds=cue.start_ms),
            end=dt.timedelta(milliseconds=cue.end_ms),
            content=text,
        )
        yield subtitle.to_srt()


def vtt_chunks(
    session: Session, captions: Iterable[Caption], lang: str | None = None, *,
    speakers: Sequence[SpeakerTurn] = (),
) -> Iterator[bytes]:
    """Yield a WebVTT file for ``captions``; cue identifiers are caption ids; with ``speakers``, each
    cue's text is in a voice span naming its speaker (``<v Ada Lovelace>…``).

    A NOTE block after the header carries the title and, for machine
    translations, the translation note.
    """
    return batched(_vtt_pieces(session, captions, lang, Speakers(speakers)))


def _vtt_pieces(session: Session, captions: Iterable[Caption], lang: str | None,
                speakers: Speakers) -> Iterator[str]:
    first, captions = peek(captions)
    info = transcript_info(session, lang, first)
    yield "WEBVTT\n\n"
    note_lines = [one_line(info.title), *([info.note] if info.note else [])]
    yield "NOTE\n" + "\n".join(_vtt_safe(line) for line in note_lines if line) + "\n\n"
    for cue, text in _non_empty_cues(captions):
        identifier = _vtt_safe(one_line(cue.caption.id)) or str(cue.caption.seq)
        name, _ = speakers.of(cue.caption)
        voice = f"<v {_vtt_safe(one_line(name)).translate(_VTT_ESCAPES)}>" if name else ""
        yield (
            f"{identifier}\n{clock_ms(cue.start_ms)} --> {clock_ms(cue.end_ms)}\n"
            f"{voice}{text.translate(_VTT_ESCAPES)}\n\n"
        )


def _vtt_safe(line: str) -> str:
    """A line for a cue id or NOTE: "-->" is forbidden in both."""
    return clean_cue_text(line).replace("\n", " ")


def _non_empty_cues(captions: Iterable[Caption]) -> Iterator[tuple[Cue, str]]:
    kept = (caption for caption in captions if clean_cue_text(caption.text))
    for cue in timed_cues(kept):
        # Cleaning again is cheaper than carrying texts alongside the look-ahead.
        yield cue, clean_cue_text(cue.caption.text)
