"""A small HTTP/1.1 client with persistent connections, built for S3 traffic.

Why not http.client or urllib3: on small objects a Python mirror is bound by the CPU it
spends per request, and http.client parses every response's headers through the email
package. Measured on the project's 2-core machine, a GET of a 1-16 KiB object costs about
350 us of CPU through http.client and about 120 us through this module. The benchmark
(`bench/`) and the README's performance section carry the numbers.

What it does: one request at a time per connection, Content-Length and chunked bodies,
keep-alive with a LIFO pool per endpoint, TLS through the standard `ssl` module, HTTP
proxies (mirror/s3/proxy.py), explicit connect and read timeouts, and bodies either read
whole or streamed into caller buffers.
It never decodes Content-Encoding: the bytes of a gzip object are copied as stored.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

from mirror.s3.proxy import Proxy, ProxyError, authority, proxy_auth_message, tunnel

_CRLF2 = b"\r\n\r\n"
_RECV = 16 * 1024
_MAX_HEAD = 64 * 1024


class TransportError(Exception):
    """The request did not get an HTTP response: refused, reset, timed out, TLS failure.

    `retryable` is false for failures that another attempt cannot fix (a certificate that
    does not verify, a host name that does not resolve). `setting`, where the endpoint's
    own setting is the likely cause: "url" (the host does not resolve or answer),
    "ca-file" (its certificate does not verify), "scheme" (https:// to a server that does
    not speak TLS), "proxy" (the proxy does not resolve or answer); None otherwise.
    """

    def __init__(self, message: str, *, retryable: bool, setting: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.setting = setting


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0


class _Connection:
    """A socket plus the bytes already received from it but not yet consumed."""

    __slots__ = ("__weakref__", "_buf", "_pos", "cut", "reused", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""
        self._pos = 0
        self.reused = False
        self.cut = False  # abandoned on purpose (`ConnectionPool.abandon`): never resent

    def _fill(self) -> None:
        data = self.sock.recv(_RECV)
        if not data:
            raise ConnectionResetError("connection closed by server")
        if self._pos < len(self._buf):
            self._buf = self._buf[self._pos :] + data
        else:
            self._buf = data
        self._pos = 0

    def _advance(self, pos: int) -> None:
        """Consume the received bytes up to `pos`, and drop the block once all are consumed
        (an idle connection keeps no block)."""
        if pos >= len(self._buf):
            self._buf, self._pos = b"", 0
        else:
            self._pos = pos

    def read_head(self) -> bytes:
        while True:
            end = self._buf.find(_CRLF2, self._pos)
            if end >= 0:
                head = self._buf[self._pos : end]
                self._advance(end + 4)
                return head
            if len(self._buf) - self._pos > _MAX_HEAD:
                raise ConnectionResetError("response headers too large")
            self._fill()

    def read_line(self) -> bytes:
        while True:
            end = self._buf.find(b"\r\n", self._pos)
            if end >= 0:
                line = self._buf[self._pos : end]
                self._advance(end + 2)
                return line
            self._fill()

    def read_exact(self, n: int) -> bytes:
        have = len(self._buf) - self._pos
        if have >= n:
            out = self._buf[self._pos : self._pos + n]
            self._advance(self._pos + n)
            return out
        parts = [self._buf[self._pos :]]
        self._buf, self._pos = b"", 0
        need = n - have
        while need:
            data = self.sock.recv(min(need, 1 << 20))
            if not data:
                raise ConnectionResetError("connection closed mid-body")
            parts.append(data)
            need -= len(data)
        return b"".join(parts)

    def read_to_close(self) -> bytes:
        parts = [self._buf[self._pos :]]
        self._buf, self._pos = b"", 0
        while data := self.sock.recv(_RECV):
            parts.append(data)
        return b"".join(parts)

    def readinto(self, view: memoryview) -> int:
        """Read at least one byte into `view` (from the buffer first, then the socket)."""
        have = len(self._buf) - self._pos
        if have:
            n = min(have, len(view))
            view[:n] = self._buf[self._pos : self._pos + n]
            self._advance(self._pos + n)
            return n
        n = self.sock.recv_into(view)
        if not n:
            raise ConnectionResetError("connection closed mid-body")
        return n

    def is_stale(self) -> bool:
        """An idle keep-alive connection the server closed (or wrote to) is not reusable."""
        if self._pos < len(self._buf):
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Response:
    """Status, lower-cased headers, and a body read whole or streamed.

    A streamed response must be read to the end or closed; only then does its connection
    go back to the pool (or get discarded, if the body was abandoned half-way).
    """

    def __init__(self, pool: ConnectionPool, conn: _Connection, status: int, reason: str,
                 headers: dict[str, str], body_allowed: bool) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = b""  # the whole body, where the client read it before handing it over
        self._pool = pool
        self._conn: _Connection | None = conn
        self._keep_alive = headers.get("connection", "").lower() != "close"
        self._chunked = body_allowed and "chunked" in headers.get("transfer-encoding", "").lower()
        self._until_close = False
        if not body_allowed:
            self._remaining = 0
        elif self._chunked:
            self._remaining = -1
        elif "content-length" in headers:
            self._remaining = int(headers["content-length"])
        else:
            self._remaining = -1
            self._until_close = True
            self._keep_alive = False
        self._chunk_left = 0
        if self._remaining == 0:
            self._finish()

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn, reusable=self._keep_alive)

    def close(self) -> None:
        """Abandon the rest of the body; the connection is closed, not reused."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn, reusable=False)

    def _fail(self, exc: BaseException) -> NoReturn:
        """Drop the connection of a body that broke, and raise what `exc` amounts to."""
        self.close()
        err = _body_error(exc)
        if err is exc:
            raise exc
        raise err from exc

    @property
    def done(self) -> bool:
        return self._conn is None

    def read(self) -> bytes:
        """The whole (remaining) body."""
        conn = self._conn
        if conn is None:
            return b""
        try:
            if self._chunked:
                parts = []
                while True:
                    chunk = self._next_chunk(conn, 1 << 30)
                    if not chunk:
                        break
                    parts.append(chunk)
                data = b"".join(parts)
            elif self._until_close:
                data = conn.read_to_close()
            else:
                data = conn.read_exact(self._remaining)
                self._remaining = 0
        except BaseException as exc:
            self._fail(exc)
        self._finish()
        return data

    def readinto(self, view: memoryview) -> int:
        """Fill `view` with up to len(view) body bytes; 0 means the body is complete."""
        conn = self._conn
        if conn is None:
            return 0
        filled = 0
        try:
            while filled < len(view):
                if self._chunked:
                    chunk = self._next_chunk(conn, len(view) - filled)
                    if not chunk:
                        break
                    view[filled : filled + len(chunk)] = chunk
                    filled += len(chunk)
                    continue
                if self._until_close:
                    try:
                        n = conn.readinto(view[filled:])
                    except ConnectionResetError:
                        self._finish()
                        return filled
                    filled += n
                    continue
                if self._remaining == 0:
                    break
                n = conn.readinto(view[filled : filled + min(self._remaining, len(view) - filled)])
                filled += n
                self._remaining -= n
        except BaseException as exc:
            self._fail(exc)
        if self._remaining == 0 and not self._until_close:
            self._finish()
        return filled

    def _next_chunk(self, conn: _Connection, limit: int) -> bytes:
        if self._chunk_left == 0:
            size_line = conn.read_line()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while conn.read_line():  # trailers, then the empty line
                    pass
                self._remaining = 0
                self._finish()
                return b""
            self._chunk_left = size
        n = min(self._chunk_left, limit)
        data = conn.read_exact(n)
        self._chunk_left -= n
        if self._chunk_left == 0:
            conn.read_exact(2)  # the CRLF after each chunk
        return data


