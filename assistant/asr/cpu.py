"""How much of the machine is spare: the gate for passes side by side (``passes_in_flight``).

A second pass beside the first pays only where a core is free for it; on a core shared with
translation, another room or another program both passes go slower (stop 45,
benchmarks/README.md). Three parts:

- ``CpuGauge`` (sans-I/O): cumulative counters sampled at the edges in, "cores spare lately" out;
- ``PassMeter``: the core-seconds one model's decodes beyond the first have run (thread-safe,
  updated by the transcriber), so the passes side by side do not count against themselves;
- ``CpuWatch``: the thin adapter that reads Linux's ``/proc`` counters (and the cgroup's, under
  a CPU quota: :mod:`assistant.asr.cgroup`) now and then; one per model, shared by every
  room's runner.

Spare, between two readings = the cores idle (or the quota's unused share, where that is
smaller) + the cores this model's extra passes used. The
gauge reports what was spare for three quarters of the last ``WINDOW_S`` (``SPARE_SHARE``), not
the mean: translation comes in bursts, a core free on average is taken when a caption closes,
and that is when a pass beside the first would hold the translation back. None is spare while
runnable tasks waited for a CPU, or the cgroup was throttled at its quota, more than
``STALL_MAX`` of the window (Linux pressure stall information, where the kernel has it). Where
``/proc`` cannot be read the watch reports no core spare: passes go one at a time.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import pairwise
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from assistant.asr.cgroup import CpuQuota, find_cpu_quota, read_quota_use

WINDOW_S = 4.0  # how far back "lately" reaches
MIN_SPAN_S = 1.0  # a window shorter than this tells nothing yet
SPARE_SHARE = 0.75  # the cores reported were spare for at least this share of the window
SAMPLE_EVERY_S = 0.25  # the watch reads /proc at most this often
# Share of time some runnable task waited for a CPU above which no core counts as spare: the
# passes side by side, or something else, already need more cores than the machine has.
STALL_MAX = 0.2
PROC_STAT = Path("/proc/stat")
PROC_PRESSURE = Path("/proc/pressure/cpu")


@dataclass(frozen=True, slots=True)
class CpuCounters:
    """Cumulative counters read at one moment, all in seconds.

    ``idle_s``: core-seconds the usable CPUs were idle; ``stalled_s``: seconds during which
    some runnable task waited for a CPU, or the cgroup was throttled (None where the kernel
    does not say); ``extra_pass_s``: core-seconds this model's decodes beyond the first ran;
    ``quota_idle_s``: core-seconds of the CPU quota left unused (None without a quota)."""

    at_s: float
    idle_s: float
    stalled_s: float | None
    extra_pass_s: float
    quota_idle_s: float | None = None


class CpuGauge:
    """Cores spare lately, from counters pushed in time order (:meth:`receive_counters`)."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self._window_s = window_s
        self._samples: deque[CpuCounters] = deque()

    def receive_counters(self, counters: CpuCounters) -> None:
        """Push the counters read now (later than any pushed before)."""
        self._samples.append(counters)
        # Keep one sample at or before the window's start, so the window is always covered.
        while len(self._samples) > 2 and self._samples[1].at_s <= counters.at_s - self._window_s:
            self._samples.popleft()

    def spare_cores(self) -> float:
        """Cores spare for ``SPARE_SHARE`` of the window (0.0 until ``MIN_SPAN_S`` has been seen)."""
        if len(self._samples) < 2:
            return 0.0
        first, last = self._samples[0], self._samples[-1]
        span = last.at_s - first.at_s
        if span < MIN_SPAN_S:
            return 0.0
        if first.stalled_s is not None and last.stalled_s is not None and (last.stalled_s - first.stalled_s) / span > STALL_MAX:
            return 0.0
        spans = sorted((_spare(a, b) / (b.at_s - a.at_s), b.at_s - a.at_s)
                       for a, b in pairwise(self._samples) if b.at_s > a.at_s)
        # The least spare a quarter of the time, counted in seconds, not readings.
        short = 0.0
        for spare, seconds in spans:
            short += seconds
            if short >= (1 - SPARE_SHARE) * span:
                return max(0.0, spare)
        return max(0.0, spans[-1][0])


