"""S3 operations the mirror needs, over the lean transport, signed, retried and counted.

What the client deliberately does not do:
- no DeleteObject: the product never deletes from a target, and the client cannot;
- no flexible checksums (CRC32 and friends, which boto3 >= 1.36 sends by default and
  several S3-compatible stores reject or store inside the object): integrity is
  Content-MD5, which every S3 implementation verifies;
- no payload hashing for the signature (UNSIGNED-PAYLOAD), for the same reason.
"""

from __future__ import annotations

import base64
import ipaddress
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property, partial
from html import unescape
from typing import Any
from urllib.parse import quote, urlsplit

from mirror.s3.accounting import Op, RequestCounter
from mirror.s3.checksum import md5
from mirror.s3.errors import S3Error, Severity, server_time
from mirror.s3.http import ConnectionPool, Response, Timeouts, TransportError
from mirror.s3.listing import (
    ListingParseError,
    ListPage,
    ObjectInfo,
    parse_list_page,
    parse_uploads,
)
from mirror.s3.proxy import Proxy, authority
from mirror.s3.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    CredentialSource,
    ServerClock,
    Signer,
    canonical_query,
    uri_encode,
)

_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")
_ETAG = re.compile(rb"<ETag>([^<]+)</ETag>")
# A write that creates the key or fails with 412 PreconditionFailed, never replacing an
# object there (AWS since 2024, R2, MinIO, B2, SeaweedFS; stores that do not know the
# header ignore it). Not for CreateMultipartUpload or UploadPart, which AWS refuses it on.
_CREATE_ONLY = {"if-none-match": "*"}


def _creating(create_only: bool) -> dict[str, str]:
    """The headers a write adds when it may only create its key."""
    return _CREATE_ONLY if create_only else {}


# A next page asked for by start-after, not by the server's token (see `_resumable`). No
# real token holds a NUL: it comes from XML text, which cannot.
_RESUME_AFTER = "\x00start-after:"
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _resumable(page: ListPage, stripped: str, bucket: str, flat: bool = True) -> ListPage:
    """A page whose continuation token is its last key (SeaweedFS) with characters XML
    cannot carry in it: written as U+FFFD, the token would resume after another key,
    skipping every key between. The entry it names is found in the page (whose keys come
    URL-encoded, intact), and the next page starts after that entry instead.

    A flat page that ends with a file that is also a folder (SeaweedFS holds `k` and
    `k/x`) has the token `k/`: the next page starts inside that folder. Started after `k`,
    SeaweedFS would skip the folder's keys, so it is started after `k/` too. (A delimiter
    listing returns the folder `k/` with the file, and its token names that entry.)"""
    token = page.next_token or ""
    entries = [*(o.key for o in page.objects), *page.prefixes]
    for name in reversed(entries):
        written = _NOT_IN_XML.sub("\ufffd", stripped + name)
        if written == token:
            return ListPage(page.objects, page.prefixes, _RESUME_AFTER + stripped + name)
        if flat and not name.endswith("/") and written + "/" == token:
            return ListPage(page.objects, page.prefixes, _RESUME_AFTER + stripped + name + "/")
    raise ListingParseError(
        f"the listing of {bucket} cannot be continued exactly: the server's continuation "
        f"token {token!r} has characters it could not write, and names no key of the page")


def _confirmed(page: ListPage, stripped: str) -> ListPage:
    """A full flat page that says it is the last, made to ask for one more page, after its
    last key's folder: SeaweedFS says so of a full page ending with a file `k` that is also
    a folder and the last entry of its own, though the keys under `k/` are still to come,
    and a mirror that believed it would never copy them (nor a test see them). After `k/`,
    not after `k`: SeaweedFS's start-after `k` skips the keys under `k/`. On a store whose
    page was indeed the last, the extra LIST is one in a thousand keys' and comes back
    empty."""
    last = page.objects[-1].key
    after = last if last.endswith("/") else last + "/"
    return ListPage(page.objects, page.prefixes, _RESUME_AFTER + stripped + after)


