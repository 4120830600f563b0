"""Copy one object: streamed from source to target, never staged on disk, verified.

- Up to the part size: one GET, one PUT. The bytes read are checked against the source's
  ETag when that is a plain MD5, before anything is written; the PUT carries their
  Content-MD5, which the target verifies.
- Up to the multipart threshold, with a plain-MD5 source ETag: one GET streamed into one
  PUT, through a small buffer. The ETag is the PUT's Content-MD5, so the target checks the
  bytes against what the source stored, end to end, without hashing here. A broken stream
  restarts the object (three tries).
- Above the part size, uploaded multipart at the source: copied part for part as it was
  uploaded (GET ?partNumber=n streamed into UploadPart n), not hashed here; the parts' MD5s
  the target returns must give the source's ETag before the upload is completed.
- Otherwise (larger, or no MD5 to send for the whole): a multipart upload fed from a
  single streamed GET; parts are read into buffers from the memory budget, each sent with
  its Content-MD5, and uploaded by the part pool while the next part is read. A broken GET
  resumes with a ranged GET at the same offset (If-Match keeps it the same object). Any
  failure aborts the upload: no orphaned parts. So no copy becomes a target object before
  its bytes were checked against an MD5: a corrupted transfer never replaces a good copy.
- Same endpoint and credentials on both sides: a server-side copy, no bytes through here.
- The ETag the target returns is compared with what was sent, where the store's ETags
  are MD5s. A mismatch is a failed object, never a success.
- A multipart source ETag (MD5 of the parts' MD5s) checks what is read too, in the part
  sizes the source was uploaded with (the usual clients' tried first, else asked of it).
- A copy later runs can compare only by size and time is followed by a HEAD of the
  source: an object rewritten while it was copied is copied again, not left looking newer.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from typing import Protocol

from mirror.decision import KEPT, is_plain_md5
from mirror.executor import MemoryBudget, Throttle
from mirror.resources import LARGE_TRANSFERS
from mirror.s3.accounting import Op
from mirror.s3.checksum import b64_of_hex, md5
from mirror.s3.client import Part, S3Client, Written, opaque_by
from mirror.s3.errors import S3Error, Severity
from mirror.s3.http import Response, TransportError
from mirror.s3.listing import ObjectInfo, normalize_etag, split_etag
from mirror.s3.sigv4 import CredentialsUnavailable
from mirror.settings import MIN_PART_SIZE  # S3's smallest part but the last

MAX_SINGLE_COPY = 5 * 1024**3  # CopyObject's limit
MAX_PARTS = 10_000
_COMPOSITE = re.compile(r"^[0-9a-f]{32}-\d+$")
_KEPT_HEADERS = ("content-type", "cache-control", "content-disposition", "content-encoding",
                 "content-language", "expires", "x-amz-website-redirect-location")


def _target_hint(ctx: TransferContext) -> str:
    return (f" (SSE-KMS or SSE-C on the target: set {ctx.target_etag_variable}=false, and the "
            "target then checks each write against its Content-MD5)")


def _source_hint(ctx: TransferContext) -> str:
    return f"(SSE-KMS, SSE-C: set {ctx.source_etag_variable}=false)"


class Outcome(StrEnum):
    COPIED = "copied"
    FAILED = "failed"
    SOURCE_CHANGED = "source-changed"  # deleted or rewritten after it was listed
    INTERRUPTED = "interrupted"
    # written on the target by another client after the listing: kept (overwrite is off)
    KEPT = "kept"


@dataclass(frozen=True)
class TransferResult:
    key: str
    outcome: Outcome
    size: int
    seconds: float
    error: str | None = None
    fatal: bool = False  # the cause stops the whole pair (credentials, permission, bucket)
    transport: bool = False  # the endpoint could not be reached after retries


@dataclass(frozen=True)
class Side:
    client: S3Client
    bucket: str
    prefix: str

    def key(self, relative: str) -> str:
        return self.prefix + relative


@dataclass(frozen=True)
class TransferContext:
    source: Side
    target: Side
    part_size: int
    budget: MemoryBudget
    parts: ThreadPoolExecutor
    stop: StopFlag
    server_side: bool = False
    source_etags_md5: bool = True
    target_etags_md5: bool = True
    target_multipart_etag: str = "composite"
    source_multipart_etag: str = "composite"
    parts_in_flight: int = 4
    multipart_threshold: int = 256 * 1024 * 1024
    storage_class: str | None = None  # of the objects written; None: the bucket's default
    copy_tags: bool = True  # MIRROR_COPY_TAGS
    # The target lists an object's time from its `x-amz-meta-mtime` (rclone): that value
    # is not copied, so the copy's listed time is when it was written, as the change rule
    # needs (a source's older mtime would have it copied again every run, a later one
    # would hide the source's next rewrite).
    target_time_from_mtime: bool = False
    source_etag_variable: str = "SOURCE_ETAG_IS_MD5"  # the engine names the real variables
    target_etag_variable: str = "TARGET_ETAG_IS_MD5"
    storage_class_variable: str = "TARGET_STORAGE_CLASS"
    throttle: Throttle | None = None  # MIRROR_BANDWIDTH_LIMIT: bytes per second sent, run-wide
    # Objects above the part size streamed at once, run-wide. Small objects are bound by
    # latency and want many workers; large ones by bandwidth, and a few streams fill the
    # link: more only make the servers' disks and the sockets contend (bench/README).
    streams: threading.Semaphore = field(
        default_factory=lambda: threading.Semaphore(LARGE_TRANSFERS))
    # Set once part-for-part copies proved impossible for this pair (the source answered a
    # GET ?partNumber= with the whole object, or the target's part ETags are no MD5s): its
    # multipart objects are copied the other ways from then on.
    no_aligned: threading.Event = field(default_factory=threading.Event)
    # Set once the target refused a write for its tags (501 NotImplemented): the pair's
    # objects are copied without them from then on.
    no_tags: threading.Event = field(default_factory=threading.Event)
    # Set once the source showed it tells no part sizes (?partNumber= ignored or refused):
    # its multipart ETags are not checked by asking it for them again.
    no_part_sizes: threading.Event = field(default_factory=threading.Event)
    # Overwrite off: each write only creates its key (If-None-Match: *), so an object that
    # another client writes on the target after the listing is kept, never replaced.
    create_only: bool = False
    # The target keeps a folder marker `k/` as the entry of its folder `k`, which exists
    # once a key under it is written (SeaweedFS): a create-only marker would be refused
    # every time, so markers, empty, are written plainly, replacing at most an empty entry.
    plain_markers: bool = False
    # Set once the target refused that header as not implemented (501): the pair's writes
    # are plain from then on, and the listing alone stands between them and such objects.
    no_create_only: threading.Event = field(default_factory=threading.Event)


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class Interrupted(Exception):
    pass


class IntegrityError(Exception):
    pass


class OpaqueETags(Exception):
    """A store's ETags are no MD5s (SSE-KMS, SSE-C) though its alias says they are: the
    source's or the target's, named in the message."""


class SourceChanged(Exception):
    pass


def metadata_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers that make an object what it is, besides its bytes."""
    kept = {name: headers[name] for name in _KEPT_HEADERS if name in headers}
    kept.update((name, value) for name, value in headers.items() if name.startswith("x-amz-meta-"))
    return kept


