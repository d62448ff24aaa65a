"""The recogniser's audio window: one preallocated float32 array, no per-pass concatenation.

Samples from absolute index ``start`` to ``end`` live in one array; appending
copies into free room after them, trimming only moves an offset. When the room
runs out the live samples move to the array's front (in place when no pass is
reading them, into a fresh array of the same size otherwise), so a long stream
makes a handful of same-sized allocations instead of a new buffer of every
size on every pass (which fragments the C heap: see benchmarks/asr_memory.py).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from assistant.pcm import AudioArray

# Room for the longest window plus a backlog, in samples (40 s at 16 kHz, 2.5 MB).
DEFAULT_CAPACITY: Final = 40 * 16_000


class AudioWindow:
    """Absolute samples ``start`` .. ``end`` of one stream, in one array."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._initial = capacity
        self._data = np.zeros(capacity, dtype=np.float32)
        self._off = 0
        self._len = 0
        self.start = 0

    @property
    def end(self) -> int:
        return self.start + self._len

    @property
    def capacity(self) -> int:
        return len(self._data)

    def append(self, samples: AudioArray, *, in_use: bool) -> None:
        """Add samples at the end. ``in_use``: a view handed out by :meth:`view` is still being read."""
        need = self._len + len(samples)
        if self._off + need > len(self._data):
            capacity = self._initial
            while capacity < 2 * need:
                capacity *= 2
            live = self._data[self._off : self._off + self._len]
            if in_use or capacity != len(self._data):
                fresh = np.empty(capacity, dtype=np.float32)
                fresh[: self._len] = live
                self._data = fresh
            else:
                self._data[: self._len] = live  # numpy copies overlapping slices correctly
            self._off = 0
        self._data[self._off + self._len : self._off + need] = samples
        self._len = need

    def view(self, end: int) -> AudioArray:
        """Read-only samples from ``start`` to ``end``: valid until the next :meth:`append` with ``in_use=False``."""
        if not self.start <= end <= self.end:
            raise ValueError(f"window holds samples {self.start}..{self.end}, not up to {end}")
        out = self._data[self._off : self._off + end - self.start]
        out.flags.writeable = False
        return out

    def drop_before(self, sample: int) -> None:
        """Forget samples before ``sample`` (clamped to the window)."""
        k = min(max(0, sample - self.start), self._len)
        self._off += k
        self._len -= k
        self.start += k
