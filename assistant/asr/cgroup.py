"""This process's CPU quota, where a container or a systemd unit sets one (Linux cgroups v2 and v1).

``/proc/stat`` shows the whole machine: in a container limited to two cores on a 16-core host
it shows fourteen idle ones this process may not use. ``find_cpu_quota`` finds the nearest
quota on the way from this process's cgroup up to the hierarchy's root; ``read_quota_use`` reads
how much of it the group has used, and how long the kernel throttled the group for running past
it. :mod:`assistant.asr.cpu` counts the quota's unused share as the spare cores where it is
smaller than the idle ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True, slots=True)
class CpuQuota:
    """A cgroup's CPU limit and the files that say how much of it was used."""

    cores: float  # quota ÷ period
    usage: Path  # v2: cpu.stat (usage_usec); v1: cpuacct.usage (nanoseconds)
    stat: Path  # cpu.stat: v2 throttled_usec, v1 throttled_time (nanoseconds)
    v2: bool


def find_cpu_quota(proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> CpuQuota | None:
    """The nearest CPU quota above this process, or None (no quota, or not Linux)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    groups: dict[str, str] = {}  # controllers ("" in v2) -> the process's group in that hierarchy
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        groups[controllers] = path.strip()
    if "" in groups and (root / "cgroup.controllers").is_file():
        return _v2(root, groups[""])
    for controllers, path in groups.items():
        if "cpu" in controllers.split(","):
            return _v1(root, controllers, path)
    return None


def _ancestors(mount: Path, path: str) -> list[Path]:
    """From the group up to the hierarchy's root. In a container the path may name the host's
    group while the container sees only its own at the mount point: then start there."""
    group = mount / path.strip("/")
    if not group.is_dir():
        group = mount
    return [group, *[p for p in group.parents if p.is_relative_to(mount)]]


def _v2(root: Path, path: str) -> CpuQuota | None:
    for group in _ancestors(root, path):
        fields = _read(group / "cpu.max").split()
        if len(fields) == 2 and fields[0] != "max":
            quota, period = _numbers(fields)
            if quota > 0 and period > 0:
                return CpuQuota(quota / period, group / "cpu.stat", group / "cpu.stat", v2=True)
    return None


def _v1(root: Path, controllers: str, path: str) -> CpuQuota | None:
    mount = next((root / name for name in (controllers, "cpu,cpuacct", "cpu") if (root / name).is_dir()), None)
    if mount is None:
        return None
    for group in _ancestors(mount, path):
        quota, period = _numbers([_read(group / "cpu.cfs_quota_us"), _read(group / "cpu.cfs_period_us")])
        if quota > 0 and period > 0:
            usage = group / "cpuacct.usage"
            if not usage.is_file():  # cpuacct mounted on its own
                usage = root / "cpuacct" / group.relative_to(mount) / "cpuacct.usage"
            return CpuQuota(quota / period, usage, group / "cpu.stat", v2=False)
    return None


def read_quota_use(quota: CpuQuota) -> tuple[float, float] | None:
    """(core-seconds the group has used, seconds it was throttled), cumulative; None if unreadable."""
    stat = dict(_pairs(_read(quota.stat)))
    if quota.v2:
        used, throttled = stat.get("usage_usec"), stat.get("throttled_usec", 0)
        return None if used is None else (used / 1e6, throttled / 1e6)
    try:
        used_ns = int(_read(quota.usage))
    except ValueError:
        return None
    return used_ns / 1e9, stat.get("throttled_time", 0) / 1e9


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _numbers(fields: list[str]) -> tuple[int, int]:
    try:
        return int(fields[0]), int(fields[1])
    except (ValueError, IndexError):
        return 0, 0


def _pairs(text: str) -> list[tuple[str, int]]:
    out = []
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if value.strip().isdigit():
            out.append((name, int(value)))
    return out
