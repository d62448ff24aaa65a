"""The spare-core gauge that gates passes side by side (``assistant.asr.cpu``): counters in, cores out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.asr.cgroup import CpuQuota, find_cpu_quota, read_quota_use
from assistant.asr.cpu import STALL_MAX, CpuCounters, CpuGauge, CpuWatch, PassMeter, read_cpu_counters


class Clock:
    def __init__(self, step: float = 0.0) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def idle(gauge: CpuGauge, *cores: float, step: float = 0.5) -> None:
    """Push readings ``step`` apart, with ``cores`` idle in each interval (nothing else moving)."""
    at, idle_s = 0.0, 0.0
    gauge.receive_counters(CpuCounters(at, idle_s, None, 0.0))
    for c in cores:
        at, idle_s = at + step, idle_s + c * step
        gauge.receive_counters(CpuCounters(at, idle_s, None, 0.0))


def test_a_core_idle_all_along_is_spare() -> None:
    gauge = CpuGauge(window_s=4.0)
    assert gauge.spare_cores() == 0.0  # nothing seen yet: no core counts as spare
    idle(gauge, 1.0)
    assert gauge.spare_cores() == 0.0  # half a second tells nothing yet
    idle(gauge, 1.0, 1.2, 1.0, 1.1)
    assert gauge.spare_cores() == pytest.approx(1.0)


def test_a_core_taken_in_bursts_a_third_of_the_time_is_not_spare() -> None:
    # One core idle on average (what translation between captions looks like), but for a
    # third of the time none is: a pass started beside the first would hold a burst back.
    gauge = CpuGauge(window_s=4.0)
    idle(gauge, *[1.5, 1.5, 0.0] * 3)
    assert gauge.spare_cores() == 0.0
    gauge = CpuGauge(window_s=4.0)
    idle(gauge, *[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0])  # a blip an eighth of the time
    assert gauge.spare_cores() == pytest.approx(1.0)


def test_old_readings_leave_the_window() -> None:
    gauge = CpuGauge(window_s=4.0)
    idle(gauge, *[1.0] * 8 + [0.0] * 8)  # a free core for four seconds, then none for four
    assert gauge.spare_cores() == 0.0


def test_the_cores_extra_passes_used_count_as_spare() -> None:
    # Two passes side by side kept both cores busy: the second one's core would be free without it.
    gauge = CpuGauge()
    gauge.receive_counters(CpuCounters(0.0, 0.0, 0.0, 0.0))
    gauge.receive_counters(CpuCounters(2.0, 0.4, 0.1, 1.6))
    assert gauge.spare_cores() == pytest.approx(1.0)


def test_no_core_is_spare_while_tasks_wait_for_one() -> None:
    gauge = CpuGauge()
    gauge.receive_counters(CpuCounters(0.0, 0.0, 0.0, 0.0))
    gauge.receive_counters(CpuCounters(2.0, 0.4, 2.0 * STALL_MAX + 0.1, 1.6))
    assert gauge.spare_cores() == 0.0


def test_under_a_quota_only_its_unused_share_is_spare() -> None:
    # A container limited to 2 cores on a 16-core host: 14 cores idle, the group's 2 in use.
    gauge = CpuGauge()
    gauge.receive_counters(CpuCounters(0.0, 0.0, 0.0, 0.0, quota_idle_s=0.0))
    gauge.receive_counters(CpuCounters(2.0, 28.0, 0.0, 0.0, quota_idle_s=0.0))
    assert gauge.spare_cores() == 0.0
    # The group uses 1 of 4 cores while the host has 2 idle: the smaller figure counts.
    host = CpuGauge()
    host.receive_counters(CpuCounters(0.0, 0.0, 0.0, 0.0, quota_idle_s=0.0))
    host.receive_counters(CpuCounters(2.0, 4.0, 0.0, 0.0, quota_idle_s=6.0))
    assert host.spare_cores() == pytest.approx(2.0)
    few = CpuGauge()
    few.receive_counters(CpuCounters(0.0, 0.0, 0.0, 0.0, quota_idle_s=0.0))
    few.receive_counters(CpuCounters(2.0, 4.0, 0.0, 0.0, quota_idle_s=1.0))  # half a core of quota left
    assert few.spare_cores() == pytest.approx(0.5)


def test_the_meter_counts_the_core_seconds_of_every_decode_beyond_the_first() -> None:
    clock = Clock()
    meter = PassMeter(threads_per_pass=2, clock=clock)
    meter.started()
    clock.now = 1.0
    meter.started()  # 1.0 - 1.5 s: two decodes
    clock.now = 1.5
    meter.finished()
    clock.now = 3.0
    assert meter.extra_seconds() == pytest.approx(0.5 * 2)  # half a second, two threads a pass
    meter.finished()


def test_the_watch_reads_the_counters_at_most_every_quarter_second() -> None:
    clock = Clock(step=0.1)
    reads: list[float] = []

    def read(meter: PassMeter) -> CpuCounters:
        reads.append(clock.now)
        return CpuCounters(clock.now, clock.now, None, meter.extra_seconds())  # one core idle

    watch = CpuWatch(PassMeter(1), read, clock)
    values = [watch.spare_cores() for _ in range(30)]
    assert all(b - a >= 0.25 - 1e-9 for a, b in zip(reads, reads[1:]))
    assert len(reads) == 10
    assert values[-1] == pytest.approx(1.0)


def test_a_watch_that_cannot_read_the_counters_sees_no_spare_core() -> None:
    watch = CpuWatch(PassMeter(1), lambda meter: None, Clock(step=1.0))
    assert [watch.spare_cores() for _ in range(5)] == [0.0] * 5


def test_counters_are_read_from_proc_for_the_cpus_this_process_may_use(tmp_path: Path) -> None:
    usable = sorted(os.sched_getaffinity(0))
    hz = os.sysconf("SC_CLK_TCK")
    stat = tmp_path / "stat"
    lines = ["cpu  1 2 3 999999 999999 0 0 0 0 0"]  # the sum line is not read
    lines += [f"cpu{n} 10 0 5 {hz} {hz} 0 0 0 0 0" for n in usable]  # 2 s idle each (idle + iowait)
    lines += [f"cpu{max(usable) + 1} 10 0 5 {100 * hz} 0 0 0 0 0", "intr 12345", "ctxt 678"]  # not ours
    stat.write_text("\n".join(lines) + "\n")
    pressure = tmp_path / "pressure"
    pressure.write_text("some avg10=1.00 avg60=0.50 avg300=0.10 total=2500000\n"
                        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    counters = read_cpu_counters(PassMeter(1), stat=stat, pressure=pressure, clock=lambda: 7.0)
    assert counters == CpuCounters(7.0, 2.0 * len(usable), 2.5, 0.0)
    # Without pressure information the stall is unknown; without /proc/stat there are no counters.
    no_pressure = read_cpu_counters(PassMeter(1), stat=stat, pressure=tmp_path / "absent", clock=lambda: 7.0)
    assert no_pressure is not None and no_pressure.stalled_s is None
    assert read_cpu_counters(PassMeter(1), stat=tmp_path / "absent", pressure=pressure) is None


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_the_nearest_quota_above_the_process_cgroup_v2(tmp_path: Path) -> None:
    write(tmp_path, {
        "proc": "0::/kubepods/pod1/ctr\n",
        "cg/cgroup.controllers": "cpu memory\n",
        "cg/cpu.max": "max 100000\n",
        "cg/kubepods/pod1/cpu.max": "250000 100000\n",  # the pod: 2.5 cores
        "cg/kubepods/pod1/cpu.stat": "usage_usec 3000000\nuser_usec 2000000\nthrottled_usec 500000\n",
        "cg/kubepods/pod1/ctr/cpu.max": "max 100000\n",  # the container: no limit of its own
    })
    quota = find_cpu_quota(tmp_path / "proc", tmp_path / "cg")
    assert quota == CpuQuota(2.5, tmp_path / "cg/kubepods/pod1/cpu.stat", tmp_path / "cg/kubepods/pod1/cpu.stat", v2=True)
    assert read_quota_use(quota) == (3.0, 0.5)
    # Inside the container only its own group is mounted, at the root.
    write(tmp_path, {"proc": "0::/docker/abc\n", "cg/cpu.max": "150000 100000\n", "cg/cpu.stat": "usage_usec 7\n"})
    quota = find_cpu_quota(tmp_path / "proc", tmp_path / "cg")
    assert quota is not None and quota.cores == 1.5 and read_quota_use(quota) == (7e-6, 0.0)
    (tmp_path / "cg/cpu.max").write_text("max 100000\n")
    assert find_cpu_quota(tmp_path / "proc", tmp_path / "cg") is None


def test_the_nearest_quota_above_the_process_cgroup_v1(tmp_path: Path) -> None:
    write(tmp_path, {
        "proc": "9:name=systemd:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n",
        "cg/unified/cgroup.controllers": "",  # a hybrid host: v2 holds no controllers here
        "cg/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
        "cg/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "50000\n",
        "cg/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        "cg/cpu,cpuacct/docker/abc/cpuacct.usage": "4000000000\n",
        "cg/cpu,cpuacct/docker/abc/cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 250000000\n",
    })
    quota = find_cpu_quota(tmp_path / "proc", tmp_path / "cg")
    assert quota is not None and quota.cores == 0.5 and not quota.v2
    assert read_quota_use(quota) == (4.0, 0.25)
    # cpu and cpuacct mounted apart
    write(tmp_path, {
        "proc": "3:cpu:/g\n2:cpuacct:/g\n",
        "cg/cpu/g/cpu.cfs_quota_us": "300000\n",
        "cg/cpu/g/cpu.cfs_period_us": "100000\n",
        "cg/cpuacct/g/cpuacct.usage": "1000000000\n",
    })
    quota = find_cpu_quota(tmp_path / "proc", tmp_path / "cg")
    assert quota is not None and quota.cores == 3.0 and read_quota_use(quota) == (1.0, 0.0)
    (tmp_path / "cg/cpu/g/cpu.cfs_quota_us").write_text("-1\n")
    assert find_cpu_quota(tmp_path / "proc", tmp_path / "cg") is None
    assert find_cpu_quota(tmp_path / "absent", tmp_path / "cg") is None


def test_counters_under_a_quota_count_its_unused_share_and_the_throttling(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3 4 5 0 0 0 0 0\n" + "".join(f"cpu{n} 0 0 0 0 0 0 0 0 0 0\n" for n in os.sched_getaffinity(0)))
    write(tmp_path, {"cg/cpu.stat": "usage_usec 3000000\nthrottled_usec 400000\n"})
    quota = CpuQuota(2.0, tmp_path / "cg/cpu.stat", tmp_path / "cg/cpu.stat", v2=True)
    counters = read_cpu_counters(PassMeter(1), stat=stat, pressure=tmp_path / "absent", quota=quota, clock=lambda: 10.0)
    assert counters == CpuCounters(10.0, 0.0, 0.4, 0.0, quota_idle_s=2.0 * 10.0 - 3.0)


def test_this_machine_has_counters() -> None:
    first = read_cpu_counters(PassMeter(1), quota=find_cpu_quota())
    assert first is not None, "/proc/stat is readable on Linux"
    assert first.idle_s > 0  # the CPUs have been idle at some time since boot
