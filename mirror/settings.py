"""Configuration from environment variables (their names are a contract), checked whole.

Every problem is reported at once, one line each, naming the variable (or the pair) and
what was expected, before any request is made.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar
from urllib.parse import SplitResult, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mirror.exclude import Exclude, PatternError, parse_exclude
from mirror.pairs import Location, Pair, PairError, parse_pairs
from mirror.providers import PROVIDERS, Provider, provider_for_host, region_for_host
from mirror.report.pricing import TABLES, Pricing, default_for, with_overrides
from mirror.resources import LARGE_TRANSFERS
from mirror.s3.proxy import (
    Proxy,
    choose,
    invalid_ranges,
    no_proxy_entries,
    no_proxy_of,
    parse_proxy,
)
from mirror.templates import TemplateError, dated, expand, split_list

T = TypeVar("T")


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str
    default: str = ""


VARIABLES: tuple[Variable, ...] = (
    Variable("SERVICE", "service name shown in logs and the run summary"),
    Variable("MINIO_URL", "endpoint of the `minio` alias, http(s)://host[:port]"),
    Variable("MINIO_ACCESS_KEY", "access key of the `minio` alias"),
    Variable("MINIO_SECRET_KEY", "secret key of the `minio` alias"),
    Variable("AWS_URL", "endpoint of the `aws` alias (default "
             "https://s3.<AWS_REGION>.amazonaws.com when AWS_REGION is set)"),
    Variable("AWS_ACCESS_KEY", "access key of the `aws` alias; without keys the standard AWS "
             "credential chain is used (IRSA, instance profile)"),
    Variable("AWS_SECRET_KEY", "secret key of the `aws` alias"),
    Variable("<ALIAS>_URL", "endpoint of any other alias used in a pair (R2_URL for r2/bucket)"),
    Variable("<ALIAS>_ACCESS_KEY", "access key of that alias"),
    Variable("<ALIAS>_SECRET_KEY", "secret key of that alias"),
    Variable("<ALIAS>_REGION", "signing region of an alias",
             "from the endpoint host, auto for R2, else us-east-1"),
    Variable("<ALIAS>_PROVIDER", "provider quirks of an alias: " + ", ".join(sorted(PROVIDERS)),
             "from the endpoint host, else generic"),
    Variable("<ALIAS>_SESSION_TOKEN", "session token for temporary credentials"),
    Variable("<ALIAS>_CA_FILE", "PEM bundle to verify the alias's TLS certificate"),
    Variable("<ALIAS>_ETAG_IS_MD5", "false when the store's ETags are not MD5s (SSE-KMS, SSE-C)",
             "true"),
    Variable("<ALIAS>_STORAGE_CLASS", "storage class of the objects written to the alias as a "
             "target, e.g. STANDARD_IA, GLACIER_IR, DEEP_ARCHIVE", "the bucket's default"),
    Variable("<ALIAS>_PRICING", "request price table for the cost estimate: "
             + ", ".join(TABLES), "from the provider and storage class; none for the minio alias"),
    Variable("<ALIAS>_PRICE_CLASS_A", "custom USD per 1,000 writes and lists (PUT, COPY, LIST, "
             "multipart), overriding the table"),
    Variable("<ALIAS>_PRICE_CLASS_B", "custom USD per 1,000 reads (GET, HEAD), overriding the "
             "table"),
    Variable("BUCKET_PAIR", "one pair srcAlias/srcBucket[/prefix]:dstAlias/dstBucket[/prefix]"),
    Variable("BUCKET_PAIRS", "several pairs separated by ';' (at most 3 run at the same time)"),
    Variable("MIRROR_PREFIX", "mirror only keys under this prefix (relative to the pair's "
             "folder); several separated by ','; date templates such as {yesterday:%Y/%m/%d}"),
    Variable("MIRROR_TIMEZONE", "IANA time zone of the date templates, e.g. Asia/Seoul", "UTC"),
    Variable("MIRROR_EXCLUDE", "comma-separated glob patterns of keys to skip"),
    Variable("MIRROR_OVERWRITE", "replace target objects that differ from the source (off: "
             "writes only create keys, and never replace an object, not even one written on "
             "the target during the run)", "false"),
    Variable("MIRROR_COPY_TAGS", "copy object tags (one extra GET for each copied object "
             "that has tags; reading them needs s3:GetObjectTagging)", "true"),
    Variable("MIRROR_DRY_RUN", "list and compare only; no write request of any kind", "false"),
    Variable("MIRROR_SKIP_ERRORS", "continue past a failed object (exit 1 at the end); false "
             "stops the pair at its first failure", "true"),
    Variable("MIRROR_MAX_WORKERS", "transfers in flight for the whole run", "auto"),
    Variable("MIRROR_LARGE_TRANSFERS", "of those, objects larger than the part size streamed at "
             "the same time (each one connection per side; more can help over long links)",
             str(LARGE_TRANSFERS)),
    Variable("MIRROR_PART_SIZE", "multipart part size, and the largest object buffered in "
             "memory for its copy, e.g. 16MiB", "16MiB"),
    Variable("MIRROR_MULTIPART_THRESHOLD", "objects larger than this (and than the part "
             "size) go multipart; smaller ones are one streamed PUT when the source's ETag "
             "is their MD5", "256MiB"),
    Variable("MIRROR_BANDWIDTH_LIMIT", "cap on the bytes per second the run sends to its "
             "targets, all transfers together, e.g. 20MiB/s (about 168 Mbit/s)", "no cap"),
    Variable("MIRROR_DEBUG", "log every object's decision", "false"),
    Variable("MIRROR_LOG_FORMAT", "json, console, or auto (console on a terminal)", "auto"),
    Variable("HTTPS_PROXY", "http://[user:password@]host:port of the proxy for https "
             "endpoints (also https_proxy; Slack and the Pushgateway use it too)"),
    Variable("HTTP_PROXY", "the proxy for http endpoints (also http_proxy)"),
    Variable("NO_PROXY", "comma-separated hosts, domains (.svc), IPs and CIDR ranges reached "
             "directly; * for all (also no_proxy)"),
    Variable("SLACK_BOT_TOKEN", "Slack bot token (chat:write); both Slack variables or neither"),
    Variable("SLACK_CHANNEL_ID", "Slack channel to post the run summary to (its ID, C0123...)"),
    Variable("SLACK_API_URL", "Slack Web API base URL (a proxy or a Slack-compatible server)",
             "https://slack.com/api/"),
    Variable("MIRROR_REPORT_FILE", "write the run summary as JSON to this file "
             "(schema minio-s3-mirror/report/v1)"),
    Variable("MIRROR_PUSHGATEWAY_URL", "push the run's metrics to this Prometheus Pushgateway, "
             "e.g. http://pushgateway.monitoring:9091; basic auth as https://user:password@host"),
    Variable("MIRROR_PRINT_SUMMARY", "print a readable summary on stdout: true, false, or auto "
             "(in a dry run or on a terminal)", "auto"),
)

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_SIZE = re.compile(r"^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1 << 20, "mb": 1000**2,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1000**3, "gib": 1 << 30}
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest multipart part
MAX_PART_SIZE = 5 * 1024**3
MIN_RATE = 64 * 1024  # the smallest MIRROR_BANDWIDTH_LIMIT: below, a unit was forgotten
MAX_RATE = 1 << 50  # the largest: 1 PiB/s, far beyond any link, and a float's range


def _amount(found: re.Match[str]) -> int:
    """The number of a size, at most 10**20 (more is out of every range): Python refuses to
    read an integer of more than 4,300 digits, and a float cannot hold one of 309."""
    digits = found.group(1).lstrip("0") or "0"
    return int(digits) if len(digits) <= 20 else 10**20


class ConfigError(Exception):
    """One or more configuration problems, each a line naming the variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Alias:
    """An endpoint that pairs refer to by name (`minio`, `aws`, `r2`, ...)."""

    name: str
    url: str
    region: str
    provider: Provider
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    # the TLS context trusting <ALIAS>_CA_FILE, loaded once, when the file is checked
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    etags_are_md5: bool = True
    credential_chain: bool = False  # use the standard AWS chain instead of keys
    pricing: Pricing = TABLES["unknown"]  # request prices, for the cost estimate
    proxy: Proxy | None = None  # from HTTPS_PROXY / HTTP_PROXY, unless NO_PROXY names it
    storage_class: str | None = None  # of the objects written to it; None: the bucket's default
    url_from_region: bool = False  # `aws` without AWS_URL: the endpoint of AWS_REGION

    def variable(self, suffix: str) -> str:
        """The name of one of the alias's settings: variable("REGION") is MINIO_REGION."""
        return f"{self.name.upper()}_{suffix}"

    @property
    def identity(self) -> tuple[str, str | None]:
        """Same endpoint and same key: a copy between such locations can be server-side."""
        return (self.url, self.access_key)


