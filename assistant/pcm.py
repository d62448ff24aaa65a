"""The one audio format inside the package: float32 mono PCM at 16 kHz, as 1-D numpy arrays.

Audio arriving in any other format is converted at the edge (``assistant.audio``);
everything past that point (recogniser, sessions, capture buffer) uses these names.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

SAMPLE_RATE: Final = 16_000
SAMPLES_PER_MS: Final = SAMPLE_RATE // 1000

AudioArray = npt.NDArray[np.float32]


def ms_to_samples(ms: float) -> int:
    """Milliseconds of audio to a sample count at 16 kHz."""
    return int(round(ms * SAMPLES_PER_MS))


def samples_to_ms(samples: int) -> int:
    """A sample count or index at 16 kHz to whole milliseconds."""
    return samples // SAMPLES_PER_MS
