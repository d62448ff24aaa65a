"""Where audio comes from: the :class:`AudioSource` protocol and file replay.

A source is an async iterator of float32, mono, 16 kHz, 1-D chunks of about
100 ms. :class:`FileSource` replays any file FFmpeg reads; the microphone
lives in :mod:`assistant.audio.microphone` and is re-exported here.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from ..errors import AudioSourceError
from .microphone import DeviceInfo, MicrophoneSource, list_devices
from ..pcm import SAMPLE_RATE, AudioArray
from .resample import Resampler, downmix

CHUNK_MS = 100
CHUNK_SAMPLES = SAMPLE_RATE * CHUNK_MS // 1000
# Frames decoded per hop to the worker thread: enough to amortise the hop.
_DECODE_BATCH_CHUNKS = 10


class AudioSource(Protocol):
    """An async iterator of float32 16 kHz mono chunks (~100 ms each); ends when the audio does."""

    def __aiter__(self) -> AsyncIterator[AudioArray]: ...


class FileSource:
    """Replays an audio or video file as 16 kHz mono chunks of 100 ms.

    With ``realtime`` (the default) chunk *i* is handed out when the injected
    ``clock`` reaches ``t0 + (i + 1) * 0.1`` s, where ``t0`` is the clock when
    iteration began: an absolute schedule, so late wake-ups never accumulate
    drift. With ``realtime=False`` chunks come as fast as they decode.

    Raises AudioSourceError on construction when the file is missing,
    unreadable or has no audio stream. Each ``async for`` replays from the start.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        realtime: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self._clock = clock
        self._sleep = sleep
        with self._open() as container:
            self.duration_s: float | None = (
                container.duration / av.time_base if container.duration is not None else None
            )

    def _open(self) -> av.container.InputContainer:
        if not self.path.is_file():
            raise AudioSourceError(f"audio file {str(self.path)!r} does not exist: check the path")
        try:
            container = av.open(str(self.path), mode="r")
        except (av.FFmpegError, OSError) as exc:
            raise AudioSourceError(
                f"cannot read {str(self.path)!r} as audio ({exc}): use a wav, mp3, ogg, m4a or video file"
            ) from exc
        if not container.streams.audio:
            container.close()
            raise AudioSourceError(f"{str(self.path)!r} has no audio stream: choose a file with sound")
        return container

    async def __aiter__(self) -> AsyncIterator[AudioArray]:
        blocks = self._decode_chunks()
        t0 = self._clock()
        produced = 0
        try:
            while True:
                batch = await asyncio.to_thread(_take, blocks, _DECODE_BATCH_CHUNKS)
                if not batch:
                    return
                for chunk in batch:
                    produced += chunk.size
                    if self.realtime:
                        delay = t0 + produced / SAMPLE_RATE - self._clock()
                        if delay > 0:
                            await self._sleep(delay)
                    yield chunk
        finally:
            try:
                blocks.close()
            except ValueError:
                # Cancelled while the worker thread is still decoding: the
                # generator closes its container when it is collected.
                pass

    def _decode_chunks(self) -> Generator[AudioArray, None, None]:
        """Decode on a worker thread; yields exact 100 ms chunks, then the short remainder."""
        container = self._open()
        try:
            stream = container.streams.audio[0]
            resampler: Resampler | None = None
            pending = np.zeros(0, dtype=np.float32)
            try:
                for frame in container.decode(stream):
                    if resampler is None:
                        resampler = Resampler(frame.sample_rate)
                    pending = np.concatenate([pending, resampler.push(_frame_to_mono(frame))])
                    while pending.size >= CHUNK_SAMPLES:
                        yield pending[:CHUNK_SAMPLES].copy()
                        pending = pending[CHUNK_SAMPLES:]
            except av.FFmpegError as exc:
                raise AudioSourceError(
                    f"decoding {str(self.path)!r} failed ({exc}): the file may be truncated or corrupt"
                ) from exc
            if resampler is not None:
                pending = np.concatenate([pending, resampler.flush()])
            for i in range(0, pending.size, CHUNK_SAMPLES):
                yield pending[i : i + CHUNK_SAMPLES].copy()
        finally:
            container.close()


def _take(blocks: Iterator[AudioArray], n: int) -> list[AudioArray]:
    out: list[AudioArray] = []
    for block in blocks:
        out.append(block)
        if len(out) == n:
            break
    return out


def _frame_to_mono(frame: av.AudioFrame) -> AudioArray:
    """Any decoded frame (planar or packed, int or float) as 1-D float32 mono."""
    channels = len(frame.layout.channels)
    array = frame.to_ndarray()
    if frame.format.is_planar:
        block = array.T  # (channels, n) -> (n, channels)
    else:
        block = array.reshape(-1, channels)
    if block.dtype == np.uint8:
        # FFmpeg's u8 is offset binary: 128 is silence.
        floats = ((block.astype(np.float32) - 128.0) / np.float32(128.0)).astype(np.float32)
    elif np.issubdtype(block.dtype, np.integer):
        scale = float(2 ** (8 * block.dtype.itemsize - 1))
        floats = (block.astype(np.float32) / np.float32(scale)).astype(np.float32)
    else:
        floats = block.astype(np.float32, copy=False)
    return downmix(np.ascontiguousarray(floats))


__all__ = [
    "AudioSource",
    "CHUNK_MS",
    "DeviceInfo",
    "FileSource",
    "MicrophoneSource",
    "list_devices",
]
