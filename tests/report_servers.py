"""Local HTTP servers that play the far ends of a run's summary, and count what they see.

- `SlackServer`: the Slack Web API's `chat.postMessage` under /api/, recording every call;
  it answers with Slack's real shapes (`{"ok": false, "error": "not_in_channel"}`, 429 +
  Retry-After), and 404 outside /api/ as slack.com does.
- `Pushgateway`: PUT/POST/DELETE on /metrics/job/...; keeps groups the way the Prometheus
  Pushgateway does (PUT replaces a group, POST replaces the metrics of the same name).
- `NotHttp`: a port that answers in another protocol (an SSH banner, a Redis port), as a
  mistyped SLACK_API_URL or MIRROR_PUSHGATEWAY_URL port would.
- `CountingProxy`: forwards S3 requests to a real server unchanged (the Host header too, so
  signatures still match) and counts them by operation, as a provider's bill would.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from mirror.sandbox import free_port

# What the tests post with: a token of a Slack bot's shape, and a channel ID
TOKEN = "xoxb-1234567890-test-bot-token"
CHANNEL = "C0123ABCDEF"


class _Server:
    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        handler = type("Handler", (self.handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class NotHttp:
    """Answers every connection with a banner that is no HTTP."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._banner, args=(conn,), daemon=True).start()

    @staticmethod
    def _banner(conn: socket.socket) -> None:
        """As an SSH server does: its banner at once, then it reads what comes."""
        with conn, contextlib.suppress(OSError):
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff")
            conn.settimeout(5)
            while conn.recv(65536):
                pass

    def close(self) -> None:
        self.listener.close()


@contextlib.contextmanager
def unanswered(kind: str) -> Iterator[str]:
    """A base URL where no HTTP server answers: "nothing" listens there, or "not http"
    (`NotHttp`, a port of another protocol)."""
    if kind == "nothing":
        yield f"http://127.0.0.1:{free_port()}"
        return
    other = NotHttp()
    try:
        yield other.url
    finally:
        other.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: Any

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# -- Slack -------------------------------------------------------------------------------


@dataclass
class SlackCall:
    method: str
    authorization: str
    payload: dict[str, Any]
    at: float
    path: str = ""  # /api/chat.postMessage


class _SlackHandler(_Handler):
    def do_POST(self) -> None:
        owner: SlackServer = self.owner
        body = self._body()
        kind = self.headers.get("Content-Type", "")
        payload = (json.loads(body) if "json" in kind
                   else {k: v[0] for k, v in parse_qs(body.decode()).items()})
        path = urlsplit(self.path).path  # a proxy forwards the absolute form
        method = path.rsplit("/", 1)[-1]
        owner.calls.append(SlackCall(method, self.headers.get("Authorization", ""), payload,
                                     time.monotonic(), path))
        if not path.startswith("/api/"):
            self._reply(404, b"<html><body>Not Found</body></html>",
                        {"Content-Type": "text/html"})
            return
        status, answer, headers = owner.answer(payload)
        if isinstance(answer, str):  # not Slack: a proxy's error page
            self._reply(status, answer.encode(), {"Content-Type": "text/html", **headers})
            return
        self._reply(status, json.dumps(answer).encode(),
                    {"Content-Type": "application/json; charset=utf-8", **headers})


# Slack refuses blocks whose text adds up past about 13,200 characters with
# msg_blocks_too_long (slackapi/bolt-js#2509), a limit its documentation does not state.
BLOCKS_TEXT_LIMIT = 13_000


def _blocks_text(blocks: list[dict[str, Any]]) -> int:
    total = 0
    for block in blocks:
        for item in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if item:
                total += len(item.get("text", ""))
    return total


def _blocks_within_limits(blocks: list[dict[str, Any]]) -> bool:
    """Slack's documented Block Kit limits; Slack answers invalid_blocks past them."""
    limits = {"header": 150, "section": 3000, "context": 3000}
    if len(blocks) > 50:
        return False
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        fields = block.get("fields", [])
        elements = block.get("elements", [])
        if len(text) > limits.get(block["type"], 3000) or len(fields) > 10 \
                or any(len(f["text"]) > 2000 for f in fields) or len(elements) > 10 \
                or any(len(e.get("text", "")) > 3000 for e in elements):
            return False
    return True


class SlackServer(_Server):
    """chat.postMessage: `errors` are answered first, in order, then `ok`."""

    handler = _SlackHandler

    def __init__(self) -> None:
        self.calls: list[SlackCall] = []
        self.script: list[tuple[int, dict[str, Any] | str, dict[str, str]]] = []
        self._lock = threading.Lock()
        super().__init__()

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def fail_with(self, error: str, times: int = 1) -> None:
        self.script += [(200, {"ok": False, "error": error}, {})] * times

    def answer_html(self, status: int, page: str) -> None:
        self.script.append((status, page, {}))

    def rate_limit(self, retry_after: int, times: int = 1) -> None:
        self.script += [(429, {"ok": False, "error": "ratelimited"},
                         {"Retry-After": str(retry_after)})] * times

    def answer(self, payload: dict[str, Any]
               ) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        with self._lock:
            if self.script:
                return self.script.pop(0)
        if not _blocks_within_limits(payload.get("blocks") or []):
            return 200, {"ok": False, "error": "invalid_blocks"}, {}
        if _blocks_text(payload.get("blocks") or []) > BLOCKS_TEXT_LIMIT:
            return 200, {"ok": False, "error": "msg_blocks_too_long"}, {}
        return 200, {"ok": True, "channel": payload.get("channel"), "ts": "1700000000.000100",
                     "message": {"text": payload.get("text")}}, {}

    def posts(self) -> list[dict[str, Any]]:
        return [c.payload for c in self.calls if c.method == "chat.postMessage"]


