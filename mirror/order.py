"""Key order: the one thing a merge-join must never take on trust.

Servers do not agree on it. AWS, MinIO and rclone list keys in UTF-8 byte order. SeaweedFS
lists a folder's contents before the siblings that sort below '/': `dir/x` comes before
`dir-x`, `dir.x` and `dir!x`, i.e. it compares keys segment by segment ("folders first").

The mirror merges two listings in one order, chosen per pair:
- both sides list in the same order: merge in that order, over flat listings;
- otherwise: merge in UTF-8 order, and walk the folders-first side folder by folder
  (see `scan.walk`), which yields UTF-8 order in bounded memory.
Python compares `str` by code point, which is UTF-8 byte order; folders-first order is
UTF-8 order of the key with '/' mapped below every other character.

Whatever the plan, `checked` verifies each listing as it streams: a key out of order or
repeated stops the pair with ListingOrderError before any decision is taken on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from mirror.providers import ListingOrder
from mirror.s3.listing import ObjectInfo


class ListingOrderError(Exception):
    """A listing broke the order the merge relies on; its results cannot be trusted."""


def _folders_first(key: str) -> str:
    return key.replace("/", "\x00")


def _utf8(key: str) -> str:
    return key


def sort_key(order: ListingOrder) -> Callable[[str], str]:
    return _folders_first if order is ListingOrder.FOLDERS_FIRST else _utf8


def merge_order(source: ListingOrder, target: ListingOrder) -> ListingOrder:
    return source if source is target else ListingOrder.UTF8


def checked(objects: Iterable[ObjectInfo], order: ListingOrder, side: str,
            provider_variable: str = "<ALIAS>_PROVIDER", after: str | None = None,
            until: str | None = None) -> Iterator[tuple[str, ObjectInfo]]:
    """(sort key, object) for each object, after checking it sorts after the previous one
    (the first after `after`, a range's start); objects past `until` (a range's end) are
    checked, then left to the next range."""
    sorting = sort_key(order)
    previous = None if after is None else sorting(after)
    previous_key = after or ""
    limit = None if until is None else sorting(until)
    for obj in objects:
        current = sorting(obj.key)
        if previous is not None and current <= previous:
            what = "repeats" if current == previous else "comes after"
            raise ListingOrderError(
                f"the {side} listing is not in {order.value} order: {obj.key!r} {what} "
                f"{previous_key!r}; set {provider_variable} if this server is not "
                "recognised, or report it")
        previous, previous_key = current, obj.key
        if limit is None or current <= limit:
            yield current, obj
