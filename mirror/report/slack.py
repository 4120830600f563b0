"""The run summary as a Slack message (Block Kit), posted with `chat.postMessage`.

Layout, made for a phone: a header with the service and the status, a context line (when,
how long, how much, what it cost), then per pair a section with its counts, a small context
line (listed, time, requests, cost) and its first failures as a condensed list.

Slack's limits are respected by truncating with a count, never by failing: 50 blocks per
message, 150 characters in a header, 3,000 in a section, 2,000 in a field, 10 fields per
section. 429 answers are retried after the Retry-After Slack sends. Slack's own errors are
logged with the fix the user needs; none of them changes the mirror's exit code.

The proxy is the one the caller chose (`mirror.s3.proxy.choose`: HTTPS_PROXY /
HTTP_PROXY unless NO_PROXY names Slack's host, the S3 clients' rules), or none: never one
the SDK or urllib would pick from the environment themselves, ignoring NO_PROXY's ranges.
"""

from __future__ import annotations

import http.client
import io
import logging
import re
import time
import urllib.error
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.request import HTTPSHandler, Request, build_opener

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryState,
)

from mirror import __version__, logs
from mirror.decision import Action
from mirror.report import text
from mirror.report.outbound import proxy_handler, through
from mirror.summary import PairSummary, RunSummary

API_URL = WebClient.BASE_URL  # https://slack.com/api/
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_MESSAGE_TEXT = 4000  # Slack truncates the notification text past 40,000; stay readable
FAILURES_SHOWN = 5  # per pair; the rest are counted ("and N more")
FAILURE_LINE = 200  # characters of one failure line
FAILURE_KEY = 100  # of which the key may take
MAX_RETRY_AFTER = 60  # seconds; a longer wait than Slack asks for is not worth a CronJob's time
# After SIGTERM the pod has terminationGracePeriodSeconds (60 by default) before SIGKILL, and
# the copies in flight had their share of it: the summary waits out only short rate limits.
MAX_RETRY_AFTER_INTERRUPTED = 10
# The whole post, its retries, waits and a slow answer included: each request's timeout
# alone does not bound it (a dropped connection is tried three times, 20 s each; an answer
# that trickles in a byte at a time never times out). After SIGTERM it must end within the
# pod's grace period, after the run's own cut-off (10 s) and the Pushgateway's (10 s).
POST_DEADLINE = 120.0
POST_DEADLINE_INTERRUPTED = 20.0
READ_CHUNK = 65536

_FIXES = {
    "invalid_auth": "SLACK_BOT_TOKEN was rejected: use the app's Bot User OAuth Token "
                    "(xoxb-...) from OAuth & Permissions, and check the app is still installed",
    "not_authed": "SLACK_BOT_TOKEN is empty or was not sent",
    "account_inactive": "the token belongs to a deleted user or an uninstalled app: "
                        "reinstall the app and use its new bot token",
    "token_revoked": "the token was revoked: reinstall the app and use its new bot token",
    "token_expired": "the token expired: use a bot token without rotation, or refresh it",
    "channel_not_found": "SLACK_CHANNEL_ID {channel} is not a channel the bot can see: use the "
                         "channel's ID (C0123ABCDEF, at the bottom of the channel's details), "
                         "not its name; for a private channel invite the bot first",
    "not_in_channel": "the bot is not a member of {channel}: type /invite @<your bot> in that "
                      "channel (the bot needs the chat:write scope)",
    "missing_scope": "the token lacks the chat:write scope: add it under OAuth & Permissions, "
                     "reinstall the app, and use the new token",
    "is_archived": "channel {channel} is archived: unarchive it or choose another channel",
    "restricted_action": "the workspace does not let this bot post in {channel}",
    "ratelimited": "Slack kept rate-limiting this app; the summary is in the log (run.done)",
}
_BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "too_many_blocks",
                           "msg_too_long", "invalid_arguments"})


@dataclass(frozen=True)
class Message:
    text: str  # the notification text, and what clients without blocks show
    blocks: list[dict[str, Any]]


# -- building the message ----------------------------------------------------------------


def clip(value: str, limit: int) -> str:
    """At most `limit` characters, saying how many were cut."""
    if len(value) <= limit:
        return value
    keep = max(limit - 32, 0)  # room for the note below
    return value[:keep] + f"… ({len(value) - keep:,} more characters)"