@dataclass(frozen=True)
class Settings:
    pairs: tuple[Pair, ...]
    aliases: Mapping[str, Alias]
    service: str = ""
    prefixes: tuple[str, ...] = ("",)
    dated_prefixes: bool = False  # MIRROR_PREFIX has a date template: it moves on every day
    exclude: Exclude = Exclude()
    overwrite: bool = False
    copy_tags: bool = True
    dry_run: bool = False
    skip_errors: bool = True
    debug: bool = False
    max_workers: int | None = None  # None: sized from the container's CPU and memory
    large_transfers: int = LARGE_TRANSFERS  # objects above the part size at once (run-wide)
    part_size: int = 16 * 1024 * 1024
    multipart_threshold: int = 256 * 1024 * 1024
    bandwidth_limit: int | None = None  # bytes per second sent to the targets; None: no cap
    slack_token: str | None = field(default=None, repr=False)
    slack_channel: str | None = None
    slack_api_url: str | None = None  # None: Slack's own
    report_file: str | None = None
    pushgateway_url: str | None = field(default=None, repr=False)  # may hold user:password@
    print_summary: bool | None = None  # None: in a dry run, or when stdout is a terminal

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line."""
        values = [self.slack_token]
        password = urlsplit(self.pushgateway_url or "").password
        values += [password, unquote(password)] if password else []
        for alias in self.aliases.values():
            # Not the access key ID: it names a key, as a user name does (AWS logs it in
            # CloudTrail), and is often a word ("minio", a bucket's name) that blanking
            # would blank everywhere else in the logs. The mirror never logs it.
            values += [alias.secret_key, alias.session_token]
            values += alias.proxy.secrets() if alias.proxy else []
        return [v for v in values if v]


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class _Reader:
    """Reads variables, collecting problems instead of stopping at the first one."""

    def __init__(self, env: Mapping[str, str], labels: Mapping[str, str]) -> None:
        self.env = env
        self.labels = labels
        self.problems: list[str] = []
        self._quoted: set[str] = set()

    def label(self, name: str) -> str:
        flag = self.labels.get(name)
        return f"{flag} ({name})" if flag else name

    def text(self, name: str) -> str:
        value = self.env.get(name, "").strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            # `docker run --env-file` (and systemd's EnvironmentFile= without shell parsing)
            # keeps quotes as part of the value: a quoted MIRROR_EXCLUDE would silently match
            # nothing, a quoted key would only be "credentials rejected". Never shown: it may
            # be a secret.
            if name not in self._quoted:
                self._quoted.add(name)
                self.fail(name, "is wrapped in quotes, which a docker --env-file keeps as "
                          "part of the value; remove them")
            value = value[1:-1].strip()
        return value

    def secret(self, name: str, *, header: bool = True) -> str:
        """A key or token: trimmed like any value; one with a control character or a line
        break inside (two lines pasted as one, a stray escape) is refused, never shown. A
        value sent in a header (`header`: all but the secret key, which only signs) must
        be printable ASCII."""
        value = self.text(name)
        if _CONTROL.search(value) or (header and not (value.isascii() and value.isprintable())):
            self.fail(name, "contains a control character, a line break or (sent in a "
                      "header) a character outside printable ASCII; set it to the key or "
                      "token alone")
        return value

    def fail(self, name: str, message: str) -> None:
        self.problems.append(f"{self.label(name)} {message}")

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name).lower()
        if not value:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.fail(name, f"must be true or false, got {self.text(name)!r}")
        return default

    def workers(self, name: str) -> int | None:
        if self.text(name).lower() in ("", "auto"):
            return None
        return self._count(name, None, "'auto' or ")

    def count(self, name: str, default: int) -> int:
        return self._count(name, default) if self.text(name) else default

    def _count(self, name: str, default: T, also: str = "") -> int | T:
        """A whole number from 1 to 512 (threads, streams), else a problem and `default`."""
        value = self.text(name)
        if re.fullmatch(r"[0-9]{1,4}", value) and 1 <= int(value) <= 512:
            return int(value)
        self.fail(name, f"must be {also}a whole number from 1 to 512, got {value!r}")
        return default

    def price(self, name: str) -> Decimal | None:
        value = self.text(name)
        if not value:
            return None
        try:
            price = Decimal(value.lstrip("$"))
        except InvalidOperation:
            price = Decimal(-1)
        if not price.is_finite() or price < 0 or price > 1000:  # S3's is 0.005
            self.fail(name, f"must be US dollars per 1,000 requests such as 0.005 (at most "
                      f"1000), got {value!r}")
            return None
        return price

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.text(name).lower()
        if not value:
            return None
        if value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}, got {self.text(name)!r}")
            return None
        return value

    def rate(self, name: str) -> int | None:
        """Bytes per second, as a size with an optional "/s"; empty or 0: no cap."""
        value = self.text(name)
        if not value:
            return None
        found = _SIZE.match(re.sub(r"\s*/\s*s\s*$", "", value, flags=re.I))
        if not found:
            self.fail(name, f"must be bytes per second such as 20MiB/s or 500KiB/s, "
                      f"got {value!r}")
            return None
        unit = found.group(2) or ""
        if unit.endswith("b"):  # Mb, mb, and Mib too: the IEC symbol of a mebibit
            self.fail(name, f"{value!r} reads as bits per second (a lower-case b); the limit is "
                      "in bytes: write MB/s, MiB/s or KiB/s (100 Mbit/s is 12MB/s)")
            return None
        rate = _amount(found) * _UNITS[unit.lower()]
        if rate == 0:
            return None
        if rate > MAX_RATE:
            self.fail(name, f"must be at most 1048576GiB/s (1 PiB/s; 0 for no cap), "
                      f"got {value!r}")
            return None
        if rate < MIN_RATE:
            self.fail(name, f"must be at least 64KiB/s (bytes, not bits), or 0 for no cap, "
                      f"got {value!r}")
            return None
        return rate

    def size(self, name: str, default: int) -> int:
        value = self.text(name)
        if not value:
            return default
        found = _SIZE.match(value)
        if not found:
            self.fail(name, f"must be a size such as 16MiB or 8388608, got {value!r}")
            return default
        size = _amount(found) * _UNITS[(found.group(2) or "").lower()]
        if not MIN_PART_SIZE <= size <= MAX_PART_SIZE:
            self.fail(name, f"must be between 5MiB and 5GiB (S3's part size limits), got {value!r}")
            return default
        return size


def _userinfo(url: str) -> tuple[str, str, bool] | None:
    """Where a URL's user:password is: (what comes before it, what comes after its @,
    whether a '/', '?' or '#' in the password cuts it short of the host part, which a
    parser would misread); None for a URL without one."""
    _, sep, rest = url.partition("://")
    if not sep:
        rest = url
    before = url[: len(url) - len(rest)]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        return before, rest[authority.rindex("@") + 1 :], False
    user, at, after = rest.partition("@")
    return (before, after, True) if at and ":" in user else None


def _redacted(url: str) -> str:
    """The URL as it may be shown: its user:password (even one a parser would misread)
    becomes ***."""
    found = _userinfo(url)
    return url if found is None else f"{found[0]}***@{found[1]}"


_USERINFO_ESCAPES = "/ ? # [ ] @ as %2F %3F %23 %5B %5D %40"


def _split_url(reader: _Reader, name: str, url: str, shape: str) -> SplitResult | None:
    """`url` parsed, or None with the reason given: not http(s), no host, a port that is
    no number, a character in user:password that cuts the URL short, a space."""
    shown = _redacted(url)
    try:
        parts = urlsplit(url)
        if parts.port == 0:  # in range for the parser, but no port a connection can reach
            raise ValueError("port 0")
    except ValueError as exc:
        # the parser's own message may quote a piece of a password: not shown
        reason = ("has an invalid port" if "port" in str(exc).lower() else
                  "is not a valid URL ([ and ] may only enclose an IPv6 address)")
        if "@" in url:
            reason += f"; in user:password, percent-encode {_USERINFO_ESCAPES}"
        reader.fail(name, f"{reason}: {shown!r}")
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        reader.fail(name, f"must look like {shape}, got {shown!r}"
                    " (is the http:// or https:// missing?)")
        return None
    found = _userinfo(url)
    if found is not None and found[2]:
        reader.fail(name, f"has an @ outside its host part: in user:password, percent-encode "
                    f"{_USERINFO_ESCAPES} (and an @ in a path as %40): {shown!r}")
        return None
    if any(c.isspace() for c in url):
        reader.fail(name, f"must not contain spaces: {shown!r}")
        return None
    return parts


def _check_url(reader: _Reader, name: str, url: str) -> str | None:
    parts = _split_url(reader, name, url, "http(s)://host[:port]")
    if parts is None:
        return None
    shown = _redacted(url)
    if parts.username is not None or parts.password is not None:
        env = name.removesuffix("_URL")
        reader.fail(name, f"must not carry credentials (user:password@), got {shown!r}; set "
                    f"{env}_ACCESS_KEY and {env}_SECRET_KEY instead")
        return None
    if parts.path not in ("", "/") or parts.query:
        reader.fail(name, f"must be only the endpoint, without a path or bucket, got {shown!r}")
        return None
    host = parts.hostname or ""
    if not host.isascii():  # sent as is in the Host header and the signature: never IDNA
        try:
            hint = f" ({host.encode('idna').decode('ascii')})"
        except UnicodeError:
            hint = ""
        reader.fail(name, f"has a host name with characters outside ASCII, got {shown!r}: "
                    f"write an internationalized name in its xn-- form{hint}")
        return None
    return f"{parts.scheme}://{parts.netloc}"


# The endpoint hosts of stores that also answer at <bucket>.<endpoint> (virtual-hosted
# style): a bucket before them would be addressed as a bucket (AWS: <bucket>.<host>) or
# read by the store as the bucket, the pair's bucket becoming a folder in it.
_ENDPOINT_HOSTS = (
    re.compile(r"^(?P<bucket>.+?)\.(?P<endpoint>(?!(?:eu|fedramp)\.r2\.)[^.]+"
               r"(?:\.(?:eu|fedramp))?\.r2\.cloudflarestorage\.com)$"),
    re.compile(r"^(?P<bucket>.+?)\.(?P<endpoint>s3(?:\.[a-z0-9-]+)?\.(?:backblazeb2|wasabisys)"
               r"\.com)$"),
    re.compile(r"^(?P<bucket>.+?)\.(?P<endpoint>[a-z0-9-]+\.(?:vultrobjects|digitaloceanspaces)"
               r"\.com)$"),
)


def _bucket_in_host(host: str) -> tuple[str, str] | None:
    """(bucket, endpoint host) of a virtual-hosted URL's host (photos.s3.eu-west-1.
    amazonaws.com); None for an endpoint. A VPC endpoint's `bucket.vpce-...` is its own
    endpoint name, not a bucket."""
    host = host.rstrip(".").lower()
    found = _AWS_S3.search(host)
    if found is not None:
        if found.start() == 0 or host.endswith(".vpce.amazonaws.com"):
            return None
        return host[: found.start()], host[found.start() + 1 :]
    for pattern in _ENDPOINT_HOSTS:
        match = pattern.match(host)
        if match:
            return match["bucket"], match["endpoint"]
    return None


def _taken(env: str) -> str | None:
    """A variable of the run's own that an alias's variables would be (alias `slack_api`:
    SLACK_API_URL), if any; the `minio` and `aws` aliases' are theirs."""
    own = {v.name for v in VARIABLES if not v.name.startswith(("<", "MINIO_", "AWS_"))}
    suffixes = {v.name.removeprefix("<ALIAS>") for v in VARIABLES if v.name.startswith("<")}
    return next((env + s for s in sorted(suffixes) if env + s in own), None)


