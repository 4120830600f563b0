"""A counting HTTP/1.1 proxy: every S3 request a tool makes, by operation, exactly.

Put in front of a server for a separate, untimed pass (a Python proxy adds latency, so
timed runs go direct). It forwards bytes unchanged and classifies each request the way S3
bills it: LIST, HEAD, GET, PUT, COPY, the multipart steps, DELETE. It also records the
keys written (PUT, COPY, completed multipart uploads), so a benchmark can check that a tool
wrote exactly the keys that changed, and the most requests of each operation that were in
flight at once (from a request's head to its response's head).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlsplit


def classify(method: str, target: str, headers: dict[str, str]) -> tuple[str, str | None]:
    """(operation, key) for one request in path-style addressing."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    path = unquote(parts.path)
    bucket_and_key = path.lstrip("/").split("/", 1)
    key = bucket_and_key[1] if len(bucket_and_key) == 2 and bucket_and_key[1] else None
    copy = "x-amz-copy-source" in headers
    if method == "GET":
        if key is not None and "tagging" in query:
            return "GET_TAGGING", key
        return ("LIST", None) if key is None else ("GET", key)
    if method == "HEAD":
        return "HEAD", key
    if method == "PUT":
        if key is None:
            return "CREATE_BUCKET", None
        if "partNumber" in query:
            return ("MPU_PART_COPY" if copy else "MPU_PART"), key
        return ("COPY" if copy else "PUT"), key
    if method == "POST":
        if "uploads" in query:
            return "MPU_CREATE", key
        if "uploadId" in query:
            return "MPU_COMPLETE", key
        return ("DELETE" if "delete" in query else "POST"), key
    if method == "DELETE":
        return ("MPU_ABORT" if "uploadId" in query else "DELETE"), key
    return method, key


WRITES = {"PUT", "COPY", "MPU_COMPLETE"}


Answer = Callable[[str, str, dict[str, str]], bytes | None]
Tamper = Callable[[str, str, dict[str, str]], int | None]
Lose = Callable[[str, str, dict[str, str]], bool]


class CountingProxy:
    """Listens on 127.0.0.1:<port> and forwards to `upstream` (host, port). With `answer`,
    a request it returns a response for (method, target, headers) is answered with it
    instead of being forwarded: a store that refuses one kind of request, for the tests.
    With `tamper`, the answer to a request it returns an offset for has the byte at that
    offset of its body flipped: a link that corrupts data in transit. With `lose`, a
    request it returns True for reaches the server, and its answer is lost: the connection
    is dropped once the server has answered."""

    def __init__(self, upstream_host: str, upstream_port: int,
                 answer: Answer | None = None, tamper: Tamper | None = None,
                 lose: Lose | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.answer, self.tamper, self.lose = answer, tamper, lose
        self.counts: Counter[str] = Counter()
        self.written: list[str] = []
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.written.clear()
            self.peak.clear()

    def snapshot(self) -> tuple[dict[str, int], list[str]]:
        with self._lock:
            return dict(sorted(self.counts.items())), list(self.written)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0, limit=1 << 20))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.close()

    def close(self) -> None:
        """Stop listening, end the connections still open (a client's keep-alive), stop."""
        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream, limit=1 << 20)
        except OSError:
            writer.close()
            return
        try:
            while await self._exchange(reader, writer, up_reader, up_writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            up_writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter,
                        ) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        method, target, headers = _parse_request(head)
        op, key = classify(method, target, headers)
        with self._lock:
            self.in_flight[op] += 1
            self.peak[op] = max(self.peak[op], self.in_flight[op])
        answered = False  # the exchange broke before an answer: no longer in flight either
        refusal = self.answer(method, target, headers) if self.answer else None
        flip = self.tamper(method, target, headers) if self.tamper else None
        try:
            if refusal is not None and "chunked" not in headers.get("transfer-encoding", ""):
                await reader.readexactly(int(headers.get("content-length", "0")))
                answered = True
                self._count(op, key, refusal)  # before the client can see the answer
                writer.write(refusal)
                await writer.drain()
                return True
            up_writer.write(head)
            if headers.get("expect", "").lower() == "100-continue":
                await up_writer.drain()
                interim = await up_reader.readuntil(b"\r\n\r\n")
                final = not interim.split(b" ", 2)[1].startswith(b"100")
                if final:
                    answered = True
                    self._count(op, key, interim)
                writer.write(interim)
                await writer.drain()
                if final:
                    return await _forward_body(up_reader, writer, _headers_of(interim), method,
                                               _status(interim))
            await _forward_body(reader, up_writer, headers, None)
            response = await up_reader.readuntil(b"\r\n\r\n")
            if self.lose is not None and self.lose(method, target, headers):
                answered = True
                self._count(op, key, response)
                return False  # the server acted; its answer never reaches the client
            while _status(response) == 100:
                writer.write(response)
                response = await up_reader.readuntil(b"\r\n\r\n")
            # counted before the client can see the answer: a client that reads the counts
            # once answered (a test, the benchmark's pass) must find its request in them
            answered = True
            self._count(op, key, response)
            writer.write(response)
            return await _forward_body(up_reader, writer, _headers_of(response), method,
                                       _status(response), flip)
        finally:
            if not answered:
                with self._lock:
                    self.in_flight[op] -= 1

    def _count(self, op: str, key: str | None, response: bytes) -> None:
        status = _status(response)
        with self._lock:
            self.in_flight[op] -= 1
            self.counts[op] += 1
            if op in WRITES and key is not None and status < 300:
                self.written.append(key)


def _status(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


def _headers_of(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return headers


def _parse_request(head: bytes) -> tuple[str, str, dict[str, str]]:
    method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    return method, target, _headers_of(head)


async def _forward_body(source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                        headers: dict[str, str], request_method: str | None,
                        status: int | None = None, flip: int | None = None) -> bool:
    """Copy one message body; return whether the connection stays open afterwards.

    `request_method` is None for a request body, else the method the response answers.
    `flip`: the offset of a byte to flip on the way (a body with a Content-Length).
    """
    keep_alive = headers.get("connection", "").lower() != "close"
    if request_method == "HEAD" or status in (204, 304):
        await sink.drain()
        return keep_alive
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await source.readuntil(b"\r\n")
            sink.write(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (line := await source.readuntil(b"\r\n")) != b"\r\n":
                    sink.write(line)
                sink.write(b"\r\n")
                break
            sink.write(await source.readexactly(size + 2))
    elif "content-length" in headers:
        remaining = int(headers["content-length"])
        at = 0
        while remaining:
            chunk = await source.read(min(remaining, 1 << 20))
            if not chunk:
                raise ConnectionError("body ended early")
            if flip is not None and at <= flip < at + len(chunk):
                flipped = bytearray(chunk)
                flipped[flip - at] ^= 0x01
                chunk = bytes(flipped)
            at += len(chunk)
            sink.write(chunk)
            remaining -= len(chunk)
            await sink.drain()
    elif request_method is not None:  # a response with neither: the body runs to the close
        while chunk := await source.read(1 << 20):
            sink.write(chunk)
        await sink.drain()
        return False
    await sink.drain()
    return keep_alive
