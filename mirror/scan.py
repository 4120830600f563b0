"""List one side of a pair, page by page, ahead of the merge, in bounded memory.

Each side is listed by a background thread that stays at most a few pages ahead of the
merge, so both sides are listed at the same time and the merge never waits for a page it
could have had, while memory stays at a few pages per side whatever the bucket's size.
"""

from __future__ import annotations

import bisect
import heapq
import queue
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mirror.order import sort_key
from mirror.providers import ListingOrder
from mirror.s3.client import S3Client
from mirror.s3.errors import S3Error
from mirror.s3.http import TransportError
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

    `after` becomes ListObjectsV2's start-after; the listing stops at the page that
    crosses `until`, yielded whole: its keys past `until` are the next range's, and are
    dropped by the caller once their order has been checked (`order.checked`), so a
    server listing in another order than declared is caught, not cut short. `first` are
    this range's first pages, already fetched (by the planner), so they are not
    requested twice.
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
        yield objects
        if limit is not None and objects and key_of(objects[-1].key) > limit:
            return
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
            # a folder `beyond` lies in is listed from `beyond` on: what comes before it
            # was listed already, and may be more than a page of files hiding the folders
            pages = list(pool.map(lambda f: client.list_page(
                scope.bucket, scope.prefix[: scope.strip] + f, None, delimiter="/",
                strip=scope.strip, start_after=scope.prefix[: scope.strip] + beyond
                if beyond.startswith(f) else None), expand))
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


_TOP = 0x10FFFF  # the greatest code point; UTF-8 byte order is code point order


class _Budget(Exception):
    pass


def _shared(a: str, b: str) -> int:
    """The length of the longest common prefix of a and b."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class _Prober:
    """Finds the first characters of a listing's greatest key, M, with one-key LISTs."""

    def __init__(self, client: S3Client, scope: Scope, max_requests: int) -> None:
        self.client, self.scope, self.left = client, scope, max_requests

    def beyond(self, relative: str) -> bool:
        """Is there a key after `relative`, i.e. is M > relative?"""
        scope = self.scope
        if self.left <= 0 or len((scope.prefix[: scope.strip] + relative).encode()) > 1024:
            raise _Budget  # out of probes, or past S3's longest key
        self.left -= 1
        page = self.client.list_page(scope.bucket, scope.prefix, None, strip=scope.strip,
                                     start_after=scope.prefix[: scope.strip] + relative,
                                     max_keys=1)
        return bool(page.objects)

    def greatest(self, known: str, lo: int) -> int:
        """The greatest c >= lo with M > known + chr(c), or lo - 1 if there is none."""
        hi = 0x7E if not self.beyond(known + chr(0x7F)) else _TOP
        lo = max(lo, 0x7F) - 1 if hi == _TOP else lo - 1  # M > known + chr(lo), or none
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if 0xD800 <= mid <= 0xDFFF:  # surrogates are no characters: ask about U+E000
                mid = 0xE000
                if not self.beyond(known + chr(mid)):
                    hi = 0xD7FF
                    continue
            elif not self.beyond(known + chr(mid)):
                hi = mid - 1
                continue
            lo = mid
        return lo

    def greatest_key(self, seen: list[str]) -> str:
        """M's characters while they equal the last seen key's, then two more."""
        last = seen[-1]
        j = _shared(seen[0], last)
        if self.beyond(last[:j] + chr(_TOP)):  # M leaves the seen keys' common prefix
            lo, hi = 0, j - 1  # M starts with last[:lo], and not with last[:hi + 1]
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.beyond(last[:mid] + chr(_TOP)):
                    hi = mid - 1
                else:
                    lo = mid
            j = lo
        known = last[:j]
        extra = 0
        while extra < 2:
            i = len(known)
            lo = 1
            if extra == 0 and i < len(last):
                if not self.beyond(known + last[i] + chr(_TOP)):
                    known += last[i]  # M continues like the last key seen
                    continue
                lo = ord(last[i]) + 1
            try:
                c = self.greatest(known, lo)
            except _Budget:
                if extra == 0:
                    raise
                break  # one character where M differs is enough to cut by
            if c < lo:
                break  # M ends here
            known += chr(c)
            extra += 1
        return known


