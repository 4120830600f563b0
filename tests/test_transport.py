"""The HTTP transport and S3 client on the edge cases real servers produce only sometimes.

A scripted server on a real socket answers each request with the next raw response of its
script, so chunked bodies, dropped keep-alive connections, timeouts, SlowDown and
"200 with an error inside" can be produced on demand.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from mirror.s3.accounting import RequestCounter
from mirror.s3.client import EndpointConfig, Part, PoolRegistry, RetryPolicy, S3Client
from mirror.s3.errors import S3Error, Severity
from mirror.s3.http import ConnectionPool, Timeouts, TransportError
from mirror.s3.listing import ListingParseError
from mirror.s3.sigv4 import Credentials, CredentialSource
from mirror.scan import Scope, flat

Reply = bytes | Callable[[socket.socket], None]
Start = Callable[..., "ScriptedServer"]


class ScriptedServer:
    """Answers request n with script[n]; `close_after` closes the connection after a reply."""

    def __init__(self, script: list[Reply], close_after: set[int] | None = None,
                 host: str = "127.0.0.1") -> None:
        self.script = script
        self.close_after = close_after or set()
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # a client that hangs up mid-way: its choice
            self._exchange(conn)

    def _exchange(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                buffer = buffer[length:]
                index = len(self.requests) - 1
                reply = self.script[min(index, len(self.script) - 1)]
                if callable(reply):
                    reply(conn)
                else:
                    conn.sendall(reply)
                if index in self.close_after:
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: list[Reply], close_after: set[int] | None = None,
              host: str = "127.0.0.1") -> ScriptedServer:
        servers.append(ScriptedServer(script, close_after, host))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def ok(body: bytes = b"hello", extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n{extra}\r\n").encode() + body


def answer(status: str, body: str | bytes, extra: str = "") -> bytes:
    """A raw HTTP answer: `status` as in the status line ("501 Not Implemented"), `extra`
    more header lines, each ending in CRLF."""
    data = body.encode() if isinstance(body, str) else body
    return f"HTTP/1.1 {status}\r\n{extra}content-length: {len(data)}\r\n\r\n".encode() + data


def s3_error(status: str, code: str, message: str) -> bytes:
    return answer(status, f"<Error><Code>{code}</Code><Message>{message}</Message></Error>")


def chunked(*chunks: bytes) -> bytes:
    body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + body


def pool_for(server: ScriptedServer, read: float = 5.0) -> ConnectionPool:
    return ConnectionPool("http", "127.0.0.1", server.port, timeouts=Timeouts(2.0, read))


def test_chunked_bodies_are_decoded_whole_and_streamed(scripted: Start) -> None:
    """A chunked body reads the same whole or through small buffers."""
    server = scripted([chunked(b"abc", b"defgh", b"i" * 70000)])
    pool = pool_for(server)
    assert pool.request("GET", "/", {}).read() == b"abcdefgh" + b"i" * 70000
    response = pool.request("GET", "/", {})
    buf = bytearray(1000)
    got = b""
    while n := response.readinto(memoryview(buf)):
        got += bytes(buf[:n])
    assert got == b"abcdefgh" + b"i" * 70000
    assert server.connections == 1


def test_keep_alive_reuses_one_connection_and_head_has_no_body(scripted: Start) -> None:
    """Requests share a connection; a HEAD's Content-Length announces no body to read."""
    server = scripted([ok(b"first"), b"HTTP/1.1 200 OK\r\ncontent-length: 12345\r\n\r\n",
                       ok(b"third")])
    pool = pool_for(server)
    assert pool.request("GET", "/1", {}).read() == b"first"
    head = pool.request("HEAD", "/2", {})
    assert (head.status, head.headers["content-length"], head.read()) == (200, "12345", b"")
    assert pool.request("GET", "/3", {}).read() == b"third"
    assert server.connections == 1


