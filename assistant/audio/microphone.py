"""Live audio from a sound card through PortAudio (the ``sounddevice`` package).

PortAudio calls :meth:`BlockRelay.callback` on its own real-time thread. The
callback must never block, so it copies the block and hands it to the event
loop with ``loop.call_soon_threadsafe``; the loop side keeps a bounded queue
and counts overruns instead of ever making the audio thread wait.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import AudioSourceError
from ..pcm import SAMPLE_RATE, AudioArray
from .resample import Resampler, downmix

log = logging.getLogger(__name__)

DEFAULT_BLOCK_MS = 100
# 5 s of 100 ms blocks: room for a busy event loop, small enough to notice a stuck one.
DEFAULT_MAX_QUEUED_BLOCKS = 50
_MAX_CHANNELS = 2


class SoundBackend(Protocol):
    """The slice of the ``sounddevice`` module this module uses (a fake in tests)."""

    @property
    def PortAudioError(self) -> type[Exception]: ...  # noqa: N802 - sounddevice's name

    @property
    def default(self) -> Any: ...

    def query_devices(self) -> Any: ...

    def InputStream(self, **kwargs: Any) -> Any: ...  # noqa: N802 - sounddevice's name


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One audio device as PortAudio reports it."""

    index: int
    name: str
    max_input_channels: int
    default_sample_rate: float
    is_default_input: bool = False


def load_backend() -> SoundBackend:
    """Import ``sounddevice``; AudioSourceError when the PortAudio library is missing."""
    try:
        import sounddevice
    except OSError as exc:
        raise AudioSourceError(
            f"cannot use a microphone: {exc}. Install PortAudio (Debian/Ubuntu: "
            "apt-get install libportaudio2; macOS: brew install portaudio), "
            "or stream a recording with --source FILE"
        ) from exc
    backend: SoundBackend = sounddevice
    return backend


def list_devices(backend: SoundBackend | None = None) -> list[DeviceInfo]:
    """All audio devices that can record, in PortAudio's order."""
    sd = backend if backend is not None else load_backend()
    try:
        raw = list(sd.query_devices())
        default_in = int(sd.default.device[0])
    except sd.PortAudioError as exc:
        raise AudioSourceError(f"cannot list audio devices: {exc}. Check the sound system") from exc
    return [
        DeviceInfo(
            index=int(d["index"]),
            name=str(d["name"]),
            max_input_channels=int(d["max_input_channels"]),
            default_sample_rate=float(d["default_samplerate"]),
            is_default_input=int(d["index"]) == default_in,
        )
        for d in raw
        if int(d["max_input_channels"]) > 0
    ]


def describe_devices(devices: Sequence[DeviceInfo]) -> str:
    """A human-readable table of input devices, one per line."""
    if not devices:
        return "  (no input devices found)"
    return "\n".join(
        f"{'*' if d.is_default_input else ' '} {d.index:3d}  {d.name}  "
        f"({d.max_input_channels} ch, {d.default_sample_rate:.0f} Hz)"
        for d in devices
    )


