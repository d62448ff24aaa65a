"""The capture client's replay buffer: audio kept until the server acknowledges it.

Sans-I/O. Positions are sample counts per channel at the client's own rate,
counted from the first sample of the stream (the ``received`` numbers of the
capture protocol, see docs/capture.md). The client calls

- :meth:`CaptureBuffer.append` with each captured block, connected or not;
- :meth:`CaptureBuffer.pending_from` with ``M`` of a ``ready`` frame, and
  sends what it returns;
- :meth:`CaptureBuffer.frames_to_send` whenever new audio was appended;
- :meth:`CaptureBuffer.ack` with ``M`` of each ``ack`` frame.

The buffer is bounded. When it is full the oldest audio is dropped and
counted in ``dropped``. Audio the server still needs but the buffer dropped
comes out as a :class:`Gap` of the same length, never as nothing: the
client tells the server about it (a ``gap`` frame), or sends
:meth:`CaptureBuffer.silence` in its place, so audio time on the server
stays exact however long the network was down.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ProtocolError

DEFAULT_MAX_BUFFER_S = 600.0
DEFAULT_FRAME_MS = 100


@dataclass(frozen=True, slots=True)
class Gap:
    """``samples`` of the stream that were dropped before the server had them; they count as silence."""

    samples: int


Outgoing = bytes | Gap
"""What the buffer hands out to send: a binary audio frame, or a gap in the audio."""


@dataclass(frozen=True, slots=True)
class BufferStats:
    """A snapshot of the buffer's counters, for logs and tests."""

    start: int
    end: int
    cursor: int
    dropped: int
    gap_samples: int


class CaptureBuffer:
    """Unacknowledged audio of one capture stream, cut into frames to (re)send.

    ``frame_bytes`` is the size of one sample across all channels (2 for mono
    s16le). Frames returned are at most ``frame_ms`` of audio long.
    """

    def __init__(
        self,
        sample_rate: int,
        frame_bytes: int,
        *,
        max_buffer_s: float = DEFAULT_MAX_BUFFER_S,
        frame_ms: int = DEFAULT_FRAME_MS,
    ) -> None:
        if sample_rate <= 0 or frame_bytes <= 0 or max_buffer_s <= 0 or frame_ms <= 0:
            raise ValueError("sample_rate, frame_bytes, max_buffer_s and frame_ms must be positive")
        self.sample_rate = sample_rate
        self.frame_bytes = frame_bytes
        self.max_samples = max(1, int(max_buffer_s * sample_rate))
        self.samples_per_frame = max(1, sample_rate * frame_ms // 1000)
        self.dropped = 0
        """Samples discarded unacknowledged because the buffer was full."""
        self.gap_samples = 0
        """Samples handed out as :class:`Gap` in place of dropped audio the server needed."""
        self._data = bytearray()
        self._start = 0  # stream position of self._data[0]
        self._cursor = 0  # next position to send

    @property
    def start(self) -> int:
        """Position of the oldest sample still held."""
        return self._start

    @property
    def end(self) -> int:
        """Position just after the newest sample: total samples appended so far."""
        return self._start + len(self._data) // self.frame_bytes

    @property
    def buffered(self) -> int:
        """Samples held (sent or not) awaiting acknowledgement."""
        return len(self._data) // self.frame_bytes

    @property
    def unsent(self) -> int:
        """Samples appended but not yet handed out for sending."""
        return self.end - self._cursor

    def stats(self) -> BufferStats:
        """A snapshot of the counters."""
        return BufferStats(self._start, self.end, self._cursor, self.dropped, self.gap_samples)

    def append(self, samples: bytes) -> int:
        """Add captured audio (whole samples only); returns how many samples were dropped to fit it."""
        if len(samples) % self.frame_bytes:
            raise ValueError(
                f"append() got {len(samples)} bytes, not a whole number of {self.frame_bytes}-byte samples"
            )
        self._data += samples
        overflow = self.buffered - self.max_samples
        if overflow <= 0:
            return 0
        # Dropping the oldest keeps the live edge, which is what the audience needs.
        del self._data[: overflow * self.frame_bytes]
        self._start += overflow
        self.dropped += overflow
        return overflow

    def ack(self, received: int) -> None:
        """Free audio up to ``received``, which the server confirmed it has.

        Raises ProtocolError when the server claims audio never appended.
        """
        self._check_position("ack", received)
        if received <= self._start:
            return
        del self._data[: (received - self._start) * self.frame_bytes]
        self._start = received

    def pending_from(self, received: int) -> list[Outgoing]:
        """What to send after a ``ready`` frame with ``received``: from there to the end.

        Audio before ``received`` is freed; later calls to
        :meth:`frames_to_send` continue after what this returns. Audio the
        server wants but the buffer already dropped comes first, as a
        :class:`Gap`. Raises ProtocolError when ``received`` is past the end.
        """
        self._check_position("ready", received)
        out: list[Outgoing] = []
        if received < self._start:
            out.append(self._gap(self._start - received))
        self.ack(received)
        self._cursor = max(received, self._start)
        out.extend(self.frames_to_send())
        return out

    def frames_to_send(self) -> list[Outgoing]:
        """What was appended since the last call (or since :meth:`pending_from`)."""
        out: list[Outgoing] = []
        if self._cursor < self._start:
            # Dropped while still unsent: the connection was up but the sender stalled.
            out.append(self._gap(self._start - self._cursor))
            self._cursor = self._start
        step = self.samples_per_frame * self.frame_bytes
        offset = (self._cursor - self._start) * self.frame_bytes
        view = bytes(self._data[offset:])
        out.extend(view[i : i + step] for i in range(0, len(view), step))
        self._cursor = self.end
        return out

    def silence(self, samples: int) -> list[bytes]:
        """Frames of digital silence, ``samples`` long in all: a :class:`Gap` for a server without ``gap``."""
        full, rest = divmod(samples, self.samples_per_frame)
        # One shared zero frame: a long gap costs a list of references, not megabytes.
        zero = bytes(self.samples_per_frame * self.frame_bytes)
        frames = [zero] * full
        if rest:
            frames.append(bytes(rest * self.frame_bytes))
        return frames

    def _gap(self, samples: int) -> Gap:
        self.gap_samples += samples
        return Gap(samples)

    def _check_position(self, what: str, received: int) -> None:
        if isinstance(received, bool) or not isinstance(received, int) or received < 0:
            raise ProtocolError(f"{what} frame has received={received!r}: expected a count of samples >= 0")
        if received > self.end:
            raise ProtocolError(
                f"{what} frame has received={received} but only {self.end} samples were sent: "
                "the server is confusing streams; restart the capture client with a new stream id"
            )