def write_headers(ctx: TransferContext, headers: dict[str, str],
                  source_key: str) -> dict[str, str]:
    """What a new target object is written with: the source's metadata, its tags, the
    storage class. `headers` are the source's answer to a GET or HEAD, which counts the
    object's tags (x-amz-tagging-count): only an object that has some costs a request
    to read them."""
    kept = metadata_headers(headers)
    if ctx.target_time_from_mtime:
        kept.pop("x-amz-meta-mtime", None)
    if (ctx.copy_tags and not ctx.no_tags.is_set()
            and headers.get("x-amz-tagging-count", "0").strip() not in ("", "0")):
        tags = ctx.source.client.get_object_tagging(ctx.source.bucket, source_key)
        if tags:
            kept["x-amz-tagging"] = tags
            _writing.tags = True
    if ctx.storage_class:
        kept["x-amz-storage-class"] = ctx.storage_class
    return kept


# The copy on this thread: whether it sends tags; the MD5 of the bytes its PUT sent.
_writing = threading.local()
_CREATING = ("PUT", "MPU_COMPLETE", "COPY")  # the requests that create the target's object


class Occupied(Exception):
    """A create-only write was refused: another client wrote the key on the target after
    the listing; the target keeps its object."""


OCCUPIED = "written on the target by another client after it was listed"


def _taken(ctx: TransferContext, obj: ObjectInfo, refused: S3Error) -> bool:
    """A create-only write refused (412, or 304): what has the key on the target now, that the
    listing did not show? True: the bytes this copy sent (its own write, whose answer was
    lost, retried): it is done. False: nothing the write would replace, to be written
    plainly: no object (SeaweedFS refuses a file `k` where a folder `k` holds keys; and a
    server-side copy's 412 may be the source's x-amz-copy-source-if-match instead, which
    the plain copy meets again), or an empty one where an empty one goes (a SeaweedFS
    folder, answering for the marker `k/`). Otherwise another client wrote it: Occupied."""
    try:
        headers = ctx.target.client.head_object(ctx.target.bucket, ctx.target.key(obj.key))
    except S3Error as exc:
        if exc.status == 404:
            return False
        raise Occupied(f"{OCCUPIED}, as far as can be told: a write that only creates the "
                       f"key was refused (HTTP {refused.status} {refused.code}), and the "
                       f"object there could not be read ({exc.describe()})") from exc
    there = normalize_etag(headers.get("etag", ""))
    if there and there in (obj.etag, getattr(_writing, "sent", None)):
        return True
    if obj.size == 0 and headers.get("content-length") == "0":
        return False
    raise Occupied(OCCUPIED)


def _create_only(ctx: TransferContext) -> bool:
    return ctx.create_only and not ctx.no_create_only.is_set()


def _copy_or_plainer(ctx: TransferContext, obj: ObjectInfo) -> None:
    """Copy the object; if the target refuses as not implemented the object's tags (R2 and
    others that store none) or a create-only write, copy it again without them, and the
    pair's later objects too. A create-only write refused (412) because the key is taken
    is settled by `_taken`."""
    if ctx.plain_markers and ctx.create_only and _marker(ctx, obj):
        ctx = replace(ctx, create_only=False)
    while True:
        _writing.tags, _writing.sent = False, None
        try:
            _copy(ctx, obj)
            return
        except S3Error as exc:
            # 304: MinIO before 2024 refused such a PUT so (RFC 7232 says 412)
            if exc.status in (304, 412) and _create_only(ctx) and exc.operation in _CREATING:
                if _taken(ctx, obj, exc):
                    return
                ctx = replace(ctx, create_only=False)  # nothing there to keep
                continue
            if not (exc.status == 501 or exc.code == "NotImplemented"):
                raise
            if _writing.tags and exc.operation in ("PUT", "MPU_CREATE"):
                ctx.no_tags.set()
            elif _create_only(ctx) and exc.operation in _CREATING:
                ctx.no_create_only.set()
            else:
                raise


FRESH_ATTEMPTS = 3  # copies of an object rewritten on the source while it was copied


def compared_by_time(ctx: TransferContext, obj: ObjectInfo) -> bool:
    """Whether later runs can tell this object's copy from the source only by size and time:
    no MD5 on one side, so a same-size rewrite during the copy would look older than it.
    (A store that lists no ETags leaves nothing to read again: False.)"""
    if not obj.etag:
        return False
    if not (_source_md5(ctx, obj) and ctx.target_etags_md5):
        return True
    if ctx.server_side:
        return obj.size > MAX_SINGLE_COPY  # a multipart copy: its ETag is no MD5
    return obj.size > ctx.part_size and not _one_put(ctx, obj)


def _current(ctx: TransferContext, obj: ObjectInfo) -> ObjectInfo | None:
    """The source's object now, if it is no longer the version `obj` describes."""
    try:
        headers = ctx.source.client.head_object(ctx.source.bucket, ctx.source.key(obj.key))
    except S3Error as exc:
        if exc.status == 404:
            return None  # deleted since: what was copied is its last version
        raise
    now = _versioned(obj, headers.get("etag", ""), int(headers.get("content-length", obj.size)))
    return None if (now.etag, now.size) == (obj.etag, obj.size) else now


def _versioned(obj: ObjectInfo, raw_etag: str, size: int | None = None) -> ObjectInfo:
    """`obj` with the ETag (and size) a response gives, as ETags are kept (`listing`)."""
    etag, listed = split_etag(raw_etag)
    return obj._replace(size=obj.size if size is None else size, etag=etag, listed_etag=listed)


def _copy_current(ctx: TransferContext, obj: ObjectInfo) -> None:
    """Copy the object. Where later runs compare it by size and time only, read the
    source's ETag once more after the copy: an object rewritten while it was copied (a
    checkpoint saved in place) is copied again, so its newer bytes are not left looking
    older than the copy of the earlier ones, for good. That copy is not abandoned when the
    run stops (SIGTERM): the earlier bytes are written by then, and look current to every
    later run; it is sent at once (no turn under the bandwidth cap), and a server that does
    not answer still has its connection cut (run.CUT_OFF_AFTER)."""
    for _ in range(FRESH_ATTEMPTS):
        try:
            _copy_or_plainer(ctx, obj)
        except _Rewritten as exc:  # seen before the upload was completed: nothing written
            obj = exc.newer
            continue
        if not compared_by_time(ctx, obj):
            return
        newer = _current(ctx, obj)
        if newer is None:
            return
        obj = newer
        # never set: finished; and the target's object is this copy's, to replace
        ctx = replace(ctx, stop=threading.Event(), throttle=None, create_only=False)
    raise IntegrityError(f"was rewritten on the source during each of {FRESH_ATTEMPTS} copies; "
                         "the target holds an earlier version, or none")


class _Rewritten(Exception):
    """The source object was rewritten while its multipart copy was uploaded: the upload was
    aborted before it was completed; `newer` is the version to copy instead."""

    def __init__(self, newer: ObjectInfo) -> None:
        super().__init__()
        self.newer = newer


