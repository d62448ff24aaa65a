"""What a capture run tells its operator: connections, losses, the buffer, the end.

:class:`CaptureReport` is the interface the asyncio adapter calls;
:class:`LogReport` (the default) writes log lines an operator at the capture
station can act on. Tests pass their own to watch a run.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("assistant.capture")


class CaptureReport(Protocol):
    """Called by ``stream_capture`` as things happen; every method must return at once."""

    def connected(self, stream_id: str, received: int, sending: int, gaps: bool) -> None:
        """A ``ready`` came: the server holds ``received`` samples; ``sending`` frames are resent."""

    def connection_lost(self, reason: str, buffered_s: float, retry_in_s: float) -> None:
        """The connection failed or closed; the next attempt is in ``retry_in_s``."""

    def overflow(self, dropped_s: float, total_dropped_s: float) -> None:
        """The buffer was full: ``dropped_s`` of the oldest unconfirmed audio went (the server may get a gap)."""

    def finished(self, stream_id: str, samples: int) -> None:
        """The server acknowledged all ``samples`` of the stream after ``stop``."""


class LogReport:
    """The default report: log lines on the ``assistant.capture`` logger."""

    def connected(self, stream_id: str, received: int, sending: int, gaps: bool) -> None:
        log.info(
            "capture stream %s connected; server has %d samples, sending %d buffered frames",
            stream_id, received, sending,
        )

    def connection_lost(self, reason: str, buffered_s: float, retry_in_s: float) -> None:
        log.warning(
            "capture connection lost (%s); %.1f s of audio buffered; retrying in %.1f s",
            reason, buffered_s, retry_in_s,
        )

    def overflow(self, dropped_s: float, total_dropped_s: float) -> None:
        log.error(
            "CAPTURE BUFFER FULL: dropped %.1f s of audio the server had not confirmed (%.1f s in total); "
            "whatever of it the server lacks becomes silence there. Restore the network!",
            dropped_s, total_dropped_s,
        )

    def finished(self, stream_id: str, samples: int) -> None:
        log.info("capture stream %s finished: the server has all %d samples", stream_id, samples)


def stopping_message(buffered_s: float) -> str:
    """Logged at the first Ctrl-C (or SIGTERM)."""
    return f"stopping: sending the last {buffered_s:.1f} s of buffered audio to the server (Ctrl-C again to quit now)"


def quit_message(undelivered_s: float) -> str:
    """Printed when a second signal quits before the server had everything."""
    return f"quit: {undelivered_s:.1f} s of audio were not delivered to the server (unsent or unacknowledged)"
