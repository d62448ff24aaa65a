"""The capture station's audio input: which source to read, and reading it until told to stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

from ..audio.resample import Samples
from ..audio.sources import AudioSource, FileSource, MicrophoneSource


def open_source(recording: str | None, device: str | None) -> AudioSource:
    """``recording`` replayed at real speed if given, else the microphone ``device`` (index or name).

    Raises AudioSourceError when the file or the device cannot be opened.
    """
    if recording:
        return FileSource(recording)
    return MicrophoneSource(_device_arg(device))


async def until_stopped(source: AudioSource, stop: asyncio.Event) -> AsyncIterator[Samples]:
    """Yield ``source``'s chunks until ``stop`` is set or the source ends; then close the source.

    Ends promptly even while the source is waiting for its next chunk (a
    microphone between blocks, a file being paced): that read is cancelled, so
    audio the source had not handed out yet is never yielded. A chunk it did
    hand out is always yielded, even when ``stop`` was set in the same instant.
    """
    chunks = aiter(source)
    stopped = asyncio.ensure_future(stop.wait())
    read: asyncio.Task[Samples | None] | None = None
    try:
        while not stop.is_set():
            read = asyncio.create_task(_next_chunk(chunks))
            await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                return
            chunk = read.result()
            read = None
            if chunk is None:
                return
            yield chunk
    finally:
        stopped.cancel()
        if read is not None and not read.done():
            read.cancel()
            # The source must leave its await before it can be closed.
            await asyncio.gather(read, return_exceptions=True)
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()


async def _next_chunk(chunks: AsyncIterator[Samples]) -> Samples | None:
    return await anext(chunks, None)


def _device_arg(device: str | None) -> str | int | None:
    if device is None:
        return None
    return int(device) if device.strip().isdigit() else device
