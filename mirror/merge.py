"""The merge-join: two ordered listings walked together in one pass, in constant memory."""

from __future__ import annotations

from collections.abc import Iterator

from mirror.s3.listing import ObjectInfo

Keyed = Iterator[tuple[str, ObjectInfo]]


def merge_join(source: Keyed, target: Keyed,
               ) -> Iterator[tuple[ObjectInfo | None, ObjectInfo | None]]:
    """Yield (source, target) per key: (s, None) source-only, (None, t) target-only, (s, t) both.

    Both inputs are (sort key, object) streams already checked to be strictly increasing
    (`order.checked`); objects pair up when their relative keys are equal.
    """
    s = next(source, None)
    t = next(target, None)
    while s is not None and t is not None:
        if s[0] == t[0]:
            yield s[1], t[1]
            s = next(source, None)
            t = next(target, None)
        elif s[0] < t[0]:
            yield s[1], None
            s = next(source, None)
        else:
            yield None, t[1]
            t = next(target, None)
    while s is not None:
        yield s[1], None
        s = next(source, None)
    while t is not None:
        yield None, t[1]
        t = next(target, None)
