"""The run's metrics, pushed to a Prometheus Pushgateway (`MIRROR_PUSHGATEWAY_URL`).

One group per pair: job `minio-s3-mirror`, grouping key `service` (when SERVICE is set) and
`pair`. Each push is a POST (`pushadd`), which replaces only the metrics it carries: every
metric is sent on every run except `minio_s3_mirror_last_success_timestamp_seconds`, sent only
when the pair succeeded. So a failed night leaves the last success where it was (a PUT would
replace the whole group and lose it), and, as each job (SERVICE) has its own group,
`time() - max by (pair) (minio_s3_mirror_last_success_timestamp_seconds) > 26 * 3600` alerts
on a pair no job has completed for a day; `last_run_status{status!="success"} == 1` on a
job's failed last run, a pair that never succeeded included (README: Prometheus).

A dry run pushes nothing: its numbers would replace those of the real runs. A Pushgateway
behind basic auth takes its credentials in the URL (`https://user:password@host`); they
are sent as an Authorization header, never logged. The proxy is the one the caller chose
(`mirror.s3.proxy.choose`, the S3 clients' rules), or none: never one urllib would
pick from the environment itself, ignoring NO_PROXY's CIDR ranges.
"""

from __future__ import annotations

import base64
import http.client
import time
import urllib.error
from collections.abc import Callable
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import Request, build_opener

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

from mirror import logs
from mirror.decision import Action
from mirror.report.outbound import proxy_handler, through
from mirror.s3.accounting import Op
from mirror.summary import SIDES, Count, PairSummary, RunSummary, Status

JOB = "minio-s3-mirror"
PREFIX = "minio_s3_mirror_"
TIMEOUT = 10.0


def _outcomes(pair: PairSummary) -> dict[str, Count]:
    return {
        "copied_new": pair.copied_new, "copied_changed": pair.copied_changed,
        "unchanged": pair.decided(Action.UNCHANGED),
        "differs_kept": pair.decided(Action.DIFFERS_KEPT),
        "excluded": pair.decided(Action.EXCLUDED),
        "target_only": pair.decided(Action.TARGET_ONLY),
        "failed": pair.failed, "source_changed": pair.source_changed,
        "interrupted": pair.interrupted,
    }


