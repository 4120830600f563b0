"""A real forwarding HTTP proxy on 127.0.0.1, for the proxy tests.

It does what squid or a corporate egress proxy does with the two request shapes a client
sends: `CONNECT host:port` opens a tunnel (the client then speaks TLS end to end), and a
request in absolute form (`GET http://host:port/path HTTP/1.1`) is forwarded to that host
(the servers in the tests accept absolute form, as RFC 9112 requires). With `credentials`,
a request without the matching Proxy-Authorization gets 407. Every connection's first
request line and its Proxy-Authorization header are recorded.
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    authorization: str | None


class _Listener:
    """A port on 127.0.0.1 whose every connection is served by `_serve` in its own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError


class ForwardProxy(_Listener):
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.expected = None
        if credentials:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            self.expected = f"Basic {token}"
        self.seen: list[Seen] = []
        self.refused = 0
        super().__init__()

    def url(self, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def _serve(self, client: socket.socket) -> None:
        with contextlib.closing(client):
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip()
                       for k, _, v in (line.partition(":") for line in lines[1:])}
            authorization = headers.get("proxy-authorization")
            with self._lock:
                self.seen.append(Seen(method, target, authorization))
            if self.expected and authorization != self.expected:
                with self._lock:
                    self.refused += 1
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                               b"Proxy-Authenticate: Basic realm=\"test\"\r\n"
                               b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((host.strip("[]"), int(port)))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                leftover = head.split(b"\r\n\r\n", 1)[1]
            else:
                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname, parts.port or 80))
                leftover = head  # absolute form is forwarded as it is
            with contextlib.closing(upstream):
                if leftover:
                    upstream.sendall(leftover)
                _pipe(client, upstream)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    peers = {a: b, b: a}
    while True:
        readable, _, _ = select.select(list(peers), [], [], 60)
        if not readable:
            return
        for sock in readable:
            try:
                data = sock.recv(262144)
            except OSError:
                return
            if not data:
                return
            peers[sock].sendall(data)


class Relay(_Listener):
    """A TCP relay in front of a server, playing a poor link. With `rate`, the server's
    answers go at that many bytes/s, so a transfer is reliably still in flight when a test
    acts on it. With `cut_after`, the first connection whose answers pass that many bytes
    is cut there (the link drops mid-body), once. While `stalled` is set, nothing passes
    either way: a server that stopped answering, connections left open."""

    def __init__(self, port: int, rate: int = 0, cut_after: int = 0) -> None:
        self.target, self.rate = port, rate
        self.cut_after, self.cuts = cut_after, 0
        self.stalled = threading.Event()
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._copy, args=(server, client, self.rate, True),
                         daemon=True).start()
        self._copy(client, server, None)

    def _copy(self, src: socket.socket, dst: socket.socket, rate: int | None,
              answers: bool = False) -> None:
        chunk = min(65536, rate // 10) if rate else 65536
        sent = 0
        try:
            while data := src.recv(chunk):
                while self.stalled.is_set() and not self._closed:
                    time.sleep(0.05)
                if answers and self.cut_after and sent + len(data) > self.cut_after:
                    with self._lock:
                        cut, self.cuts = not self.cuts, 1
                    if cut:
                        dst.sendall(data[: self.cut_after - sent])
                        return
                dst.sendall(data)
                sent += len(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
