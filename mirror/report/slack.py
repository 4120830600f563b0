"""The run summary as a Slack message (Block Kit), posted with `chat.postMessage`.

Layout, made for a phone: a header with the service and the status, a context line (when,
how long, how much, what it cost), then per pair a section with its counts, a small context
line (listed, time, requests, cost) and its first failures as a condensed list.

Slack's limits are respected by truncating with a count, never by failing: 50 blocks per
message, 150 characters in a header, 3,000 in a section, 2,000 in a field, 10 fields per
section, and about 13,000 characters for all the blocks together (msg_blocks_too_long, a
limit Slack does not document: ten pairs with a few failures each reach it). 429 answers
are retried after the Retry-After Slack sends. Slack's own errors are logged with the fix
the user needs; none of them changes the mirror's exit code.

The proxy is the one the caller chose (`mirror.s3.proxy.choose`: HTTPS_PROXY /
HTTP_PROXY unless NO_PROXY names Slack's host, the S3 clients' rules), or none: never one
the SDK or urllib would pick from the environment themselves, ignoring NO_PROXY's ranges.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import re
import threading
import time
import urllib.error
from collections.abc import Callable
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
from mirror.summary import PairSummary, RunSummary, Status

API_URL = WebClient.BASE_URL  # https://slack.com/api/
MAX_BLOCKS = 50
# All the blocks together, as JSON: Slack answers msg_blocks_too_long past about 13,000
# characters of text in all (undocumented; slackapi/bolt-js#2509), whatever each block holds.
MAX_BLOCKS_SIZE = 12_000
MORE_PAIRS_ROOM = 1_500  # kept for the "and N more pairs" note while pairs follow
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
                           "msg_blocks_too_long", "msg_too_long", "invalid_arguments"})


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


def _header_block(status: Status, service: str, said: str) -> dict[str, Any]:
    """'<icon> <service>: <said>', within Slack's 150 characters: a long SERVICE is cut,
    never what the header is there to say."""
    icon, said = f"{text.ICONS[status]} ", f": {said}"
    name = service or "minio-s3-mirror"
    if len(icon + name + said) > MAX_HEADER:
        name = name[:MAX_HEADER - len(icon + said) - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": icon + name + said,
                                       "emoji": True}}


def _header(run: RunSummary) -> dict[str, Any]:
    return _header_block(run.status, run.service,
                         run.status.value + (" (dry run)" if run.dry_run else ""))


def _as_many_as_fit(lines: list[str], room: int, newline: int,
                    more: Callable[[int], str]) -> list[str]:
    """`lines` while they fit whole in `room` characters, each with its line break
    (`newline` characters: 2 where the room is counted in JSON, `\\n`), then `more(n)` for
    the n left out: cut by characters, a line would end inside its code span or an entity."""
    kept: list[str] = []
    for shown, line in enumerate(lines):
        room -= len(line) + newline
        if room < 0:
            return [*kept, more(len(lines) - shown)]
        kept.append(line)
    return kept


def _when(run: RunSummary) -> str:
    """Slack shows the start in each reader's own time zone; the ISO time is the fallback."""
    epoch = int(datetime.fromisoformat(run.started_at).timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{run.started_at}>"


def _overview(run: RunSummary) -> dict[str, Any]:
    copied = run.total("copied")
    total = run.total_cost()
    moved = f"{text.objects(copied)} copied" if copied.objects else "nothing copied"
    if copied.bytes:  # empty objects only: no rate to show, as on the terminal
        moved += f" at {text.rate(run.bytes_per_second)}"
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
        stopped = "*Stopped:* "
        blocks.append(_section(stopped + escaped_within(text.printable(pair.error),
                                                        MAX_SECTION - len(stopped))))
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


def _size(blocks: list[dict[str, Any]]) -> int:
    return len(json.dumps(blocks, ensure_ascii=False))


def _more_pairs(pairs: list[PairSummary], limit: int = MAX_SECTION) -> dict[str, Any]:
    """The pairs past Slack's 50 blocks (or its size), one line each, as many as fit in
    `limit` characters whole."""
    note = f"*and {len(pairs):,} more pairs* (the `run.done` log event has them all)"
    room = min(limit, MAX_SECTION) - len(note) - 80  # the note, the block's JSON
    lines = _as_many_as_fit(
        [f"{text.ICONS[p.status]} {code(p.pair, FAILURE_KEY)} {p.status.value}"
         for p in pairs], room, 2, lambda left: f"_… {left:,} not listed here_")
    return _section("\n".join([note, *lines]))


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
    footer = _footer(run)
    room = MAX_BLOCKS_SIZE - _size([*blocks, footer])  # characters left for the pairs
    for index, pair in enumerate(run.pairs):
        pair_blocks = _pair_blocks(run, pair)
        size = _size(pair_blocks) + 2  # and the ", " joining them to the others
        following = MORE_PAIRS_ROOM if index + 1 < len(run.pairs) else 0
        if len(blocks) + len(pair_blocks) > MAX_BLOCKS - reserve \
                or size + following > room:
            blocks.append(_more_pairs(run.pairs[index:], room))
            break
        blocks += pair_blocks
        room -= size
    blocks.append(footer)
    return Message(clip(text.headline(run), MAX_MESSAGE_TEXT), blocks)


# -- posting -----------------------------------------------------------------------------


class _Deadline:
    """When the post must be over: `seconds` after it began, and at the latest
    POST_DEADLINE_INTERRUPTED after a SIGTERM (`stop`) that comes while it is under way:
    a rate-limit wait begun before it would otherwise outlast the pod's grace period."""

    def __init__(self, seconds: float | None, stop: threading.Event | None = None) -> None:
        self._ends = None if seconds is None else time.monotonic() + seconds
        self._stop = stop
        self._cut = False

    def ends(self) -> float | None:
        """time.monotonic() past which no request starts or goes on reading."""
        if not self._cut and self._stop is not None and self._stop.is_set():
            self._cut = True
            cut = time.monotonic() + POST_DEADLINE_INTERRUPTED
            self._ends = cut if self._ends is None else min(self._ends, cut)
        return self._ends

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`; until a SIGTERM comes, it ends the wait early."""
        if self._stop is None or self._stop.is_set():
            time.sleep(seconds)
        else:
            self._stop.wait(seconds)


def _retry_after(response: HttpResponse) -> int:
    wait = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), [])
    try:
        return int(wait[0]) if wait else 1
    except ValueError:
        return 1


class _RateLimitRetry(RateLimitErrorRetryHandler):
    """Wait as long as Slack's Retry-After asks, while the waits add up to at most
    `budget` seconds and end before the post's deadline (a SIGTERM during a wait brings
    the deadline closer: the wait goes on only if it still fits)."""

    def __init__(self, *, budget: float, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget
        self.deadline = deadline

    def _fits(self, until: float) -> bool:
        ends = self.deadline.ends()
        return ends is None or until < ends

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        seconds = _retry_after(response)
        if seconds > self.budget or not self._fits(time.monotonic() + seconds):
            return False
        self.budget -= seconds
        return True

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None,
                                 error: Exception | None = None) -> None:
        """The wait Slack asked for; no next attempt (the 429 stands) when a SIGTERM
        during it leaves too little time to finish it."""
        assert response is not None  # _can_retry took only a 429 answer
        until = time.monotonic() + _retry_after(response)
        while (left := until - time.monotonic()) > 0:
            if not self._fits(until):
                return
            self.deadline.sleep(left)
        state.next_attempt_requested = True
        state.increment_current_attempt()


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

    def __init__(self, *, proxy: str | None, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(proxy=proxy, **kwargs)
        self.proxy = proxy  # undo the SDK's fallback to the environment when it is None
        self.deadline = deadline

    def _left(self) -> float:
        """The timeout of the next step; TimeoutError once the post has had its time."""
        ends = self.deadline.ends()
        if ends is None:
            return float(self.timeout)
        left = ends - time.monotonic()
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
           deadline: float | None = POST_DEADLINE,
           stop: threading.Event | None = None) -> WebClient:
    """`proxy`: http://[user:password@]host:port, or None to reach `api_url` directly.
    Rate limits are waited out up to `rate_limit_budget` seconds in all; no request starts
    or goes on reading after `deadline` seconds from now, nor POST_DEADLINE_INTERRUPTED
    seconds after `stop` (SIGTERM) is set."""
    ends = _Deadline(deadline, stop)
    return _WebClient(token=token, base_url=base_url(api_url), timeout=20, proxy=proxy,
                      deadline=ends, logger=_sdk_log,
                      retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2),
                                      _RateLimitRetry(max_retry_count=3, deadline=ends,
                                                      budget=rate_limit_budget)])


def config_error_message(service: str, problems: list[str]) -> Message:
    """What a run that could not start says in the channel: a nightly run that only logs
    its configuration error (a key missing from the Secret) would leave the channel silent,
    and a missing message is easily taken for a quiet night."""
    service = text.printable(service)  # SERVICE itself may be what is wrong with it
    intro = "*Nothing was done* (exit code 2): the run could not start.\n"
    lines = _as_many_as_fit(
        ["• " + escaped_within(text.printable(problem), 600) for problem in problems],
        MAX_SECTION - len(intro) - 80, 1,
        lambda left: f"_and {left:,} more (`config.invalid` in the log)_")
    headline = (f"{service} mirror" if service else "minio-s3-mirror") + \
        f": configuration error, nothing was done: {escape(text.printable(problems[0]))}" \
        if problems else ""
    return Message(clip(headline, MAX_MESSAGE_TEXT), [
        _header_block(Status.FAILED, service, "configuration error"),
        _section(intro + "\n".join(lines)),
        _context(f"minio-s3-mirror {__version__}",
                 "the log has one `config.invalid` event per problem"),
    ])


def post_config_error(service: str, problems: list[str], token: str, channel: str,
                      api_url: str | None = None,
                      proxy: tuple[str, str] | None = None) -> bool:
    """Tell the channel the run could not start; True if Slack accepted it."""
    return _send(config_error_message(service, problems), token, channel, api_url, proxy,
                 interrupted=False)


def post(run: RunSummary, token: str, channel: str, api_url: str | None = None,
         proxy: tuple[str, str] | None = None, stop: threading.Event | None = None) -> bool:
    """Post the summary; log what happened (and the fix); True if Slack accepted it.

    `proxy`: the (variable, value) to go through, as `mirror.s3.proxy.choose` gives it, or
    None for a direct connection. Logs name it by host and port only, never its password.
    `stop`: set by a SIGTERM, which ends the post within POST_DEADLINE_INTERRUPTED seconds.
    """
    return _send(message(run), token, channel, api_url, proxy, interrupted=run.interrupted,
                 stop=stop)


def _send(built: Message, token: str, channel: str, api_url: str | None,
          proxy: tuple[str, str] | None, *, interrupted: bool,
          stop: threading.Event | None = None) -> bool:
    log = logs.get().bind(channel=channel)
    routed = through(proxy, log, "slack.failed", "Slack")
    if routed is None:
        return False
    log, chosen = routed
    via = "" if chosen is None else f" through proxy {chosen.address} ({chosen.variable})"
    budget = MAX_RETRY_AFTER_INTERRUPTED if interrupted else MAX_RETRY_AFTER
    deadline = POST_DEADLINE_INTERRUPTED if interrupted else POST_DEADLINE
    slack = client(token, api_url, chosen.url if chosen else None, rate_limit_budget=budget,
                   deadline=deadline, stop=stop)
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
