"""One pair, end to end: two listings -> merge-join -> decision -> transfers -> summary.

The listing loop runs in the pair's thread and hands copies to the run's bounded executor
(blocking when enough are in flight), so a pair of any size runs in bounded memory: a few
listing pages per side, the copies in flight, nothing per object that was already seen.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from mirror import logs
from mirror.decision import COPY_ACTIONS, Action, Decision, Policy, decide
from mirror.executor import BoundedExecutor, MemoryBudget, Throttle
from mirror.merge import merge_join
from mirror.order import ListingOrderError, checked, merge_order
from mirror.pairs import Location, Pair
from mirror.providers import ListingOrder, Provider
from mirror.s3.accounting import RequestCounter
from mirror.s3.client import EndpointConfig, PoolRegistry, S3Client
from mirror.s3.errors import S3Error, Severity
from mirror.s3.http import TransportError
from mirror.s3.listing import ListingParseError, ListPage, ObjectInfo
from mirror.s3.sigv4 import CredentialsUnavailable
from mirror.scan import Prefetch, Scope, keyspace_points, ranged, split_points, walk
from mirror.settings import Alias, Settings
from mirror.summary import PairSummary, PairTally, Status
from mirror.transfer import (
    Outcome,
    Side,
    TransferContext,
    TransferResult,
    planned_requests,
    transfer,
)

NOT_MIRRORED = frozenset({Action.UNSUPPORTED, Action.ARCHIVED})
TRANSPORT_FAILURES_TO_GIVE_UP = 10
MAX_RANGES = 8  # key ranges of one prefix listed and merged side by side
PAGES_BEFORE_SPLIT = 3  # a listing that ends within these pages is never split
PREFETCH_PAGES = 4  # pages a side lists ahead of the merge (one each, for side-by-side ranges)
MARKERS_HELD = 1000  # new folder markers a pair holds back on a `markers_last` target
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # the ETag of a (true) empty folder marker
_SCAN_ERRORS = (S3Error, TransportError, ListingParseError, CredentialsUnavailable)
_RESTORED = re.compile(r'ongoing-request\s*=\s*"false"', re.I)  # a restore that is done


@dataclass(frozen=True)
class Range:
    """Keys in (after, until] of a prefix; `first` is the source's first page, if fetched."""

    after: str | None
    until: str | None
    first: tuple[ListPage, ...] = ()


def _scan_fix(side: str, location: Location, alias: Alias | None,
              cause: BaseException) -> str:
    """What to change when a listing fails, naming the alias's own variable: the causes a
    setting fixes (keys, URL, CA bundle), not those only the server's owner can."""
    env = location.alias.upper()
    if isinstance(cause, S3Error):
        if cause.tls_port:
            return f"; use https:// in {env}_URL"
        if side == "target" and cause.code == "NoSuchBucket":
            # rclone sync and mc mirror create a missing target bucket; this mirror never does
            return "; the mirror never creates buckets: create it, then run again"
        if cause.code == "NoSuchBucket":
            return (f"; check the bucket's name in the pair, and that {env}_URL is the store "
                    "that holds it")
        if cause.kind == "credentials rejected":
            if alias is not None and alias.credential_chain:
                return (f"; the keys the AWS credential chain found were refused: check the "
                        f"IAM role (IRSA) or the instance profile, or set {env}_ACCESS_KEY "
                        f"and {env}_SECRET_KEY")
            return f"; check {env}_ACCESS_KEY and {env}_SECRET_KEY"
        return ""
    fixes = {
        "ca-file": f"; a private or self-signed CA: set {env}_CA_FILE to its PEM bundle "
                   f"(or check the host name in {env}_URL)",
        "scheme": f"; the server does not speak TLS there: use http:// in {env}_URL",
        "url": f"; check {env}_URL (scheme, host, port), DNS and firewalls",
    }
    if alias is not None and alias.proxy is not None:  # the proxy could not be reached
        fixes["proxy"] = (f"; check {alias.proxy.variable or 'the proxy setting'}, or add the "
                          f"endpoint's host to NO_PROXY to reach it directly")
    if alias is not None and alias.url_from_region:  # no {env}_URL to check
        fixes["url"] = (f"; check {env}_REGION, which gives the endpoint {alias.url} "
                        f"(or set {env}_URL), DNS and firewalls")
    setting = cause.setting if isinstance(cause, TransportError) else None
    return fixes.get(setting or "", "")


