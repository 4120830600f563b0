"""List one side of a pair, page by page, ahead of the merge, in bounded memory.

Each side is listed by a background thread that stays at most a few pages ahead of the
merge, so both sides are listed at the same time and the merge never waits for a page it
could have had, while memory stays at a few pages per side whatever the bucket's size.
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mirror.order import sort_key
from mirror.providers import ListingOrder
from mirror.s3.client import S3Client
from mirror.s3.listing import ListPage, ObjectInfo

_DONE = object()


@dataclass(frozen=True)
class Scope:
    """What to list: bucket, full listing prefix, and how many leading characters to cut."""

    bucket: str
    prefix: str
    strip: int


def flat(client: S3Client, scope: Scope) -> Iterator[list[ObjectInfo]]:
    """Plain ListObjectsV2 pages: the cheapest listing (one request per 1,000 keys)."""
    return ranged(client, scope, None, None, ListingOrder.UTF8)


def ranged(client: S3Client, scope: Scope, after: str | None, until: str | None,
           order: ListingOrder, first: tuple[ListPage, ...] = ()) -> Iterator[list[ObjectInfo]]:
    """Flat pages of the keys in (after, until], relative keys compared in `order`.

    `after` becomes ListObjectsV2's start-after; the listing stops at the first key past
    `until` (the rest of that page is dropped). `first` are this range's first pages,
    already fetched (by the planner), so they are not requested twice.
    """
    key_of = sort_key(order)
    limit = key_of(until) if until is not None else None
    start_after = scope.prefix[: scope.strip] + after if after is not None else None
    fetched = list(first)
    page = fetched.pop(0) if fetched else None
    while True:
        if page is None:
            page = client.list_page(scope.bucket, scope.prefix, None, strip=scope.strip,
                                    start_after=start_after)
        objects = page.objects
        if limit is not None and objects and key_of(objects[-1].key) > limit:
            yield [o for o in objects if key_of(o.key) <= limit]
            return
        yield objects
        if page.next_token is None:
            return
        if fetched:
            page = fetched.pop(0)
            continue
        page = client.list_page(scope.bucket, scope.prefix, page.next_token, strip=scope.strip)


def split_points(client: S3Client, scope: Scope, beyond: str, order: ListingOrder,
                 ranges: int, max_requests: int = 8) -> list[str]:
    """Folder boundaries after `beyond` that cut the rest of a listing into `ranges` parts.

    Expands the folder tree breadth-first with delimiter listings (at most `max_requests`
    LISTs, only folders at or after `beyond`) until enough folders lie past `beyond`, then
    picks evenly spaced ones. A boundary is a folder prefix such as '2025/03/': a range
    ends with it (a folder marker object of that exact name included) and the next range
    starts after it.
    """
    key_of = sort_key(order)
    edge = key_of(beyond)
    root = scope.prefix[scope.strip :]
    frontier: list[str] = [root]
    leaves: set[str] = set()
    requests = 0
    while requests < max_requests:
        past = [f for f in frontier if f != root and key_of(f) > edge]
        if len(past) >= ranges:
            break
        open_ = [f for f in frontier if f not in leaves
                 and (key_of(f) > edge or beyond.startswith(f))]
        if not open_:
            break
        frontier = [f for f in frontier if f not in open_]
        expand, keep = open_[: max_requests - requests], open_[max_requests - requests :]
        frontier += keep
        with ThreadPoolExecutor(min(len(expand), 8), thread_name_prefix="split") as pool:
            pages = list(pool.map(lambda f: client.list_page(
                scope.bucket, scope.prefix[: scope.strip] + f, None, delimiter="/",
                strip=scope.strip), expand))
        requests += len(expand)
        for folder, page in zip(expand, pages, strict=True):
            frontier += page.prefixes
            if not page.prefixes and folder != root:
                frontier.append(folder)
                leaves.add(folder)
    past = sorted((f for f in frontier if f != root and key_of(f) > edge), key=key_of)
    if len(past) < 2:
        return []
    step = len(past) / min(ranges, len(past))
    return sorted({past[int(i * step)] for i in range(1, min(ranges, len(past)))}, key=key_of)


def _level(client: S3Client, scope: Scope, prefix: str,
           ) -> Iterator[tuple[str, ObjectInfo | None]]:
    """One folder's entries in server order: (name, object) or (folder prefix, None)."""
    token: str | None = None
    while True:
        page = client.list_page(scope.bucket, prefix, token, delimiter="/", strip=scope.strip)
        entries: list[tuple[str, ObjectInfo | None]] = [(o.key, o) for o in page.objects]
        entries += [(p, None) for p in page.prefixes]
        entries.sort(key=lambda e: e[0].rstrip("/"))  # the two lists interleave by bare name
        yield from entries
        token = page.next_token
        if token is None:
            return


def walk(client: S3Client, scope: Scope, prefix: str | None = None,
         ) -> Iterator[list[ObjectInfo]]:
    """List folder by folder, yielding keys in UTF-8 order whatever order the server uses.

    A server that lists folders first puts folder `a/` where `a` sorts, before `a-b` and
    `a.txt`; in UTF-8 order `a/` comes after them. So a folder is held back until an entry
    whose bare name sorts at or after `a/` arrives (every later entry sorts after it, in
    either order), then walked in full. Memory: one page per open folder level. Costs one
    LIST (or more) per folder, so it is used only where the two sides' orders differ.
    """
    held: list[tuple[str, int, int, ObjectInfo | None]] = []  # name, folder?, seq, object
    batch: list[ObjectInfo] = []
    base = scope.prefix[: scope.strip]
    entries = _level(client, scope, scope.prefix if prefix is None else prefix)
    for seq, (name, obj) in enumerate(entries):
        heapq.heappush(held, (name, obj is None, seq, obj))
        bound = name.rstrip("/")
        while held and held[0][0] <= bound:
            yield from _release(client, scope, base, heapq.heappop(held), batch)
    while held:
        yield from _release(client, scope, base, heapq.heappop(held), batch)
    if batch:
        yield batch


def _release(client: S3Client, scope: Scope, base: str,
             entry: tuple[str, int, int, ObjectInfo | None], batch: list[ObjectInfo],
             ) -> Iterator[list[ObjectInfo]]:
    """Emit one held entry: an object joins the batch, a folder is walked in full."""
    name, _, _, obj = entry
    if obj is not None:
        batch.append(obj)
        return
    if batch:
        yield list(batch)
        batch.clear()
    yield from walk(client, scope, base + name)


class Prefetch:
    """Run a batch generator in a thread, at most `depth` batches ahead of the consumer."""

    def __init__(self, batches: Iterable[list[ObjectInfo]], depth: int = 4,
                 name: str = "scan") -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._batches = batches
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for batch in self._batches:
                if not self._put(batch):
                    return
        except BaseException as exc:
            self._put(exc)
            return
        self._put(_DONE)

    def __iter__(self) -> Iterator[ObjectInfo]:
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, list)
                yield from item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