def _alias(reader: _Reader, name: str, pairs_text: str) -> Alias | None:
    env = name.upper()
    taken = _taken(env)
    if taken is not None:
        reader.fail(taken, f"is the run's own setting, yet {pairs_text} uses the alias "
                    f"{name!r}, whose variables would include it: give the store another "
                    "alias name")
        return None
    url = reader.text(f"{env}_URL")
    from_region = False
    access = reader.secret(f"{env}_ACCESS_KEY") or None
    secret = reader.secret(f"{env}_SECRET_KEY", header=False) or None
    region = reader.text(f"{env}_REGION")
    if region and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", region):
        reader.fail(f"{env}_REGION", f"must be a region name such as eu-west-1 (letters, "
                    f"digits, '-', '_', '.'), got {region!r}")
        return None
    if not url and name == "aws" and region:
        url, from_region = f"https://s3.{region}.amazonaws.com", True
    if not url:
        reader.fail(f"{env}_URL", f"is not set; {pairs_text} uses the alias {name!r}"
                    + ("; for AWS S3, AWS_REGION alone also gives it" if name == "aws" else ""))
        return None
    clean = _check_url(reader, f"{env}_URL", url)
    if clean is None:
        return None
    host = urlsplit(clean).hostname or ""
    bucket_host = _bucket_in_host(host)
    if bucket_host is not None:
        bucket, endpoint = bucket_host
        parts = urlsplit(clean)
        port = f":{parts.port}" if parts.port else ""
        reader.fail(f"{env}_URL", f"names the bucket {bucket!r} in its host (a virtual-hosted "
                    f"URL), got {clean!r}: give the store's endpoint, "
                    f"{parts.scheme}://{endpoint}{port}, and the bucket in the pair")
        return None
    provider_name = reader.text(f"{env}_PROVIDER").lower()
    if provider_name and provider_name not in PROVIDERS:
        reader.fail(f"{env}_PROVIDER", f"must be one of {', '.join(sorted(PROVIDERS))}, "
                    f"got {provider_name!r}")
        return None
    provider = PROVIDERS[provider_name] if provider_name else provider_for_host(host)
    chain = False
    if not access and not secret and name == "aws":
        chain = True
    elif not access or not secret:
        missing = f"{env}_ACCESS_KEY" if not access else f"{env}_SECRET_KEY"
        reader.fail(missing, f"is not set; the alias {name!r} needs both {env}_ACCESS_KEY "
                    f"and {env}_SECRET_KEY")
        return None
    storage_class = _storage_class(reader, f"{env}_STORAGE_CLASS")
    return Alias(
        name=name, url=clean, provider=provider,
        pricing=_pricing(reader, env, name, provider, storage_class),
        region=region or region_for_host(host) or provider.default_region,
        access_key=access, secret_key=secret,
        session_token=reader.secret(f"{env}_SESSION_TOKEN") or None,
        ssl_context=_ca_file(reader, f"{env}_CA_FILE"),
        etags_are_md5=reader.boolean(f"{env}_ETAG_IS_MD5", provider.etags_are_md5),
        credential_chain=chain, proxy=_proxy(reader, clean),
        storage_class=storage_class, url_from_region=from_region,
    )