class ScanError(Exception):
    def __init__(self, side: str, location: Location, cause: BaseException,
                 alias: Alias | None = None) -> None:
        self.side, self.location, self.cause = side, location, cause
        detail = cause.kind if isinstance(cause, S3Error) else str(cause)
        super().__init__(f"cannot list the {side} {location}: {detail}"
                         + (f" ({cause.describe(kind=False)})" if isinstance(cause, S3Error)
                            else "")
                         + _scan_fix(side, location, alias, cause))


@dataclass(frozen=True)
class RunResources:
    """What all pairs of a run share."""

    settings: Settings
    endpoints: dict[str, EndpointConfig]
    pools: PoolRegistry
    executor: BoundedExecutor
    parts: Any  # ThreadPoolExecutor for part uploads
    budget: MemoryBudget
    part_size: int
    streams: threading.Semaphore  # large objects in flight, run-wide
    stop: threading.Event
    throttle: Throttle | None = None  # MIRROR_BANDWIDTH_LIMIT, run-wide


class AnyOf:
    """Set when any of the given events is: the run stopping, or this pair giving up."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


class _InFlight:
    """Counts a pair's submitted copies, so the pair can wait for its own and no more."""

    def __init__(self) -> None:
        self._n = 0
        self._cond = threading.Condition()

    def up(self) -> None:
        with self._cond:
            self._n += 1

    def down(self) -> None:
        with self._cond:
            self._n -= 1
            self._cond.notify_all()

    def wait_empty(self) -> None:
        with self._cond:
            while self._n:
                self._cond.wait()