def _sorted(page: ListPage, stripped: str) -> ListPage:
    """A flat page of rclone serve s3, put in order, and the next one asked for after its
    own last key, with start-after (which rclone honours for any key, listed or not),
    rather than by rclone's token. Keys before that point are never listed again; one
    written there meanwhile is not listed, and the run that wrote it knows it.

    A key rclone lists twice in one page (an object being replaced: the file written and
    the one it replaces, often without an ETag) is one object: its latest entry is kept.
    The mirror's own overwrites in one range land in the next range's first keys, which the
    page that ends a range lists too."""
    entries = page.objects
    if page.next_token is not None and entries:
        # Keys being written come first in the page, in no order and possibly far ahead
        # of the rest (rclone serve s3, while new keys land in the listed folder; seen
        # with up to 64 writers, always before the page's own keys): resuming after one
        # would skip every existing key in between, and the merge would take them for
        # absent. The page's own keys are its last ascending run, whose end is rclone's
        # own marker; resume after it, and leave the keys beyond it to the pages that
        # list them in their place. (Not the longest run: a few keys being written,
        # in order, outnumber a short page's own.)
        cut = entries[-1].key  # the end of the last run is the page's last entry
        entries = [o for o in entries if o.key <= cut]
    latest: dict[str, ObjectInfo] = {}
    for obj in entries:
        seen = latest.get(obj.key)
        if seen is None or obj.last_modified > seen.last_modified:
            latest[obj.key] = obj
    objects = sorted(latest.values(), key=lambda o: o.key)
    if page.next_token is None or not objects:
        return ListPage(objects, page.prefixes, page.next_token)
    return ListPage(objects, page.prefixes, _RESUME_AFTER + stripped + objects[-1].key)


HEAD_SKEW = 300.0  # seconds: SigV4 refuses signatures 15 minutes off; a HEAD cannot say so
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")  # a document's first element (after <?xml?>)
_TAG = re.compile(rb"<Tag>(.*?)</Tag>", re.S)
_TAG_KEY = re.compile(rb"<Key>([^<]*)</Key>")
_TAG_VALUE = re.compile(rb"<Value>([^<]*)</Value>")
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# AWS's public S3 endpoints (global, regional, legacy dash, dual-stack, China), whose
# regional siblings a bucket in another region is reached at.
_AWS_S3_HOST = re.compile(r"^s3(?:[.-][a-z0-9.-]+)?\.amazonaws\.com(?P<cn>\.cn)?$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")


def regional_host(host: str, region: str) -> str | None:
    """The S3 endpoint of `region` next to AWS endpoint `host`; None for any other host
    (a VPC endpoint, another provider), where a bucket in another region cannot be
    reached and the error says so."""
    found = _AWS_S3_HOST.match(host)
    if found is None or not _REGION.match(region):
        return None
    dual = "dualstack." if ".dualstack." in host else ""
    fips = "-fips" if host.startswith("s3-fips.") else ""  # never leave a FIPS endpoint
    return f"s3{fips}.{dual}{region}.amazonaws.com{found.group('cn') or ''}"


@cache
def _is_ip(host: str) -> bool:
    """An address has no subdomains: `bucket.127.0.0.1` names no host (an AWS-like
    provider set on a VPC endpoint's or a local stand-in's IP is addressed by path)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff (attempt counts from 1)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class EndpointConfig:
    """How to reach one S3-compatible service."""

    url: str
    region: str
    credentials: CredentialSource = field(repr=False)
    virtual_host: bool = False
    timeouts: Timeouts = Timeouts()
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    proxy: Proxy | None = None
    sort_pages: bool = False  # the provider's pages may be out of order (see _sorted)
    # shared by every client of the endpoint, so one refused request corrects them all
    clock: ServerClock = field(default_factory=ServerClock, repr=False, compare=False)

    @cached_property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @cached_property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @cached_property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)


class PoolRegistry:
    """One connection pool per host, shared by every client that talks to it."""

    def __init__(self, max_idle: int = 64) -> None:
        self._pools: dict[tuple[str, str, int], ConnectionPool] = {}
        self._lock = threading.Lock()
        self._max_idle = max_idle

    def get(self, endpoint: EndpointConfig, host: str) -> ConnectionPool:
        key = (endpoint.scheme, host, endpoint.port)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = ConnectionPool(endpoint.scheme, host, endpoint.port,
                                      timeouts=endpoint.timeouts,
                                      ssl_context=endpoint.ssl_context, max_idle=self._max_idle,
                                      proxy=endpoint.proxy)
                self._pools[key] = pool
            return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def abandon(self) -> int:
        """Cut the connections requests are using, on every host (`ConnectionPool.abandon`)."""
        with self._lock:
            pools = list(self._pools.values())
        return sum(pool.abandon() for pool in pools)


@dataclass(frozen=True)
class Part:
    number: int
    etag: str


def opaque_by(headers: Mapping[str, str]) -> str | None:
    """The encryption an object's response declares that makes its ETag no MD5, if any."""
    sse = headers.get("x-amz-server-side-encryption", "").lower()
    return ("SSE-C" if headers.get("x-amz-server-side-encryption-customer-algorithm")
            else "DSSE-KMS" if sse.startswith("aws:kms:dsse")
            else "SSE-KMS" if sse.startswith("aws:kms") else None)