_STORAGE_CLASS = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


def _storage_class(reader: _Reader, name: str) -> str | None:
    """A storage class name as S3 spells them (STANDARD_IA); the target checks the rest."""
    value = reader.text(name).upper()
    if value and not _STORAGE_CLASS.fullmatch(value):
        reader.fail(name, f"must be a storage class name such as STANDARD_IA, GLACIER_IR or "
                    f"DEEP_ARCHIVE (letters, digits, '_'), got {value!r}")
        return None
    return value or None


def _ca_file(reader: _Reader, name: str) -> ssl.SSLContext | None:
    """The TLS context trusting a PEM bundle of CA certificates: loaded now, so a wrong
    path is exit 2, and once."""
    path = reader.text(name)
    if not path:
        return None
    try:
        return ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        reader.fail(name, f"names a file that does not exist: {path!r}")
    except IsADirectoryError:
        reader.fail(name, f"is a directory, not a PEM file: {path!r}")
    except PermissionError:
        reader.fail(name, f"cannot be read (permission denied): {path!r}")
    except (ssl.SSLError, OSError, ValueError) as exc:
        reader.fail(name, f"is not a PEM file of CA certificates ({type(exc).__name__}): "
                    f"{path!r}")
    return None


def _check_no_proxy(reader: _Reader) -> None:
    """A CIDR range NO_PROXY cannot read would be ignored, sending an in-cluster endpoint
    through the proxy: name it instead."""
    name, value = no_proxy_of(reader.env)
    for entry in invalid_ranges(value):
        reader.fail(name, f"has {entry!r}, which is not a CIDR range such as 10.0.0.0/8")
    # entries that match no host either, so are as silently ignored
    for entry, host, port in no_proxy_entries(value):
        if entry != "*" and "*" in host:
            reader.fail(name, f"has {entry!r}, a wildcard, which matches no host: a domain and "
                        "its subdomains are written with a leading dot, such as .svc (* alone "
                        "reaches every host directly)")
        if port and not (re.fullmatch(r"[0-9]{1,5}", port) and 1 <= int(port) <= 65535):
            reader.fail(name, f"has {entry!r}, whose port is not a number from 1 to 65535")