def resolve_device(spec: str | int | None, devices: Sequence[DeviceInfo]) -> DeviceInfo:
    """Pick an input device by index, by (case-insensitive) name substring, or the default for None.

    Raises AudioSourceError listing the devices when nothing or several match.
    """
    if not devices:
        raise AudioSourceError(
            "no audio input device found: plug in a microphone, or stream a recording with --source FILE"
        )
    listing = describe_devices(devices)
    if spec is None:
        for d in devices:
            if d.is_default_input:
                return d
        return devices[0]
    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        for d in devices:
            if d.index == index:
                return d
        raise AudioSourceError(f"no input device has index {index}; choose one of:\n{listing}")
    needle = spec.strip().lower()
    exact = [d for d in devices if d.name.lower() == needle]
    matches = exact or [d for d in devices if needle in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise AudioSourceError(f"no input device name contains {spec!r}; choose one of:\n{listing}")
    raise AudioSourceError(
        f"{len(matches)} input devices match {spec!r}; give an index or a longer name:\n"
        + describe_devices(matches)
    )


class BlockRelay:
    """Carries blocks from PortAudio's thread into an asyncio queue without blocking that thread.

    Pass :meth:`callback` to ``sounddevice.InputStream``; await :meth:`get` on
    the loop. When the queue is full the new block is dropped and counted in
    ``overruns``; PortAudio's own input overflows are counted in ``overflows``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_blocks: int = DEFAULT_MAX_QUEUED_BLOCKS) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[np.ndarray[Any, Any]] = asyncio.Queue(maxsize=max_blocks)
        self.overruns = 0
        self.overflows = 0

    def callback(self, indata: np.ndarray[Any, Any], frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's callback: runs on the audio thread, copies the block and returns at once."""
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        block = indata.copy()  # PortAudio reuses indata's memory after we return
        try:
            self._loop.call_soon_threadsafe(self._put, block)
        except RuntimeError:
            # The loop closed while the stream was still stopping; nobody wants the block.
            pass

    def _put(self, block: np.ndarray[Any, Any]) -> None:
        try:
            self._queue.put_nowait(block)
        except asyncio.QueueFull:
            self.overruns += 1
            if self.overruns == 1 or self.overruns % 50 == 0:
                log.warning(
                    "microphone audio dropped: %d blocks so far (the event loop is not keeping up)",
                    self.overruns,
                )

    async def get(self) -> np.ndarray[Any, Any]:
        """The next block, shape ``(frames, channels)``, float32."""
        return await self._queue.get()


class MicrophoneSource:
    """Live audio from an input device as float32 16 kHz mono chunks of ``block_ms``.

    ``device`` is an index, a name substring, or None for the system default.
    Opens 16 kHz mono when the device allows it, otherwise the device's own rate
    and channels, downmixed and resampled here. Raises AudioSourceError on
    construction when PortAudio or the device is missing (listing devices).
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        block_ms: int = DEFAULT_BLOCK_MS,
        max_queued_blocks: int = DEFAULT_MAX_QUEUED_BLOCKS,
        backend: SoundBackend | None = None,
    ) -> None:
        self._sd = backend if backend is not None else load_backend()
        self.device = resolve_device(device, list_devices(self._sd))
        self.block_ms = block_ms
        self.max_queued_blocks = max_queued_blocks
        self.relay: BlockRelay | None = None
        """The live relay while iterating (its counters tell of dropped audio)."""

    def _open_stream(self, relay: BlockRelay) -> tuple[Any, int]:
        attempts = [(SAMPLE_RATE, 1)]
        native = (int(self.device.default_sample_rate), min(self.device.max_input_channels, _MAX_CHANNELS))
        if native not in attempts:
            attempts.append(native)
        errors: list[str] = []
        for rate, channels in attempts:
            try:
                stream = self._sd.InputStream(
                    device=self.device.index,
                    samplerate=rate,
                    channels=channels,
                    dtype="float32",
                    blocksize=rate * self.block_ms // 1000,
                    callback=relay.callback,
                )
            except self._sd.PortAudioError as exc:
                errors.append(f"{rate} Hz x{channels}: {exc}")
                continue
            return stream, rate
        raise AudioSourceError(
            f"cannot open input device {self.device.index} ({self.device.name}): "
            + "; ".join(errors)
            + ". Check that no other program holds it, or pick another with --device"
        )

    async def __aiter__(self) -> AsyncIterator[AudioArray]:
        relay = BlockRelay(asyncio.get_running_loop(), self.max_queued_blocks)
        self.relay = relay
        stream, rate = self._open_stream(relay)
        resampler = Resampler(rate)
        try:
            stream.start()
        except self._sd.PortAudioError as exc:
            stream.close()
            raise AudioSourceError(f"cannot start recording from {self.device.name}: {exc}") from exc
        try:
            while True:
                block = await relay.get()
                chunk = resampler.push(downmix(block.astype(np.float32, copy=False)))
                if chunk.size:
                    yield chunk
        finally:
            stream.stop()
            stream.close()


def configure_devices_parser(p: argparse.ArgumentParser) -> None:
    """Set up ``assistant devices`` (lists the audio input devices)."""
    p.description = "List audio input devices for 'assistant capture --device'. '*' marks the default."


def run_devices_command(args: argparse.Namespace) -> int:
    """Print the input devices; 0 on success, 1 when audio devices cannot be listed."""
    try:
        devices = list_devices()
    except AudioSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(describe_devices(devices))
    return 0
