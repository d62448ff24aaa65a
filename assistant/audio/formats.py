"""Wire formats of raw PCM audio and their conversion to the pipeline's samples.

Everything downstream of this module wants float32, mono, 16 kHz, 1-D numpy
arrays. A capture client announces its format in a start frame
(:func:`parse_start_message`); the server then feeds every binary frame to a
:class:`PcmDecoder`, which is sans-I/O: it never awaits or touches a socket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np

from ..errors import AudioFormatError
from ..validate import shown
from ..pcm import AudioArray
from .resample import Resampler, downmix

SampleFormat = Literal["s16le", "f32le"]

MIN_SAMPLE_RATE_HZ = 8_000
MAX_SAMPLE_RATE_HZ = 48_000
MAX_CHANNELS = 2
# The largest binary frame a server accepts (documented in docs/capture.md).
MAX_FRAME_BYTES = 64 * 1024
MAX_STREAM_ID_CHARS = 128
_SAMPLE_FORMATS: tuple[SampleFormat, ...] = ("s16le", "f32le")
_BYTES_PER_SAMPLE: dict[SampleFormat, int] = {"s16le": 2, "f32le": 4}
_NUMPY_DTYPE: dict[SampleFormat, str] = {"s16le": "<i2", "f32le": "<f4"}
_STREAM_ID = re.compile(r"[A-Za-z0-9._:-]+")
_S16_SCALE = 32768.0


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Raw interleaved PCM as a capture client sends it.

    Raises AudioFormatError on construction when a field is outside what the
    server accepts.
    """

    sample_rate: int
    channels: int
    sample_format: SampleFormat

    def __post_init__(self) -> None:
        rate = self.sample_rate
        if isinstance(rate, bool) or not isinstance(rate, int) or not (
            MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ
        ):
            raise AudioFormatError(
                f"sample_rate {shown(rate)} is not accepted: send an integer from "
                f"{MIN_SAMPLE_RATE_HZ} to {MAX_SAMPLE_RATE_HZ} Hz (16000 is best)"
            )
        ch = self.channels
        if isinstance(ch, bool) or not isinstance(ch, int) or not (1 <= ch <= MAX_CHANNELS):
            raise AudioFormatError(f"channels {shown(ch)} is not accepted: send 1 (mono) or 2 (stereo)")
        if self.sample_format not in _SAMPLE_FORMATS:
            raise AudioFormatError(
                f"format {shown(self.sample_format)} is not accepted: send 's16le' or 'f32le'"
            )

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one sample of one channel."""
        return _BYTES_PER_SAMPLE[self.sample_format]

    @property
    def frame_bytes(self) -> int:
        """Bytes of one sample across all channels (one 'sample frame')."""
        return self.bytes_per_sample * self.channels

    def start_message(self, stream: str) -> dict[str, object]:
        """The capture protocol's start frame announcing this format for ``stream``."""
        return {
            "type": "start",
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "format": self.sample_format,
            "stream": stream,
        }


def parse_start_message(obj: object) -> tuple[AudioFormat, str]:
    """Validate a decoded capture start frame; returns its format and stream id.

    Raises AudioFormatError naming the offending field and what is accepted.
    """
    if not isinstance(obj, dict):
        raise AudioFormatError(
            'the first frame must be a JSON object like {"type":"start","sample_rate":16000,'
            '"channels":1,"format":"s16le","stream":"<id>"}'
        )
    if obj.get("type") != "start":
        raise AudioFormatError(f'type {shown(obj.get("type"))} is not accepted: the first frame must be "start"')
    for key in ("sample_rate", "channels", "format", "stream"):
        if key not in obj:
            raise AudioFormatError(f"the start frame lacks {key!r}: add it")
    stream = obj["stream"]
    if (
        not isinstance(stream, str)
        or len(stream) > MAX_STREAM_ID_CHARS
        or not _STREAM_ID.fullmatch(stream)
    ):
        raise AudioFormatError(
            f"stream {shown(stream)} is not accepted: send 1-{MAX_STREAM_ID_CHARS} characters of "
            "letters, digits, '.', '_', ':' or '-' (generate it once per capture run)"
        )
    sample_format = obj["format"]
    if sample_format not in _SAMPLE_FORMATS:
        raise AudioFormatError(f"format {shown(sample_format)} is not accepted: send 's16le' or 'f32le'")
    fmt = AudioFormat(
        sample_rate=cast(int, obj["sample_rate"]),
        channels=cast(int, obj["channels"]),
        sample_format=cast(SampleFormat, sample_format),
    )
    return fmt, stream


class PcmDecoder:
    """Turns binary PCM frames of one stream into float32 16 kHz mono chunks.

    Call :meth:`receive` with each binary frame in order and :meth:`flush`
    once when the stream ends. A frame may end in the middle of a sample; the
    leftover bytes are carried into the next frame.
    """

    def __init__(self, fmt: AudioFormat, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.format = fmt
        self.max_frame_bytes = max_frame_bytes
        self.samples_received = 0
        """Whole input samples per channel decoded so far, at the client's rate."""
        self._leftover = b""
        self._dtype = np.dtype(_NUMPY_DTYPE[fmt.sample_format])
        self._resampler = Resampler(fmt.sample_rate)

    def receive(self, frame: bytes) -> AudioArray:
        """Decode one binary frame; returns the 16 kHz mono samples it completes (maybe none).

        Raises AudioFormatError for a frame over ``max_frame_bytes`` or, in
        f32le, a NaN or infinite sample; the decoder state is unchanged then.
        """
        if len(frame) > self.max_frame_bytes:
            raise AudioFormatError(
                f"audio frame of {len(frame)} bytes is over the {self.max_frame_bytes}-byte limit: "
                "send smaller frames (about 100 ms each)"
            )
        data = self._leftover + frame
        usable = len(data) - len(data) % self.format.frame_bytes
        raw = np.frombuffer(data, dtype=self._dtype, count=usable // self.format.bytes_per_sample)
        if self.format.sample_format == "f32le":
            if not np.isfinite(raw).all():
                raise AudioFormatError(
                    "audio frame holds NaN or infinite f32le samples: send finite values in [-1, 1]"
                )
            samples = np.clip(raw, -1.0, 1.0).astype(np.float32)  # huge finite values would overflow the mix
        else:
            samples = raw.astype(np.float32) / np.float32(_S16_SCALE)
        self._leftover = data[usable:]
        block = samples.reshape(-1, self.format.channels)
        self.samples_received += block.shape[0]
        return self._resampler.push(downmix(block))

    def resume(self) -> int:
        """Call when the same stream reconnects; returns M for its ``ready`` frame.

        Drops a partial sample left by the broken connection: the client
        resends from sample M, a whole-sample boundary. Resampler state is
        kept, so the audio continues without a click.
        """
        self._leftover = b""
        return self.samples_received

    def flush(self) -> AudioArray:
        """Drain the resampler at the end of the stream; a trailing partial sample is dropped."""
        self._leftover = b""
        return self._resampler.flush()


def float_to_s16le(chunk: AudioArray) -> bytes:
    """Encode float32 samples in [-1, 1] as little-endian 16-bit PCM (clipping outside)."""
    # The same scale as decoding, so s16 -> float -> s16 is exact.
    scaled = np.clip(np.rint(chunk.astype(np.float64) * _S16_SCALE), -_S16_SCALE, _S16_SCALE - 1)
    encoded: bytes = scaled.astype("<i2").tobytes()
    return encoded


__all__ = [
    "AudioFormat",
    "MAX_FRAME_BYTES",
    "PcmDecoder",
    "SampleFormat",
    "float_to_s16le",
    "parse_start_message",
]
