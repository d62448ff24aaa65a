"""``assistant capture``: its arguments, its signals and its exit status.

The first Ctrl-C (or SIGTERM) stops reading the source and exits 0 once the
server has every sample read; a second one quits at once with 128 + the
signal (130 for Ctrl-C). Errors exit 1, usage problems 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import ssl as ssl_module
import sys
from collections.abc import Mapping

from ..audio.capture_buffer import DEFAULT_MAX_BUFFER_S, CaptureBuffer
from ..audio.sources import AudioSource
from ..errors import AssistantError
from .audio import open_source
from .client import stream_capture
from .core import new_capture_buffer
from .endpoint import TOKEN_ENV, make_ssl_context
from .report import log, quit_message, stopping_message

# Signals that stop a capture gracefully; the second one quits at once.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Exit status after quitting on a signal, as shells report it (130 for Ctrl-C).
_EXIT_SIGNAL_BASE = 128


def configure_capture_parser(p: argparse.ArgumentParser) -> None:
    """Set up ``assistant capture`` (stream a microphone or a recording to a server)."""
    p.description = "Stream audio from this machine to a caption server, resending anything lost in a network drop."
    p.add_argument("--server", required=True, help="server base URL, e.g. http://host:8080 or https://host")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--session", help="session id to caption")
    target.add_argument("--room", help="a room of the programme: its audio goes to the talk on now, all day")
    p.add_argument("--token", help=f"chair token of the session (default: ${TOKEN_ENV})")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", help="input device index or name substring (see 'assistant devices')")
    src.add_argument("--source", metavar="FILE", help="stream a recording at real speed instead of a microphone")
    p.add_argument("--insecure", action="store_true", help="wss: accept any server certificate (self-signed)")
    p.add_argument("--cafile", help="wss: trust this CA/certificate file (PEM) for the server")
    p.add_argument("--max-buffer-s", type=float, default=DEFAULT_MAX_BUFFER_S,
                   help="seconds of audio kept while disconnected (default %(default).0f)")


def run_capture_command(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    """Run ``assistant capture``: 0 when done, 1 on an error, 2 on a usage problem, 130 when quit.

    The first Ctrl-C (or SIGTERM) stops reading the source and exits 0 once
    the server has every sample read; a second one quits at once (130, or 143
    for SIGTERM), losing the audio the server has not acknowledged. Where
    signal handlers cannot be installed (Windows, a thread other than the
    main one) Ctrl-C quits at once.
    """
    env = os.environ if environ is None else environ
    token = args.token or env.get(TOKEN_ENV, "")
    if not token:
        print(f"error: no chair token: pass --token or set {TOKEN_ENV}", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        context = make_ssl_context(insecure=args.insecure, cafile=args.cafile)
        source = open_source(args.source, args.device)
        return asyncio.run(_capture_until_signalled(
            args.server, args.session or "", token, source, ssl=context, buffer=new_capture_buffer(args.max_buffer_s),
            room=args.room,
        ))
    except KeyboardInterrupt:
        # No handler could be installed, or a third Ctrl-C cut a hanging shutdown short: audio is lost.
        return _EXIT_SIGNAL_BASE + signal.SIGINT
    except (AssistantError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _capture_until_signalled(
    server: str, session: str, token: str, source: AudioSource, *,
    ssl: ssl_module.SSLContext, buffer: CaptureBuffer, room: str | None = None,
) -> int:
    """:func:`stream_capture` with SIGINT/SIGTERM handlers: 0 when done, 128 + signal when quit."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    quit_now = asyncio.Event()
    quit_signal = signal.SIGINT

    def on_signal(sig: signal.Signals) -> None:
        nonlocal quit_signal
        if stop.is_set():
            quit_signal = sig
            quit_now.set()
            return
        stop.set()
        log.warning(stopping_message(_seconds(buffer, buffer.buffered)))

    installed: list[signal.Signals] = []
    for sig in _STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError) as exc:
            # Windows has no loop signal handlers; other threads cannot have any.
            log.debug("no graceful stop on %s (%s): Ctrl-C quits at once", sig.name, exc)
            continue
        installed.append(sig)
    capture = asyncio.create_task(
        stream_capture(server, session, token, source, ssl=ssl, stop=stop, buffer=buffer, room=room)
    )
    quitting = asyncio.ensure_future(quit_now.wait())
    quit_early = False
    try:
        await asyncio.wait({capture, quitting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Removed first, so that one more Ctrl-C interrupts a close handshake that hangs.
        for sig in installed:
            loop.remove_signal_handler(sig)
        quitting.cancel()
        if not capture.done():
            quit_early = True
            capture.cancel()
            await asyncio.gather(capture, return_exceptions=True)
    if quit_early:
        print(quit_message(_seconds(buffer, buffer.buffered)), file=sys.stderr)
        return _EXIT_SIGNAL_BASE + quit_signal
    capture.result()
    return 0


def _seconds(buffer: CaptureBuffer, samples: int) -> float:
    return samples / buffer.sample_rate