def keyspace_points(client: S3Client, scope: Scope, seen: list[str], ranges: int,
                    max_requests: int = 32) -> list[str]:
    """Boundaries after `seen[-1]` for a listing without folders to cut at (UTF-8 order).

    Probes (LISTs of one key with start-after, at most `max_requests`) find the first
    characters of the greatest key M; the keys between the last one seen and M are then
    cut evenly, counting in the alphabet the seen keys use where they differ from M.
    Only the balance of the ranges is a guess: any boundaries give an exact listing.
    """
    last = seen[-1]
    try:
        greatest = _Prober(client, scope, max_requests).greatest_key(seen)
    except (_Budget, S3Error, TransportError):
        return []  # one range, as without probes: a store that refuses one is not an error
    d = _shared(last, greatest)
    if d >= len(greatest):
        return []
    chars = {ch for key in seen for ch in key[d : d + 2]} | set(greatest[d : d + 2])
    if d < len(last) and not any(last[d] < ch < greatest[d] for ch in chars):
        # The seen keys say nothing about the characters between: space a few evenly.
        low, high = ord(last[d]), ord(greatest[d])
        step = max(1, (high - low) // ranges)
        chars |= {chr(c) for c in range(low + step, high, step) if not 0xD800 <= c <= 0xDFFF}
    alphabet = sorted(chars)
    width = len(alphabet)

    def value(key: str) -> int:
        digits = [bisect.bisect_left(alphabet, ch) for ch in key[d : d + 2]] + [0, 0]
        return digits[0] * width + digits[1]

    lo, hi = value(last), value(greatest)
    points: list[str] = []
    for k in range(1, ranges):
        v = lo + (hi - lo) * k // ranges
        point = greatest[:d] + alphabet[min(v // width, width - 1)] + alphabet[v % width]
        if last < point < greatest and (not points or point > points[-1]):
            points.append(point)
    return points


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


WALK_BATCH = 1000  # objects of one folder handed on at once: a page's worth


def walk(client: S3Client, scope: Scope, prefix: str | None = None, *,
         batch_size: int = WALK_BATCH) -> Iterator[list[ObjectInfo]]:
    """List folder by folder, yielding keys in UTF-8 order whatever order the server uses.

    A server that lists folders first puts folder `a/` where `a` sorts, before `a-b` and
    `a.txt`; in UTF-8 order `a/` comes after them. So a folder is held back until an entry
    whose bare name sorts at or after `a/` arrives (every later entry sorts after it, in
    either order), then walked in full. Memory: one page per open folder level. Costs one
    LIST (or more) per folder, so it is used only where the two sides' orders differ.
    A folder's objects are handed on `batch_size` at a time, however many it holds.
    """
    held: list[tuple[str, int, int, ObjectInfo | None]] = []  # name, folder?, seq, object
    batch: list[ObjectInfo] = []
    base = scope.prefix[: scope.strip]
    entries = _level(client, scope, scope.prefix if prefix is None else prefix)
    for seq, (name, obj) in enumerate(entries):
        heapq.heappush(held, (name, obj is None, seq, obj))
        bound = name.rstrip("/")
        while held and held[0][0] <= bound:
            yield from _release(client, scope, base, heapq.heappop(held), batch, batch_size)
    while held:
        yield from _release(client, scope, base, heapq.heappop(held), batch, batch_size)
    if batch:
        yield batch


def _release(client: S3Client, scope: Scope, base: str,
             entry: tuple[str, int, int, ObjectInfo | None], batch: list[ObjectInfo],
             batch_size: int) -> Iterator[list[ObjectInfo]]:
    """Emit one held entry: an object joins the batch (handed on once full), a folder is
    walked in full."""
    name, _, _, obj = entry
    if obj is not None:
        batch.append(obj)
        if len(batch) < batch_size:
            return
    if batch:
        yield list(batch)
        batch.clear()
    if obj is None:
        yield from walk(client, scope, base + name, batch_size=batch_size)


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
