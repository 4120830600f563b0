"""HTTP proxies, as HTTPS_PROXY / HTTP_PROXY / NO_PROXY describe them (curl's conventions).

An https endpoint is reached through a CONNECT tunnel, so TLS runs end to end between the
mirror and the store and the proxy sees no request; an http endpoint gets requests in
absolute form (`GET http://host:port/bucket/key HTTP/1.1`). Proxy credentials
(`http://user:password@proxy:3128`) become a Proxy-Authorization header and never appear
in a log line or an error message: a proxy is always named by its host and port only.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)  # "Basic ..."
    password: str | None = field(default=None, repr=False)
    variable: str = ""  # the setting it came from (HTTPS_PROXY, http_proxy, ...), for errors

    def secrets(self) -> list[str]:
        return [v for v in (self.password, self.authorization and self.authorization[6:]) if v]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_proxy(text: str) -> Proxy:
    """`http://[user:password@]host[:port]`; a bare `host:port` means http, as for curl."""
    url = text.strip()
    if "://" not in url:
        url = f"http://{url}"
    try:
        parts = urlsplit(url)
    except ValueError:  # the parser's message may quote a piece of the password: not shown
        raise ValueError("is not a valid URL ([ and ] may only enclose an IPv6 address)") from None
    if parts.scheme != "http":
        raise ValueError(f"must be an http:// proxy URL (TLS to the proxy itself is not "
                         f"supported), got scheme {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:  # malformed, out of range, or 0: no port a connection can reach
        raise ValueError("has an invalid port")
    port = port or 80
    if not parts.hostname:
        raise ValueError("must look like http://[user:password@]host[:port]")
    authorization = password = None
    if parts.username is not None:
        password = unquote(parts.password or "") or None
        pair = f"{unquote(parts.username)}:{password or ''}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return Proxy(parts.hostname, port, authorization, password)


def variables(scheme: str) -> tuple[str, str]:
    """The variables naming the proxy for an endpoint's scheme, lower case first (curl)."""
    return ("https_proxy", "HTTPS_PROXY") if scheme == "https" else ("http_proxy", "HTTP_PROXY")


def no_proxy_entries(no_proxy: str) -> Iterator[tuple[str, str, str]]:
    """Each NO_PROXY entry as written, and its name (host, domain, IP or CIDR range, lower
    case, without brackets) and port ('' for any)."""
    for raw in no_proxy.split(","):
        entry = raw.strip()
        if entry:
            name, _, port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
            yield entry, name.strip("[]").lower(), port


def invalid_ranges(no_proxy: str) -> list[str]:
    """The NO_PROXY entries that look like CIDR ranges (a '/') but are none."""
    ranges = [(entry, name) for entry, name, _ in no_proxy_entries(no_proxy) if "/" in name]
    if not ranges:
        return []
    import ipaddress  # only when a range is given: start-up time counts

    bad = []
    for entry, name in ranges:
        try:
            ipaddress.ip_network(name, strict=False)
        except ValueError:
            bad.append(entry)
    return bad


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """NO_PROXY: `*`, host names (a leading dot optional) matching the host and its
    subdomains, IP addresses, CIDR ranges, each optionally with `:port`."""
    host = host.strip("[]").lower()
    for entry, name, entry_port in no_proxy_entries(no_proxy):
        if entry == "*":
            return True
        if entry_port and entry_port != str(port):
            continue
        if _ip_match(host, name):
            return True
        domain = name.lstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def _has_port(entry: str) -> bool:
    if entry.startswith("["):  # [::1]:9000
        return "]:" in entry
    return entry.count(":") == 1


def _ip_match(host: str, entry: str) -> bool:
    import ipaddress  # only when NO_PROXY is set: start-up time counts

    try:
        address = ipaddress.ip_address(host)
        return address in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


@dataclass(frozen=True)
class Route:
    """The proxy an output (Slack, the Pushgateway) goes through: its URL, credentials
    included, for the HTTP library; the variable that named it and host:port, for logs."""

    variable: str
    url: str = field(repr=False)
    address: str


def route(chosen: tuple[str, str] | None) -> Route | None:
    """`choose()`'s (variable, value), checked; a ValueError names the variable, never the
    value (it may hold the proxy's password)."""
    if chosen is None:
        return None
    variable, value = chosen
    try:
        address = parse_proxy(value).address
    except ValueError as exc:
        raise ValueError(f"{variable} {exc}") from None
    return Route(variable, value, address)


def no_proxy_of(environ: Mapping[str, str]) -> tuple[str, str]:
    """(variable, value) of the NO_PROXY in effect: no_proxy first, as curl reads it."""
    return ("no_proxy", environ["no_proxy"]) if environ.get("no_proxy") else (
        "NO_PROXY", environ.get("NO_PROXY", ""))


def choose(url: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, value) of the proxy requests to `url` must go through, or None: direct.
    (A URL whose port is not a number gets None: its request fails on its own, saying so.)"""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if bypassed(parts.hostname or "", port, no_proxy_of(environ)[1]):
        return None
    for name in variables(parts.scheme):
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return None


class ProxyError(OSError):
    """The proxy refused or failed the tunnel; `retryable` as for any transport error."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def proxy_auth_message(proxy: Proxy) -> str:
    hint = ("it rejected the credentials in the proxy URL" if proxy.authorization else
            "put them in the proxy URL: http://user:password@host:port")
    return f"proxy {proxy.address} requires authentication (407): {hint}"


def authority(host: str, port: int) -> str:
    """host:port as a request line writes it (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def tunnel(sock: socket.socket, proxy: Proxy, host: str, port: int) -> None:
    """Open a CONNECT tunnel to host:port on a socket connected to the proxy."""
    target = authority(host, port)
    lines = [f"CONNECT {target} HTTP/1.1", f"host: {target}"]
    if proxy.authorization:
        lines.append(f"proxy-authorization: {proxy.authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ProxyError(f"proxy {proxy.address} closed the connection before answering "
                             f"CONNECT {host}:{port}", retryable=True)
        head += chunk
        if len(head) > 65536:
            raise ProxyError(f"proxy {proxy.address} sent an oversized answer", retryable=False)
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if 200 <= status < 300:
        if not head.endswith(b"\r\n\r\n"):
            raise ProxyError(f"proxy {proxy.address} sent data after its CONNECT answer",
                             retryable=False)
        return
    reason = parts[2] if len(parts) > 2 else ""
    if status == 407:
        raise ProxyError(proxy_auth_message(proxy), retryable=False)
    raise ProxyError(f"proxy {proxy.address} refused the tunnel to {host}:{port}: "
                     f"{status} {reason}".rstrip(), retryable=status >= 500 or status == 0)
