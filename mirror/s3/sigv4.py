"""AWS Signature Version 4 for S3 requests, and where the credentials come from.

Bodies are never hashed for the signature: requests with a body are sent as
UNSIGNED-PAYLOAD with a Content-MD5 header, which every S3 implementation verifies, so
integrity is still checked end to end without spending CPU on SHA-256 of every byte.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


class CredentialsUnavailable(Exception):
    """No credentials could be found or refreshed for an alias."""


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


class CredentialSource:
    """Static keys, or a refreshing provider such as botocore's credential chain."""

    def __init__(self, static: Credentials | None = None,
                 fetch: Callable[[], Credentials] | None = None, refresh_every: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if (static is None) == (fetch is None):
            raise ValueError("give either static credentials or a fetch function")
        self._static = static
        self._fetch = fetch
        self._refresh_every = refresh_every
        self._clock = clock
        self._cached: Credentials | None = static
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> Credentials:
        if self._static is not None:
            return self._static
        now = self._clock()
        with self._lock:
            if self._cached is None or now - self._fetched_at > self._refresh_every:
                assert self._fetch is not None
                self._cached = self._fetch()
                self._fetched_at = now
            return self._cached


def uri_encode(value: str, *, keep_slash: bool) -> str:
    """S3's UriEncode: unreserved characters stay, everything else is %XX of its UTF-8."""
    return quote(value, safe="/~" if keep_slash else "~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{uri_encode(k, keep_slash=False)}={uri_encode(v, keep_slash=False)}"
                    for k, v in sorted(params.items()))


_SPACES = re.compile("[ \t]+")


def _trimmed(value: str) -> str:
    """SigV4's Trimall, over the latin-1 text of the bytes on the wire: only spaces and
    tabs. (str.split() also takes \\xa0 and \\x85 for whitespace, which are the second
    bytes of UTF-8 letters such as 'à' and 'Å': the signature would not match.)"""
    return _SPACES.sub(" ", value.strip(" \t"))


class ServerClock:
    """The time requests are signed with: this machine's, corrected by the offset a server
    revealed when it refused a request as RequestTimeTooSkewed (SigV4 allows 15 minutes).

    A container's clock can drift (a laptop's Docker VM after sleep); botocore corrects it
    the same way. `report` is told each new offset, so the run can say the clock is off.
    """

    def __init__(self, now: Callable[[], float] = time.time,
                 report: Callable[[float], None] | None = None) -> None:
        self._now = now
        self._report = report
        self.offset = 0.0

    def time(self) -> float:
        return self._now() + self.offset

    def adopt(self, server_time: float) -> None:
        """Sign with the server's time from now on."""
        offset = server_time - self._now()
        changed = abs(offset - self.offset) > 1.0  # other threads may have adopted it
        self.offset = offset
        if changed and self._report is not None:
            self._report(offset)


class Signer:
    """Signs requests for one region; signing keys are cached per day and secret."""

    def __init__(self, region: str, service: str = "s3",
                 clock: ServerClock | None = None) -> None:
        self.region = region
        self.service = service
        self._clock = clock or ServerClock()
        self._keys: dict[tuple[str, str], bytes] = {}
        self._date: tuple[int, str] = (-1, "")

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached = self._keys.get((secret, day))
        if cached is None:
            key = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
            for part in (self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {(secret, day): key}  # one live key: days roll, secrets rotate
            cached = key
        return cached

    def _amz_date(self, now: float | None) -> str:
        second = int(self._clock.time() if now is None else now)
        cached = self._date
        if cached[0] != second:
            cached = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
            self._date = cached
        return cached[1]

    def sign(self, method: str, path: str, query: str, headers: dict[str, str],
             creds: Credentials, payload_hash: str, now: float | None = None) -> None:
        """Add x-amz-date, x-amz-content-sha256, the session token and Authorization.

        `headers` must use lower-case names and already hold `host`; values are signed as
        the bytes that go on the wire (latin-1), which keeps non-ASCII metadata intact.
        """
        amz_date = self._amz_date(now)
        day = amz_date[:8]
        headers["x-amz-date"] = amz_date
        headers["x-amz-content-sha256"] = payload_hash
        if creds.session_token:
            headers["x-amz-security-token"] = creds.session_token
        names = sorted(headers)
        signed = ";".join(names)
        canonical_headers = "".join(f"{n}:{_trimmed(headers[n])}\n" for n in names)
        canonical = f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed}\n{payload_hash}"
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = (f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
                   + hashlib.sha256(canonical.encode("latin-1")).hexdigest())
        signature = hmac.digest(self._signing_key(creds.secret_key, day), to_sign.encode(),
                                "sha256").hex()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
                                    f"SignedHeaders={signed}, Signature={signature}")
