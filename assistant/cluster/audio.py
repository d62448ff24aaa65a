"""Audio through Redis: each room's ``audio`` stream, written by whoever hears it, read by the owner.

An entry is 16 kHz mono s16le (32 KB per second of audio) with the capture
stream it belongs to, its offset in that stream (16 kHz samples before it) and
when it arrived; ``start`` and ``stop`` entries mark a stream's ends. Web nodes
write what capture stations send them; the owner of a room with a recording as
its source writes the recording (:func:`play_file`). The owner reads with
:class:`AudioIn`, which also records how far recognition has finished captions
(the end of the last final caption, as a stream entry and offset): a successor
resumes reading there, so audio that arrived while nobody owned the room, and
words the dead owner had heard but not yet captioned, are recognised.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import numpy as np

from ..asr.types import FinalCaption
from ..audio.formats import float_to_s16le
from ..audio.sources import FileSource
from ..clock import Clock
from ..errors import NotFoundError
from ..pcm import SAMPLE_RATE, AudioArray
from ..server.runtime import Recognizer, RecognizerFactory, SessionRuntime
from .keys import RoomKeys, dumps, entry_clock, text
from .writer import FencedWriter

AUDIO_MAXLEN = 3000  # entries kept per room: about five minutes of 100 ms chunks (~10 MB)
CONSUMED_KEPT = 3000  # entries remembered to place a caption's end in the stream
FILE_STREAM = "file"  # the stream id of a room's recording


@dataclass(frozen=True, slots=True)
class AudioEntry:
    """One entry of a room's audio stream."""

    id: bytes
    stream: str
    offset: int  # 16 kHz samples of this stream before this entry
    at_ms: int  # when it arrived (unix ms): audio time is placed by it, not by when it is read
    event: str  # "" (audio), "start" or "stop"
    pcm: bytes

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2


def entry_fields(stream: str, offset: int, at_ms: int, event: str = "", pcm: bytes = b"") -> dict[str, Any]:
    return {"s": stream, "o": offset, "t": at_ms, "e": event, "p": pcm}


def parse_entry(entry_id: bytes, f: dict[bytes, bytes]) -> AudioEntry:
    return AudioEntry(entry_id, text(f[b"s"]), int(f[b"o"]), int(f[b"t"]), text(f[b"e"]), f[b"p"])


def submit_entry(writer: FencedWriter, keys: RoomKeys, fields: dict[str, Any]) -> None:
    args: list[Any] = ["XADD", keys.audio, "MAXLEN", "~", AUDIO_MAXLEN, "*"]
    for k, v in fields.items():
        args += [k, v]
    writer.submit(*args)


def pcm_to_float(pcm: bytes) -> AudioArray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768.0)


def before(entry_id: bytes) -> str:
    """The stream id just before ``entry_id`` (``XREAD`` reads after the id it is given)."""
    ms, n = entry_clock(entry_id)
    return f"{ms}-{n - 1}" if n > 0 else f"{ms - 1}-18446744073709551615"