def _proxy(reader: _Reader, url: str) -> Proxy | None:
    chosen = choose(url, reader.env)
    if chosen is None:
        return None
    name, value = chosen
    found = _userinfo(value)
    if found is not None and found[2]:  # user:pass/word@host: the parser would misread it
        reader.fail(name, f"has an @ outside its host part: in user:password, percent-encode "
                    f"{_USERINFO_ESCAPES}: {_redacted(value)!r}")
        return None
    try:
        return replace(parse_proxy(value), variable=name)
    except ValueError as exc:
        reader.fail(name, str(exc))  # never the value: it may hold the proxy's password
        return None


def _pricing(reader: _Reader, env: str, name: str, provider: Provider,
             storage_class: str | None) -> Pricing:
    chosen = reader.choice(f"{env}_PRICING", tuple(TABLES))
    base = TABLES[chosen or default_for(name, provider.name, storage_class)]
    class_a, class_b = reader.price(f"{env}_PRICE_CLASS_A"), reader.price(f"{env}_PRICE_CLASS_B")
    if not base.known and (class_a is None) != (class_b is None):
        missing = f"{env}_PRICE_CLASS_B" if class_b is None else f"{env}_PRICE_CLASS_A"
        reader.fail(missing, f"is not set; the alias {name!r} has no price table to take it "
                    f"from ({env}_PRICING is {base.name!r}): set both classes, or a "
                    f"{env}_PRICING table")
    return with_overrides(base, class_a, class_b)