# -- Pushgateway -------------------------------------------------------------------------


def _decode_path(path: str) -> tuple[str, dict[str, str]]:
    """/metrics/job/j/pair@base64/xxx -> ("j", {"pair": ...})."""
    parts = [unquote(p) for p in urlsplit(path).path.split("/")[2:]]
    labels: dict[str, str] = {}
    for name, text in zip(parts[::2], parts[1::2], strict=True):
        if name.endswith("@base64"):
            padded = text + "=" * (-len(text) % 4)
            labels[name.removesuffix("@base64")] = base64.urlsafe_b64decode(padded).decode()
        else:
            labels[name] = text
    return labels.pop("job"), labels


@dataclass
class Push:
    method: str
    job: str
    grouping: dict[str, str]
    body: str

    def samples(self) -> dict[str, list[Sample]]:
        """Metric family name -> its samples, parsed from the exposition text."""
        return {f.name: list(f.samples) for f in text_string_to_metric_families(self.body)}


@dataclass
class Group:
    families: dict[str, list[Sample]] = field(default_factory=dict)


class _PushHandler(_Handler):
    def _push(self) -> None:
        owner: Pushgateway = self.owner
        owner.authorizations.append(self.headers.get("Authorization"))
        if owner.expected and self.headers.get("Authorization") != owner.expected:
            self._body()
            self._reply(401, b"Unauthorized\n",
                        {"WWW-Authenticate": 'Basic realm="pushgateway"'})
            return
        job, grouping = _decode_path(self.path)
        push = Push(self.command, job, grouping, self._body().decode())
        owner.record(push)
        self._reply(200 if self.command != "DELETE" else 202, b"")

    do_PUT = do_POST = do_DELETE = _push


class Pushgateway(_Server):
    handler = _PushHandler

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        """With `credentials`, a push without their basic auth gets 401 (nginx in front)."""
        self.expected = None
        if credentials:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            self.expected = f"Basic {token}"
        self.authorizations: list[str | None] = []
        self.pushes: list[Push] = []
        self.groups: dict[tuple[str, tuple[tuple[str, str], ...]], Group] = {}
        self._lock = threading.Lock()
        super().__init__()

    def record(self, push: Push) -> None:
        key = (push.job, tuple(sorted(push.grouping.items())))
        with self._lock:
            self.pushes.append(push)
            if push.method == "DELETE":
                self.groups.pop(key, None)
                return
            group = self.groups.setdefault(key, Group())
            if push.method == "PUT":
                group.families.clear()
            group.families.update(push.samples())

    def group(self, job: str, **grouping: str) -> dict[str, list[Sample]]:
        return self.groups[(job, tuple(sorted(grouping.items())))].families


def value(samples: list[Sample], **labels: str) -> float:
    """The value of the one sample whose labels include `labels`."""
    found = [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (labels, samples)
    return found[0]


# -- S3 request counting ---------------------------------------------------------------


def s3_operation(method: str, path: str, headers: Any) -> str:
    """The operation a provider bills, from the request line (the mirror's Op names)."""
    query = parse_qs(urlsplit(path).query, keep_blank_values=True)
    copy = "x-amz-copy-source" in {k.lower() for k in headers}
    if method == "GET" and "tagging" in query:
        return "GET_TAGGING"
    if method == "GET":
        return "LIST" if ("list-type" in query or len(urlsplit(path).path.strip("/").split("/"))
                          == 1) else "GET"
    if method == "HEAD":
        return "HEAD"
    if method == "PUT":
        if "partNumber" in query:
            return "MPU_PART_COPY" if copy else "MPU_PART"
        return "COPY" if copy else "PUT"
    if method == "POST":
        return "MPU_CREATE" if "uploads" in query else "MPU_COMPLETE"
    if method == "DELETE" and "uploadId" in query:
        return "MPU_ABORT"
    return f"{method}?"


class _ProxyHandler(_Handler):
    def _forward(self) -> None:
        owner: CountingProxy = self.owner
        body = self._body()
        owner.count(s3_operation(self.command, self.path, self.headers))
        upstream = http.client.HTTPConnection(owner.upstream_host, owner.upstream_port,
                                              timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            length = answer.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            upstream.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward


class CountingProxy(_Server):
    """An S3 endpoint in front of `upstream_url` that counts requests by operation."""

    handler = _ProxyHandler

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream_host, self.upstream_port = parts.hostname or "", parts.port or 80
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        super().__init__()

    def count(self, operation: str) -> None:
        with self._lock:
            self.counts[operation] += 1

    def seen(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)
