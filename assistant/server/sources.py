"""Audio sources a session can run from inside the server: a recording or a local microphone.

The spec strings come from the config (``[[sessions]] source``) or ``assistant
serve --source``: ``remote`` (audio arrives on /ws/audio), ``none`` (typed
captions only), ``mic`` / ``mic:NAME`` (a sound card here), or a file path.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..audio.microphone import MicrophoneSource
from ..audio.sources import AudioSource, FileSource
from .runtime import SessionRuntime

log = logging.getLogger(__name__)

NO_LOCAL_AUDIO = ("remote", "none")


def open_source(spec: str) -> AudioSource | None:
    """Open the source named by ``spec``; None for remote/none. Raises AudioSourceError."""
    if spec in NO_LOCAL_AUDIO:
        return None
    if spec == "mic" or spec.startswith("mic:"):
        device = spec[4:] or None
        return MicrophoneSource(int(device) if device and device.isdigit() else device)
    return FileSource(Path(spec), realtime=True)


async def feed(runtime: SessionRuntime, source: AudioSource) -> None:
    """Push every chunk of ``source`` into the session; when it ends the session stays readable."""
    if isinstance(source, FileSource):
        runtime.open_audio("file", source.path.name)
    else:
        device = getattr(source, "device", None)
        runtime.open_audio("mic", getattr(device, "name", None))
    try:
        async for chunk in source:
            runtime.push_audio(chunk)
    finally:
        runtime.close_audio()
        log.info("session %s: audio source ended", runtime.session.id)