def _web_url(reader: _Reader, name: str, *, credentials: bool) -> str | None:
    """An http(s) URL that may carry a path (a proxy's prefix, Slack's /api/), and
    user:password@ only where the output sends them (`credentials`)."""
    url = reader.text(name)
    if not url:
        return None
    parts = _split_url(reader, name, url, "http(s)://host[:port][/path]")
    if parts is None:
        return None
    if not credentials and (parts.username is not None or parts.password is not None):
        reader.fail(name, f"must not carry credentials (user:password@), got "
                    f"{_redacted(url)!r}")
        return None
    return url


def _report_file(reader: _Reader) -> str | None:
    path = reader.text("MIRROR_REPORT_FILE")
    if not path:
        return None
    folder = Path(path).parent
    try:
        is_dir, folder_exists = Path(path).is_dir(), folder.is_dir()
        # The report replaces its file in one step (a rename): a device such as /dev/null,
        # a pipe or a socket would be replaced by a plain file, not written to.
        special = Path(path).exists() and not Path(path).is_file()
    except OSError as exc:  # e.g. a parent directory that cannot be entered
        reader.fail("MIRROR_REPORT_FILE", f"cannot be checked ({exc.strerror}): {path!r}")
        return path
    if is_dir or path.endswith("/"):
        reader.fail("MIRROR_REPORT_FILE", f"is a directory, not a file: {path!r}")
    elif special:
        reader.fail("MIRROR_REPORT_FILE", f"is not a regular file (a device, pipe or socket), "
                    f"which the report would replace: {path!r}; name a file, or leave it unset")
    elif not folder_exists:
        reader.fail("MIRROR_REPORT_FILE", f"is in a directory that does not exist: {str(folder)!r}")
    elif not os.access(folder, os.W_OK | os.X_OK):
        reader.fail("MIRROR_REPORT_FILE", f"cannot be written: no write permission on "
                    f"{str(folder)!r} (a read-only root filesystem? mount a volume there)")
    return path


def _print_summary(reader: _Reader) -> bool | None:
    value = reader.text("MIRROR_PRINT_SUMMARY").lower()
    if value in ("", "auto"):
        return None
    if value in _TRUE | _FALSE:
        return value in _TRUE
    reader.fail("MIRROR_PRINT_SUMMARY", f"must be true, false or auto, got {value!r}")
    return None


def _pairs(reader: _Reader) -> list[Pair]:
    single, many = reader.text("BUCKET_PAIR"), reader.text("BUCKET_PAIRS")
    if single and many:
        reader.problems.append("set BUCKET_PAIR or BUCKET_PAIRS, not both")
        return []
    name = "BUCKET_PAIRS" if many else "BUCKET_PAIR"
    text = many or single
    flag = next((n for n in ("BUCKET_PAIRS", "BUCKET_PAIR") if n in reader.labels), None)
    if not text and flag:
        reader.fail(flag, "is empty: give a pair such as minio/source:aws/target")
        return []
    if not text:
        reader.problems.append("no bucket pair: set BUCKET_PAIR (one pair) or BUCKET_PAIRS "
                               "(several, separated by ';'), e.g. minio/source:aws/target")
        return []
    try:
        pairs = parse_pairs(text)
    except PairError as exc:
        reader.fail(name, str(exc))
        return []
    if not pairs:
        reader.fail(name, "holds no pair")
    return pairs


SLACK_API = "https://slack.com/api/"  # slack_sdk's WebClient.BASE_URL, without importing it
# AWS S3's endpoints (regional, legacy dash, dual-stack, FIPS, VPC interface endpoints),
# whose buckets share one namespace per partition.
_AWS_S3 = re.compile(r"(^|\.)s3(-fips|-external-1|-(?P<dash>[a-z]{2}(-gov)?-[a-z]+-\d))?"
                     r"(\.dualstack)?(\.(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d))?(\.vpce)?"
                     r"\.amazonaws\.com(\.cn)?$")
_LOOPBACK = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "127.0.0.1",
                       "::1"})


def _store(url: str) -> tuple[str, int]:
    """What an endpoint URL reaches, however it is written: the host without case or a
    trailing dot and the port with the scheme's default made explicit, any loopback name as
    one; every AWS S3 endpoint of a partition as one, since its bucket names are global."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    found = _AWS_S3.search(host)  # not any amazonaws.com host: an ELB or EC2 name is a server
    if found:
        region = found.group("region") or found.group("dash") or ""
        partition = ("aws-cn" if host.endswith(".cn") else
                     "aws-us-gov" if "-gov-" in region else "aws")
        return f"s3.{partition}", 0
    host = _ip_host(host)
    if host in _LOOPBACK:
        host = "localhost"
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def _ip_host(host: str) -> str:
    """An IP address written any way (127.1, 2130706433, ::ffff:127.0.0.1, 0:0::1) in one
    spelling; 0.0.0.0 and :: (which a connection sends to 127.0.0.1 and ::1) as 127.0.0.1.
    Other loopback addresses (127.0.0.2) stay themselves: a server listening on one of them
    is not the one on 127.0.0.1. Anything else, a name, as it is."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:  # the short and numeric IPv4 forms a connection accepts (inet_aton's)
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return "127.0.0.1" if ip.is_unspecified else str(ip)


