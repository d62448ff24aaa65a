"""FileSource: decoding real clips and ffmpeg-made files, and pacing in virtual time."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.sources import CHUNK_MS, FileSource
from assistant.errors import AudioSourceError

CORPUS = Path(__file__).parent / "data" / "corpus"
CLIP = CORPUS / "en" / "asterisk__tt-allbusy.wav"
CHUNK = 16000 * CHUNK_MS // 1000


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        ints = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return ints.astype(np.float32) / 32768


async def collect(source: FileSource) -> list[np.ndarray]:
    return [chunk async for chunk in source]


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True, timeout=60)


def envelope(x: np.ndarray, window: int = 800) -> np.ndarray:
    n = len(x) // window
    rms: np.ndarray = np.sqrt(np.mean(x[: n * window].reshape(n, window) ** 2, axis=1))
    return rms


class FakeClock:
    """Virtual time: ``sleep`` advances the clock, oversleeping by a fixed lateness."""

    def __init__(self, lateness_s: float = 0.0) -> None:
        self.now = 1000.0
        self.lateness_s = lateness_s
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.lateness_s


async def test_wav_clip_decodes_exactly_in_100ms_chunks() -> None:
    expected = read_wav(CLIP)
    chunks = await collect(FileSource(CLIP, realtime=False))
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    assert all(len(c) == CHUNK for c in chunks[:-1]) and 0 < len(chunks[-1]) <= CHUNK
    np.testing.assert_array_equal(np.concatenate(chunks), expected)


async def test_each_iteration_replays_from_the_start() -> None:
    source = FileSource(CLIP, realtime=False)
    first = np.concatenate(await collect(source))
    second = np.concatenate(await collect(source))
    np.testing.assert_array_equal(first, second)
    assert source.duration_s == pytest.approx(len(first) / 16000, abs=0.01)


@pytest.mark.parametrize(
    ("suffix", "codec_args", "tolerance_s"),
    [
        (".mp3", ["-af", "pan=stereo|c0=c0|c1=c0", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k"], 0.08),
        (".ogg", ["-ar", "48000", "-c:a", "libvorbis"], 0.03),
        (".m4a", ["-ar", "22050", "-c:a", "aac"], 0.08),
    ],
)
async def test_compressed_files_are_resampled_to_16k_mono(
    tmp_path: Path, suffix: str, codec_args: list[str], tolerance_s: float
) -> None:
    original = read_wav(CLIP)
    encoded = tmp_path / f"clip{suffix}"
    ffmpeg("-i", str(CLIP), *codec_args, str(encoded))
    decoded = np.concatenate(await collect(FileSource(encoded, realtime=False)))
    assert abs(len(decoded) - len(original)) / 16000 <= tolerance_s
    n = min(len(decoded), len(original))
    correlation = np.corrcoef(envelope(decoded[:n]), envelope(original[:n]))[0, 1]
    assert correlation > 0.9
    assert np.sqrt(np.mean(decoded**2)) == pytest.approx(np.sqrt(np.mean(original**2)), rel=0.15)


async def test_a_video_files_audio_track_is_used(tmp_path: Path) -> None:
    original = read_wav(CLIP)
    video = tmp_path / "talk.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", "color=c=black:s=32x32:r=5", "-i", str(CLIP),
        "-shortest", "-c:v", "mpeg4", "-c:a", "pcm_s16le", "-ar", "48000", str(video),
    )
    decoded = np.concatenate(await collect(FileSource(video, realtime=False)))
    assert abs(len(decoded) - len(original)) <= 16000 * 0.25
    n = min(len(decoded), len(original))
    assert np.corrcoef(envelope(decoded[:n]), envelope(original[:n]))[0, 1] > 0.95


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AudioSourceError, match="does not exist"):
        FileSource(tmp_path / "nope.wav")


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"this is not audio at all\n" * 40)
    with pytest.raises(AudioSourceError, match="cannot read"):
        FileSource(junk)


def test_video_without_audio_is_a_clear_error(tmp_path: Path) -> None:
    silent = tmp_path / "silent.mkv"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=32x32:r=5:d=0.4", "-c:v", "mpeg4", str(silent))
    with pytest.raises(AudioSourceError, match="no audio stream"):
        FileSource(silent)


async def test_realtime_pacing_follows_an_absolute_schedule() -> None:
    clock = FakeClock(lateness_s=0.03)  # every wake-up 30 ms late
    source = FileSource(CLIP, clock=clock, sleep=clock.sleep)
    handed_out: list[tuple[float, int]] = []
    produced = 0
    async for chunk in source:
        produced += len(chunk)
        handed_out.append((clock.now - 1000.0, produced))
    for t, total in handed_out:
        audio_end_s = total / 16000
        # Never before the audio "happened", and lateness never accumulates.
        assert audio_end_s - 1e-9 <= t <= audio_end_s + 0.03 + 1e-9
    assert handed_out[-1][0] == pytest.approx(len(read_wav(CLIP)) / 16000, abs=0.031)


async def test_not_realtime_never_sleeps() -> None:
    clock = FakeClock()
    chunks = await collect(FileSource(CLIP, realtime=False, clock=clock, sleep=clock.sleep))
    assert chunks and clock.sleeps == []