def _gauge(registry: CollectorRegistry, name: str, doc: str,
           labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(PREFIX + name, doc, labelnames=labels, registry=registry)


def registry(run: RunSummary, pair: PairSummary, now: float) -> CollectorRegistry:
    """The metrics of one pair's run, as one Pushgateway group carries them."""
    reg = CollectorRegistry()
    _gauge(reg, "last_run_timestamp_seconds", "When the last run of the pair ended.").set(now)
    status = _gauge(reg, "last_run_status", "1 for the status of the last run.", ("status",))
    for value in Status:
        status.labels(value.value).set(1 if pair.status is value else 0)
    _gauge(reg, "last_run_duration_seconds", "How long the last run of the pair took.").set(
        pair.seconds)
    _gauge(reg, "last_run_bytes_per_second", "Bytes copied per second in the last run.").set(
        pair.bytes_per_second)
    objects = _gauge(reg, "last_run_objects", "Objects by outcome in the last run.", ("outcome",))
    sizes = _gauge(reg, "last_run_bytes", "Bytes by outcome in the last run.", ("outcome",))
    for outcome, count in _outcomes(pair).items():
        objects.labels(outcome).set(count.objects)
        sizes.labels(outcome).set(count.bytes)
    listed = _gauge(reg, "last_run_listed_objects", "Objects listed per side.", ("side",))
    listed_bytes = _gauge(reg, "last_run_listed_bytes", "Bytes listed per side.", ("side",))
    requests = _gauge(reg, "last_run_requests", "Requests sent per side and operation.",
                      ("side", "operation"))
    cost = _gauge(reg, "last_run_estimated_cost_usd",
                  "Estimated request cost per side in US dollars (priced sides only).", ("side",))
    pair_cost = run.cost(pair)
    for side in SIDES:
        count = pair.listed_source if side == "source" else pair.listed_target
        listed.labels(side).set(count.objects)
        listed_bytes.labels(side).set(count.bytes)
        sent = pair.requests.get(side, {})
        for op in Op:
            requests.labels(side, op.value).set(sent.get(op.value, 0))
        side_cost = pair_cost.sides[side].usd
        if side_cost is not None:
            cost.labels(side).set(float(side_cost))
    if pair.status is Status.SUCCESS:
        _gauge(reg, "last_success_timestamp_seconds",
               "When the pair last completed without a failure.").set(now)
    return reg


def grouping_key(run: RunSummary, pair: PairSummary) -> dict[str, str]:
    key = {"service": run.service} if run.service else {}
    key["pair"] = pair.pair
    return key


def credentials(url: str) -> tuple[str, str | None]:
    """The URL without user:password, and the Authorization header they make (basic auth)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return bare, "Basic " + base64.b64encode(pair.encode()).decode("ascii")


Handler = Callable[[str, str, float | None, list[tuple[str, str]], bytes], Callable[[], None]]


def handler(authorization: str | None, proxy: str | None) -> Handler:
    """prometheus_client's push handler: basic auth if given, and exactly `proxy` (or none;
    its default handler would let urllib take one from the environment)."""
    def make(url: str, method: str, timeout: float | None, headers: list[tuple[str, str]],
             data: bytes) -> Callable[[], None]:
        def send() -> None:
            request = Request(url, data=data, method=method)  # noqa: S310 - http(s) only
            for name, value in headers:
                request.add_header(name, value)
            if authorization:
                request.add_header("Authorization", authorization)
            with build_opener(proxy_handler(proxy)).open(request, timeout=timeout):
                pass  # an answer of 400 or more is an HTTPError

        return send

    return make


def push(run: RunSummary, url: str, proxy: tuple[str, str] | None = None) -> bool:
    """Push every pair's group; log the outcome; True if all were accepted.

    `proxy`: the (variable, value) to go through, as `mirror.s3.proxy.choose` gives it, or
    None for a direct connection. Logs name it by host and port only, never its password.
    """
    url, authorization = credentials(url.rstrip("/"))
    log = logs.get().bind(pushgateway=url)
    if run.dry_run:
        log.info("metrics.skipped", reason="a dry run pushes no metrics; they would replace "
                                           "those of the real runs")
        return False
    routed = through(proxy, log, "metrics.failed", "the Pushgateway")
    if routed is None:
        return False
    log, chosen = routed
    via = "" if chosen is None else (f" through proxy {chosen.address} ({chosen.variable}; "
                                     "NO_PROXY lists what is reached directly)")
    send = handler(authorization, chosen.url if chosen else None)
    now = time.time()
    for pair in run.pairs:
        try:
            pushadd_to_gateway(url, job=JOB, registry=registry(run, pair, now),
                               grouping_key=grouping_key(run, pair), timeout=TIMEOUT,
                               handler=send)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            unauthorized = isinstance(exc, urllib.error.HTTPError) and exc.code in (401, 403)
            log.error("metrics.failed", pair=pair.pair, error=_reason(exc),
                      fix="the Pushgateway wants credentials: put them in MIRROR_PUSHGATEWAY_URL "
                          "as https://user:password@host (basic auth)" if unauthorized else
                          "check MIRROR_PUSHGATEWAY_URL (http://host:9091) and that the "
                          f"Pushgateway is reachable from the pod{via}",
                      detail="the mirror's exit code does not depend on the Pushgateway")
            return False
    log.info("metrics.pushed", job=JOB, groups=len(run.pairs))
    return True


def _reason(exc: BaseException) -> str:
    if isinstance(exc, http.client.HTTPException):  # BadStatusLine: another protocol's port
        return f"not an HTTP answer ({type(exc).__name__})"
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc)