def _overlaps(a: Location, b: Location, aliases: Mapping[str, Alias]) -> bool:
    if a.bucket != b.bucket or a.alias not in aliases or b.alias not in aliases:
        return False
    if _store(aliases[a.alias].url) != _store(aliases[b.alias].url):
        return False
    return a.covers(b) or b.covers(a)


def _check_overlaps(reader: _Reader, pairs: list[Pair], aliases: Mapping[str, Alias]) -> None:
    for pair in pairs:
        if _overlaps(pair.source, pair.target, aliases):
            reader.problems.append(f"pair {str(pair)!r}: the target overlaps the source; "
                                   "a mirror into itself would copy its own copies")
    for i, first in enumerate(pairs):
        for second in pairs[i + 1 :]:
            if _overlaps(first.target, second.target, aliases):
                reader.problems.append(
                    f"pairs {str(first)!r} and {str(second)!r} write to overlapping targets; "
                    "give each pair its own target bucket or prefix")


def _now(reader: _Reader, clock: datetime | None) -> datetime:
    name = reader.text("MIRROR_TIMEZONE") or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'US', a tzdata folder
        reader.fail("MIRROR_TIMEZONE", f"must be an IANA time zone such as UTC or Asia/Seoul, "
                    f"got {name!r}")
        zone = ZoneInfo("UTC")
    return (clock or datetime.now(UTC)).astimezone(zone)


def _service(reader: _Reader) -> str:
    """SERVICE, printed in every log line, the terminal summary and Slack's header: a line
    break or an escape sequence in it would forge lines or repaint the terminal."""
    service = reader.text("SERVICE")
    if _CONTROL.search(service):
        reader.fail("SERVICE", "has a line break or a control character: give a plain name "
                    "such as 'photos-backup'")
        return ""
    return service


_SHELL = re.compile(r"\$\(|\$\{|`")  # $(date ...), ${VAR}, `date ...`
_WILDCARD = re.compile(r"[*?]")  # glob characters; '[' is left alone, keys may hold it


def _prefixes(reader: _Reader, clock: datetime | None) -> tuple[str, ...]:
    now = _now(reader, clock)
    raw = []
    for entry in split_list(reader.text("MIRROR_PREFIX")):
        if _CONTROL.search(entry):  # two prefixes on two lines would be one, matching nothing
            reader.fail("MIRROR_PREFIX", f"has a line break or a control character in "
                        f"{entry.strip()!r}: separate several prefixes with ','")
            continue
        if _SHELL.search(entry):  # the original's recipe: no shell runs it here, the prefix
            # would be the command's own text, matching no key, night after night
            reader.fail("MIRROR_PREFIX", f"has a shell command in {entry.strip()!r}, which "
                        "nothing runs here (a CronJob's env, an --env-file, Helm values pass "
                        "it as written): use a date template such as {yesterday:%Y/%m/%d}/")
            continue
        if _WILDCARD.search(entry):  # a LIST prefix is literal: '2025/01/*' matches no key
            reader.fail("MIRROR_PREFIX", f"has a wildcard in {entry.strip()!r}: a prefix is "
                        "the literal start of the keys ('2025/01/' covers every day of "
                        "January); separate several prefixes with ','")
            continue
        try:
            raw.append(expand(entry.strip(), now).lstrip("/"))
        except TemplateError as exc:
            reader.fail("MIRROR_PREFIX", f"has a bad date template: {exc}")
    chosen = sorted({p for p in raw if p})
    if not chosen:
        return ("",)
    kept: list[str] = []
    for prefix in chosen:  # a prefix inside another one adds nothing
        if not any(prefix.startswith(k) for k in kept):
            kept.append(prefix)
    return tuple(kept)


# The run's own variables (not an alias's), by the prefixes they share.
_OWN = tuple(v.name for v in VARIABLES if v.name.startswith(("MIRROR_", "SLACK_", "BUCKET_")))
# What Kubernetes puts in every pod for each Service in its namespace (a Service named
# `mirror-prefix` gives MIRROR_PREFIX_SERVICE_HOST, MIRROR_PREFIX_PORT_80_TCP, ...).
_SERVICE_LINK = re.compile(r"_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|"
                           r"SCTP)(_PROTO|_PORT|_ADDR)?)?)$")


# Names written for a setting the mirror spells otherwise, too far from it for a typo.
_MEANT = {
    "MIRROR_TZ": "did you mean MIRROR_TIMEZONE?",
    "SLACK_WEBHOOK_URL": "the summary is posted with a bot token, not a webhook: set "
                         "SLACK_BOT_TOKEN and SLACK_CHANNEL_ID",
    "SLACK_WEBHOOK": "the summary is posted with a bot token, not a webhook: set "
                     "SLACK_BOT_TOKEN and SLACK_CHANNEL_ID",
}