def test_a_connection_the_server_dropped_is_replaced_transparently(scripted: Start) -> None:
    """A keep-alive connection closed while idle costs a reconnect, not a failed request."""
    server = scripted([ok(b"one"), ok(b"two")], close_after={0})
    pool = pool_for(server)
    assert pool.request("GET", "/1", {}).read() == b"one"
    assert pool.request("GET", "/2", {}).read() == b"two"
    assert server.connections == 2


def test_an_abandoned_body_closes_its_connection(scripted: Start) -> None:
    """A body not read to its end must not leave bytes for the next request to misread."""
    server = scripted([ok(b"x" * 100000), ok(b"next")])
    pool = pool_for(server)
    response = pool.request("GET", "/big", {})
    response.readinto(memoryview(bytearray(10)))
    response.close()
    assert pool.request("GET", "/next", {}).read() == b"next"
    assert server.connections == 2


def test_a_body_without_length_is_read_to_the_close(scripted: Start) -> None:
    """HTTP/1.0 style: no Content-Length, the body ends when the server closes."""
    server = scripted([b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end"],
                      close_after={0})
    assert pool_for(server).request("GET", "/", {}).read() == b"until the end"


def test_timeouts_and_refused_connections_are_retryable_transport_errors(scripted: Start) -> None:
    """No answer in time, or nobody listening, is a TransportError the client may retry."""
    server = scripted([lambda conn: threading.Event().wait(3)])
    with pytest.raises(TransportError, match=r"no response .* within 0\.3s") as timeout:
        pool_for(server, read=0.3).request("GET", "/", {})
    assert timeout.value.retryable
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    port = refused.getsockname()[1]
    refused.close()
    with pytest.raises(TransportError, match="connection refused") as error:
        ConnectionPool("http", "127.0.0.1", port).request("GET", "/", {})
    assert error.value.retryable


def client_for(server: ScriptedServer) -> S3Client:
    creds = CredentialSource(Credentials("AKIDEXAMPLE", "secret-for-signing"))
    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}", "us-east-1", creds)
    return S3Client(endpoint, PoolRegistry(), RequestCounter(), RetryPolicy(attempts=3,
                                                                            base_delay=0.01))


SLOW_DOWN = (b"HTTP/1.1 503 Slow Down\r\ncontent-length: 74\r\n\r\n"
             b"<Error><Code>SlowDown</Code><Message>Please reduce</Message></Error>      ")
