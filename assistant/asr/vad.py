"""Voice activity detectors: run by adapters on each incoming chunk, results pushed into the core.

A :class:`VoiceDetector` is stateful across chunks: feed it the stream's audio
in order and it returns :class:`VoiceActivity` for every complete 32 ms frame
(leftover samples wait for the next chunk). Running Silero is inference, so
the adapter calls it off the event loop; the recogniser only sees the
probabilities.
"""

from __future__ import annotations

from typing import Final, Protocol

import numpy as np

from assistant.asr.types import VoiceActivity
from assistant.pcm import AudioArray
from assistant.errors import ModelError

FRAME_SAMPLES: Final = 512  # 32 ms at 16 kHz, Silero's frame
CONTEXT_SAMPLES: Final = 64  # Silero v5/v6 sees the previous frame's last 4 ms
STATE_SHAPE: Final = (1, 1, 128)
DEFAULT_ENERGY_THRESHOLD_DBFS: Final = -40.0


class VoiceDetector(Protocol):
    """Speech probability per frame for consecutive chunks of one stream."""

    def process(self, samples: AudioArray) -> VoiceActivity:
        """Consume the next chunk; return probabilities for the frames it completed."""
        ...


class _Framer:
    """Cuts a stream of chunks into whole frames, remembering the remainder."""

    def __init__(self) -> None:
        self._pending: AudioArray = np.zeros(0, dtype=np.float32)
        self.next_sample = 0

    def frames(self, samples: AudioArray) -> tuple[int, AudioArray]:
        buf = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        n = len(buf) // FRAME_SAMPLES
        self._pending = buf[n * FRAME_SAMPLES :].copy()
        start = self.next_sample
        self.next_sample += n * FRAME_SAMPLES
        return start, buf[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES)


class SileroVoiceDetector:
    """Silero VAD (the ONNX model faster-whisper ships), streamed frame by frame with its state."""

    def __init__(self) -> None:
        try:
            from faster_whisper.vad import get_vad_model

            self._session = get_vad_model().session
        except (RuntimeError, OSError) as e:
            raise ModelError(
                f"cannot load Silero VAD from faster-whisper's assets: {e}; "
                "reinstall faster-whisper and onnxruntime"
            ) from e
        self._framer = _Framer()
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)

    def process(self, samples: AudioArray) -> VoiceActivity:
        start, frames = self._framer.frames(samples)
        if len(frames) == 0:
            return VoiceActivity(start, FRAME_SAMPLES, ())
        contexts = np.concatenate([self._context[None, :], frames[:-1, -CONTEXT_SAMPLES:]])
        batch = np.ascontiguousarray(np.concatenate([contexts, frames], axis=1))
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = frames[-1, -CONTEXT_SAMPLES:].copy()
        probs = np.asarray(out, dtype=np.float32).reshape(len(frames), -1)[:, 0]
        return VoiceActivity(start, FRAME_SAMPLES, tuple(float(p) for p in probs))


class EnergyVoiceDetector:
    """A fake for tests and --dry-run: a frame is speech when its RMS level passes a threshold."""

    def __init__(self, threshold_dbfs: float = DEFAULT_ENERGY_THRESHOLD_DBFS) -> None:
        self._framer = _Framer()
        self._threshold = threshold_dbfs

    def process(self, samples: AudioArray) -> VoiceActivity:
        start, frames = self._framer.frames(samples)
        rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)) if len(frames) else np.zeros(0)
        db = 20 * np.log10(np.maximum(rms, 1e-10))
        return VoiceActivity(start, FRAME_SAMPLES, tuple(1.0 if d >= self._threshold else 0.0 for d in db))
