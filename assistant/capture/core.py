"""The client side of the capture protocol (docs/capture.md) for one stream, across connections.

Sans-I/O: it never awaits, sleeps or touches a socket. One
:class:`CaptureStream` lives as long as a capture run and keeps its
:class:`CaptureBuffer` and stream id across reconnects. Drive it with

- :meth:`CaptureStream.receive_audio` for each captured block, connected or not,
  and :meth:`CaptureStream.end_of_audio` once the source has ended or was stopped;
- :meth:`CaptureStream.connection_made` when a socket opened,
  :meth:`CaptureStream.receive_text` / :meth:`CaptureStream.receive_binary`
  for each frame from the server, :meth:`CaptureStream.connection_lost` when it
  closed (with the close code, if one came);

and after each of those send what :meth:`CaptureStream.data_to_send` returns,
in order. :attr:`CaptureStream.finished` turns true once the server holds every
sample after the audio ended.

Audio time on the server stays exact: audio the bounded buffer had to drop
during a long outage goes out as a ``gap`` frame (servers that list ``gap``
in ``ready``'s ``features``) or as silence of the same length (older servers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from ..audio.capture_buffer import DEFAULT_FRAME_MS, DEFAULT_MAX_BUFFER_S, CaptureBuffer, Gap, Outgoing
from ..audio.formats import AudioFormat
from ..errors import AuthError, NotFoundError, ProtocolError
from ..pcm import SAMPLE_RATE
from .endpoint import TOKEN_ENV

CAPTURE_FORMAT = AudioFormat(sample_rate=SAMPLE_RATE, channels=1, sample_format="s16le")
GAP_FEATURE = "gap"
# The longest gap one frame may carry (docs/capture.md); a longer one goes out in several frames.
MAX_GAP_FRAME_S = 3600
# Close code of a connection that a newer one for the same session replaced.
REPLACED_CLOSE_CODE = 4409
STREAM_ENDED = "stream_ended"
REPLACED = "replaced"
_STOP_FRAME = json.dumps({"type": "stop"})


@dataclass(frozen=True, slots=True)
class Ready:
    """The server's ``ready``: it holds ``received`` samples of the stream and speaks ``features``."""

    received: int
    features: frozenset[str]
    sending: int
    """Frames (or gaps) queued to resend after it."""


@dataclass(frozen=True, slots=True)
class Ack:
    """The server's ``ack``: it has stored everything before ``received``."""

    received: int


def new_capture_buffer(max_buffer_s: float = DEFAULT_MAX_BUFFER_S, frame_ms: int = DEFAULT_FRAME_MS) -> CaptureBuffer:
    """An empty replay buffer in the capture format, for ``stream_capture``'s ``buffer``."""
    return CaptureBuffer(
        CAPTURE_FORMAT.sample_rate, CAPTURE_FORMAT.frame_bytes, max_buffer_s=max_buffer_s, frame_ms=frame_ms
    )


