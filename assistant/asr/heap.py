"""Keep the C heap from growing over a long stream (glibc only; a no-op elsewhere).

Every pass allocates buffers of a different size (mel features, encoder
output, CTranslate2's scratch memory for a window of that length). glibc
serves sizes above its mmap threshold with mmap, but raises that threshold
every time such a block is freed (up to 32 MB), so after a while the buffers
come from the heap arenas instead, where blocks of changing sizes fragment
and freed memory is not given back: RSS grew by ~250 MB in 30 minutes.
Fixing the threshold (``M_MMAP_THRESHOLD``) keeps the largest buffers on mmap,
``M_ARENA_MAX`` bounds the per-thread arenas, and ``malloc_trim(0)`` after
every pass hands the pass's freed heap pages back. Measured with
benchmarks/asr_memory.py and benchmarks/asr_pass_cost.py.

The threshold sits just above the largest buffer the model runtime allocates
and frees at every decoding step (2.6 MB; others of 407 and 537 KB once per
decoder layer): below it (256 KB until stop 25) those were mapped and unmapped
at every step and the kernel zeroed their fresh pages, 5 million page faults in
60 passes, a quarter of each pass. Above it they are reused from the heap, and
trimming after every pass, not every 10 s, is what keeps RSS flat: with a 10 s
trim, the freed buffers of the passes in between stayed resident and RSS swung
between 469 and 578 MB (benchmarks/README.md, stops 24 and 25).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from typing import Final

M_TRIM_THRESHOLD: Final = -1
M_MMAP_THRESHOLD: Final = -3
M_ARENA_MAX: Final = -8
MMAP_THRESHOLD_BYTES: Final = 3 * 1024 * 1024
TRIM_THRESHOLD_BYTES: Final = 4 * 1024 * 1024
ARENA_MAX: Final = 4

_configured = False
_configure_lock = threading.Lock()


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def configure_heap() -> bool:
    """Set glibc's allocator options for this process (once); False where there is no glibc."""
    global _configured
    with _configure_lock:
        libc = _libc()
        if libc is None:
            return False
        if not _configured:
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
            libc.mallopt(M_ARENA_MAX, ARENA_MAX)
            _configured = True
        return True


class HeapKeeper:
    """Configures the heap on creation; :meth:`after_pass` trims it."""

    def __init__(self) -> None:
        self._libc = _libc() if configure_heap() else None
        self.trims = 0

    def after_pass(self) -> None:
        """Call on the model thread after a pass: gives freed heap memory back to the system."""
        if self._libc is None:
            return
        self._libc.malloc_trim(0)
        self.trims += 1