EMPTY_LIST = ok(b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")


def test_slowdown_is_retried_and_every_attempt_is_counted(scripted: Start) -> None:
    """503 SlowDown is retried with backoff; each attempt is a billed request."""
    server = scripted([SLOW_DOWN, SLOW_DOWN, EMPTY_LIST])
    client = client_for(server)
    assert client.list_page("bucket", "").objects == []
    assert client.counter.snapshot() == {"LIST": 3}


def test_an_answer_cut_off_mid_body_is_asked_for_again(scripted: Start) -> None:
    """A listing page whose connection drops half-way through its XML is asked for again
    (and billed again, so counted), like any transient failure: one lost packet does not
    fail a pair."""
    page = (b"<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key>"
            b"<Size>1</Size><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag>"
            b"<LastModified>2025-01-01T00:00:00.000Z</LastModified></Contents>"
            b"</ListBucketResult>")
    cut = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(page) + page[:40]
    server = scripted([cut, ok(page)], close_after={0})
    client = client_for(server)

    assert [o.key for o in client.list_page("bucket", "").objects] == ["a"]
    assert client.counter.snapshot() == {"LIST": 2}


def test_retries_end_in_an_error_that_says_what_to_do(scripted: Start) -> None:
    """After the last attempt the error carries its code and is marked transient."""
    server = scripted([SLOW_DOWN])
    with pytest.raises(S3Error) as error:
        client_for(server).list_page("bucket", "")
    assert (error.value.code, error.value.severity) == ("SlowDown", Severity.RETRY)
    assert len(server.requests) == 3


def test_a_listing_that_repeats_its_continuation_token_ends_in_an_error(
        scripted: Start) -> None:
    """A server that answers token T with T again would be listed forever (and billed per
    LIST): the scan stops at the first repeat."""
    looping = ok(b"<ListBucketResult><IsTruncated>true</IsTruncated>"
                 b"<NextContinuationToken>T</NextContinuationToken></ListBucketResult>")
    server = scripted([looping] * 5 + [EMPTY_LIST])  # a regression fails, not hangs
    client = client_for(server)

    with pytest.raises(ListingParseError, match="the listing of bucket would never end"):
        list(flat(client, Scope("bucket", "", 0)))

    assert client.counter.snapshot() == {"LIST": 2}


def test_not_implemented_is_not_asked_again(scripted: Start) -> None:
    """501 NotImplemented is the store's answer to what was asked, not a passing failure:
    it is not retried (a 5xx otherwise is)."""
    server = scripted([s3_error("501 Not Implemented", "NotImplemented", "not here"),
                       EMPTY_LIST])
    with pytest.raises(S3Error) as error:
        client_for(server).list_page("bucket", "")
    assert (error.value.code, error.value.severity) == ("NotImplemented", Severity.OBJECT)
    assert len(server.requests) == 1


def test_an_error_inside_a_200_response_is_an_error(scripted: Start) -> None:
    """CompleteMultipartUpload can answer 200 with an <Error> body; that is not a success."""
    server = scripted([ok(b"<?xml version='1.0'?>\n<Error><Code>InternalError</Code>"
                          b"<Message>We encountered an internal error</Message></Error>")])
    client = S3Client(client_for(server).endpoint, PoolRegistry(), RequestCounter(),
                      RetryPolicy(attempts=1))
    with pytest.raises(S3Error, match="InternalError"):
        client.complete_multipart_upload("bucket", "key", "upload-1", [Part(1, '"abc"')])


def test_requests_are_signed_and_carry_no_flexible_checksum(scripted: Start) -> None:
    """What goes on the wire: SigV4, Content-MD5, UNSIGNED-PAYLOAD, no x-amz-checksum-*."""
    server = scripted([ok(b"", 'etag: "5d41402abc4b2a76b9719d911017c592"\r\n')])
    client_for(server).put_object("bucket", "dir/a b+c.txt", b"hello",
                                  content_md5="XUFAKrxLKna5cZ2REBfFkg==",
                                  headers={"content-type": "text/plain"})
    request = server.requests[0].decode()
    head = request.lower()
    assert request.startswith("PUT /bucket/dir/a%20b%2Bc.txt HTTP/1.1")
    assert "authorization: aws4-hmac-sha256 credential=akidexample/" in head
    assert "x-amz-content-sha256: unsigned-payload" in head
    assert "content-md5: XUFAKrxLKna5cZ2REBfFkg==" in request
    assert "x-amz-checksum" not in head
    assert "x-amz-sdk-checksum" not in head
    assert "secret-for-signing" not in request
    assert request.endswith("\r\n\r\nhello")


def test_a_request_signed_for_the_wrong_region_says_so(scripted: Start) -> None:
    """AWS answers a wrong signing region with AuthorizationHeaderMalformed and the bucket's
    region: that is a region to set, not credentials to fix."""
    body = (b"<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization "
            b"header is malformed; the region 'us-east-1' is wrong; expecting 'ap-northeast-2'"
            b"</Message><Region>ap-northeast-2</Region></Error>")
    server = scripted([b"HTTP/1.1 400 Bad Request\r\ncontent-length: %d\r\n\r\n%s"
                       % (len(body), body)])
    with pytest.raises(S3Error) as error:
        client_for(server).list_page("bucket", "")

    assert error.value.severity is Severity.PAIR
    assert "LIST bucket: wrong region or endpoint (HTTP 400 AuthorizationHeaderMalformed" \
        in str(error.value)
    assert str(error.value).endswith("; the bucket is in region ap-northeast-2")