class _Feed:
    """One feed of the runtime: which stream, and the stream offset of its first sample once known."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.start: int | None = None


class AudioIn:
    """The owner's side of a room's audio stream: feeds the runtime, checkpoints finished captions."""

    def __init__(self, runtime: SessionRuntime, writer: FencedWriter, keys: RoomKeys,
                 checkpoint: dict[str, Any] | None, *, ended_at_ms: int | None = None) -> None:
        self._runtime = runtime
        self._writer = writer
        self._keys = keys
        self._checkpoint = checkpoint
        # A room taken over after its chair ended it: the streams the end closed stay closed, as
        # one server refuses them; a stream that starts after the end opens a feed (the session goes on).
        self._ended_at_ms = ended_at_ms
        self._closed: set[str] = {checkpoint["stream"]} if checkpoint and ended_at_ms is not None else set()
        self._feed: _Feed | None = None
        self._consumed: deque[tuple[bytes, str, int, int]] = deque(maxlen=CONSUMED_KEPT)
        self.dropped = 0  # samples a room without speech recognition could not take

    def start_id(self) -> str:
        """Where to read from: just before the checkpointed entry, or the stream's start."""
        return before(self._checkpoint["id"].encode()) if self._checkpoint else "0-0"

    def receive(self, e: AudioEntry) -> None:
        if self._ended_at_ms is not None and (e.stream in self._closed or e.at_ms <= self._ended_at_ms):
            self._closed.add(e.stream)
            return
        skip = 0
        cp = self._checkpoint
        if cp is not None:
            if e.stream == cp["stream"] and e.offset + e.samples <= cp["pos"] and e.event != "stop":
                return  # captioned already by the previous owner
            if e.stream == cp["stream"]:
                skip = max(cp["pos"] - e.offset, 0)
            self._checkpoint = None
        if e.event == "start":
            self._open(e.stream)
        elif e.event == "stop":
            if self._feed is not None and e.stream == self._feed.stream:
                self._feed = None
                self._runtime.close_audio()
        elif e.samples > skip:
            feed = self._feed
            if feed is None or e.stream != feed.stream:
                if not self._open(e.stream):
                    self.dropped += e.samples
                    return
                feed = self._feed
                assert feed is not None
            if feed.start is None:
                feed.start = e.offset + skip
            self._runtime.push_audio(pcm_to_float(e.pcm)[skip:], at_ms=e.at_ms)
            self._consumed.append((e.id, e.stream, e.offset + skip, e.samples - skip))

    def _open(self, stream: str) -> bool:
        self._feed = _Feed(stream)  # before open_audio: the recogniser it makes belongs to this feed
        try:
            self._runtime.open_audio()
        except NotFoundError:  # a room without speech recognition (--source none)
            self._feed = None
            return False
        return True

    def recognised_until(self, feed: _Feed, end_ms: int) -> None:
        """A final caption of ``feed`` ends at ``end_ms`` of it: a successor need not hear what came before."""
        if feed.start is None:
            return
        pos = feed.start + end_ms * SAMPLE_RATE // 1000
        for entry_id, s, offset, n in reversed(self._consumed):
            if s == feed.stream and offset <= pos:
                cp = {"id": text(entry_id), "stream": s, "pos": pos}
                self._writer.submit("HSET", self._keys.meta, "audio", dumps(cp))
                return

    def observe(self, factory: RecognizerFactory) -> RecognizerFactory:
        """Wrap ``factory`` so the final captions of its spoken-language recognisers move the checkpoint."""

        def make(language: str | None, glossary: tuple[str, ...], task: Any = "transcribe") -> Recognizer:
            inner = factory(language, glossary) if task == "transcribe" else factory(language, glossary, task=task)
            if task != "transcribe" or self._feed is None:
                return inner
            return _Observed(inner, self, self._feed)

        return make


class _Observed:
    def __init__(self, inner: Recognizer, audio: AudioIn, feed: _Feed) -> None:
        self._inner = inner
        self._audio = audio
        self._feed = feed

    async def run(self, audio: AsyncIterator[AudioArray], on_event: Callable[[Any], None]) -> None:
        def seen(event: Any) -> None:
            on_event(event)
            if isinstance(event, FinalCaption):
                self._audio.recognised_until(self._feed, event.end_ms)

        await self._inner.run(audio, seen)


async def play_file(path: Path, writer: FencedWriter, keys: RoomKeys, state: dict[str, Any] | None,
                    clock: Clock) -> None:
    """Play a recording into the room's audio stream at real speed, continuing where ``state`` says.

    ``state`` is the room's ``capture`` entry for the recording: how much was
    written and when it began. A successor continues from there on the same
    schedule, so the part played while nobody owned the room is written at once.
    """
    if state is not None and state.get("done"):
        return
    produced = int(state["out"]) if state else 0
    t0 = int(state["t0_ms"]) if state else clock.now_ms()
    if state is None:
        submit_entry(writer, keys, entry_fields(FILE_STREAM, 0, t0, "start"))
    skip = produced
    async for chunk in FileSource(path, realtime=False):
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        chunk, skip = chunk[skip:], 0
        release = t0 + (produced + len(chunk)) * 1000 // SAMPLE_RATE
        delay = (release - clock.now_ms()) / 1000
        if delay > 0:
            await asyncio.sleep(delay)
        submit_entry(writer, keys, entry_fields(FILE_STREAM, produced, release, "", float_to_s16le(chunk)))
        produced += len(chunk)
        writer.submit("HSET", keys.capture, FILE_STREAM, json.dumps({"out": produced, "t0_ms": t0}))
    submit_entry(writer, keys, entry_fields(FILE_STREAM, produced, clock.now_ms(), "stop"))
    writer.submit("HSET", keys.capture, FILE_STREAM, json.dumps({"out": produced, "t0_ms": t0, "done": True}))
