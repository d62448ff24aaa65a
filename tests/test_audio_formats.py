"""PCM wire formats: start-frame validation, decoding, downmix, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.audio.formats import (
    MAX_FRAME_BYTES,
    AudioFormat,
    PcmDecoder,
    float_to_s16le,
    parse_start_message,
)
from assistant.errors import AudioFormatError

GOOD_START = {"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le", "stream": "cap-1"}


def sine(freq_hz: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def test_parse_start_message_accepts_the_documented_frame() -> None:
    fmt, stream = parse_start_message(dict(GOOD_START, sample_rate=44100, channels=2, format="f32le"))
    assert fmt == AudioFormat(44100, 2, "f32le")
    assert stream == "cap-1"
    assert fmt.frame_bytes == 8
    assert parse_start_message(fmt.start_message("x"))[1] == "x"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sample_rate": 7999}, "sample_rate"),
        ({"sample_rate": 48001}, "sample_rate"),
        ({"sample_rate": "16000"}, "sample_rate"),
        ({"sample_rate": True}, "sample_rate"),
        ({"channels": 0}, "channels"),
        ({"channels": 3}, "channels"),
        ({"format": "s24le"}, "format"),
        ({"stream": ""}, "stream"),
        ({"stream": "a b"}, "stream"),
        ({"stream": 7}, "stream"),
        ({"stream": "x" * 129}, "stream"),
        ({"type": "hello"}, "type"),
    ],
)
def test_parse_start_message_names_the_bad_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(AudioFormatError, match=field):
        parse_start_message({**GOOD_START, **change})


@pytest.mark.parametrize("missing", ["sample_rate", "channels", "format", "stream"])
def test_parse_start_message_names_a_missing_field(missing: str) -> None:
    obj = {k: v for k, v in GOOD_START.items() if k != missing}
    with pytest.raises(AudioFormatError, match=missing):
        parse_start_message(obj)


def test_parse_start_message_refuses_non_objects() -> None:
    with pytest.raises(AudioFormatError, match="JSON object"):
        parse_start_message(["start"])


def test_s16le_mono_16k_decodes_exactly() -> None:
    ints = np.array([0, 1, -1, 32767, -32768, 1000], dtype="<i2")
    out = PcmDecoder(AudioFormat(16000, 1, "s16le")).receive(ints.tobytes())
    assert out.dtype == np.float32 and out.ndim == 1
    np.testing.assert_array_equal(out, ints.astype(np.float32) / 32768)


def test_f32le_decodes_and_refuses_nan_and_inf_without_losing_state() -> None:
    dec = PcmDecoder(AudioFormat(16000, 1, "f32le"))
    good = np.array([0.25, -0.5, 1.0], dtype="<f4")
    np.testing.assert_array_equal(dec.receive(good.tobytes()), good)
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(AudioFormatError, match="NaN or infinite"):
            dec.receive(np.array([0.1, bad], dtype="<f4").tobytes())
    assert dec.samples_received == 3


def test_f32le_outside_the_range_is_clipped_before_the_mix() -> None:
    dec = PcmDecoder(AudioFormat(16000, 2, "f32le"))  # 3.4e38 + 3.4e38 would be infinite
    big = np.array([3.4e38, 3.4e38, -2.0, -3.0, 1.5, 0.5], dtype="<f4")
    with np.errstate(all="raise"):
        out = dec.receive(big.tobytes())
    np.testing.assert_allclose(out, [1.0, -1.0, 0.75])


def test_stereo_is_averaged_to_mono() -> None:
    left = np.array([0.5, 0.25, -1.0], dtype="<f4")
    right = np.array([0.5, -0.25, 0.0], dtype="<f4")
    interleaved = np.stack([left, right], axis=1).reshape(-1)
    dec = PcmDecoder(AudioFormat(16000, 2, "f32le"))
    np.testing.assert_allclose(dec.receive(interleaved.tobytes()), [0.5, 0.0, -0.5])
    assert dec.samples_received == 3


def test_partial_samples_carry_across_frames() -> None:
    rng = np.random.default_rng(1)
    ints = rng.integers(-32768, 32767, size=(500, 2), dtype=np.int16).astype("<i2")
    data = ints.tobytes()
    whole = PcmDecoder(AudioFormat(16000, 2, "s16le")).receive(data)
    dec = PcmDecoder(AudioFormat(16000, 2, "s16le"))
    cuts = [0, 1, 3, 7, 8, 555, 999, 1001, len(data)]
    parts = [dec.receive(data[a:b]) for a, b in zip(cuts, cuts[1:])]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert dec.samples_received == 500


def test_resume_drops_a_partial_sample_and_reports_whole_samples() -> None:
    dec = PcmDecoder(AudioFormat(16000, 1, "s16le"))
    dec.receive(b"\x01\x00\x02")  # one and a half samples
    assert dec.resume() == 1
    out = dec.receive(np.array([3, 4], dtype="<i2").tobytes())
    np.testing.assert_array_equal(out * 32768, [3, 4])


def test_oversized_frame_is_refused() -> None:
    dec = PcmDecoder(AudioFormat(16000, 1, "s16le"))
    dec.receive(bytes(MAX_FRAME_BYTES))
    with pytest.raises(AudioFormatError, match="over the 65536-byte limit"):
        dec.receive(bytes(MAX_FRAME_BYTES + 2))


@pytest.mark.parametrize("rate", [44100, 48000, 8000, 22050])
def test_resampling_keeps_frequency_and_amplitude_without_clicks(rate: int) -> None:
    freq = 1000.0 if rate > 8000 else 440.0
    x = sine(freq, rate, 2.0, amplitude=0.5)
    data = np.rint(x * 32767).astype("<i2").tobytes()
    dec = PcmDecoder(AudioFormat(rate, 1, "s16le"))
    # Irregular frame sizes, some ending mid-sample, to exercise state across boundaries.
    rng = np.random.default_rng(rate)
    parts, pos = [], 0
    while pos < len(data):
        step = int(rng.integers(1, 9000))
        parts.append(dec.receive(data[pos : pos + step]))
        pos += step
    parts.append(dec.flush())
    y = np.concatenate(parts)
    assert abs(len(y) - 32000) <= 32
    steady = y[1600:-1600]
    assert abs(peak_frequency(steady, 16000) - freq) <= 2
    amplitude = float(np.sqrt(2) * np.sqrt(np.mean(steady**2)))
    assert amplitude == pytest.approx(0.5, rel=0.02)
    # A click shows up as a jump far larger than a pure sine's largest step.
    max_step = 2 * np.pi * freq / 16000 * 0.5
    assert float(np.max(np.abs(np.diff(steady)))) <= max_step * 1.1


def test_resampling_rejects_content_above_8k_nyquist() -> None:
    x = sine(12000.0, 48000, 1.0, amplitude=0.5)
    dec = PcmDecoder(AudioFormat(48000, 1, "f32le"))
    y = np.concatenate([dec.receive(x.tobytes()[i : i + 4800]) for i in range(0, x.nbytes, 4800)] + [dec.flush()])
    # A naive decimator would fold 12 kHz down to 4 kHz at nearly full amplitude.
    assert float(np.sqrt(np.mean(y[800:-800] ** 2))) < 0.01


def test_float_to_s16le_round_trips_and_clips() -> None:
    x = np.array([0.0, 0.5, -0.5, 1.5, -2.0], dtype=np.float32)
    ints = np.frombuffer(float_to_s16le(x), dtype="<i2")
    np.testing.assert_array_equal(ints, [0, 16384, -16384, 32767, -32768])
    back = PcmDecoder(AudioFormat(16000, 1, "s16le")).receive(float_to_s16le(x[:3]))
    np.testing.assert_allclose(back, x[:3], atol=1 / 32768)