def escape(value: str) -> str:
    """Text from keys and errors, safe in Slack mrkdwn (it treats &, <, > as markup)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escaped_within(value: str, limit: int) -> str:
    """`value` escaped, in at most `limit` characters: cut before escaping, so no entity
    (&amp;) is cut in half, saying how many characters were left out."""
    if len(escape(value)) <= limit:
        return escape(value)
    room, kept = max(limit - 32, 0), 0  # room for the note
    for char in value:
        room -= len(escape(char))
        if room < 0:
            break
        kept += 1
    return escape(value[:kept]) + f"… ({len(value) - kept:,} more characters)"


def without_key(why: str, key: str) -> str:
    """A reason that names the request ('GET bucket/key: ...') with '…' for the key the line's
    code span already shows: outside a code span, a key's `*`, `_` or `~` would be taken
    for formatting, and the line would show a key that does not exist."""
    return re.sub(re.escape("/" + key) + r"(?=:|$)", "/…", why, count=1) if key else why


def code(value: str, limit: int = MAX_SECTION) -> str:
    """A code span: it ends at a line break, so control characters are written as escapes."""
    return "`" + escaped_within(text.printable(value).replace("`", "'"), limit) + "`"


def _mrkdwn(value: str, limit: int = MAX_SECTION) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(value, limit)}


def _section(value: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(value)}


def _context(*elements: str) -> dict[str, Any]:
    return {"type": "context",
            "elements": [_mrkdwn(e) for e in elements[:MAX_CONTEXT_ELEMENTS] if e]}


def _header(run: RunSummary) -> dict[str, Any]:
    name = run.service or "minio-s3-mirror"
    title = f"{text.ICONS[run.status]} {name}: {run.status.value}"
    if run.dry_run:
        title += " (dry run)"
    return {"type": "header", "text": {"type": "plain_text", "text": clip(title, MAX_HEADER),
                                       "emoji": True}}


def _when(run: RunSummary) -> str:
    """Slack shows the start in each reader's own time zone; the ISO time is the fallback."""
    epoch = int(datetime.fromisoformat(run.started_at).timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{run.started_at}>"


def _overview(run: RunSummary) -> dict[str, Any]:
    copied = run.total("copied")
    total = run.total_cost()
    moved = (f"{text.objects(copied)} copied at {text.rate(run.bytes_per_second)}"
             if copied.objects else "nothing copied")
    cost = text.dollars(total.usd) + ("" if total.complete else "+")
    if run.dry_run:
        real = run.total_cost(projected=True)
        moved = ("dry run: nothing written; a real run would cost at least "
                 + text.dollars(real.usd) + ("" if real.complete else "+"))
    return _context(f"started {_when(run)} · took {text.duration(run.seconds)}", moved,
                    f"est. request cost {cost}")


def _pair_title(pair: PairSummary) -> str:
    title = (f"{code(pair.source)} → {code(pair.target)}\n"
             f"{text.ICONS[pair.status]} *{pair.status.value}*")
    if pair.prefixes:
        title += " · prefixes " + ", ".join(code(p) for p in pair.prefixes)
    return title


_DETAILS = ("listed", "time", "requests", "est. cost", "real run requests", "real run cost")


def _pair_blocks(run: RunSummary, pair: PairSummary) -> list[dict[str, Any]]:
    lines = text.pair_lines(run, pair)
    counts = [line for line in lines if line.label not in _DETAILS]
    fields = [_mrkdwn(f"*{line.label}*\n{'❗ ' if line.alarm else ''}{line.value}", MAX_FIELD)
              for line in counts[:MAX_FIELDS]]
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        {"type": "section", "text": _mrkdwn(_pair_title(pair)), "fields": fields},
        _context(*(f"*{line.label}* {escape(line.value)}" for line in lines
                   if line.label in _DETAILS)),
    ]
    if pair.error:
        blocks.append(_section(f"*Stopped:* {escape(text.printable(pair.error))}"))
    lists = []  # one section for both, a block fewer per pair within Slack's 50
    if pair.failures:
        total = pair.failed.objects or len(pair.failures) + pair.failures_not_kept
        lists.append(_keys("Failed objects", total, [(f.key, f.error) for f in pair.failures],
                           "object.failed"))
    if pair.differs:
        lists.append(_keys("Differ from the source, kept (overwrite is off)",
                           pair.decided(Action.DIFFERS_KEPT).objects,
                           [(d.key, d.reason) for d in pair.differs], "object.differs_kept"))
    if lists:
        blocks.append(_section("\n\n".join(lists)))
    return blocks