class CaptureStream:
    """One capture stream's protocol state: the buffer, the connection's phase, the stop handshake."""

    def __init__(self, stream_id: str, buffer: CaptureBuffer, fmt: AudioFormat = CAPTURE_FORMAT) -> None:
        self.stream_id = stream_id
        self.buffer = buffer
        self.format = fmt
        self.audio_ended = False
        """The source ended (or was stopped): no audio will be appended any more."""
        self._phase: Literal["closed", "starting", "streaming"] = "closed"  # start sent, then ready received
        self._features: frozenset[str] = frozenset()
        self._out: list[str | bytes] = []
        self._stop_sent = False  # on this connection
        self._stop_ever_sent = False
        self._ended_by_server = False

    # -- audio side ------------------------------------------------------
    def receive_audio(self, pcm: bytes) -> int:
        """Buffer captured audio (in the stream's format); returns how many old samples were dropped."""
        return self.buffer.append(pcm)

    def end_of_audio(self) -> None:
        """The source has ended: once the buffer is sent, ``stop`` follows."""
        self.audio_ended = True

    # -- connection side ----------------------------------------------------
    @property
    def streaming(self) -> bool:
        """A ``ready`` frame came on the current connection: audio flows."""
        return self._phase == "streaming"

    @property
    def stop_sent(self) -> bool:
        """``stop`` went out on the current connection."""
        return self._stop_sent

    @property
    def finished(self) -> bool:
        """The audio ended, ``stop`` was sent and the server confirmed every sample."""
        return self._ended_by_server or (self._stop_sent and self.buffer.buffered == 0)

    def connection_made(self) -> None:
        """A socket opened: the ``start`` frame is queued."""
        self._phase = "starting"
        self._stop_sent = False
        self._out = [json.dumps(self.format.start_message(self.stream_id))]

    def connection_lost(self, close_code: int | None = None) -> None:
        """The socket closed; ``close_code`` is the server's, when it sent one.

        Unsent frames are forgotten (the next ``ready`` says where to resume).
        Raises ProtocolError (code ``replaced``) for close code 4409: another
        capture connection took over the session, and reconnecting would take
        it back from them.
        """
        self._phase = "closed"
        self._stop_sent = False
        self._out = []
        if close_code == REPLACED_CLOSE_CODE:
            raise self._replaced_error("another capture connection took over this session (the server closed "
                                       "the connection with code 4409)")

    def receive_binary(self, data: bytes) -> None:
        """The server never sends binary frames on this socket: always raises ProtocolError."""
        raise ProtocolError("the server sent a binary frame on the capture socket: upgrade the server")

    def receive_text(self, raw: str) -> Ready | Ack | None:
        """Handle one text frame: a :class:`Ready` or :class:`Ack` it was, or None (ignored or final).

        Raises AuthError, NotFoundError or ProtocolError for the server's
        ``error`` frames (except the ``stream_ended`` that confirms a finished
        stream) and for frames that break the protocol.
        """
        try:
            msg = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"the server sent a frame that is not JSON ({raw[:80]!r}): upgrade the server") from exc
        if not isinstance(msg, dict):
            raise ProtocolError(f"the server sent {raw[:80]!r}, not a JSON object: upgrade the server")
        kind = msg.get("type")
        if kind == "error":
            self._server_error(msg)
            return None
        if kind not in ("ready", "ack"):
            return None  # unknown types are ignored, so the server can add some
        received = msg.get("received")
        if isinstance(received, bool) or not isinstance(received, int):
            raise ProtocolError(f"{kind} frame has received={received!r}, not a sample count: upgrade the server")
        if kind == "ack":
            if self._phase != "streaming":
                raise ProtocolError("the server sent 'ack' before 'ready': upgrade the server")
            self.buffer.ack(received)
            return Ack(received)
        if self._phase != "starting":
            raise ProtocolError("the server sent a second 'ready' on one connection: upgrade the server")
        features = msg.get("features")
        self._features = frozenset(f for f in features if isinstance(f, str)) if isinstance(features, list) \
            else frozenset()
        self._phase = "streaming"
        queued = self._encode(self.buffer.pending_from(received))
        self._out.extend(queued)
        return Ready(received, self._features, len(queued))

    def data_to_send(self) -> list[str | bytes]:
        """Frames to send now, in order: text (JSON) or binary (audio)."""
        if self._phase == "streaming":
            self._out.extend(self._encode(self.buffer.frames_to_send()))
            if self.audio_ended and not self._stop_sent:
                self._out.append(_STOP_FRAME)
                self._stop_sent = self._stop_ever_sent = True
        out, self._out = self._out, []
        return out

    # -- internals ----------------------------------------------------------
    def _encode(self, items: list[Outgoing]) -> list[str | bytes]:
        out: list[str | bytes] = []
        for item in items:
            if not isinstance(item, Gap):
                out.append(item)
            elif GAP_FEATURE in self._features:
                longest = MAX_GAP_FRAME_S * self.buffer.sample_rate
                for start in range(0, item.samples, longest):
                    out.append(json.dumps({"type": "gap", "samples": min(longest, item.samples - start)}))
            else:
                out.extend(self.buffer.silence(item.samples))
        return out

    def _server_error(self, msg: dict[str, object]) -> None:
        code = str(msg.get("code", "error"))
        message = str(msg.get("message", "no message"))
        text = f"the server stopped the capture: {message} ({code})"
        if code in (AuthError.code, "forbidden"):
            raise AuthError(text + f"; pass the session's chair token with --token or {TOKEN_ENV}")
        if code == NotFoundError.code:
            raise NotFoundError(text + "; check --session")
        if code == REPLACED:
            raise self._replaced_error(message)
        if code == STREAM_ENDED:
            received = msg.get("received")
            if self._stop_ever_sent and received == self.buffer.end:
                # Our own stop ended it, and the server has every sample: its final ack was lost, no more.
                self.buffer.ack(self.buffer.end)
                self._ended_by_server = True
                return
            raise ProtocolError(
                f"the server ended capture stream {self.stream_id} ({message}): the chair ended the session's "
                f"audio, or another capture took over. {self._undelivered_s():.1f} s of audio were not "
                "delivered; run the capture again to start a new stream",
                STREAM_ENDED,
            )
        raise ProtocolError(text, code)

    def _replaced_error(self, why: str) -> ProtocolError:
        """``why``: the server's message (it says who took over) or what the close code means."""
        return ProtocolError(
            f"{why.rstrip('.')}. This capture stops so as not to take the session back; "
            f"{self._undelivered_s():.1f} s of audio were not delivered",
            REPLACED,
        )

    def _undelivered_s(self) -> float:
        return self.buffer.buffered / self.buffer.sample_rate
