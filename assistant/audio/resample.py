"""Streaming conversion of float32 audio to the pipeline's 16 kHz mono.

Call :meth:`Resampler.push` with each block as it arrives and
:meth:`Resampler.flush` once at the end of the stream. The filter state is
carried across blocks (PyAV's libswresample, a windowed-sinc anti-aliasing
filter), so block boundaries leave no clicks and the output length tracks
``input_samples * 16000 / rate`` to within the filter delay (a few samples).
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt

from assistant.pcm import SAMPLE_RATE, AudioArray

# The old name of AudioArray; assistant/capture.py still imports it from here.
Samples = AudioArray


def downmix(block: npt.NDArray[np.float32]) -> AudioArray:
    """Average the channels of a ``(frames, channels)`` block into a 1-D float32 array."""
    if block.ndim == 1:
        return block
    if block.shape[1] == 1:
        return np.ascontiguousarray(block[:, 0])
    # Averaging (not summing) keeps a full-scale stereo signal inside [-1, 1].
    mono: AudioArray = block.mean(axis=1, dtype=np.float32)
    return mono


class Resampler:
    """Stateful mono resampler from ``in_rate`` Hz to 16 kHz.

    At ``in_rate == 16000`` blocks pass through untouched (bit-exact).
    """

    def __init__(self, in_rate: int) -> None:
        self.in_rate = in_rate
        self._resampler: av.AudioResampler | None = None
        if in_rate != SAMPLE_RATE:
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)

    def push(self, mono: AudioArray) -> AudioArray:
        """Resample one 1-D float32 block; returns whatever output is ready (maybe empty)."""
        if self._resampler is None:
            return mono.astype(np.float32, copy=False)
        if mono.size == 0:
            return np.zeros(0, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(mono, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = self.in_rate
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> AudioArray:
        """Drain the filter's delay line at the end of a stream; call once, last."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> AudioArray:
        if not frames:
            return np.zeros(0, dtype=np.float32)
        parts = [f.to_ndarray().reshape(-1).astype(np.float32, copy=False) for f in frames]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