class _TargetFiles:
    """The target's files whose name begins the keys being merged (a key's prefixes come
    before it in any listing order, and the keys under one are listed together): on a
    store where a folder marker `k/` and a file `k` are one entry, the marker is not
    written over the file (it would replace it). A file outside the listed scope (the
    marker of the pair's folder or of a MIRROR_PREFIX) is asked for with one HEAD."""

    def __init__(self, provider: Provider, folder: str, listed: str,
                 exists: Callable[[str], bool],
                 has_folder: Callable[[str], bool] = lambda _: False) -> None:
        self.provider, self.folder, self.listed, self.exists = provider, folder, listed, exists
        self.has_folder = has_folder
        self.stack: list[str] = []
        # files only this run would write (the target holds none of that name): one the
        # target holds as a folder cannot be written, and blocks nothing under it
        self.planned: set[str] = set()
        # names a range's keys may lie under though they sort before its start ('k' for a
        # range after 'k/' or 'k-/'): a file of that name, in an earlier range, is asked for
        self.unlisted: list[str] = []  # longest first
        # new files held back until the merge shows whether the target holds a folder of
        # their name (a PUT over a folder fails, and rclone then lists a file that is not
        # there): each is a prefix of the next, so they are few
        self.pending: list[tuple[ObjectInfo, ObjectInfo | None, Decision]] = []

    def settle(self, source: ObjectInfo | None, target: ObjectInfo | None, decision: Decision,
               ) -> list[tuple[ObjectInfo | None, ObjectInfo | None, Decision]]:
        """`check`, and on a file-system target the decisions now final, in merge order but
        for a new file `k`: it waits until the merge has passed where keys under `k/` sort
        (one LIST when only the source has such keys), and is refused where the target
        holds any, rather than written over that folder."""
        if not self.provider.file_blocks_folder:
            return [(source, target, self.check(source, target, decision))]
        obj = source or target
        assert obj is not None
        ready = self._resolve(obj.key, target)
        decision = self.check(source, target, decision)
        if (source is not None and target is None and decision.action in COPY_ACTIONS
                and source.key and not source.key.endswith("/")):
            self.pending.append((source, target, decision))
        else:
            ready.append((source, target, decision))
        return ready

    def flush(self, more: bool) -> list[tuple[ObjectInfo | None, ObjectInfo | None, Decision]]:
        """The files still held at the end of a range; with `more` ranges after it, keys
        under them may lie there: one LIST each asks."""
        ready: list[tuple[ObjectInfo | None, ObjectInfo | None, Decision]] = []
        while self.pending:
            source, target, decision = self.pending.pop()
            if more and self.has_folder(self.folder + source.key + "/"):
                decision = self._folder(source.key)
            ready.append((source, target, decision))
        return ready

    def _folder(self, key: str) -> Decision:
        full = self.folder + key
        return Decision(Action.UNSUPPORTED, (
            f"{self.provider.name} stores keys as paths of a file system: the target holds "
            f"keys under {full + '/'!r}, so the file {full!r} cannot be written"))

    def _resolve(self, key: str, target: ObjectInfo | None,
                 ) -> list[tuple[ObjectInfo | None, ObjectInfo | None, Decision]]:
        ready: list[tuple[ObjectInfo | None, ObjectInfo | None, Decision]] = []
        while self.pending:
            source, dst, decision = self.pending[-1]
            name = source.key
            if key.startswith(name) and len(key) > len(name) and key[len(name)] < "/":
                break  # 'k!', 'k-', 'k.': before the keys under 'k/'
            self.pending.pop()
            if key.startswith(name + "/"):
                self.planned.discard(name)  # asked here, not again by `_blocked`
                if target is not None or self.has_folder(self.folder + name + "/"):
                    if name in self.stack:
                        self.stack.remove(name)
                    decision = self._folder(name)
            ready.append((source, dst, decision))
        return ready

    def check(self, source: ObjectInfo | None, target: ObjectInfo | None,
              decision: Decision) -> Decision:
        if not (self.provider.marker_replaces_file or self.provider.file_blocks_folder):
            return decision
        obj = source or target
        assert obj is not None
        key = obj.key
        while self.stack and not key.startswith(self.stack[-1]):
            self.stack.pop()
        if self.provider.file_blocks_folder:
            return self._blocked(key, target, decision)
        # a file the target holds, or is given in this run (a marker copied after it, as
        # `markers_last` has them, would replace the file just written)
        held_file = target if target is not None else (
            source if decision.action in COPY_ACTIONS else None)
        if held_file is not None and held_file.key and not held_file.key.endswith("/"):
            self.stack.append(held_file.key)
        if decision.action not in COPY_ACTIONS or key[-1:] not in ("/", ""):
            return decision
        full = self.folder + key  # a marker (the pair folder's own, for the key '')
        name = full[:-1]
        if not name:
            return decision
        if name.startswith(self.listed):  # listed: it would be on the stack
            held = bool(self.stack) and self.stack[-1] == key[:-1]
        else:
            held = self.exists(name)
        if not held:
            return decision
        return Decision(Action.UNSUPPORTED, (
            f"{self.provider.name} keeps a folder marker and the file of its name as one "
            f"entry: writing {full!r} would replace the target's file {name!r}"))

    def _blocked(self, key: str, target: ObjectInfo | None, decision: Decision) -> Decision:
        """On a file-system store, a key under a file the target holds (or is being given
        in this run) cannot be written: refused up front, not retried against a 500."""
        for name in [n for n in self.unlisted if key.startswith(n + "/")]:
            if decision.action in COPY_ACTIONS:  # one HEAD, before the first copy under it
                self.unlisted.remove(name)
                if self.exists(self.folder + name):
                    self.stack.insert(0, name)
        file = next((f for f in self.stack if key.startswith(f + "/")), None)
        if file is not None and file in self.planned:
            self.planned.discard(file)  # asked once
            if self.has_folder(self.folder + file + "/"):
                # the target's `file` is a folder (keys under it listed later, or
                # beyond the merge so far): the file's PUT fails, the keys under it do not
                self.stack.remove(file)
                file = None
        if file is not None and decision.action in COPY_ACTIONS:
            return Decision(Action.UNSUPPORTED, (
                f"{self.provider.name} stores keys as paths of a file system: "
                f"{self.folder + file!r} is a file, so {self.folder + key!r} cannot be "
                "written under it"))
        will_hold = target is not None or decision.action in COPY_ACTIONS
        if file is None and will_hold and key and not key.endswith("/"):
            self.stack.append(key)
            if target is None:
                self.planned.add(key)
        return decision