def _misspelled(reader: _Reader, aliases: set[str]) -> None:
    """A variable one typo away from one of the run's own is refused: ignored, it would
    leave that setting at its default (MIRROR_DRYRUN=true: a run that writes). The
    variables of the pairs' aliases are theirs (alias `mirror_dr`: MIRROR_DR_URL)."""
    suffixes = [v.name.removeprefix("<ALIAS>") for v in VARIABLES if v.name.startswith("<")]
    theirs = {alias.upper() + suffix for alias in aliases for suffix in suffixes}
    for name in sorted(reader.env):
        # Names are compared in upper case: `mirror_dry_run=true` is as ignored as a typo.
        upper = name.upper()
        if not upper.startswith(("MIRROR_", "SLACK_", "BUCKET_")) or name in _OWN \
                or name in theirs or _SERVICE_LINK.search(name):
            continue
        if upper in _MEANT:
            reader.fail(name, f"is not a setting of the mirror: {_MEANT[upper]} (as "
                        "written, it would be ignored)")
            continue
        close = [upper] if upper in _OWN or upper in theirs else \
            difflib.get_close_matches(upper, _OWN, n=1, cutoff=0.8)
        if close:
            reader.fail(name, f"is not a setting of the mirror: did you mean {close[0]}? "
                        "(as written, it would be ignored)")


def slack_alone(env: Mapping[str, str]) -> tuple[str, str, str | None] | None:
    """SLACK_BOT_TOKEN, SLACK_CHANNEL_ID and SLACK_API_URL when Slack is on and they are
    usable by themselves (proxy included), whatever else is wrong: a run that cannot start
    still tells the channel. None when Slack is off or its own settings have a problem."""
    reader = _Reader(env, {})
    token, channel = reader.secret("SLACK_BOT_TOKEN"), reader.secret("SLACK_CHANNEL_ID")
    if not (token and channel):
        return None
    api_url = _web_url(reader, "SLACK_API_URL", credentials=False)
    _check_no_proxy(reader)
    _proxy(reader, api_url or SLACK_API)
    return None if reader.problems else (token, channel, api_url)


def load_settings(env: Mapping[str, str], labels: Mapping[str, str] | None = None,
                  clock: datetime | None = None) -> Settings:
    """Read and check the whole configuration; raise ConfigError listing every problem.

    `clock` fixes "now" for the date templates (tests); by default it is the current time.
    """
    reader = _Reader(env, labels or {})
    pairs = _pairs(reader)
    aliases: dict[str, Alias] = {}
    for pair in pairs:
        for loc in (pair.source, pair.target):
            if loc.alias not in aliases:
                alias = _alias(reader, loc.alias, f"pair {str(pair)!r}")
                if alias is not None:
                    aliases[loc.alias] = alias
    _check_overlaps(reader, pairs, aliases)
    try:
        patterns = reader.text("MIRROR_EXCLUDE")
        if _CONTROL.search(patterns):  # two patterns on two lines would be one, matching nothing
            shown = next(p.strip() for p in patterns.split(",") if _CONTROL.search(p))
            raise PatternError(f"invalid pattern {shown!r}: a line break or a control "
                               "character; separate several patterns with ','")
        exclude = parse_exclude(patterns)
    except PatternError as exc:
        reader.fail("MIRROR_EXCLUDE", f"has an {exc}")
        exclude = Exclude()
    _check_no_proxy(reader)
    token, channel = reader.secret("SLACK_BOT_TOKEN"), reader.secret("SLACK_CHANNEL_ID")
    if bool(token) != bool(channel):
        missing = "SLACK_CHANNEL_ID" if token else "SLACK_BOT_TOKEN"
        reader.fail(missing, "is not set; Slack needs both SLACK_BOT_TOKEN and SLACK_CHANNEL_ID")
    settings = Settings(
        pairs=tuple(pairs), aliases=aliases, service=_service(reader),
        prefixes=_prefixes(reader, clock), exclude=exclude,
        dated_prefixes=dated(reader.text("MIRROR_PREFIX")),
        overwrite=reader.boolean("MIRROR_OVERWRITE", False),
        copy_tags=reader.boolean("MIRROR_COPY_TAGS", True),
        dry_run=reader.boolean("MIRROR_DRY_RUN", False),
        skip_errors=reader.boolean("MIRROR_SKIP_ERRORS", True),
        debug=reader.boolean("MIRROR_DEBUG", False),
        max_workers=reader.workers("MIRROR_MAX_WORKERS"),
        large_transfers=reader.count("MIRROR_LARGE_TRANSFERS", LARGE_TRANSFERS),
        part_size=reader.size("MIRROR_PART_SIZE", 16 * 1024 * 1024),
        multipart_threshold=reader.size("MIRROR_MULTIPART_THRESHOLD", 256 * 1024 * 1024),
        bandwidth_limit=reader.rate("MIRROR_BANDWIDTH_LIMIT"),
        slack_token=token or None, slack_channel=channel or None,
        slack_api_url=_web_url(reader, "SLACK_API_URL", credentials=False),
        report_file=_report_file(reader),
        pushgateway_url=_web_url(reader, "MIRROR_PUSHGATEWAY_URL", credentials=True),
        print_summary=_print_summary(reader),
    )
    # The summary's outputs go through the proxy their URLs choose: checked now, not
    # found unusable after the whole run.
    if settings.slack_token and settings.slack_channel:
        _proxy(reader, settings.slack_api_url or SLACK_API)
    if settings.pushgateway_url:
        _proxy(reader, settings.pushgateway_url)
    reader.choice("MIRROR_LOG_FORMAT", ("json", "console", "auto"))
    _misspelled(reader, {loc.alias
                         for pair in pairs for loc in (pair.source, pair.target)})
    if reader.problems:
        raise ConfigError(list(dict.fromkeys(reader.problems)))  # an alias on both sides: once
    return settings
