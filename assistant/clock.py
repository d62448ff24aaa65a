"""Wall time, injected: the one place the server reads the clock, so tests and replays control it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True, slots=True)
class Clock:
    """Wall time in unix milliseconds."""

    now_ms: Callable[[], int]


SYSTEM_CLOCK = Clock(now_ms=lambda: time.time_ns() // 1_000_000)
