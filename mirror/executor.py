"""Backpressure: a fast listing must never pile up millions of pending copies.

`BoundedExecutor.submit` blocks while enough work is in flight (as s3transfer's does), and
`MemoryBudget` caps the bytes held in buffers by all transfers together, so memory stays
bounded by the budget whatever the workers, the object sizes or the number of pairs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class BoundedExecutor:
    def __init__(self, workers: int, pending: int | None = None, name: str = "worker") -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(pending or workers * 2)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        self._slots.acquire()
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


class MemoryBudget:
    """A byte-counting semaphore; a request larger than the whole budget takes all of it.

    `trim`, if given, is called each time a quarter of the budget has been released since
    its last call: buffers below the allocator's mmap threshold (most small objects) are
    freed into its arenas, which keep their pages, and objects of varied sizes fragment
    them, so without a trim the process grew past its budget with the bytes it copied.
    """

    def __init__(self, total: int, trim: Callable[[], object] | None = None) -> None:
        self.total = total
        self._free = total
        self._cond = threading.Condition()
        self.peak = 0
        self._trim = trim
        self._released = 0  # bytes released since the last trim

    def acquire(self, n: int) -> int:
        n = min(n, self.total)
        with self._cond:
            while self._free < n:
                self._cond.wait()
            self._free -= n
            self.peak = max(self.peak, self.total - self._free)
        return n

    def release(self, n: int) -> None:
        with self._cond:
            self._free += n
            self._cond.notify_all()
            self._released += n
            trim = self._trim if self._released >= self.total // 4 else None
            if trim is not None:
                self._released = 0
        if trim is not None:
            trim()  # outside the lock: waiting copies go on meanwhile


class Throttle:
    """A run-wide cap on the bytes sent per second, shared by every transfer.

    Each sender reserves the time its bytes take at the rate, after the reservations made
    before it, and sends them when that time is over: what has been sent never runs ahead
    of the rate, counted from the first send. An idle spell earns no burst.
    """

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self._clock, self._sleep = clock, sleep
        self._next = clock()
        self._lock = threading.Lock()

    def take(self, n: int, stopped: Callable[[], bool]) -> bool:
        """Wait until `n` more bytes may be sent; False when `stopped()` turned true first."""
        with self._lock:
            self._next = due = max(self._next, self._clock()) + n / self.rate
        while (delay := due - self._clock()) > 0:
            if stopped():
                return False
            self._sleep(min(delay, 0.1))  # a stop (SIGTERM) is noticed within 0.1 s
        return True