def _spare(a: CpuCounters, b: CpuCounters) -> float:
    """Core-seconds spare between two readings."""
    idle = b.idle_s - a.idle_s
    if a.quota_idle_s is not None and b.quota_idle_s is not None:
        idle = min(idle, b.quota_idle_s - a.quota_idle_s)
    return idle + b.extra_pass_s - a.extra_pass_s


class PassMeter:
    """Decodes running on one model, and the core-seconds all but the first of them have run.

    The transcriber calls :meth:`started` and :meth:`finished` around every decode, from its
    worker threads."""

    def __init__(self, threads_per_pass: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._threads = threads_per_pass
        self._clock = clock
        self._lock = threading.Lock()
        self._running = 0
        self._extra_s = 0.0
        self._since = clock()

    def _advance(self) -> float:
        now = self._clock()
        self._extra_s += max(0, self._running - 1) * self._threads * (now - self._since)
        self._since = now
        return self._extra_s

    def started(self) -> None:
        with self._lock:
            self._advance()
            self._running += 1

    def finished(self) -> None:
        with self._lock:
            self._advance()
            self._running -= 1

    def extra_seconds(self) -> float:
        """Core-seconds run so far by the decodes beyond the first."""
        with self._lock:
            return self._advance()


def read_cpu_counters(meter: PassMeter, *, stat: Path = PROC_STAT, pressure: Path = PROC_PRESSURE,
                      quota: CpuQuota | None = None,
                      clock: Callable[[], float] = time.monotonic) -> CpuCounters | None:
    """The counters now, from Linux's ``/proc`` (the CPUs this process may run on) and ``quota``'s
    cgroup; None elsewhere."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    usable = {f"cpu{n}" for n in os.sched_getaffinity(0)} if hasattr(os, "sched_getaffinity") else None
    hz = os.sysconf("SC_CLK_TCK")
    idle_ticks = 0
    for line in lines:
        fields = line.split()
        # Per-CPU lines "cpuN user nice system idle iowait ..."; the first line sums them all.
        if len(fields) > 5 and fields[0].startswith("cpu") and fields[0] != "cpu" and (usable is None or fields[0] in usable):
            idle_ticks += int(fields[4]) + int(fields[5])
    stalled: float | None = None
    try:
        some = pressure.read_text().splitlines()[0].split()
        if some[0] == "some" and some[-1].startswith("total="):
            stalled = int(some[-1].removeprefix("total=")) / 1e6
    except (OSError, IndexError, ValueError):
        pass
    now = clock()
    quota_idle: float | None = None
    if quota is not None and (use := read_quota_use(quota)) is not None:
        used_s, throttled_s = use
        quota_idle = quota.cores * now - used_s
        stalled = (stalled or 0.0) + throttled_s
    return CpuCounters(now, idle_ticks / hz, stalled, meter.extra_seconds(), quota_idle)


class CpuWatch:
    """One model's view of the spare cores: reads the counters at most every ``SAMPLE_EVERY_S``."""

    def __init__(self, meter: PassMeter, read: Callable[[PassMeter], CpuCounters | None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.meter = meter
        self.quota = find_cpu_quota() if read is None else None  # this process's CPU limit, if any
        self._read = read or partial(read_cpu_counters, quota=self.quota)
        self._clock = clock
        self._gauge = CpuGauge()
        self._read_at = -SAMPLE_EVERY_S
        self._spare = 0.0  # the gauge's figure at the last reading

    def spare_cores(self) -> float:
        """Cores spare lately (reading the counters again when they are old); 0.0 where unknown.

        Runners ask at every event on the event loop: the figure is worked out once a reading."""
        now = self._clock()
        if now - self._read_at >= SAMPLE_EVERY_S:
            self._read_at = now
            counters = self._read(self.meter)
            if counters is not None:
                self._gauge.receive_counters(counters)
                self._spare = self._gauge.spare_cores()
        return self._spare