def _keys(title: str, total: int, entries: list[tuple[str, str]], event: str) -> str:
    """The first few keys with why, and how many more the log has."""
    lines = [f"*{title}* ({total:,})"]
    for key, why in entries[:FAILURES_SHOWN]:
        # the key and its reason share the line: a long key never hides why it failed
        key_shown = code(key, FAILURE_KEY)
        reason = escaped_within(text.printable(without_key(why, key)),
                                FAILURE_LINE - len(key_shown))
        lines.append(f"• {key_shown} {reason}")
    more = total - min(len(entries), FAILURES_SHOWN)
    if more > 0:
        lines.append(f"_and {more:,} more (one `{event}` log event each)_")
    return "\n".join(lines)


def _more_pairs(pairs: list[PairSummary]) -> dict[str, Any]:
    lines = [f"*and {len(pairs):,} more pairs* (the `run.done` log event has them all)"]
    lines += [f"{text.ICONS[p.status]} {code(p.pair)} {p.status.value}" for p in pairs]
    return _section("\n".join(lines))


def _footer(run: RunSummary) -> dict[str, Any]:
    prices = sorted({f"{alias}: {p.name}" for alias, p in run.prices.items()})
    return _context(f"minio-s3-mirror {__version__}",
                    "request prices " + ", ".join(prices) if prices else "")


def message(run: RunSummary) -> Message:
    """The Block Kit message for a run, within Slack's limits whatever the run's size."""
    blocks = [_header(run), _overview(run)]
    if run.dry_run:
        blocks.append(_section("🔍 *Dry run*: nothing was written. The counts are what a "
                               "real run would copy."))
    reserve = 2  # the "more pairs" note and the footer
    for index, pair in enumerate(run.pairs):
        pair_blocks = _pair_blocks(run, pair)
        if len(blocks) + len(pair_blocks) > MAX_BLOCKS - reserve:
            blocks.append(_more_pairs(run.pairs[index:]))
            break
        blocks += pair_blocks
    blocks.append(_footer(run))
    return Message(clip(text.headline(run), MAX_MESSAGE_TEXT), blocks)


# -- posting -----------------------------------------------------------------------------


class _RateLimitRetry(RateLimitErrorRetryHandler):
    """Wait as long as Slack's Retry-After asks, while the waits add up to at most
    `budget` seconds."""

    def __init__(self, *, budget: float, ends: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget
        self.ends = ends  # time.monotonic() past which no request starts

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), [])
        try:
            seconds = int(wait[0]) if wait else 1
        except ValueError:
            seconds = 1
        if seconds > self.budget or (self.ends is not None
                                     and time.monotonic() + seconds >= self.ends):
            return False
        self.budget -= seconds
        return True


# The SDK's own log lines would be plain text among our JSON ones; slack.* events say it all.
_sdk_log = logging.getLogger("mirror.slack_sdk")
_sdk_log.addHandler(logging.NullHandler())
_sdk_log.propagate = False


class _WebClient(WebClient):
    """A WebClient that goes through exactly the proxy it is given, or straight to Slack.

    Given no proxy, the SDK takes HTTPS_PROXY (or HTTP_PROXY, whatever the URL's scheme)
    from the environment, and urllib's default opener would take one again; neither reads
    NO_PROXY as the S3 clients do (CIDR ranges such as 10.0.0.0/8). The caller chooses.
    """

    def __init__(self, *, proxy: str | None, ends: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(proxy=proxy, **kwargs)
        self.proxy = proxy  # undo the SDK's fallback to the environment when it is None
        self.ends = ends  # time.monotonic() past which no request starts or goes on reading

    def _left(self) -> float:
        """The timeout of the next step; TimeoutError once the post has had its time."""
        if self.ends is None:
            return float(self.timeout)
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete answer within the time the post may take")
        return min(float(self.timeout), left)

    def _read(self, answer: Any) -> bytes:
        """The body as it comes, the deadline checked between reads: an answer trickling in
        a byte at a time never trips the socket's timeout."""
        body = bytearray()
        while chunk := answer.read1(READ_CHUNK):
            body += chunk
            self._left()
        return bytes(body)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if not url.lower().startswith(("http://", "https://")):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        opener = build_opener(proxy_handler(self.proxy), HTTPSHandler(context=self.ssl))
        try:
            answer = opener.open(req, timeout=self._left())
        except urllib.error.HTTPError as exc:  # the SDK reads its body: read it here, in time
            body = self._read(exc)
            exc.close()
            raise urllib.error.HTTPError(exc.url, exc.code, exc.msg, exc.hdrs,
                                         io.BytesIO(body)) from None
        with answer as resp:
            charset = resp.headers.get_content_charset() or "utf-8"
            return {"status": resp.code, "headers": resp.headers,
                    "body": self._read(resp).decode(charset)}


def base_url(api_url: str | None) -> str:
    """SLACK_API_URL with a trailing slash: the method name is joined to it with urljoin,
    which without one replaces the last path segment (`.../api` + `chat.postMessage` would
    be `/chat.postMessage`, a 404). slack_sdk adds it too since 3.33.5; older ones did not."""
    url = api_url or API_URL
    return url if url.endswith("/") else url + "/"


def client(token: str, api_url: str | None = None, proxy: str | None = None, *,
           rate_limit_budget: float = MAX_RETRY_AFTER,
           deadline: float | None = POST_DEADLINE) -> WebClient:
    """`proxy`: http://[user:password@]host:port, or None to reach `api_url` directly.
    Rate limits are waited out up to `rate_limit_budget` seconds in all; no request starts
    or goes on reading after `deadline` seconds from now."""
    ends = None if deadline is None else time.monotonic() + deadline
    return _WebClient(token=token, base_url=base_url(api_url), timeout=20, proxy=proxy,
                      ends=ends, logger=_sdk_log,
                      retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2),
                                      _RateLimitRetry(max_retry_count=3, ends=ends,
                                                      budget=rate_limit_budget)])