class _FileCopies:
    """The copies of files whose names begin the keys being merged, on a target that loses
    a new file `k` written while a key under it creates the folder `k`, or no longer lists
    that key (SeaweedFS): a copy under such a file waits until the file is written (one
    after the other, the store keeps both). A file whose keys continue in the next range
    (merged side by side) is written after the pair's other copies instead."""

    def __init__(self, until: str | None) -> None:
        self.until = until
        self.stack: list[tuple[str, Future[None]]] = []

    def before(self, key: str) -> None:
        """Wait for the copies of the files `key` lies under."""
        while self.stack and not key.startswith(self.stack[-1][0]):
            self.stack.pop()
        for name, copying in self.stack:
            if key.startswith(name + "/"):
                wait([copying])  # its outcome is the copy's own to record

    def continues(self, key: str) -> bool:
        """Whether keys under `key` may lie in the next range."""
        return self.until is not None and self.until.startswith(key + "/")

    def copying(self, key: str, future: Future[None]) -> None:
        if key and not key.endswith("/"):
            self.stack.append((key, future))


class PairRun:
    def __init__(self, pair: Pair, res: RunResources) -> None:
        self.pair = pair
        self.res = res
        settings = res.settings
        self.source_alias: Alias = settings.aliases[pair.source.alias]
        self.target_alias: Alias = settings.aliases[pair.target.alias]
        self.counters = {"source": RequestCounter(), "target": RequestCounter()}
        self.source = Side(S3Client(res.endpoints[pair.source.alias], res.pools,
                                    self.counters["source"], stopping=res.stop.is_set),
                           pair.source.bucket, pair.source.prefix)
        self.target = Side(S3Client(res.endpoints[pair.target.alias], res.pools,
                                    self.counters["target"], resending=self._resending,
                                    stopping=res.stop.is_set),
                           pair.target.bucket, pair.target.prefix)
        self.order = merge_order(self.source_alias.provider.listing_order,
                                 self.target_alias.provider.listing_order)
        self.policy = Policy(
            overwrite=settings.overwrite, exclude=settings.exclude,
            target_provider=self.target_alias.provider,
            compare_etags=self.source_alias.etags_are_md5 and self.target_alias.etags_are_md5,
            target_prefix=pair.target.prefix)
        self.abort = threading.Event()
        self.ctx = TransferContext(
            source=self.source, target=self.target, part_size=res.part_size,
            budget=res.budget, parts=res.parts, stop=AnyOf(res.stop, self.abort),
            server_side=self.source_alias.identity == self.target_alias.identity,
            source_etags_md5=self.source_alias.etags_are_md5,
            target_etags_md5=self.target_alias.etags_are_md5,
            target_multipart_etag=self.target_alias.provider.multipart_etag,
            source_multipart_etag=self.source_alias.provider.multipart_etag,
            multipart_threshold=settings.multipart_threshold, streams=res.streams,
            storage_class=self.target_alias.storage_class, throttle=res.throttle,
            copy_tags=settings.copy_tags and self.target_alias.provider.tags,
            target_time_from_mtime=self.target_alias.provider.time_from_mtime,
            source_etag_variable=self.source_alias.variable("ETAG_IS_MD5"),
            target_etag_variable=self.target_alias.variable("ETAG_IS_MD5"),
            storage_class_variable=self.target_alias.variable("STORAGE_CLASS"),
            create_only=not settings.overwrite,
            plain_markers=self.target_alias.provider.marker_replaces_file)
        self.summary = PairSummary(pair=str(pair), source=str(pair.source),
                                   target=str(pair.target), dry_run=settings.dry_run,
                                   prefixes=[p for p in settings.prefixes if p])
        self.tally = PairTally(self.summary)
        self.log = logs.get().bind(pair=str(pair))
        self._inflight = _InFlight()
        self._transport_failures = 0
        self._lock = threading.Lock()
        self._held: list[tuple[ObjectInfo, Action]] | None = (
            [] if self.target_alias.provider.markers_last else None)

    def _halt(self, reason: str) -> None:
        with self._lock:
            if self.summary.error is None:
                self.summary.error = reason
        self.abort.set()

    def _should_stop(self) -> bool:
        return self.res.stop.is_set() or self.abort.is_set()

    def _cut_by_the_stop(self, exc: Exception) -> bool:
        """A listing that broke only because the run is stopping (not tried again, or its
        connection cut by run.CUT_OFF_AFTER): the pair is interrupted, as a copy cut the
        same way is, not failed with a cause the server never gave. A refusal (a missing
        bucket, credentials) is the store's answer, stop or not."""
        if not self.res.stop.is_set() or not isinstance(exc, ScanError):
            return False
        cause = exc.cause
        return isinstance(cause, TransportError) or (
            isinstance(cause, S3Error) and cause.severity is Severity.RETRY)

    # -- listing -----------------------------------------------------------------------

    def _where(self, side: str, prefix: str) -> tuple[Location, S3Client, Alias, Scope]:
        loc = self.pair.source if side == "source" else self.pair.target
        client = self.source.client if side == "source" else self.target.client
        alias = self.source_alias if side == "source" else self.target_alias
        return loc, client, alias, Scope(loc.bucket, loc.prefix + prefix, len(loc.prefix))

    def _batches(self, side: str, prefix: str, part: Range) -> Iterator[list[ObjectInfo]]:
        _, client, alias, scope = self._where(side, prefix)
        if alias.provider.listing_order is self.order:
            return ranged(client, scope, part.after, part.until, self.order,
                          part.first if side == "source" else ())
        assert alias.provider.listing_order is ListingOrder.FOLDERS_FIRST
        return walk(client, scope)

    def _side(self, side: str, prefix: str, part: Range, depth: int) -> Iterator[ObjectInfo]:
        try:
            yield from Prefetch(self._batches(side, prefix, part), depth, name=f"list-{side}")
        except _SCAN_ERRORS as exc:
            loc, _, alias, _ = self._where(side, prefix)
            raise ScanError(side, loc, exc, alias) from exc

    def _plan(self, prefix: str) -> list[Range]:
        """One range, or up to MAX_RANGES when the source holds more than a few pages of keys.

        The source's first pages are listed before deciding (and reused, not listed again);
        only what lies beyond them is split, at folder boundaries, or by key where there
        are no folders (UTF-8 order only). Splitting costs a few delimiter LISTs (or up to
        32 one-key probes) on the source and about one LIST per range on each side, so it
        is done only for a listing that is not small, and only where both sides list flat
        in the merge order.
        """
        loc, client, alias, scope = self._where("source", prefix)
        walked = (alias.provider.listing_order is not self.order
                  or self.target_alias.provider.listing_order is not self.order)
        if walked:
            return [Range(None, None)]
        try:
            first = [client.list_page(scope.bucket, scope.prefix, None, strip=scope.strip)]
            while first[-1].next_token and len(first) < PAGES_BEFORE_SPLIT:
                first.append(client.list_page(scope.bucket, scope.prefix, first[-1].next_token,
                                              strip=scope.strip))
            last = next((p.objects[-1].key for p in reversed(first) if p.objects), None)
            if first[-1].next_token is None or last is None:
                return [Range(None, None, tuple(first))]
            bounds = split_points(client, scope, last, self.order, MAX_RANGES)
            if not bounds and self.order is ListingOrder.UTF8:  # no folders: cut by key
                seen = [o.key for page in first for o in page.objects]
                bounds = keyspace_points(client, scope, seen, MAX_RANGES)
        except _SCAN_ERRORS as exc:
            raise ScanError("source", loc, exc, alias) from exc
        edges: list[str | None] = [None, *bounds, None]
        if bounds:
            self.log.info("pair.ranges", prefix=prefix, ranges=len(bounds) + 1)
        return [Range(edges[i], edges[i + 1], tuple(first) if i == 0 else ())
                for i in range(len(edges) - 1)]

    # -- copies ------------------------------------------------------------------------

    def _resending(self, n: int) -> None:
        """A retry sends its body again: under MIRROR_BANDWIDTH_LIMIT, those bytes count."""
        if self.res.throttle is not None:
            self.res.throttle.take(n, self.res.stop.is_set)

    def _copy(self, obj: ObjectInfo, action: Action) -> None:
        try:
            try:
                result = transfer(obj, self.ctx)
            except Exception as exc:  # a defect, not an S3 answer: still a failed object
                self.log.exception("object.crashed", key=obj.key)
                result = TransferResult(obj.key, Outcome.FAILED, obj.size, 0.0,
                                        f"unexpected error: {type(exc).__name__}: {exc}")
            self._record(action, result)
        finally:
            self._inflight.down()

    def _record(self, action: Action, result: TransferResult) -> None:
        self.tally.transferred(action, result)
        if result.outcome is Outcome.COPIED:
            self._transport_failures = 0
            self.log.info("object.copied", key=result.key, bytes=result.size,
                          change=action.value, seconds=round(result.seconds, 3))
            return
        if result.outcome is Outcome.SOURCE_CHANGED:
            self.log.warning("object.source_changed", key=result.key, reason=result.error)
            return
        if result.outcome is Outcome.INTERRUPTED:
            self.log.info("object.interrupted", key=result.key, reason=result.error)
            return
        if result.outcome is Outcome.KEPT:
            self.log.warning("object.differs_kept", key=result.key, reason=result.error)
            return
        self.log.error("object.failed", key=result.key, error=result.error)
        with self._lock:
            self._transport_failures = self._transport_failures + 1 if result.transport else 0
            unreachable = self._transport_failures >= TRANSPORT_FAILURES_TO_GIVE_UP
        if result.fatal:
            self._halt(result.error or "failed")
        elif unreachable:
            self._halt(f"{TRANSPORT_FAILURES_TO_GIVE_UP} objects in a row could not reach the "
                       f"endpoint; last error: {result.error}")
        elif not self.res.settings.skip_errors:
            self._halt("stopped at the first failed object (MIRROR_SKIP_ERRORS=false)")

    def _act(self, source: ObjectInfo | None, target: ObjectInfo | None,
             decision: Decision, files: _FileCopies | None = None) -> None:
        obj = source or target
        assert obj is not None
        if self.res.settings.debug:
            self.log.debug("object.decision", key=obj.key, action=decision.action.value,
                           reason=decision.reason)
        if decision.action in NOT_MIRRORED:
            self.tally.not_mirrored(obj.key, obj.size, decision.reason)
            self.log.error("object.failed", key=obj.key, error=decision.reason)
            if not self.res.settings.skip_errors:
                self._halt("stopped at the first failed object (MIRROR_SKIP_ERRORS=false)")
            return
        if decision.action is Action.DIFFERS_KEPT:
            self.log.warning("object.differs_kept", key=obj.key, reason=decision.reason)
            return
        if decision.action not in COPY_ACTIONS:
            return
        assert source is not None
        if self.res.settings.dry_run:
            self.log.debug("object.would_copy", key=obj.key, bytes=obj.size,
                           change=decision.action.value, reason=decision.reason)
            self.tally.planned(planned_requests(self.ctx, source))
            return
        if self._held_back(source, decision.action):
            return
        if files is None:
            self._submit(source, decision.action)
            return
        files.before(source.key)
        # never past MARKERS_HELD: written now, it would race the next range's keys under it
        # (a few such files per range boundary, the held markers' limit is not theirs)
        if files.continues(source.key) and self._hold(source, decision.action, bounded=False):
            return
        files.copying(source.key, self._submit(source, decision.action))

    def _submit(self, source: ObjectInfo, action: Action) -> Future[None]:
        self._inflight.up()
        try:
            return self.res.executor.submit(self._copy, source, action)
        except BaseException:
            self._inflight.down()
            raise

    def _held_back(self, source: ObjectInfo, action: Action) -> bool:
        """Holds an empty folder marker (the pair folder's own is the key '') for `_write_held`,
        on a target that loses markers written beside the keys under them; past
        MARKERS_HELD of them, markers go at once and may need the next run."""
        if (self._held is None or source.size or source.etag != EMPTY_MD5
                or (source.key and not source.key.endswith("/"))):
            return False
        return self._hold(source, action)

    def _hold(self, source: ObjectInfo, action: Action, bounded: bool = True) -> bool:
        """Keep a copy for `_write_held`, while fewer than MARKERS_HELD are kept (`bounded`)."""
        with self._lock:
            if self._held is None or (bounded and len(self._held) >= MARKERS_HELD):
                return False
            self._held.append((source, action))
        return True

    def _write_held(self) -> None:
        """The held markers, once every other copy of the pair is done (stopped: each is
        recorded as interrupted)."""
        held, self._held = self._held or [], None
        # held files and the held keys under them (a file `k/m` or a marker `k/m/` under a
        # held file `k`, at a range boundary) one after the other, as in the merge
        copies = _FileCopies(None)
        for source, action in sorted(held, key=lambda item: item[0].key):
            copies.before(source.key)
            copies.copying(source.key, self._submit(source, action))
        self._inflight.wait_empty()

    # -- the pair ----------------------------------------------------------------------

    def run(self) -> PairSummary:
        started = time.monotonic()
        self.log.info("pair.start", source=str(self.pair.source), target=str(self.pair.target),
                      order=self.order.value, server_side=self.ctx.server_side)
        try:
            for prefix in self.res.settings.prefixes:
                if self._should_stop():
                    self.summary.listing_complete = False
                    break
                self._merge(prefix)
        except (ScanError, ListingOrderError) as exc:
            self.summary.listing_complete = False
            if not self._cut_by_the_stop(exc):
                self._halt(str(exc))
        except Exception as exc:
            self.summary.listing_complete = False
            self._halt(f"unexpected error: {type(exc).__name__}: {exc}")
            self.log.exception("pair.crashed")
        finally:
            self._inflight.wait_empty()
            self._write_held()
        self.summary.seconds = time.monotonic() - started
        self.summary.requests = {side: c.snapshot() for side, c in self.counters.items()}
        self.summary.status = self._status()
        if self.ctx.no_tags.is_set():  # set by the first copy whose tags were refused
            self.log.warning(
                "pair.tags_refused", target=str(self.pair.target),
                detail="the target answers 'not implemented' to object tags: objects were "
                       "copied without them (MIRROR_COPY_TAGS=false skips reading them)")
        if self.ctx.no_part_sizes.is_set():  # set by the first object it showed that on
            self.log.warning(
                "pair.multipart_unchecked", source=str(self.pair.source),
                detail="the source states no part sizes (it ignores ?partNumber=), so the "
                       "bytes of its objects uploaded multipart were copied without a check "
                       "against their ETag; the target still checked every part it stored")
        self._log_done()
        return self.summary

    def _merge(self, prefix: str) -> None:
        """Merge each range of the prefix; several ranges run side by side."""
        parts = self._plan(prefix)
        if len(parts) == 1:
            self._merge_range(prefix, parts[0])
            return
        # ranges side by side prefetch one page each, not PREFETCH_PAGES: the pages held do
        # not grow with the ranges (8 ranges x 2 sides x 6 pages was ~40 MiB per pair)
        with ThreadPoolExecutor(len(parts), thread_name_prefix="range") as pool:
            futures = [pool.submit(self._merge_range, prefix, part, 1) for part in parts]
            for future in futures:
                future.result()

    def _merge_range(self, prefix: str, part: Range, depth: int = PREFETCH_PAGES) -> None:
        try:
            self._walk_range(prefix, part, depth)
        except BaseException:
            self.abort.set()  # the other ranges stop too; run() records why
            raise

    def _walk_range(self, prefix: str, part: Range, depth: int) -> None:
        source = checked(self._side("source", prefix, part, depth), self.order, "source",
                         self.source_alias.variable("PROVIDER"), part.after, part.until)
        target = checked(self._side("target", prefix, part, depth), self.order, "target",
                         self.target_alias.variable("PROVIDER"), part.after, part.until)
        files = _TargetFiles(self.target_alias.provider, self.pair.target.prefix,
                             self.pair.target.prefix + prefix, self._target_holds,
                             self._target_has_folder)
        after = part.after or ""  # keys after 'k/' or 'k-/' can be under a file 'k'
        files.unlisted = [after[:i] for i, c in enumerate(after) if i and c <= "/"][::-1]
        copies = _FileCopies(part.until) if self.target_alias.provider.markers_last else None
        for src, dst in merge_join(source, target):
            if self._should_stop():
                self.summary.listing_complete = False
                return
            self.tally.listed(src, dst)
            decided = decide(src, dst, self.policy, self._restored)
            for s, d, decision in files.settle(src, dst, decided):
                self._decided(s, d, decision, copies)
        for s, d, decision in files.flush(more=part.until is not None):
            self._decided(s, d, decision, copies)

    def _decided(self, src: ObjectInfo | None, dst: ObjectInfo | None, decision: Decision,
                 copies: _FileCopies | None) -> None:
        obj = src or dst
        assert obj is not None
        self.tally.decided(decision, obj.size, obj.key)
        self._act(src, dst, decision, copies)

    def _restored(self, obj: ObjectInfo) -> bool:
        """Whether an archived source object (GLACIER, DEEP_ARCHIVE) has a restored copy to
        read now, asked with one HEAD (`x-amz-restore: ongoing-request="false", ...`): its
        listing shows the archive class all the same. Where the source cannot say, no."""
        try:
            headers = self.source.client.head_object(self.pair.source.bucket,
                                                     self.source.key(obj.key))
        except (S3Error, TransportError, CredentialsUnavailable):
            return False
        return _RESTORED.search(headers.get("x-amz-restore", "")) is not None

    def _target_holds(self, key: str) -> bool:
        """Whether the target has an object `key` (full key); where it cannot say, yes."""
        try:
            self.target.client.head_object(self.pair.target.bucket, key)
        except S3Error as exc:
            return exc.status != 404
        except (TransportError, CredentialsUnavailable):
            return True
        return True

    def _target_has_folder(self, prefix: str) -> bool:
        """Whether the target holds a key under `prefix` (full, ending in '/'); where it
        cannot say, no."""
        try:
            page = self.target.client.list_page(self.pair.target.bucket, prefix, max_keys=1)
        except _SCAN_ERRORS:
            return False
        return bool(page.objects or page.prefixes)

    def _status(self) -> Status:
        if self.summary.error:
            return Status.FAILED
        if self.res.stop.is_set():
            return Status.INTERRUPTED
        if self.summary.failed.objects:
            return Status.PARTIAL
        return Status.SUCCESS

    def _log_done(self) -> None:
        s = self.summary
        fields = {
            "status": s.status.value, "seconds": round(s.seconds, 3),
            "listed_source": s.listed_source.objects, "listed_target": s.listed_target.objects,
            "copied_new": s.copied_new.objects, "copied_changed": s.copied_changed.objects,
            "copied_bytes": s.copied.bytes, "failed": s.failed.objects,
            "decisions": {k: v.objects for k, v in s.decisions.items()},
            "requests": s.requests, "dry_run": s.dry_run,
        }
        if s.error:
            self.log.error("pair.failed", error=s.error, **fields)
        else:
            self.log.info("pair.done", **fields)
