"""What the outputs that speak HTTP (the Pushgateway, Slack) share: the proxy they go through.

The caller chooses it (`mirror.s3.proxy.choose`, the S3 clients' rules, NO_PROXY's CIDR
ranges included); urllib is never left to pick one from the environment itself.
"""

from __future__ import annotations

from typing import Any
from urllib.request import ProxyHandler

from mirror.s3.proxy import Route, route


def through(proxy: tuple[str, str] | None, log: Any, failed: str,
            output: str) -> tuple[Any, Route | None] | None:
    """The checked route of `proxy` (None: direct) and `log` bound to its host:port; or
    None, logged as the `failed` event, when the proxy cannot be used (never its password)."""
    try:
        chosen = route(proxy)
    except ValueError as exc:
        log.error(failed, error="invalid proxy", fix=str(exc),
                  detail=f"the mirror's exit code does not depend on {output}")
        return None
    return (log.bind(proxy=chosen.address) if chosen else log), chosen


def proxy_handler(url: str | None) -> ProxyHandler:
    """urllib's handler for exactly this proxy URL, or for none."""
    return ProxyHandler({"http": url, "https": url} if url else {})
