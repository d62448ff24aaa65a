"""A room's audio: one capture station per room for the whole day, carried into the talk on now.

The capture station connects once to ``/ws/rooms/{room}/audio`` (the same protocol as
``/ws/audio/{session}``, docs/capture.md); :class:`RoomAudio` stands where the audio
endpoint expects a session. When the talk changes, :meth:`RoomAudio.switch` closes the
old talk's feed (its recogniser finishes the last words there) and opens the new
talk's, so every caption lands in the talk it was said in. Between talks the audio is
heard and dropped: nothing is being captioned. So is the room's audio while another source
feeds the talk (the chair's browser microphone, a station connected to the talk itself):
one source per session, the newer wins, as everywhere.
"""

from __future__ import annotations

import logging

from ..errors import NotFoundError
from ..pcm import AudioArray
from .runtime import AudioKind, SessionRuntime

log = logging.getLogger(__name__)


class RoomAudio:
    """The audio target of one room (duck-types the part of a session the audio endpoint uses)."""

    def __init__(self, room: str) -> None:
        self.room = room
        # Capture streams heard by the audio endpoint (kept across reconnects and talk changes).
        self.ingest_streams: dict[str, object] = {}
        self._target: SessionRuntime | None = None
        self._target_feed: object | None = None  # the feed this room opened in the target
        self._token: object | None = None  # the room's feed: stays the same while the station streams
        self._source: tuple[AudioKind, str | None] = ("capture", None)

    @property
    def feed(self) -> object | None:
        """The room's current feed (None when no station sends audio)."""
        return self._token

    @property
    def target(self) -> SessionRuntime | None:
        """The session of the talk on now, which hears the room's audio."""
        return self._target

    def open_audio(self, kind: AudioKind = "capture", name: str | None = None) -> object:
        """A station starts a stream: the talk on now (if any) starts recognising it."""
        self._token = object()
        self._source = (kind, name)
        if self._target is not None:
            self._target_feed = self._target.open_audio(kind, name)
        return self._token

    def push_audio(self, chunk: AudioArray, at_ms: int | None = None) -> None:
        if self._ours():
            assert self._target is not None
            self._target.push_audio(chunk, at_ms)

    def close_audio(self) -> None:
        """The station stopped: the talk on finishes its last words."""
        if self._ours():
            assert self._target is not None
            self._target.close_audio()
        self._token = None
        self._target_feed = None

    def _ours(self) -> bool:
        """Whether the talk on is hearing this room's audio (not another source that took it over)."""
        return self._target is not None and self._target_feed is not None and self._target.feed is self._target_feed

    def switch(self, runtime: SessionRuntime | None) -> None:
        """The talk changed: the old one's feed ends, the new one's (``runtime``; None between talks) begins."""
        if self._target is runtime:
            return
        if self._ours():
            assert self._target is not None
            self._target.close_audio()
        self._target = runtime
        self._target_feed = None
        if runtime is not None and self._token is not None:
            try:
                self._target_feed = runtime.open_audio(*self._source)
            except NotFoundError as exc:  # a server without speech recognition: captions are typed
                log.info("room %s: %s", self.room, exc)
