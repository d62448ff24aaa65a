"""The remote capture client: streams a microphone or a file to the server, losing nothing.

Protocol (docs/capture.md): connect to ``/ws/audio/{session}`` with the chair
token, send a ``start`` frame, receive ``ready`` with the samples the server
already holds, (re)send the rest from the :class:`CaptureBuffer`, then live
audio; ``ack`` frames free the buffer. Capture never pauses: while the
connection is down audio piles up in the bounded buffer and is resent after
reconnecting (exponential backoff). What the full buffer had to drop still
counts: the server is told of the gap, so its audio time stays exact. Auth
failures, server ``error`` frames and a takeover by another capture are fatal
and never retried.

Stopping loses nothing either: once the ``stop`` event given to
:func:`stream_capture` is set, :func:`until_stopped` ends the source at once
and the client sends ``stop`` and waits for the server to acknowledge every
sample read so far. ``assistant capture`` sets it on the first Ctrl-C (or
SIGTERM); a second one quits at once, exit status 130.

Modules, in the order audio flows::

    audio     the source (file or microphone) and reading it until stopped
    core      the protocol for one stream, sans-I/O (CaptureStream)
    client    the asyncio adapter: sockets, reconnects (stream_capture)
    endpoint  URL, stream id, TLS, refused upgrades
    report    what the operator is told
    cli       ``assistant capture``: arguments, signals, exit status

Call :func:`stream_capture` from asyncio code, or ``assistant capture`` via
:func:`configure_capture_parser` / :func:`run_capture_command`.
"""

from __future__ import annotations

from ..audio.capture_buffer import CaptureBuffer
from .audio import open_source, until_stopped
from .cli import configure_capture_parser, run_capture_command
from .client import stream_capture
from .core import CAPTURE_FORMAT, CaptureStream, new_capture_buffer
from .endpoint import TOKEN_ENV, audio_url, make_ssl_context, new_stream_id
from .report import CaptureReport, LogReport

__all__ = [
    "CAPTURE_FORMAT",
    "CaptureBuffer",
    "CaptureReport",
    "CaptureStream",
    "LogReport",
    "TOKEN_ENV",
    "audio_url",
    "configure_capture_parser",
    "make_ssl_context",
    "new_capture_buffer",
    "new_stream_id",
    "open_source",
    "run_capture_command",
    "stream_capture",
    "until_stopped",
]
