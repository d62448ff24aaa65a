"""MicrophoneSource: device choice, the PortAudio-thread -> loop relay, and the no-PortAudio path.

This machine has no sound card, so a fake ``sounddevice`` backend plays
PortAudio: its stream calls the callback from a real thread, as PortAudio does.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes.util
import threading
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from assistant.audio.microphone import (
    BlockRelay,
    DeviceInfo,
    MicrophoneSource,
    configure_devices_parser,
    describe_devices,
    list_devices,
    load_backend,
    resolve_device,
    run_devices_command,
)
from assistant.errors import AudioSourceError

DEVICES = [
    DeviceInfo(0, "HDA Intel PCH: ALC3246 Analog", 2, 48000.0),
    DeviceInfo(3, "USB Conference Mic", 1, 44100.0, is_default_input=True),
    DeviceInfo(5, "USB Headset", 1, 16000.0),
]


class FakePortAudioError(Exception):
    pass


class FakeStream:
    """Calls the callback from its own thread with a 1 kHz sine, like PortAudio."""

    def __init__(self, backend: FakeSoundDevice, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.backend = backend
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.closed = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        rate, channels, block = self.kwargs["samplerate"], self.kwargs["channels"], self.kwargs["blocksize"]
        n = 0
        while not self._stop.is_set() and n < rate * 2:
            t = (n + np.arange(block)) / rate
            mono = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
            indata = np.repeat(mono[:, None], channels, axis=1)
            self.kwargs["callback"](indata, block, None, SimpleNamespace(input_overflow=False))
            indata[:] = 9.0  # PortAudio reuses the buffer; the source must have copied it
            n += block
            self._stop.wait(0.001)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        self.closed = True


class FakeSoundDevice:
    PortAudioError = FakePortAudioError

    def __init__(self, refuse_16k: bool = False) -> None:
        self.refuse_16k = refuse_16k
        self.default = SimpleNamespace(device=(1, 0))
        self.streams: list[FakeStream] = []
        self.attempts: list[dict[str, Any]] = []

    def query_devices(self) -> list[dict[str, Any]]:
        return [
            {"index": 0, "name": "Speakers", "max_input_channels": 0, "default_samplerate": 48000.0},
            {"index": 1, "name": "Built-in Microphone", "max_input_channels": 2, "default_samplerate": 48000.0},
        ]

    def InputStream(self, **kwargs: Any) -> FakeStream:  # noqa: N802 - sounddevice's name
        self.attempts.append(kwargs)
        if self.refuse_16k and kwargs["samplerate"] == 16000:
            raise FakePortAudioError("Invalid sample rate [PaErrorCode -9997]")
        stream = FakeStream(self, **kwargs)
        self.streams.append(stream)
        return stream


def test_resolve_device_by_index_name_and_default() -> None:
    assert resolve_device(None, DEVICES).index == 3
    assert resolve_device(5, DEVICES).name == "USB Headset"
    assert resolve_device("0", DEVICES).index == 0
    assert resolve_device("conference", DEVICES).index == 3
    assert resolve_device("usb headset", DEVICES).index == 5


@pytest.mark.parametrize(("spec", "message"), [(9, "no input device has index 9"), ("webcam", "no input device name contains")])
def test_unknown_device_lists_the_devices(spec: str | int, message: str) -> None:
    with pytest.raises(AudioSourceError, match=message) as err:
        resolve_device(spec, DEVICES)
    assert "USB Conference Mic" in str(err.value) and "ALC3246" in str(err.value)


def test_ambiguous_name_asks_for_more() -> None:
    with pytest.raises(AudioSourceError, match="2 input devices match 'usb'"):
        resolve_device("usb", DEVICES)


def test_no_devices_is_a_clear_error() -> None:
    with pytest.raises(AudioSourceError, match="no audio input device"):
        resolve_device(None, [])


def test_list_devices_keeps_inputs_and_marks_the_default() -> None:
    assert list_devices(FakeSoundDevice()) == [DeviceInfo(1, "Built-in Microphone", 2, 48000.0, True)]
    assert describe_devices(list_devices(FakeSoundDevice())).startswith("*   1  Built-in Microphone")


async def test_relay_delivers_blocks_in_order_from_another_thread() -> None:
    relay = BlockRelay(asyncio.get_running_loop(), max_blocks=100)

    def audio_thread() -> None:
        for i in range(20):
            block = np.full((160, 1), i, dtype=np.float32)
            relay.callback(block, 160, None, None)
            block[:] = -1  # reused by PortAudio

    thread = threading.Thread(target=audio_thread)
    thread.start()
    got = [float((await relay.get())[0, 0]) for _ in range(20)]
    thread.join()
    assert got == [float(i) for i in range(20)]
    assert relay.overruns == 0


async def test_relay_counts_overruns_and_overflows_instead_of_blocking() -> None:
    relay = BlockRelay(asyncio.get_running_loop(), max_blocks=2)

    def audio_thread() -> None:
        for i in range(5):
            relay.callback(np.full((10, 1), i, dtype=np.float32), 10, None, SimpleNamespace(input_overflow=i == 4))

    thread = threading.Thread(target=audio_thread)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()  # the callback never waited for the loop
    await asyncio.sleep(0.05)  # let the loop run the scheduled puts
    assert (relay.overruns, relay.overflows) == (3, 1)
    assert [float((await relay.get())[0, 0]) for _ in range(2)] == [0.0, 1.0]


async def test_microphone_falls_back_to_native_rate_and_resamples() -> None:
    backend = FakeSoundDevice(refuse_16k=True)
    source = MicrophoneSource("built-in", backend=backend)
    chunks: list[np.ndarray] = []
    async for chunk in source:
        chunks.append(chunk)
        if sum(len(c) for c in chunks) >= 16000:
            break
    await asyncio.sleep(0)
    assert [(a["samplerate"], a["channels"]) for a in backend.attempts] == [(16000, 1), (48000, 2)]
    assert backend.attempts[1]["blocksize"] == 4800
    y = np.concatenate(chunks)
    assert y.dtype == np.float32 and y.ndim == 1
    steady = y[800:]
    spectrum = np.abs(np.fft.rfft(steady * np.hanning(len(steady))))
    assert abs(np.argmax(spectrum) * 16000 / len(steady) - 1000) < 5
    assert np.sqrt(2 * np.mean(steady**2)) == pytest.approx(0.5, rel=0.03)
    assert source.relay is not None and source.relay.overruns == 0


async def test_microphone_closes_its_stream_when_iteration_stops() -> None:
    backend = FakeSoundDevice()
    source = MicrophoneSource(None, backend=backend)
    iterator = source.__aiter__()
    first = await anext(iterator)
    assert len(first) == 1600
    await iterator.aclose()  # type: ignore[attr-defined]
    assert backend.streams[0].closed
    assert backend.attempts[0]["samplerate"] == 16000


def test_real_backend_without_portaudio_says_what_to_install(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace()
    configure_devices_parser(argparse.ArgumentParser())
    if ctypes.util.find_library("portaudio") is None:
        with pytest.raises(AudioSourceError, match="PortAudio.*libportaudio2.*--source FILE"):
            load_backend()
        with pytest.raises(AudioSourceError, match="PortAudio"):
            MicrophoneSource()
        assert run_devices_command(args) == 1
        assert "PortAudio" in capsys.readouterr().err
    else:
        assert isinstance(list_devices(), list)
        assert run_devices_command(args) == 0