def _body_error(exc: BaseException) -> BaseException:
    """Socket failures while reading a body become retryable transport errors."""
    if isinstance(exc, TimeoutError):
        return TransportError("timed out reading the response body", retryable=True)
    if isinstance(exc, (OSError, ValueError)):
        return TransportError(f"connection lost reading the response body: {exc}", retryable=True)
    return exc


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ConnectionResetError(f"not an HTTP response: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key, val = name.strip().lower(), value.strip(" \t")  # not \xa0: a UTF-8 byte here
        headers[key] = f"{headers[key]}, {val}" if key in headers else val
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


class ConnectionPool:
    """Persistent connections to one scheme://host:port, shared by all threads."""

    def __init__(self, scheme: str, host: str, port: int, *, timeouts: Timeouts = Timeouts(),
                 ssl_context: ssl.SSLContext | None = None, max_idle: int = 64,
                 proxy: Proxy | None = None) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.timeouts = timeouts
        self.proxy = proxy
        # Through a proxy, http requests name their target in full (absolute form) and
        # carry the proxy's credentials; https ones go through a CONNECT tunnel instead.
        self._absolute = proxy is not None and scheme == "http"
        self._prefix = f"http://{authority(host, port)}" if self._absolute else ""
        self._ssl = ssl_context if scheme == "https" else None
        if scheme == "https" and self._ssl is None:
            self._ssl = ssl.create_default_context()
        self._idle: list[_Connection] = []
        self._live: weakref.WeakSet[_Connection] = weakref.WeakSet()  # every open connection
        self._lock = threading.Lock()
        self._max_idle = max_idle
        self._closed = False

    def _connect(self) -> _Connection:
        host, port = (self.proxy.host, self.proxy.port) if self.proxy else (self.host, self.port)
        where = f"proxy {host}:{port}" if self.proxy else f"{host}:{port}"
        setting = "proxy" if self.proxy else "url"
        try:
            sock = socket.create_connection((host, port), timeout=self.timeouts.connect)
        except socket.gaierror as exc:
            raise TransportError(f"cannot resolve {'proxy' if self.proxy else 'host'} "
                                 f"{host!r}: {exc.strerror}", retryable=False,
                                 setting=setting) from exc
        except ConnectionRefusedError as exc:
            raise TransportError(f"connection refused by {where}", retryable=True,
                                 setting=setting) from exc
        except TimeoutError as exc:
            raise TransportError(f"connecting to {where} timed out after "
                                 f"{self.timeouts.connect:g}s", retryable=True,
                                 setting=setting) from exc
        except OSError as exc:
            raise TransportError(f"cannot connect to {where}: {exc.strerror or exc}",
                                 retryable=True, setting=setting) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.timeouts.read)
        if self.proxy is not None and self.scheme == "https":
            try:
                tunnel(sock, self.proxy, self.host, self.port)
            except ProxyError as exc:
                sock.close()
                raise TransportError(str(exc), retryable=exc.retryable) from exc
            except OSError as exc:
                sock.close()
                raise TransportError(f"CONNECT through proxy {self.proxy.address} failed: "
                                     f"{exc}", retryable=True) from exc
        if self._ssl is not None:
            try:
                sock = self._ssl.wrap_socket(sock, server_hostname=self.host)
            except ssl.SSLCertVerificationError as exc:
                sock.close()
                raise TransportError(f"TLS certificate of {self.host} does not verify: "
                                     f"{exc.verify_message}", retryable=False,
                                     setting="ca-file") from exc
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                plain = getattr(exc, "reason", None) == "WRONG_VERSION_NUMBER"
                raise TransportError(f"TLS handshake with {self.host} failed: {exc}",
                                     retryable=True, setting="scheme" if plain else None) from exc
        conn = _Connection(sock)
        with self._lock:
            self._live.add(conn)
        return conn

    def abandon(self) -> int:
        """Cut every connection a request is using: a read or write blocked on a server
        that stopped answering fails at once instead of waiting out the read timeout.
        Connections opened afterwards (an upload's abort) are not affected. Returns how
        many were cut."""
        with self._lock:
            busy = [conn for conn in self._live if conn not in self._idle]
        for conn in busy:
            conn.cut = True
            with contextlib.suppress(OSError):  # on the socket, not its TLS layer's state
                socket.socket.shutdown(conn.sock, socket.SHUT_RDWR)
        return len(busy)

    def _acquire(self) -> _Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.is_stale():
                    conn.reused = True
                    return conn
                conn.close()
        return self._connect()

    def release(self, conn: _Connection, *, reusable: bool) -> None:
        if reusable and not self._closed:
            with self._lock:
                if len(self._idle) < self._max_idle:
                    self._idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def request(self, method: str, target: str, headers: dict[str, str],
                body: bytes | bytearray | memoryview | None = None,
                chunks: Iterable[bytes | memoryview] | None = None,
                resent: Callable[[], None] | None = None,
                sending: Callable[[], None] | None = None) -> Response:
        """Send one request and read the response head; the body is left to the caller.

        `body` is sent whole; `chunks` streams a body whose content-length is in `headers`,
        pulling each chunk only once the previous one is sent (a stream is sent once: it
        cannot be replayed). A reused keep-alive connection found dead before any response
        byte arrived is replaced once, transparently, for a request with a whole body; as
        an idle connection the server closed is never taken (`is_stale`), the request most
        likely reached the server (and was billed): `resent` is told. `sending` is told
        once a connection is up and the request is about to go out: a request that found no
        server (refused, unresolvable, TLS or proxy failure) was never sent, nor billed.
        """
        raw_head = self._head(method, target, headers, body)
        for attempt in (0, 1):
            conn = self._acquire()
            if attempt == 0 and sending is not None:
                sending()
            try:
                early = self._write(conn, raw_head, body, chunks)
                if early is not None:
                    return early
                status, reason, resp_headers = _parse_head(conn.read_head())
                while status == 100:
                    status, reason, resp_headers = _parse_head(conn.read_head())
            except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as exc:
                conn.close()
                if conn.reused and attempt == 0 and chunks is None and not conn.cut:
                    if resent is not None:
                        resent()
                    continue
                raise TransportError(f"connection to {self.host}:{self.port} lost: {exc}",
                                     retryable=True) from exc
            except TimeoutError as exc:
                conn.close()
                raise TransportError(f"no response from {self.host}:{self.port} within "
                                     f"{self.timeouts.read:g}s", retryable=True) from exc
            except (OSError, ValueError) as exc:
                conn.close()
                raise TransportError(f"request to {self.host}:{self.port} failed: {exc}",
                                     retryable=True) from exc
            except BaseException:  # the chunks' producer failed (e.g. the source GET broke)
                conn.close()
                raise
            if status == 407 and self.proxy is not None:
                conn.close()
                raise TransportError(proxy_auth_message(self.proxy), retryable=False)
            body_allowed = method != "HEAD" and status not in (204, 304)
            return Response(self, conn, status, reason, resp_headers, body_allowed)
        raise AssertionError("unreachable")  # pragma: no cover

    def _head(self, method: str, target: str, headers: dict[str, str],
              body: bytes | bytearray | memoryview | None) -> bytes:
        head = [f"{method} {self._prefix}{target} HTTP/1.1"]
        head.extend(f"{k}: {v}" for k, v in headers.items())
        if self._absolute and self.proxy and self.proxy.authorization:
            head.append(f"proxy-authorization: {self.proxy.authorization}")
        if body is not None and "content-length" not in headers:
            head.append(f"content-length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")

    def _write(self, conn: _Connection, raw_head: bytes,
               body: bytes | bytearray | memoryview | None,
               chunks: Iterable[bytes | memoryview] | None) -> Response | None:
        if chunks is not None:
            conn.sock.sendall(raw_head)
            return self._stream(conn, chunks)
        if body is not None and len(body) <= 64 * 1024:
            conn.sock.sendall(raw_head + bytes(body))
            return None
        conn.sock.sendall(raw_head)
        if body is not None:
            conn.sock.sendall(body)
        return None

    def _stream(self, conn: _Connection, chunks: Iterable[bytes | memoryview],
                ) -> Response | None:
        """Send the chunks; if the server answers and hangs up mid-body (an early error),
        return that answer instead of losing it."""
        try:
            for chunk in chunks:
                conn.sock.sendall(chunk)
        except (ConnectionResetError, BrokenPipeError) as exc:
            try:
                status, reason, headers = _parse_head(conn.read_head())
            except OSError:
                raise exc from None
            response = Response(self, conn, status, reason, headers, True)
            response._keep_alive = False
            return response
        return None