@dataclass(frozen=True)
class Written:
    """What a write answered: the ETag, and the encryption that makes it no MD5, if any."""

    etag: str
    opaque_by: str | None = None  # "SSE-KMS", "DSSE-KMS" or "SSE-C"

    @classmethod
    def of(cls, response: Response, etag: str | None = None) -> Written:
        headers = response.headers
        return cls(headers.get("etag", "") if etag is None else etag, opaque_by(headers))


def _tries(exc: TransportError, attempts: int) -> TransportError:
    """The error that ended `attempts` tries, saying how many there were: the wait was that
    many times the one its message names ("no response within 60s")."""
    if attempts == 1:
        return exc
    return TransportError(f"{exc} ({attempts} tries)", retryable=exc.retryable,
                          setting=exc.setting)


class S3Client:
    """The S3 API surface of the mirror, for one endpoint; every request is counted."""

    def __init__(self, endpoint: EndpointConfig, pools: PoolRegistry, counter: RequestCounter,
                 retry: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep,
                 resending: Callable[[int], None] | None = None,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        """`resending(n)` is called before a body of `n` bytes is sent again (a retry): a
        bandwidth cap counts those bytes too. Once `stopping()` (SIGTERM), a failed
        request is not tried again."""
        self.endpoint = endpoint
        self._resending = resending
        self._stopping = stopping
        self.counter = counter
        self._pools = pools
        self._retry = retry
        self._sleep = sleep
        self._signer = Signer(endpoint.region, clock=endpoint.clock)
        self._default_port = endpoint.port == (443 if endpoint.scheme == "https" else 80)
        self._hosts: dict[str, tuple[ConnectionPool, str]] = {}
        # AWS buckets in another region than the endpoint's: (that region's host, signer)
        self._elsewhere: dict[str, tuple[str, Signer]] = {}

    def _skewed_head(self, method: str, status: int, server_time: float) -> bool:
        """A HEAD's refusal has no body to say the clock is off: its Date header does. A
        403 from a server whose time is minutes away from ours is taken for a skew, signed
        again with the server's time (a real refusal is then refused again)."""
        return (method == "HEAD" and status == 403
                and abs(server_time - self.endpoint.clock.time()) > HEAD_SKEW)

    def _again(self, attempt: int) -> bool:
        """Whether a failed request gets another attempt."""
        return attempt < self._retry.attempts and not self._stopping()

    def backoff(self, attempt: int) -> None:
        """Wait before trying again what the caller must replay itself (a streamed body)."""
        self._sleep(self._retry.delay(attempt))

    # -- plumbing ------------------------------------------------------------------------

    def _route(self, bucket: str) -> tuple[str, Signer]:
        """The endpoint host and signer of a bucket: its own region's once followed there."""
        return self._elsewhere.get(bucket, (self.endpoint.host, self._signer))

    def _address(self, bucket: str, key: str | None,
                 base: str | None = None) -> tuple[str, str]:
        """(host, path) for a request, virtual-hosted where the provider wants it; `base`
        is the bucket's endpoint host when the caller has it from `_route`."""
        encoded_key = "" if key is None else uri_encode(key, keep_slash=True)
        host = self._route(bucket)[0] if base is None else base
        if self.endpoint.virtual_host and _DNS_BUCKET.match(bucket) and not (
                "." in bucket and self.endpoint.scheme == "https") and not _is_ip(host):
            return f"{bucket}.{host}", "/" + encoded_key
        return host, f"/{bucket}" + ("/" + encoded_key if key is not None else "")

    def _pool(self, host: str) -> tuple[ConnectionPool, str]:
        """The pool and Host header for `host`, looked up once per host."""
        found = self._hosts.get(host)
        if found is None:
            pool = self._pools.get(self.endpoint, host)
            bare = f"[{host}]" if ":" in host else host  # an IPv6 address, in brackets
            found = (pool, bare if self._default_port else authority(host, self.endpoint.port))
            self._hosts[host] = found
        return found

    def _send(self, op: Op, method: str, bucket: str, key: str | None = None, *,
              query: dict[str, str] | None = None, headers: dict[str, str] | None = None,
              body: bytes | bytearray | memoryview | None = None,
              ok: tuple[int, ...] = (200,),
              stream: tuple[int, Iterable[bytes | memoryview]] | None = None,
              whole: bool = False, retried: Callable[[], None] = lambda: None) -> Response:
        """One signed, counted request, retried while it is transient.

        `stream` is (length, chunks) for a body that cannot be replayed: such a request is
        sent once, and its failure is the caller's to handle. `whole`: the answer's body is
        read into `response.body` here, so one cut off mid-way is retried like any
        transient failure. `retried` is called before each retry of a failure that may
        have taken effect all the same (an answer lost, a 5xx).
        """
        qs = canonical_query(query) if query else ""
        attempt = 0
        while True:
            attempt += 1
            base, signer = self._route(bucket)
            host, path = self._address(bucket, key, base)
            pool, host_header = self._pool(host)
            target = path + ("?" + qs if qs else "")
            send_headers = {"host": host_header}
            if headers:
                send_headers.update(headers)
            length = len(body) if body is not None else stream[0] if stream is not None else None
            has_body = length is not None
            if has_body:
                send_headers["content-length"] = str(length)
            if attempt > 1 and body is not None and self._resending is not None:
                self._resending(len(body))
            signer.sign(method, path, qs, send_headers, self.endpoint.credentials.get(),
                        UNSIGNED_PAYLOAD if has_body else EMPTY_SHA256)
            try:  # counted once a connection is up: what never reached a server is not billed
                response = pool.request(method, target, send_headers, body,
                                        stream[1] if stream is not None else None,
                                        partial(self._resent, op, retried),
                                        partial(self.counter.add, op))
                if whole and response.status in ok:
                    response.body = response.read()
            except TransportError as exc:
                if exc.retryable and self._again(attempt) and stream is None:
                    retried()
                    self._retrying(op, bucket, attempt, str(exc))
                    continue
                # `exc` itself after one try; a new error after several, in `exc`'s context
                raise _tries(exc, attempt)  # noqa: B904
            if response.status in ok:
                return response
            error_body = response.read() if method != "HEAD" else b""
            error = S3Error.from_response(response.status, response.headers, error_body,
                                          operation=op.value, bucket=bucket, key=key)
            if (error.region_hint and error.kind == "wrong region or endpoint"
                    and self._follow(bucket, error.region_hint)
                    and self._again(attempt) and stream is None):
                continue  # to the bucket's own region, at once
            if error.server_time is not None and (error.skewed or self._skewed_head(
                    method, response.status, error.server_time)):
                self.endpoint.clock.adopt(error.server_time)  # and sign again, at once
                if self._again(attempt) and stream is None:
                    continue
            if (error.severity is Severity.RETRY and self._again(attempt)
                    and stream is None):
                retried()
                self._retrying(op, bucket, attempt, error.describe())
                continue
            raise error

    def _retrying(self, op: Op, bucket: str, attempt: int, error: str) -> None:
        """Wait before the next attempt, and say so: a store that stopped answering would
        otherwise leave minutes without a log line (each try may wait the read timeout)."""
        from mirror import logs

        delay = self._retry.delay(attempt)
        logs.get().warning("request.retrying", operation=op.value, bucket=bucket,
                           endpoint=self.endpoint.host, error=error, attempt=attempt,
                           attempts=self._retry.attempts, wait=round(delay, 2))
        self._sleep(delay)

    def _resent(self, op: Op, retried: Callable[[], None]) -> None:
        """A request sent again at once on a fresh connection, the reused one found dead
        before any answer: it most likely reached the server (billed, and maybe done)."""
        self.counter.add(op)
        retried()

    def _follow(self, bucket: str, region: str) -> bool:
        """Send the bucket's requests to its region from now on, as AWS's SDKs do; False
        where that is not possible or already done (the error then stands)."""
        if region == self._route(bucket)[1].region:
            return False
        host = regional_host(self.endpoint.host, region)
        if host is None:
            return False
        self._elsewhere[bucket] = (host, Signer(region, clock=self.endpoint.clock))
        return True

    def _exchange(self, op: Op, method: str, bucket: str, key: str | None = None,
                  **request: Any) -> tuple[Response, bytes]:
        """`_send`, and the whole answer read within its retries: an answer cut off mid-body
        (a listing page, an upload's XML) is asked for again, as any transient failure is."""
        response = self._send(op, method, bucket, key, whole=True, **request)
        return response, response.body

    def _read_ok(self, op: Op, method: str, bucket: str, key: str | None,
                 **request: Any) -> tuple[Response, bytes]:
        """`_exchange` for an answer whose 200 may still carry an <Error>
        (CompleteMultipartUpload, Copy): that is an error like any other. AWS sends the
        200 at once and keeps the connection alive with whitespace while it works, so the
        <Error> can come after any amount of it: the document's first element decides."""
        response, data = self._exchange(op, method, bucket, key, **request)
        root = _ROOT.search(data)
        if root is not None and root.group(1) == b"Error":
            raise S3Error.from_response(500, response.headers, data, operation=op.value,
                                        bucket=bucket, key=key)
        return response, data

    # -- listing -------------------------------------------------------------------------

    def list_page(self, bucket: str, prefix: str, token: str | None = None, *,
                  delimiter: str | None = None, start_after: str | None = None,
                  strip: int = 0, max_keys: int = 1000) -> ListPage:
        """One ListObjectsV2 page; pass its `next_token` back for the next one."""
        query = {"list-type": "2", "encoding-type": "url", "max-keys": str(max_keys),
                 "prefix": prefix}
        given = token
        if token and token.startswith(_RESUME_AFTER):
            start_after, token = token[len(_RESUME_AFTER):], None
        if token:
            query["continuation-token"] = token
        if delimiter:
            query["delimiter"] = delimiter
        if start_after:
            query["start-after"] = start_after
        _, data = self._exchange(Op.LIST, "GET", bucket, query=query)
        page = parse_list_page(data, strip)
        if not delimiter and page.next_token is None and len(page.objects) >= max_keys:
            page = _confirmed(page, prefix[:strip])
        if self.endpoint.sort_pages and not delimiter:
            page = _sorted(page, prefix[:strip])
        elif (page.next_token and "\ufffd" in page.next_token
              and not page.next_token.startswith(_RESUME_AFTER)):  # the server's, not ours
            page = _resumable(page, prefix[:strip], bucket, flat=not delimiter)
        if given and page.next_token == given:  # on a billed store, a loop costs money
            raise ListingParseError(
                f"the listing of {bucket} would never end: the server answered a "
                "continuation token with the same token")
        return page

    # -- reading -------------------------------------------------------------------------

    def get_object(self, bucket: str, key: str, *, byte_range: tuple[int, int] | None = None,
                   if_match: str | None = None, part_number: int | None = None) -> Response:
        """Start a GET; the caller streams the body. `byte_range` is inclusive; `part_number`
        asks for one part of a multipart object, as it was uploaded (a store that does not
        know the parameter answers 200 with the whole object)."""
        headers = {}
        if byte_range is not None:
            headers["range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        if if_match:
            headers["if-match"] = f'"{if_match}"'
        query = {"partNumber": str(part_number)} if part_number is not None else None
        return self._send(Op.GET, "GET", bucket, key, query=query, headers=headers,
                          ok=(200, 206))

    def get_object_tagging(self, bucket: str, key: str) -> str:
        """The object's tags as an x-amz-tagging header value (`k=v&k2=v2`, URL-encoded)."""
        _, data = self._exchange(Op.GET_TAGGING, "GET", bucket, key, query={"tagging": ""})
        pairs = []
        for tag in _TAG.findall(data):
            key_found, value_found = _TAG_KEY.search(tag), _TAG_VALUE.search(tag)
            if key_found is None:
                continue
            value = value_found.group(1) if value_found else b""
            pairs.append(f"{quote(unescape(key_found.group(1).decode()), safe='')}="
                         f"{quote(unescape(value.decode()), safe='')}")
        return "&".join(pairs)

    def head_object(self, bucket: str, key: str, *, if_match: str | None = None,
                    part_number: int | None = None) -> dict[str, str]:
        """The object's headers; with `part_number`, those of one part as it was uploaded
        (its Content-Length, x-amz-mp-parts-count), where the store knows the parameter."""
        headers = {"if-match": f'"{if_match}"'} if if_match else {}
        query = {"partNumber": str(part_number)} if part_number is not None else None
        response = self._send(Op.HEAD, "HEAD", bucket, key, query=query, headers=headers,
                              ok=(200, 206))
        return response.headers

    # -- writing -------------------------------------------------------------------------

    def put_object(self, bucket: str, key: str, body: bytes | bytearray | memoryview, *,
                   content_md5: str, headers: dict[str, str],
                   create_only: bool = False) -> Written:
        """PutObject; `create_only`: only if no object has the key (If-None-Match: *)."""
        sent = {**headers, **_creating(create_only)}
        sent["content-md5"] = content_md5
        response, _ = self._exchange(Op.PUT, "PUT", bucket, key, headers=sent, body=body)
        return Written.of(response)

    def put_object_stream(self, bucket: str, key: str, length: int,
                          chunks: Iterable[bytes | memoryview], *, content_md5: str | None,
                          headers: dict[str, str], create_only: bool = False) -> Written:
        """PUT a body streamed from `chunks` (sent once: a failure is not retried here);
        `create_only` as for `put_object`."""
        sent = {**headers, **_creating(create_only)}
        if content_md5:
            sent["content-md5"] = content_md5
        response = self._send(Op.PUT, "PUT", bucket, key, headers=sent, stream=(length, chunks))
        response.read()
        return Written.of(response)

    def upload_part_stream(self, bucket: str, key: str, upload_id: str, number: int,
                           length: int, chunks: Iterable[bytes | memoryview]) -> Written:
        """UploadPart with a body streamed from `chunks` (sent once: not retried here)."""
        response = self._send(Op.MPU_PART, "PUT", bucket, key,
                              query={"partNumber": str(number), "uploadId": upload_id},
                              stream=(length, chunks))
        response.read()
        return Written.of(response)

    def copy_object(self, src_bucket: str, src_key: str, bucket: str, key: str, *,
                    if_match: str | None, storage_class: str | None = None,
                    copy_tags: bool = True, create_only: bool = False) -> Written:
        """CopyObject; `create_only`: only if no object has the key (If-None-Match: *)."""
        headers = {"x-amz-copy-source": "/" + uri_encode(f"{src_bucket}/{src_key}",
                                                         keep_slash=True),
                   "x-amz-metadata-directive": "COPY"}
        headers.update(_creating(create_only))
        if not copy_tags:  # the tags are copied unless replaced (here: by none)
            headers["x-amz-tagging-directive"] = "REPLACE"
        if storage_class:
            headers["x-amz-storage-class"] = storage_class
        if if_match:
            headers["x-amz-copy-source-if-match"] = f'"{if_match}"'
        response, data = self._read_ok(Op.COPY, "PUT", bucket, key, headers=headers)
        found = _ETAG.search(data)
        return Written.of(response, unescape(found.group(1).decode()) if found else "")

    def create_multipart_upload(self, bucket: str, key: str, headers: dict[str, str]) -> str:
        """A new upload's ID. A Create whose answer was lost (or that failed with a 5xx)
        may have made an upload all the same, whose ID only that answer held: after such a
        retry, the key's other uploads begun since are aborted, not left billed."""
        began = time.monotonic()
        retried: list[bool] = []
        try:
            response, data = self._read_ok(Op.MPU_CREATE, "POST", bucket, key,
                                           query={"uploads": ""}, headers=headers,
                                           retried=lambda: retried.append(True))
        except (S3Error, TransportError):
            if retried:  # every try failed, but one whose answer was lost may have made one
                now = self.endpoint.clock.time()
                self._abort_strays(bucket, key, "", now - (time.monotonic() - began) - 1,
                                   now + 1)
            raise
        found = _UPLOAD_ID.search(data)
        if not found:
            raise S3Error(500, "MalformedResponse", "no UploadId in response",
                          operation=Op.MPU_CREATE.value, bucket=bucket, key=key)
        upload_id = unescape(found.group(1).decode())
        if retried:
            # The lost attempts began on the server within the time the tries took before
            # its answer (its Date, whole seconds like Initiated): only uploads begun then
            # are taken for them, never another writer's of the same key.
            answered = (server_time(None, response.headers.get("date"))
                        or self.endpoint.clock.time())
            took = time.monotonic() - began
            self._abort_strays(bucket, key, upload_id, answered - took - 1, answered + 1)
        return upload_id

    def _abort_strays(self, bucket: str, key: str, kept: str, since: float,
                      until: float) -> None:
        """Abort the uploads of `key` begun between `since` and `until` (server time), but
        `kept`. Best effort: a store that cannot list uploads leaves them to a lifecycle
        rule."""
        try:
            _, data = self._exchange(Op.LIST, "GET", bucket, None,
                                     query={"uploads": "", "prefix": key,
                                            "encoding-type": "url"})
            strays = [upload_id for upload_key, upload_id, initiated in parse_uploads(data)
                      if upload_key == key and upload_id != kept
                      and since <= initiated <= until]
            for upload_id in strays:
                self.abort_multipart_upload(bucket, key, upload_id)
        except (S3Error, TransportError, ListingParseError):
            return

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int,
                    body: bytes | bytearray | memoryview, *, content_md5: str) -> Written:
        response, _ = self._exchange(Op.MPU_PART, "PUT", bucket, key,
                                     query={"partNumber": str(number), "uploadId": upload_id},
                                     headers={"content-md5": content_md5}, body=body)
        return Written.of(response)

    def upload_part_copy(self, src_bucket: str, src_key: str, bucket: str, key: str,
                         upload_id: str, number: int, byte_range: tuple[int, int], *,
                         if_match: str | None) -> str:
        headers = {"x-amz-copy-source": "/" + uri_encode(f"{src_bucket}/{src_key}",
                                                         keep_slash=True),
                   "x-amz-copy-source-range": f"bytes={byte_range[0]}-{byte_range[1]}"}
        if if_match:
            headers["x-amz-copy-source-if-match"] = f'"{if_match}"'
        _, data = self._read_ok(Op.MPU_PART_COPY, "PUT", bucket, key,
                                query={"partNumber": str(number), "uploadId": upload_id},
                                headers=headers)
        found = _ETAG.search(data)
        return unescape(found.group(1).decode()) if found else ""

    def complete_multipart_upload(self, bucket: str, key: str, upload_id: str,
                                  parts: list[Part], *, create_only: bool = False) -> str:
        """`create_only`: completed only if no object has the key (If-None-Match: *)."""
        xml = "".join(f"<Part><PartNumber>{p.number}</PartNumber><ETag>{p.etag}</ETag></Part>"
                      for p in parts)
        body = f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>".encode()
        body_md5 = base64.b64encode(md5(body).digest()).decode()
        _, data = self._read_ok(Op.MPU_COMPLETE, "POST", bucket, key,
                                query={"uploadId": upload_id},
                                headers={"content-md5": body_md5,
                                         "content-type": "application/xml",
                                         **_creating(create_only)}, body=body)
        found = _ETAG.search(data)
        return unescape(found.group(1).decode()) if found else ""

    def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self._exchange(Op.MPU_ABORT, "DELETE", bucket, key, query={"uploadId": upload_id},
                       ok=(200, 204, 404))
