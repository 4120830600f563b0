"""Every request a run makes, counted by operation, so a run can say what it cost."""

from __future__ import annotations

import threading
from collections import Counter
from enum import StrEnum


class Op(StrEnum):
    LIST = "LIST"
    HEAD = "HEAD"
    GET = "GET"
    GET_TAGGING = "GET_TAGGING"  # an object's tags, read only for objects that have some
    PUT = "PUT"
    COPY = "COPY"
    MPU_CREATE = "MPU_CREATE"
    MPU_PART = "MPU_PART"
    MPU_PART_COPY = "MPU_PART_COPY"
    MPU_COMPLETE = "MPU_COMPLETE"
    MPU_ABORT = "MPU_ABORT"


WRITE_OPS = frozenset({Op.PUT, Op.COPY, Op.MPU_CREATE, Op.MPU_PART, Op.MPU_PART_COPY,
                       Op.MPU_COMPLETE, Op.MPU_ABORT})


class RequestCounter:
    """Thread-safe counts of requests sent (retries included: each one is billed)."""

    def __init__(self) -> None:
        self._counts: Counter[Op] = Counter()
        self._lock = threading.Lock()

    def add(self, op: Op) -> None:
        with self._lock:
            self._counts[op] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {str(op): n for op, n in sorted(self._counts.items()) if n}

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def writes(self) -> int:
        with self._lock:
            return sum(n for op, n in self._counts.items() if op in WRITE_OPS)