def _unless_rewritten(ctx: TransferContext, obj: ObjectInfo, key: str, upload_id: str) -> None:
    """Before an upload that later runs compare by size and time is completed, read the
    source's ETag once more: completed, a copy of an earlier version would be written after
    a rewrite made while its parts were sent, and look newer than it; if then the new
    version could not be copied (a failure, a SIGTERM), no later run would copy it. So the
    upload is aborted, and the target keeps what it had, which looks older than the rewrite."""
    if not compared_by_time(ctx, obj):
        return
    try:
        newer = _current(ctx, obj)
    except BaseException:
        _abort(ctx, key, upload_id)
        raise
    if newer is not None:
        _abort(ctx, key, upload_id)
        raise _Rewritten(newer)


def part_size_for(configured: int, size: int) -> int:
    """The configured part size, grown (in whole MiB) when 10,000 parts would not suffice."""
    needed = -(-size // MAX_PARTS)
    mib = 1024 * 1024
    return max(configured, -(-needed // mib) * mib)


def _throttle(ctx: TransferContext, n: int) -> None:
    """Wait for `n` bytes' turn under MIRROR_BANDWIDTH_LIMIT, if there is one."""
    if ctx.throttle is not None and not ctx.throttle.take(n, ctx.stop.is_set):
        raise Interrupted("stopped before the upload was complete; nothing was written")


def _source_mismatch(ctx: TransferContext, obj: ObjectInfo, headers: dict[str, str],
                     message: str) -> Exception:
    """The error for source bytes that do not give the source's ETag: a damaged object;
    another version of it, when the source's answer names another ETag than the listing
    (a store that ignores If-Match serves a rewrite); or, when the answer declares an
    encryption that makes ETags no MD5s (SSE-KMS, SSE-C), the setting to change, which
    stops the pair (every object would fail alike)."""
    served = normalize_etag(headers.get("etag", ""))
    if served and obj.etag and served != obj.etag and _rewritten(ctx, obj):
        return SourceChanged(f"is another version now (ETag {served}, {obj.etag} when listed)")
    by = opaque_by(headers)
    if by is None:
        return IntegrityError(message)
    return OpaqueETags(
        f"the source encrypts with {by}, so its ETags are not MD5s and cannot check what is "
        f"read: set {ctx.source_etag_variable}=false (copies are then checked by the target "
        "against the MD5 of the bytes read); nothing was written")


def _rewritten(ctx: TransferContext, obj: ObjectInfo) -> bool:
    """Whether the source object is no longer the version listed, asked with one HEAD: a
    store might write one version's ETag two ways, and damage must not pass for a rewrite."""
    try:
        headers = ctx.source.client.head_object(ctx.source.bucket, ctx.source.key(obj.key))
    except S3Error as exc:
        return exc.status == 404  # deleted since
    except (TransportError, CredentialsUnavailable):
        return False
    return normalize_etag(headers.get("etag", "")) != obj.etag


def _check_returned(ctx: TransferContext, returned: Written, expected_md5: str) -> None:
    etag = normalize_etag(returned.etag)
    if not (ctx.target_etags_md5 and is_plain_md5(etag) and etag != expected_md5):
        return
    if returned.opaque_by:  # every later write would fail alike: the setting to change
        raise OpaqueETags(
            f"the target encrypts with {returned.opaque_by}, so the ETags it returns are not "
            f"MD5s and cannot confirm what was written: set {ctx.target_etag_variable}=false "
            "(the target then checks each write against its Content-MD5, and runs compare "
            "by size and time)")
    raise IntegrityError(f"the target returned ETag {etag} for bytes with MD5 "
                         f"{expected_md5}: it did not store what was sent, or its "
                         f"ETags are not MD5s{_target_hint(ctx)}")


MIB = 1024 * 1024
# Part sizes of the usual clients, likeliest first: aws cli and boto3 (8 MiB), rclone
# (5 MiB), mc and minio-go (16 MiB and up), s3cmd (15 MiB), SDK and tool settings seen often.
_USUAL_PART_SIZES = tuple(n * MIB for n in (8, 5, 16, 15, 10, 64, 32, 100, 128, 50, 25, 20))
MAX_LAYOUTS = 16  # part sizes tried against a multipart ETag before asking the source


def layouts(size: int, count: int) -> list[int]:
    """Part sizes that cut `size` bytes into `count` parts, all full but the last, the
    usual clients' first, then whole MiB: the layouts a multipart ETag "-count" may have."""
    if count == 1:
        return [max(size, 1)]
    low, high = -(-size // count), (size - 1) // (count - 1)
    found = [p for p in _USUAL_PART_SIZES if low <= p <= high]
    mib = -(-low // MIB) * MIB
    while mib <= high and len(found) < MAX_LAYOUTS:
        if mib not in found:
            found.append(mib)
        mib += MIB
    return found[:MAX_LAYOUTS]


def multipart_etag(digests: bytes | bytearray) -> str:
    """The ETag S3 gives a multipart upload whose parts have these MD5s, end to end: the MD5
    of the MD5s, and their count."""
    return f"{md5(digests).hexdigest()}-{len(digests) // 16}"


def composite_etag(data: bytes | bytearray, part_size: int) -> str:
    """The ETag S3 gives `data` uploaded in parts of `part_size`: MD5 of the parts' MD5s."""
    view = memoryview(data)
    starts = range(0, max(len(view), 1), part_size)
    return multipart_etag(b"".join(md5(view[i : i + part_size]).digest() for i in starts))


class PartHasher:
    """The parts' MD5s of a stream fed in pieces of any size, cut as the source's uploader
    cut it (every `layout` bytes, or at the part sizes listed): its multipart ETag, without
    holding the stream."""

    def __init__(self, layout: int | list[int]) -> None:
        self._sizes = [layout] if isinstance(layout, int) else list(layout)
        self.part_size, self._filled = self._sizes[0], 0
        self._current, self._digests = md5(), bytearray()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), self.part_size - self._filled)
            self._current.update(view[:take])
            self._filled, view = self._filled + take, view[take:]
            if self._filled == self.part_size:
                self._digests += self._current.digest()
                self._current, self._filled = md5(), 0
                if len(self._sizes) > 1:  # the next listed size; the last one repeats
                    self._sizes.pop(0)
                    self.part_size = self._sizes[0]

    def etag(self) -> str:
        digests = bytes(self._digests)
        if self._filled or not digests:
            digests += self._current.digest()
        return multipart_etag(digests)


def _composite_source(ctx: TransferContext, obj: ObjectInfo) -> int | None:
    """The part count of a source ETag that is the MD5 of its parts' MD5s, else None."""
    if not (ctx.source_etags_md5 and ctx.source_multipart_etag == "composite"
            and _COMPOSITE.match(obj.etag)):
        return None
    count = int(obj.etag.rsplit("-", 1)[1])
    return count if 1 <= count <= MAX_PARTS else None


def _source_part_size(ctx: TransferContext, obj: ObjectInfo, count: int,
                      number: int = 1) -> int | None:
    """The size of one part of the source object, asked of the source (HEAD
    ?partNumber=n); None where the store does not tell it."""
    if ctx.no_part_sizes.is_set():
        return None
    try:
        headers = ctx.source.client.head_object(ctx.source.bucket, ctx.source.key(obj.key),
                                                if_match=obj.match_etag, part_number=number)
    except S3Error as exc:
        if exc.status in (400, 416, 501) or exc.code == "NotImplemented":
            ctx.no_part_sizes.set()
            return None
        raise
    found = _RANGE.match(headers.get("content-range", ""))
    parts = headers.get("x-amz-mp-parts-count")
    if parts is not None and parts != str(count):
        raise SourceChanged(f"has {parts} parts now, {count} when listed")
    if found is None and parts is None:
        ctx.no_part_sizes.set()
        return None  # the store answered for the whole object
    size = int(headers.get("content-length") or 0)
    if not size:  # a part of no bytes states nothing to cut by
        ctx.no_part_sizes.set()
        return None
    return size


def _part_sizes(ctx: TransferContext, obj: ObjectInfo, count: int) -> list[int] | None:
    """The size of every part of the source object, as the source states them (a HEAD
    each, asked only once the bytes read did not give its ETag in the usual layout); None
    where it states none."""
    sizes = []
    for number in range(1, count + 1):
        size = _source_part_size(ctx, obj, count, number)
        if size is None:
            return None
        sizes.append(size)
    return sizes if sum(sizes) == obj.size else None


def _parts_etag(data: bytes | bytearray, sizes: list[int]) -> str:
    """The multipart ETag of `data` uploaded in parts of these sizes, in order."""
    view, at, digests = memoryview(data), 0, bytearray()
    for size in sizes:
        digests += md5(view[at : at + size]).digest()
        at += size
    return multipart_etag(digests)


def _check_layout(ctx: TransferContext, obj: ObjectInfo, count: int, body: bytearray,
                  headers: dict[str, str]) -> None:
    """The bytes read must give the source's multipart ETag: tried against the usual part
    sizes (no request), then against the part sizes the source states, each asked (parts
    need not be of one size). A store that states none, or an object of too many parts,
    leaves nothing to check by, as for any ETag that is no MD5."""
    if any(composite_etag(body, size) == obj.etag for size in layouts(obj.size, count)):
        return
    sizes = _part_sizes(ctx, obj, count)
    read = None if sizes is None else _parts_etag(body, sizes)
    if read is None or read == obj.etag:
        return
    raise _source_mismatch(ctx, obj, headers, (
        f"the bytes read from the source, in its {count} parts as it states them, give ETag "
        f"{read} but its ETag is {obj.etag}: the source object is "
        f"damaged, or its store's ETags are not MD5s {_source_hint(ctx)}; nothing was written"))


def _source_get(ctx: TransferContext, obj: ObjectInfo, start: int = 0) -> Response:
    byte_range = (start, obj.size - 1) if start else None
    response = ctx.source.client.get_object(ctx.source.bucket, ctx.source.key(obj.key),
                                            byte_range=byte_range, if_match=obj.match_etag or None)
    # rclone serve s3 answers a range with 200 and its Content-Range (and ignores If-Match):
    # the bytes asked for, if they are as many and of the version listed
    ranged = response.status == 206 or (
        response.status == 200 and bool(obj.etag)
        and normalize_etag(response.headers.get("etag", "")) == obj.etag
        and response.headers.get("content-length") == str(obj.size - start))
    if start and not (ranged and response.headers.get(
            "content-range", "").startswith(f"bytes {start}-")):
        response.close()  # a store or proxy that ignored the Range sends byte 0 again
        raise IntegrityError(f"the source answered the read resumed at byte {start} with "
                             f"{response.status} and Content-Range "
                             f"{response.headers.get('content-range', '(none)')!r}, not the "
                             "bytes asked for; nothing was written")
    length = response.headers.get("content-length")
    if length is not None and int(length) != obj.size - start:
        response.close()
        if _rewritten(ctx, obj):  # asked: damage must not pass for a rewrite
            raise SourceChanged(f"is {int(length) + start} bytes now, {obj.size} when listed")
        raise IntegrityError(f"the source answered the read from byte {start} with "
                             f"{length} bytes, but the object is {obj.size} bytes, as listed "
                             "and as its HEAD still says: not the bytes asked for; nothing "
                             "was written")
    return response


def _copy_small(ctx: TransferContext, obj: ObjectInfo) -> None:
    held = ctx.budget.acquire(obj.size)
    try:
        if ctx.stop.is_set():  # stopped while it waited for memory
            raise Interrupted("stopped before it started")
        body, headers = _read_whole(ctx, obj)
        digest = md5(body).hexdigest()
        if ctx.source_etags_md5 and is_plain_md5(obj.etag) and digest != obj.etag:
            raise _source_mismatch(ctx, obj, headers, (
                f"the bytes read from the source have MD5 {digest} but its ETag is {obj.etag}: "
                "the source object is damaged, or its store's ETags are not MD5s "
                f"{_source_hint(ctx)}; nothing was written"))
        count = _composite_source(ctx, obj)
        if count is not None:
            _check_layout(ctx, obj, count, body, headers)
        _throttle(ctx, len(body))
        _writing.sent = digest
        returned = ctx.target.client.put_object(
            ctx.target.bucket, ctx.target.key(obj.key), body, content_md5=b64_of_hex(digest),
            headers=write_headers(ctx, headers, ctx.source.key(obj.key)),
            create_only=_create_only(ctx))
        _check_returned(ctx, returned, digest)
    finally:
        ctx.budget.release(held)


def _read_whole(ctx: TransferContext, obj: ObjectInfo) -> tuple[bytearray, dict[str, str]]:
    """GET the whole object straight into one buffer of its size (held once, as the memory
    budget counts it); a body cut off mid-way resumes by range."""
    body = bytearray(obj.size)
    response = _source_get(ctx, obj)
    headers = response.headers
    try:
        response = _fill(ctx, obj, response, memoryview(body), 0)
    finally:
        response.close()
    return body, headers


PUMP = 256 * 1024  # the buffer a streamed copy moves bytes through
STREAM_ATTEMPTS = 3  # a streamed PUT is replayed from a new GET: each try moves the object


def _pump(response: Response, size: int, ctx: TransferContext) -> Iterator[memoryview]:
    """The body of a GET, chunk by chunk, through one reused buffer.

    A stop (SIGTERM, the pair halted) abandons the PUT mid-body: the connection is closed
    before the announced length is sent, so the target stores nothing.
    """
    view = memoryview(bytearray(PUMP))
    remaining = size
    while remaining:
        if ctx.stop.is_set():
            raise Interrupted("stopped during the upload; nothing was written")
        n = response.readinto(view[: min(PUMP, remaining)])
        if n == 0:
            raise TransportError("the source body ended early", retryable=True)
        remaining -= n
        _throttle(ctx, n)
        yield view[:n]


def _source_md5(ctx: TransferContext, obj: ObjectInfo) -> bool:
    """Whether the source's ETag is the object's MD5: sent as Content-MD5, the target checks
    the bytes against it before it stores them."""
    return ctx.source_etags_md5 and is_plain_md5(obj.etag)


def _again(ctx: TransferContext, attempt: int, exc: TransportError | S3Error) -> bool:
    """Whether a streamed transfer that failed is tried again, after the client's backoff.

    A stream cannot be replayed by the HTTP client, so transient failures (a broken
    connection, throttling, 5xx) are retried by the copy itself, from a new GET.
    """
    transient = exc.retryable if isinstance(exc, TransportError) else (
        exc.severity is Severity.RETRY)
    if not transient or attempt == STREAM_ATTEMPTS or ctx.stop.is_set():
        return False
    ctx.target.client.backoff(attempt)
    return True


def _copy_streamed(ctx: TransferContext, obj: ObjectInfo) -> None:
    """One GET streamed into one PUT whose Content-MD5 is the source's ETag (`_source_md5`)."""
    held = ctx.budget.acquire(PUMP)
    try:
        for attempt in range(1, STREAM_ATTEMPTS + 1):
            response = _source_get(ctx, obj)
            try:
                returned = ctx.target.client.put_object_stream(
                    ctx.target.bucket, ctx.target.key(obj.key), obj.size,
                    _pump(response, obj.size, ctx), content_md5=b64_of_hex(obj.etag),
                    headers=write_headers(ctx, response.headers, ctx.source.key(obj.key)),
                    create_only=_create_only(ctx))
            except (TransportError, S3Error) as exc:
                if _again(ctx, attempt, exc):
                    continue
                if isinstance(exc, S3Error) and exc.code in ("BadDigest", "InvalidDigest"):
                    raise _source_mismatch(ctx, obj, response.headers, (
                        f"the bytes the target received do not match the source's ETag "
                        f"{obj.etag}: the source object is damaged, or they were altered on "
                        "the way (source to here, or here to the target), or the source's "
                        f"ETags are not MD5s {_source_hint(ctx)}; the target refused them"
                    )) from exc
                raise
            finally:
                response.close()
            break
    finally:
        ctx.budget.release(held)
    _check_returned(ctx, returned, obj.etag)


def _fill(ctx: TransferContext, obj: ObjectInfo, response: Response, view: memoryview,
          offset: int) -> Response:
    """Fill `view` with the object's bytes from `offset`, resuming a broken GET by range
    (on the version the first answer was of, when the listing gave no ETag to hold to)."""
    if not obj.etag:
        obj = _versioned(obj, response.headers.get("etag", ""))
    filled, resumes = 0, 0
    while filled < len(view):
        try:
            n = response.readinto(view[filled:])
            if n == 0:
                raise TransportError("the response body ended early", retryable=True)
            filled += n
        except TransportError:
            resumes += 1
            if resumes > 3:
                raise
            response.close()
            response = _source_get(ctx, obj, offset + filled)
    return response


def _upload_part(ctx: TransferContext, key: str, upload_id: str, number: int, buf: bytearray,
                 digest: bytes) -> str:
    if ctx.stop.is_set():  # a part read but not yet sent: the upload is aborted instead
        raise Interrupted("stopped before the upload was complete")
    returned = ctx.target.client.upload_part(ctx.target.bucket, key, upload_id, number, buf,
                                             content_md5=base64.b64encode(digest).decode())
    _check_returned(ctx, returned, digest.hex())
    return returned.etag


def _run_parts(ctx: TransferContext, key: str, upload_id: str,
               produce: Callable[[Callable[[int, int, Callable[[], str]], None]], None],
               ) -> list[Part]:
    """Drive part uploads with at most `parts_in_flight` pending; abort on any failure."""
    pending: deque[tuple[int, Future[str]]] = deque()
    parts: list[Part] = []

    def collect_one() -> None:
        number, future = pending.popleft()
        parts.append(Part(number, future.result()))

    def submit(number: int, held: int, job: Callable[[], str]) -> None:
        future = ctx.parts.submit(job)
        future.add_done_callback(lambda _: ctx.budget.release(held))
        pending.append((number, future))
        while len(pending) >= ctx.parts_in_flight:
            collect_one()

    try:
        produce(submit)
        while pending:
            collect_one()
    except BaseException:
        for _, future in pending:  # let in-flight parts land before the abort (AWS advice)
            future.exception()
        _abort(ctx, key, upload_id)
        raise
    return parts


def _abort(ctx: TransferContext, key: str, upload_id: str) -> None:
    # Best effort: a lifecycle rule for incomplete uploads is the backstop (README).
    with contextlib.suppress(S3Error, TransportError, CredentialsUnavailable):
        ctx.target.client.abort_multipart_upload(ctx.target.bucket, key, upload_id)


def _complete(ctx: TransferContext, key: str, upload_id: str, parts: list[Part],
              whole_md5: str | None = None) -> str:
    """Complete the upload; if that fails, abort it, so its parts are not left billed. A
    Complete whose answer was lost may have landed all the same (its retry then finds no
    such upload): the target's object, if it is exactly these parts, is the success.
    `whole_md5`: the MD5 of all the bytes sent, when it is known (checked as they were
    read), for stores whose multipart ETag is that MD5 (rclone)."""
    try:
        return ctx.target.client.complete_multipart_upload(ctx.target.bucket, key, upload_id,
                                                           parts, create_only=_create_only(ctx))
    except S3Error as exc:
        landed = _landed(ctx, key, parts, whole_md5) \
            if exc.code in _COMPLETE_MAY_HAVE_LANDED else None
        if landed is not None:
            if exc.code != "NoSuchUpload":  # the object may be an earlier copy of these bytes
                _abort(ctx, key, upload_id)
            return landed
        _abort(ctx, key, upload_id)
        raise
    except BaseException:
        _abort(ctx, key, upload_id)  # after a lost answer to a Complete that did land: a no-op
        raise


# A Complete retried after its answer was lost (NoSuchUpload: it was completed; or, sent
# create-only, PreconditionFailed: there is an object now), or one answered with an error
# inside a 200 or a 5xx, which may have completed all the same.
_COMPLETE_MAY_HAVE_LANDED = frozenset({"NoSuchUpload", "PreconditionFailed", "InternalError",
                                       "ServiceUnavailable", "SlowDown"})


def _landed(ctx: TransferContext, key: str, parts: list[Part],
            whole_md5: str | None) -> str | None:
    """The target object's ETag, if it is the MD5 of exactly these parts' MD5s, or the MD5
    of the bytes sent (`whole_md5`, when known)."""
    digests = [normalize_etag(p.etag) for p in parts]
    expected = {whole_md5} if whole_md5 else set()
    if ctx.target_multipart_etag == "composite" and all(map(is_plain_md5, digests)):
        expected.add(multipart_etag(bytes.fromhex("".join(digests))))
    if not expected:
        return None
    try:
        headers = ctx.target.client.head_object(ctx.target.bucket, key)
    except (S3Error, TransportError):
        return None
    etag = normalize_etag(headers.get("etag", ""))
    return etag if etag in expected else None


class _Relayout(Exception):
    """The source's parts are not all of its first part's size, which the bytes read were
    hashed by: copy again, hashing by `sizes`, the part sizes the source states."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.sizes = sizes


class _ReadCheck:
    """What the bytes a multipart copy reads are checked by, part by part, before the upload
    is completed: the MD5 of the whole (a plain-MD5 source ETag), or the MD5s of the parts
    the source was uploaded in (a multipart ETag; hashed in parts of the first one's size,
    or of the sizes the source states, once they are known)."""

    def __init__(self, ctx: TransferContext, obj: ObjectInfo, part_size: int,
                 layout: int | list[int] | None, count: int | None) -> None:
        self.obj, self.layout, self.count = obj, layout, count
        self.digests: list[bytes] = []
        self.whole = md5() if ctx.source_etags_md5 and is_plain_md5(obj.etag) else None
        self.hasher = PartHasher(layout) if layout and layout != part_size else None

    def add(self, buf: bytearray) -> bytes:
        """Take the next part read; its MD5, for its Content-MD5."""
        digest: bytes = md5(buf).digest()
        self.digests.append(digest)
        for hashing in (self.whole, self.hasher):
            if hashing is not None:
                hashing.update(buf)
        return digest

    def parts_etag(self) -> str:
        return multipart_etag(b"".join(self.digests))

    def mismatch(self, ctx: TransferContext) -> str | None:
        """What the bytes read give that the source's ETag does not, if anything. Hashed in
        parts of the first part's size, a multipart ETag that does not match may be of
        parts of other sizes (valid S3): the sizes the source states tell, and where they
        differ, `_Relayout` has the object copied again, hashed by them."""
        if self.whole is not None and self.whole.hexdigest() != self.obj.etag:
            return f"the bytes read from the source have MD5 {self.whole.hexdigest()}"
        if self.layout and self.count:  # cut as the source's parts were: their MD5s give it
            read = self.hasher.etag() if self.hasher is not None else self.parts_etag()
            if read == self.obj.etag:
                return None
            damaged = f"the bytes read from the source, in its {self.count} parts, give ETag {read}"
            if isinstance(self.layout, list):  # hashed by the sizes the source states
                return damaged
            sizes = _part_sizes(ctx, self.obj, self.count)
            if sizes is None and ctx.no_part_sizes.is_set():
                return None  # the store states no part sizes: nothing to check by (warned)
            if sizes is not None and sizes != _even(self.layout, self.obj.size):
                raise _Relayout(sizes)
            return damaged
        return None


def _even(part_size: int, size: int) -> list[int]:
    """The part sizes of `size` bytes uploaded in parts of `part_size`, the last one less."""
    whole, rest = divmod(size, part_size)
    return [part_size] * whole + ([rest] if rest or not whole else [])


def _copy_multipart(ctx: TransferContext, obj: ObjectInfo,
                    source_part_size: int | list[int] | None = None) -> None:
    """`source_part_size`: the size of the source's own parts (or each part's size), when
    known, so a multipart ETag can check what is read (else asked of the source, where the
    ETag is one)."""
    part_size = part_size_for(ctx.part_size, obj.size)
    key = ctx.target.key(obj.key)
    count = _composite_source(ctx, obj)
    if count is not None and source_part_size is None:
        source_part_size = _source_part_size(ctx, obj, count)
    if count is not None and isinstance(source_part_size, int) and \
            len(_even(source_part_size, obj.size)) != count:
        # the parts cannot all be the first one's size: their sizes, before reading
        source_part_size = _part_sizes(ctx, obj, count) or source_part_size
    check = _ReadCheck(ctx, obj, part_size, source_part_size if count is not None else None,
                       count)
    response = _source_get(ctx, obj)
    try:
        upload_id = ctx.target.client.create_multipart_upload(
            ctx.target.bucket, key,
            write_headers(ctx, response.headers, ctx.source.key(obj.key)))
    except BaseException:
        response.close()
        raise

    def produce(submit: Callable[[int, int, Callable[[], str]], None]) -> None:
        nonlocal response
        offset, number = 0, 0
        while offset < obj.size:
            if ctx.stop.is_set():
                raise Interrupted("stopped before the upload was complete")
            n = min(part_size, obj.size - offset)
            held = ctx.budget.acquire(n)
            try:
                buf = bytearray(n)
                response = _fill(ctx, obj, response, memoryview(buf), offset)
                _throttle(ctx, n)
            except BaseException:
                ctx.budget.release(held)
                raise
            number += 1
            digest = check.add(buf)
            submit(number, held, partial(_upload_part, ctx, key, upload_id, number, buf, digest))
            del buf  # the part is the upload's now: its memory goes back to the budget with it
            offset += n
        problem = check.mismatch(ctx)
        if problem is not None:
            raise _source_mismatch(ctx, obj, response.headers, (
                f"{problem} but its ETag is {obj.etag}: the source object is damaged "
                f"{_source_hint(ctx)}; the upload was aborted, nothing was written"))

    try:
        parts = _run_parts(ctx, key, upload_id, produce)
    finally:
        response.close()
    _unless_rewritten(ctx, obj, key, upload_id)
    # the bytes' MD5, if they were checked against the source's plain-MD5 ETag
    returned = _complete(ctx, key, upload_id, parts, obj.etag if check.whole else None)
    expected = check.parts_etag()
    etag = normalize_etag(returned)
    if ctx.target_multipart_etag == "composite" and _COMPOSITE.match(etag) and etag != expected:
        raise IntegrityError(f"the target returned ETag {etag} for a multipart upload whose "
                             f"parts give {expected}{_target_hint(ctx)}")


class _NotAligned(Exception):
    """The object cannot be copied part for part: copy it another way. `part_size`: the
    size of the source's parts, when its first part was seen."""

    def __init__(self, part_size: int | None = None) -> None:
        super().__init__()
        self.part_size = part_size


_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


def _aligned_parts(ctx: TransferContext, obj: ObjectInfo) -> int | None:
    """The part count of a multipart source object whose layout can be copied as it is:
    its ETag is the MD5 of its parts' MD5s (R2's are not), and the target's are MD5s too."""
    if not ctx.target_etags_md5 or ctx.no_aligned.is_set():
        return None
    return _composite_source(ctx, obj)


def _part_span(response: Response, obj: ObjectInfo, count: int) -> tuple[int, int] | None:
    """The inclusive byte span a part GET answered with; None if it was not a part."""
    found = _RANGE.match(response.headers.get("content-range", ""))
    served = response.headers.get("x-amz-mp-parts-count")
    if response.status != 206 or not found or (served is not None and served != str(count)):
        return None
    start, end, total = (int(g) for g in found.groups())
    if total != obj.size:
        raise SourceChanged(f"is {total} bytes now, {obj.size} when listed")
    return start, end


def _wants_content_md5(exc: S3Error) -> bool:
    """A write refused for want of a Content-MD5: what AWS answers for a bucket with Object
    Lock ("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Part requests
    with Object Lock parameters"), and MinIO's MissingContentMD5."""
    return exc.code == "MissingContentMD5" or (
        exc.code == "InvalidRequest" and "content-md5" in exc.message.lower())


def _no_such_part(exc: S3Error) -> bool:
    """A part GET refused because the object has no part of that number: it was uploaded
    with part numbers that skip some (valid S3: parts 1, 3 and 7 make an object "-3"),
    which GET ?partNumber=n for n in 1..count cannot follow. AWS answers 400 InvalidPart,
    SeaweedFS 416 InvalidPartNumber."""
    return exc.status == 416 or exc.code in ("InvalidPart", "InvalidPartNumber")


def _upload_aligned_part(ctx: TransferContext, obj: ObjectInfo, key: str, upload_id: str,
                         number: int, count: int, response: Response | None,
                         spans: dict[int, tuple[int, int]]) -> str:
    """GET part `number` of the source and stream it into the same part of the upload."""
    for attempt in range(1, STREAM_ATTEMPTS + 1):
        if response is None:
            try:
                response = ctx.source.client.get_object(
                    ctx.source.bucket, ctx.source.key(obj.key), if_match=obj.match_etag,
                    part_number=number)
            except S3Error as exc:
                if _no_such_part(exc):  # the upload is aborted, the object copied another way
                    raise _NotAligned from exc
                raise
        try:
            span = _part_span(response, obj, count)
            if span is None:
                raise IntegrityError(f"the source served part {number} as no part of "
                                     f"{count}, though it served part 1")
            length = span[1] - span[0] + 1
            if number < count and length < MIN_PART_SIZE:
                raise _NotAligned  # the upload is aborted, the object copied another way
            returned = ctx.target.client.upload_part_stream(
                ctx.target.bucket, key, upload_id, number, length,
                _pump(response, length, ctx))
        except (TransportError, S3Error) as exc:
            if _again(ctx, attempt, exc):
                continue
            if isinstance(exc, S3Error) and _wants_content_md5(exc):
                ctx.no_aligned.set()  # every later part would be refused alike
                raise _NotAligned from exc  # the upload is aborted, copied in checked parts
            raise
        finally:
            response.close()
            response = None
        etag = returned.etag
        if not is_plain_md5(normalize_etag(etag)):  # nothing to check the source's ETag by
            ctx.no_aligned.set()
            raise _NotAligned  # the upload is aborted, the object copied another way
        spans[number] = span
        return etag
    raise AssertionError("unreachable")


def _copy_aligned(ctx: TransferContext, obj: ObjectInfo, count: int) -> None:
    """A multipart source object copied part for part, as it was uploaded.

    Each part is one GET ?partNumber=n streamed into UploadPart n, a few at a time, through
    a small buffer. Nothing is hashed here: the target returns each part's MD5, and before
    the upload is completed, the MD5 of those MD5s must give the source's own ETag
    (md5-of-part-md5s "-n"), so the bytes are checked end to end against what the source
    stored, and the target's copy ends with the same ETag. A mismatch aborts the upload.
    A target that wants a Content-MD5 with every write (a bucket with Object Lock) refuses
    the first part: that object and the pair's later ones go up in checked parts instead.
    """
    key = ctx.target.key(obj.key)
    try:
        first = ctx.source.client.get_object(ctx.source.bucket, ctx.source.key(obj.key),
                                             if_match=obj.match_etag, part_number=1)
    except S3Error as exc:
        if exc.status == 501 or exc.code == "NotImplemented":  # no part GETs at this source
            ctx.no_aligned.set()
            ctx.no_part_sizes.set()
            raise _NotAligned from exc
        if _no_such_part(exc):  # this object's parts are not numbered 1..n
            raise _NotAligned from exc
        raise
    try:
        span = _part_span(first, obj, count)
        if span is None:
            ctx.no_aligned.set()  # the source ignored ?partNumber=
            ctx.no_part_sizes.set()
            raise _NotAligned
        first_part = span[1] - span[0] + 1
        if count > 1 and first_part < MIN_PART_SIZE:
            raise _NotAligned(first_part)  # parts the target may refuse (EntityTooSmall)
        upload_id = ctx.target.client.create_multipart_upload(
            ctx.target.bucket, key, write_headers(ctx, first.headers, ctx.source.key(obj.key)))
    except BaseException:
        first.close()
        raise
    spans: dict[int, tuple[int, int]] = {}

    def produce(submit: Callable[[int, int, Callable[[], str]], None]) -> None:
        for number in range(1, count + 1):
            response = first if number == 1 else None
            if number > 1 and ctx.stop.is_set():
                raise Interrupted("stopped before the upload was complete")
            held = ctx.budget.acquire(PUMP)
            submit(number, held, partial(_upload_aligned_part, ctx, obj, key, upload_id,
                                         number, count, response, spans))

    try:
        parts = _run_parts(ctx, key, upload_id, produce)
    except _NotAligned as exc:
        raise _NotAligned(first_part) from exc
    edges = [spans[n] for n in range(1, count + 1)]
    tiled = edges[0][0] == 0 and edges[-1][1] == obj.size - 1 and all(
        a[1] + 1 == b[0] for a, b in itertools.pairwise(edges))
    expected = multipart_etag(b"".join(bytes.fromhex(normalize_etag(p.etag)) for p in parts))
    if not tiled:
        _abort(ctx, key, upload_id)
        raise IntegrityError("the parts the source served do not cover the object exactly; "
                             "the upload was aborted, nothing was written")
    if expected != obj.etag:
        _abort(ctx, key, upload_id)
        raise _source_mismatch(ctx, obj, first.headers, (
            f"the parts the target received give ETag {expected}, the source's ETag "
            f"is {obj.etag}: the source object is damaged, or its bytes were altered on the "
            "way (source to here, or here to the target), or its store's ETags are not MD5s "
            f"{_source_hint(ctx)}; the upload was aborted, nothing was written"))
    _unless_rewritten(ctx, obj, key, upload_id)
    returned = normalize_etag(_complete(ctx, key, upload_id, parts))
    if ctx.target_multipart_etag == "composite" and _COMPOSITE.match(returned) \
            and returned != obj.etag:
        raise IntegrityError(f"the target returned ETag {returned} for a multipart upload "
                             f"whose parts give {obj.etag}{_target_hint(ctx)}")


def _copy_part_size(ctx: TransferContext, obj: ObjectInfo) -> int:
    """The part of a server-side copy above CopyObject's 5 GiB: nothing passes through
    here, so parts are large (at least 512 MiB)."""
    return part_size_for(max(ctx.part_size, 512 * 1024 * 1024), obj.size)


def _copy_server_side(ctx: TransferContext, obj: ObjectInfo) -> None:
    src_key, key = ctx.source.key(obj.key), ctx.target.key(obj.key)
    client = ctx.target.client
    if obj.size <= MAX_SINGLE_COPY:
        returned = client.copy_object(ctx.source.bucket, src_key, ctx.target.bucket, key,
                                      if_match=obj.match_etag or None,
                                      storage_class=ctx.storage_class,
                                      copy_tags=ctx.copy_tags, create_only=_create_only(ctx))
        if is_plain_md5(obj.etag):
            _check_returned(ctx, returned, obj.etag)
        return
    part_size = _copy_part_size(ctx, obj)
    headers = write_headers(ctx, client.head_object(ctx.source.bucket, src_key), src_key)
    upload_id = client.create_multipart_upload(ctx.target.bucket, key, headers)

    def produce(submit: Callable[[int, int, Callable[[], str]], None]) -> None:
        for number, start in enumerate(range(0, obj.size, part_size), start=1):
            if ctx.stop.is_set():
                raise Interrupted("stopped before the copy was complete")
            end = min(start + part_size, obj.size) - 1
            submit(number, 0, partial(client.upload_part_copy, ctx.source.bucket, src_key,
                                      ctx.target.bucket, key, upload_id, number, (start, end),
                                      if_match=obj.match_etag or None))

    parts = _run_parts(ctx, key, upload_id, produce)
    _unless_rewritten(ctx, obj, key, upload_id)  # as for the copies through here
    _complete(ctx, key, upload_id, parts)


def _marker(ctx: TransferContext, obj: ObjectInfo) -> bool:
    """A folder marker (`exports/`, empty): SeaweedFS keeps it as a directory, which its
    CopyObject answers with NoSuchKey, so a server-side copy of it fails on every run. A
    marker has no bytes: a GET and a PUT copy it anywhere, for one more read."""
    return obj.size == 0 and ctx.source.key(obj.key).endswith("/")


def _copy(ctx: TransferContext, obj: ObjectInfo) -> None:
    """The way to copy this object, by where it goes and how big it is."""
    if ctx.server_side and not _marker(ctx, obj):
        _copy_server_side(ctx, obj)
    elif obj.size <= ctx.part_size:
        _copy_small(ctx, obj)
    else:
        with ctx.streams:
            if ctx.stop.is_set():
                raise Interrupted("stopped before it started")
            count = _aligned_parts(ctx, obj)
            layout = None
            if count is not None:
                try:
                    _copy_aligned(ctx, obj, count)
                    return
                except _NotAligned as exc:
                    layout = exc.part_size
            if _one_put(ctx, obj):
                _copy_streamed(ctx, obj)
                return
            try:
                _copy_multipart(ctx, obj, layout)
            except _Relayout as exc:  # parts of uneven sizes: read again, hashed by them
                _copy_multipart(ctx, obj, exc.sizes)


def _one_put(ctx: TransferContext, obj: ObjectInfo) -> bool:
    """Whether an object above the part size, not copied part for part, is streamed into
    one PUT (checked by its Content-MD5) rather than uploaded in parts."""
    return obj.size <= ctx.multipart_threshold and _source_md5(ctx, obj)


def planned_requests(ctx: TransferContext, obj: ObjectInfo) -> dict[str, dict[str, int]]:
    """The requests per side that copying `obj` takes when nothing goes wrong: the way
    `_copy` would choose, for a dry run's estimate (retries and fallbacks add to it)."""
    planned = _planned_copy(ctx, obj)
    if compared_by_time(ctx, obj):  # the source's ETag read again after the copy
        heads = 2 if Op.MPU_COMPLETE in planned["target"] else 1
        planned["source"][Op.HEAD] = planned["source"].get(Op.HEAD, 0) + heads  # and before
    return planned


def _planned_copy(ctx: TransferContext, obj: ObjectInfo) -> dict[str, dict[str, int]]:
    if ctx.server_side and not _marker(ctx, obj):
        if obj.size <= MAX_SINGLE_COPY:
            return {"source": {}, "target": {Op.COPY: 1}}
        parts = -(-obj.size // _copy_part_size(ctx, obj))
        return {"source": {}, "target": {Op.HEAD: 1, Op.MPU_CREATE: 1,
                                         Op.MPU_PART_COPY: parts, Op.MPU_COMPLETE: 1}}
    one_put: dict[str, dict[str, int]] = {"source": {Op.GET: 1}, "target": {Op.PUT: 1}}
    if obj.size <= ctx.part_size:
        return one_put
    count = _aligned_parts(ctx, obj)  # part for part: one GET per part
    if count is None and _one_put(ctx, obj):
        return one_put
    parts = count or -(-obj.size // part_size_for(ctx.part_size, obj.size))
    source: dict[str, int] = {Op.GET: count or 1}
    if count is None and _composite_source(ctx, obj) and not ctx.no_part_sizes.is_set():
        source[Op.HEAD] = 1  # the size of its parts, to check its multipart ETag by
    return {"source": source,
            "target": {Op.MPU_CREATE: 1, Op.MPU_PART: parts, Op.MPU_COMPLETE: 1}}


def _failed(exc: S3Error | TransportError, ctx: TransferContext, obj: ObjectInfo,
            result: Callable[..., TransferResult]) -> TransferResult:
    """What an S3 or transport error makes of a copy."""
    if isinstance(exc, TransportError):
        return result(Outcome.FAILED, str(exc), fatal=not exc.retryable, transport=True)
    if exc.status == 404 and exc.code != "NoSuchBucket" and exc.operation in (
            "GET", "GET_TAGGING", "HEAD"):
        return result(Outcome.SOURCE_CHANGED, "deleted from the source during the run")
    # a server-side copy's NoSuchKey names no side: the source, asked, tells a deletion (or
    # a rewrite) from a store that cannot copy a key it holds, which must fail visibly
    if exc.code == "NoSuchKey" and exc.operation in ("COPY", "MPU_PART_COPY") \
            and _rewritten(ctx, obj):
        return result(Outcome.SOURCE_CHANGED, "deleted or rewritten on the source during "
                      "the run")
    if exc.status == 412:
        return result(Outcome.SOURCE_CHANGED, "rewritten on the source during the run")
    if exc.code == "InvalidStorageClass":  # S3 names no class: say which was asked for
        return result(Outcome.FAILED, f"the target refused storage class "
                      f"{ctx.storage_class or '(the bucket default)'}: check "
                      f"{ctx.storage_class_variable}", fatal=True)
    return result(Outcome.FAILED, exc.describe(), fatal=exc.severity is Severity.PAIR)


def transfer(obj: ObjectInfo, ctx: TransferContext) -> TransferResult:
    """Copy `obj` (relative key) from source to target; never raises for an S3 failure."""
    started = time.monotonic()

    def result(outcome: Outcome, error: str | None = None, *, fatal: bool = False,
               transport: bool = False) -> TransferResult:
        return TransferResult(obj.key, outcome, obj.size, time.monotonic() - started, error,
                              fatal, transport)

    if ctx.stop.is_set():
        return result(Outcome.INTERRUPTED, "stopped before it started")
    try:
        _copy_current(ctx, obj)
    except (S3Error, TransportError) as exc:
        # a refusal (permission, credentials, a bad request) is the store's answer, stop or
        # not: the copies its pair had in flight when it halted were refused too, not cut
        if not ctx.stop.is_set() or (isinstance(exc, S3Error)
                                     and exc.severity is not Severity.RETRY):
            return _failed(exc, ctx, obj, result)
        # stopped: not tried again, or its connection cut (run.CUT_OFF_AFTER)
        return result(Outcome.INTERRUPTED, f"stopped before the copy was confirmed ({exc})")
    except SourceChanged as exc:
        return result(Outcome.SOURCE_CHANGED, f"changed during the run: {exc}")
    except Occupied as exc:
        return result(Outcome.KEPT, str(exc) + KEPT)
    except Interrupted as exc:
        return result(Outcome.INTERRUPTED, str(exc))
    except IntegrityError as exc:
        return result(Outcome.FAILED, str(exc))
    except OpaqueETags as exc:  # a setting to change: every later write would fail alike
        return result(Outcome.FAILED, str(exc), fatal=True)
    except CredentialsUnavailable as exc:
        return result(Outcome.FAILED, str(exc), fatal=True)
    return result(Outcome.COPIED)
