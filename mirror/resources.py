"""Size the run from the container's real limits (cgroup v2 or v1), not the host's.

A pod limited to 512 MiB on a 64 GiB node must size its buffers from 512 MiB: the mirror
reads the cgroup limits, and falls back to the host only where no limit is set.
"""

from __future__ import annotations

import ctypes
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
BASELINE_MEMORY = 96 * MIB  # interpreter, listings in flight, connection buffers
UNLIMITED = 1 << 60
LARGE_TRANSFERS = 4  # objects above the part size streamed at once, by default (bench/README)
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 1 * MIB  # buffers from this size up are mapped, and unmapped once freed


@dataclass(frozen=True)
class Limits:
    cpus: float
    memory: int  # bytes
    source: str  # "cgroup v2", "cgroup v1" or "host"


@dataclass(frozen=True)
class Sizing:
    workers: int
    memory_budget: int  # bytes all transfer buffers together may hold
    part_size: int
    large_transfers: int = LARGE_TRANSFERS  # objects above the part size in flight at once


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _host_memory(proc: Path) -> int:
    text = _read(proc / "meminfo") or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 4096 * MIB


def _host_cpus() -> float:
    try:
        return float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return float(os.cpu_count() or 1)


def _cgroup_v2(cgroup: Path, cpus: float, memory: int) -> Limits | None:
    cpu_max, mem_max = _read(cgroup / "cpu.max"), _read(cgroup / "memory.max")
    if cpu_max is None and mem_max is None:
        return None
    if cpu_max and not cpu_max.startswith("max"):
        quota, period = cpu_max.split()[:2]
        cpus = min(cpus, int(quota) / int(period))
    if mem_max and mem_max != "max":
        memory = min(memory, int(mem_max))
    return Limits(cpus, memory, "cgroup v2")


def _cgroup_v1(cgroup: Path, cpus: float, memory: int) -> Limits | None:
    cpu_dir = cgroup / "cpu" if (cgroup / "cpu").is_dir() else cgroup / "cpu,cpuacct"
    quota, period = _read(cpu_dir / "cpu.cfs_quota_us"), _read(cpu_dir / "cpu.cfs_period_us")
    limit = _read(cgroup / "memory" / "memory.limit_in_bytes")
    if quota is None and limit is None:
        return None
    if quota and period and int(quota) > 0:
        cpus = min(cpus, int(quota) / int(period))
    if limit and int(limit) < UNLIMITED:
        memory = min(memory, int(limit))
    return Limits(cpus, memory, "cgroup v1")


def read_limits(cgroup: Path = Path("/sys/fs/cgroup"), proc: Path = Path("/proc")) -> Limits:
    """CPU and memory limits of this container (the host's where none are set)."""
    cpus, memory = _host_cpus(), _host_memory(proc)
    return (_cgroup_v2(cgroup, cpus, memory) or _cgroup_v1(cgroup, cpus, memory)
            or Limits(cpus, memory, "host"))


def size_run(limits: Limits, part_size: int, workers: int | None = None,
             large_transfers: int = LARGE_TRANSFERS) -> Sizing:
    """Workers and the buffer budget for the run.

    Workers wait on the network far more than they compute, so "auto" is 16 per CPU
    (at least 8, at most 64). Buffers are capped at half of the memory left after a
    baseline, and never below one 5 MiB part, so a small pod is slowed, never OOM-killed.
    """
    if workers is None:
        workers = max(8, min(64, math.ceil(limits.cpus * 16)))
    available = max(limits.memory - BASELINE_MEMORY, 0) // 2
    budget = max(5 * MIB, min(available, workers * part_size * 2))
    return Sizing(workers=workers, memory_budget=budget, part_size=min(part_size, budget),
                  large_transfers=min(large_transfers, workers))


def _libc_function(name: str, libc: object | None) -> Callable[..., int] | None:
    """A function of the C library (or of `libc`, for tests); None where it has none
    (musl has neither mallopt nor malloc_trim)."""
    try:
        function: Callable[..., int] = getattr(libc if libc is not None else ctypes.CDLL(None),
                                               name)
    except (AttributeError, OSError):
        return None
    return function


def freed_memory_trimmer(libc: object | None = None) -> Callable[[], object] | None:
    """What gives the pages of freed buffers back to the system (glibc's malloc_trim).

    A buffer below MMAP_THRESHOLD (objects up to 1 MiB, the 256 KiB stream buffers) comes
    from an arena, even one above it when an arena has room: freed, its pages stay in the
    process, and objects of varied sizes fragment the arenas, so a run of many small
    objects grew with the bytes it copied (3 pairs, 512 workers, a 208 MiB budget:
    590-730 MiB RSS). malloc_trim(0) returns every free page of every arena.
    None where the C library has no malloc_trim (musl): nothing to do there.
    """
    trim = _libc_function("malloc_trim", libc)
    return None if trim is None else lambda: trim(0)


def raise_open_files_limit(ceiling: int = 65536) -> int:
    """Raise the soft limit on open files to the hard one (at most `ceiling`), as Go
    programs do at start, and return it. Each worker holds a connection per side, and
    AWS addresses each bucket by its own host, whose pool keeps its idle connections: many
    workers over several pairs need more than the 1,024 many containers start with, and
    past it every new connection fails (EMFILE)."""
    try:
        import resource  # not on every platform
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            return wanted
        return soft
    except (ImportError, ValueError, OSError):
        return -1


def return_freed_buffers(libc: object | None = None) -> bool:
    """Have buffers of MMAP_THRESHOLD and more given back to the system once freed.

    The budget counts the bytes buffers hold while they are live; the process's memory
    only follows it if freed buffers leave it. glibc raises its mmap threshold to the
    size of each large block freed (up to 32 MiB): after the first part buffer, parts
    and small objects (up to the part size) come from per-thread arenas, whose freed
    space is kept, so a run of many threads grew to several times its budget (742 MiB
    RSS for an 80 MiB budget). Pinning the threshold turns the dynamic raise off. False
    where the C library has no mallopt (musl): nothing to do there.
    """
    mallopt = _libc_function("mallopt", libc)
    return mallopt is not None and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