def post(run: RunSummary, token: str, channel: str, api_url: str | None = None,
         proxy: tuple[str, str] | None = None) -> bool:
    """Post the summary; log what happened (and the fix); True if Slack accepted it.

    `proxy`: the (variable, value) to go through, as `mirror.s3.proxy.choose` gives it, or
    None for a direct connection. Logs name it by host and port only, never its password.
    """
    log = logs.get().bind(channel=channel)
    routed = through(proxy, log, "slack.failed", "Slack")
    if routed is None:
        return False
    log, chosen = routed
    via = "" if chosen is None else f" through proxy {chosen.address} ({chosen.variable})"
    budget = MAX_RETRY_AFTER_INTERRUPTED if run.interrupted else MAX_RETRY_AFTER
    deadline = POST_DEADLINE_INTERRUPTED if run.interrupted else POST_DEADLINE
    slack = client(token, api_url, chosen.url if chosen else None, rate_limit_budget=budget,
                   deadline=deadline)
    built = message(run)
    try:
        try:
            answer = slack.chat_postMessage(channel=channel, text=built.text, blocks=built.blocks,
                                            unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            if exc.response.get("error") not in _BLOCK_ERRORS:
                raise
            log.warning("slack.blocks_refused", error=exc.response.get("error"),
                        detail="posting the summary as plain text instead")
            answer = slack.chat_postMessage(channel=channel, text=built.text)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        fix = _FIXES.get(error, f"Slack answered HTTP {exc.response.status_code}; check "
                                "SLACK_API_URL and "
                                "https://api.slack.com/methods/chat.postMessage#errors")
        log.error("slack.failed", error=error[:300], fix=fix.format(channel=channel),
                  detail="the mirror's exit code does not depend on Slack")
        return False
    except SlackClientError as exc:
        log.error("slack.failed", error=f"{type(exc).__name__}: {exc}"[:300],
                  fix="check SLACK_BOT_TOKEN and SLACK_API_URL",
                  detail="the mirror's exit code does not depend on Slack")
        return False
    except (AttributeError, TypeError):  # JSON, but not an object: the SDK cannot read it
        log.error("slack.failed", error="not a Slack API answer",
                  fix=f"{api_url or API_URL} answered chat.postMessage with JSON that is not "
                      "a Slack Web API response; check SLACK_API_URL",
                  detail="the mirror's exit code does not depend on Slack")
        return False
    except http.client.HTTPException as exc:  # BadStatusLine: a port of another protocol
        log.error("slack.failed", error="not an HTTP answer",
                  fix=f"{api_url or API_URL}{via} did not answer in HTTP "
                      f"({type(exc).__name__}); check the URL and its port (SLACK_API_URL)",
                  detail="the mirror's exit code does not depend on Slack")
        return False
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        url = api_url or API_URL
        proxies = chosen.variable if chosen is not None and chosen.variable else (
            "HTTP_PROXY" if url.lower().startswith("http:") else "HTTPS_PROXY")
        log.error("slack.failed", error="unreachable",
                  fix=f"cannot reach {url}{via}: {reason}; check the URL "
                      f"(SLACK_API_URL), DNS, the proxy ({proxies}, NO_PROXY), or an egress "
                      "NetworkPolicy",
                  detail="the mirror's exit code does not depend on Slack")
        return False
    log.info("slack.posted", ts=answer.get("ts"), blocks=len(built.blocks))
    return True
