"""The Slack summary: what Slack receives, within its limits; Slack's errors never fail a run."""

from __future__ import annotations

import base64
import itertools
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import base_env, contents, new_bucket, put, run_mirror
from proxy_server import ForwardProxy, Seen
from report_servers import CHANNEL, TOKEN, SlackServer, unanswered
from structlog.testing import capture_logs

from mirror.report import slack
from mirror.sandbox import LocalS3, free_port
from mirror.settings import load_settings
from mirror.summary import Count, Difference, Failure, PairSummary, RunSummary, Status


def _env(minio_side: LocalS3, aws_side: LocalS3, api_url: str, src: str, dst: str,
         **extra: str) -> dict[str, str]:
    return {**base_env(minio=minio_side, aws=aws_side), "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_CHANNEL_ID": CHANNEL, "SLACK_API_URL": api_url, "SERVICE": "photos",
            "BUCKET_PAIR": f"minio/{src}:aws/{dst}", **extra}


def _texts(blocks: list[dict[str, Any]]) -> str:
    """Every piece of text in the blocks, one per line (what a reader sees)."""
    out = []
    for block in blocks:
        for item in [block.get("text"), *block.get("fields", []),
                     *block.get("elements", [])]:
            if item:
                out.append(item["text"])
    return "\n".join(out)


def test_the_summary_slack_receives(minio_side: LocalS3, aws_side: LocalS3,
                                    slack_api: SlackServer) -> None:
    """One chat.postMessage to the channel: header, the pair's counts, its failure; exit 1."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {f"photo-{i}.jpg": b"jpeg" * i for i in range(1, 6)})
    minio_side.boto3().put_object(Bucket=src, Key="a-damaged/", Body=b"these bytes are lost")

    run = run_mirror(_env(minio_side, aws_side, slack_api.api_url, src, dst))

    assert run.code == 1  # the damaged object; Slack does not change it
    assert len(contents(aws_side, dst)) == 5
    assert [c.method for c in slack_api.calls] == ["chat.postMessage"]
    assert slack_api.calls[0].authorization == f"Bearer {TOKEN}"
    post = slack_api.posts()[0]
    assert post["channel"] == CHANNEL
    assert post["text"] == "photos mirror: partial, 5 (60 B) copied, 1 failed"
    blocks = post["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                                    "text": "⚠️ photos: partial"}}
    shown = _texts(blocks)
    assert f"`minio/{src}` → `aws/{dst}`" in shown
    assert "*copied*\n5 (60 B) new\n*unchanged*\n0\n" in shown
    assert "*failed*\n❗ 1 (0 B)" in shown
    assert "*Failed objects* (1)\n• `a-damaged/` the bytes read from the source" in shown
    assert len(blocks) <= slack.MAX_BLOCKS
    posted = run.named("slack.posted")
    assert [e["channel"] for e in posted] == [CHANNEL]
    assert TOKEN not in run.stderr + run.stdout


def test_a_dry_run_is_marked_as_one(minio_side: LocalS3, aws_side: LocalS3,
                                    slack_api: SlackServer) -> None:
    """The header and a section say nothing was written; counts say what would be copied."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"aaa", "b.txt": b"bb"})

    run = run_mirror(_env(minio_side, aws_side, slack_api.api_url, src, dst), "--dry-run")

    assert run.code == 0
    assert contents(aws_side, dst) == {}
    post = slack_api.posts()[0]
    assert post["blocks"][0]["text"]["text"] == "✅ photos: success (dry run)"
    assert post["text"] == "photos mirror: success (dry run), would copy 2 (5 B)"
    shown = _texts(post["blocks"])
    assert "*Dry run*: nothing was written" in shown
    assert "*would copy*\n2 (5 B) new\n*unchanged*" in shown
    assert "*real run requests* source GET 2 · LIST 1 / target LIST 1 · PUT 2" in shown
    assert "*real run requests*\n" not in shown  # a detail line, not a count field


@pytest.mark.parametrize(("error", "fix"), [
    ("not_in_channel", "/invite @<your bot>"),
    ("channel_not_found", "use the channel's ID"),
    ("invalid_auth", "Bot User OAuth Token (xoxb-...)"),
    ("missing_scope", "chat:write scope"),
])
def test_slack_errors_are_logged_with_the_fix_and_keep_the_exit_code(
        minio_side: LocalS3, aws_side: LocalS3, slack_api: SlackServer, error: str,
        fix: str) -> None:
    """Slack answers ok=false: the user reads the fix in the log; the mirror still exits 0."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    slack_api.fail_with(error)

    run = run_mirror(_env(minio_side, aws_side, slack_api.api_url, src, dst))

    assert run.code == 0
    assert contents(aws_side, dst) == {"a.txt": b"a"}
    assert len(slack_api.posts()) == 1
    failed = run.named("slack.failed")
    assert [(e["error"], e["level"]) for e in failed] == [(error, "error")]
    assert fix in failed[0]["fix"]
    assert run.named("run.done")
    assert TOKEN not in run.stderr + run.stdout


def test_rate_limits_are_retried_after_the_wait_slack_asks_for(
        minio_side: LocalS3, aws_side: LocalS3, slack_api: SlackServer) -> None:
    """Two 429s with Retry-After: 1, then accepted: three calls, a second apart."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    slack_api.rate_limit(retry_after=1, times=2)

    run = run_mirror(_env(minio_side, aws_side, slack_api.api_url, src, dst))

    assert run.code == 0
    calls = slack_api.calls
    assert len(calls) == 3
    assert all(later.at - earlier.at >= 1.0 for earlier, later in itertools.pairwise(calls))
    assert run.named("slack.posted")
    assert not run.named("slack.failed")


def test_a_rate_limit_longer_than_a_minute_is_not_waited_out(
        minio_side: LocalS3, aws_side: LocalS3, slack_api: SlackServer) -> None:
    """Retry-After: 3600 would hold the CronJob for an hour: give up at once, say why."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    slack_api.rate_limit(retry_after=3600)

    run = run_mirror(_env(minio_side, aws_side, slack_api.api_url, src, dst))

    assert run.code == 0
    assert run.seconds < 60
    assert len(slack_api.calls) == 1
    assert [e["error"] for e in run.named("slack.failed")] == ["ratelimited"]


def test_after_sigterm_only_a_short_rate_limit_is_waited_out(slack_api: SlackServer) -> None:
    """An interrupted run posts within the pod's grace period: a 15 s Retry-After, which a
    finished run would wait out, is given up at once, and says so."""
    slack_api.rate_limit(retry_after=15)
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[], seconds=1, interrupted=True)

    with capture_logs() as events:
        assert not slack.post(run, TOKEN, CHANNEL, slack_api.api_url)

    assert len(slack_api.calls) == 1
    assert [(e["event"], e["error"]) for e in events] == [("slack.failed", "ratelimited")]


def test_blocks_slack_refuses_are_sent_again_as_plain_text(
        minio_side: LocalS3, aws_side: LocalS3, slack_api: SlackServer) -> None:
    """invalid_blocks: the summary still reaches the channel, as its plain-text headline."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    slack_api.fail_with("invalid_blocks")

    run = run_mirror(_env(minio_side, aws_side, slack_api.api_url, src, dst))

    assert run.code == 0
    first, second = slack_api.posts()
    assert "blocks" in first
    assert "blocks" not in second
    assert second["text"] == "photos mirror: success, 1 (1 B) copied"
    assert run.named("slack.blocks_refused")
    assert run.named("slack.posted")


@pytest.mark.parametrize(("kind", "error"), [("nothing", "unreachable"),
                                             ("not http", "not an HTTP answer")])
def test_a_slack_url_where_no_http_server_answers_is_one_error_line(
        minio_side: LocalS3, aws_side: LocalS3, kind: str, error: str) -> None:
    """Nothing listens at SLACK_API_URL, or a port of another protocol does (a typo in the
    port): one slack.failed line naming the URL to check, no traceback; exit 0, objects
    copied."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    with unanswered(kind) as base:
        url = f"{base}/api/"
        run = run_mirror(_env(minio_side, aws_side, url, src, dst))

    assert run.code == 0
    assert contents(aws_side, dst) == {"a.txt": b"a"}
    failed = run.named("slack.failed")
    assert [e["error"] for e in failed] == [error]
    assert url in failed[0]["fix"]
    assert "SLACK_API_URL" in failed[0]["fix"]
    if error == "unreachable":  # an http:// URL goes through HTTP_PROXY, not HTTPS_PROXY
        assert "the proxy (HTTP_PROXY, NO_PROXY)" in failed[0]["fix"]
    assert not run.named("slack.crashed")
    assert "Traceback" not in run.stderr


def test_a_proxy_error_page_instead_of_slack_is_one_json_error_line(
        minio_side: LocalS3, aws_side: LocalS3, slack_api: SlackServer) -> None:
    """A 502 HTML page (a corporate proxy): slack.failed names the status; stderr stays JSON."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    slack_api.answer_html(502, "<html><body>Bad Gateway</body></html>")

    run = run_mirror(_env(minio_side, aws_side, slack_api.api_url, src, dst))

    assert run.code == 0
    failed = run.named("slack.failed")
    assert len(failed) == 1
    assert "HTTP 502" in failed[0]["fix"]
    assert all(line.startswith("{") for line in run.stderr.splitlines())


def test_json_that_is_not_a_slack_answer_is_one_error_line(slack_api: SlackServer) -> None:
    """A server that answers `[1, 2]` (not Slack's API): slack.failed says so, no crash."""
    slack_api.answer_html(200, "[1, 2]")
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[], seconds=1)

    with capture_logs() as events:
        assert not slack.post(run, TOKEN, CHANNEL, slack_api.api_url)

    assert [(e["event"], e["error"]) for e in events] == [
        ("slack.failed", "not a Slack API answer")]


def test_without_both_slack_variables_nothing_is_posted(
        minio_side: LocalS3, aws_side: LocalS3, slack_api: SlackServer) -> None:
    """SLACK_API_URL alone does not turn Slack on."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    env = _env(minio_side, aws_side, slack_api.api_url, src, dst)
    del env["SLACK_BOT_TOKEN"], env["SLACK_CHANNEL_ID"]

    run = run_mirror(env)

    assert run.code == 0
    assert slack_api.calls == []
    assert not run.named("slack.failed")


def test_an_api_url_without_its_trailing_slash_keeps_its_path(
        slack_api: SlackServer) -> None:
    """SLACK_API_URL=.../api: the post goes to /api/chat.postMessage, not /chat.postMessage
    (slack_sdk before 3.33.5, which the dependency allows, joins the two with urljoin)."""
    run = RunSummary(service="nightly", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[], seconds=1)

    with capture_logs() as events:
        assert slack.post(run, TOKEN, CHANNEL, slack_api.url + "/api")

    assert [c.path for c in slack_api.calls] == ["/api/chat.postMessage"]
    assert [e["event"] for e in events] == ["slack.posted"]


def test_no_proxy_sends_slack_around_the_proxy(minio_side: LocalS3, aws_side: LocalS3,
                                                slack_api: SlackServer) -> None:
    """NO_PROXY's CIDR range names Slack's host: it is reached directly, as the S3 endpoints
    are, although HTTPS_PROXY and HTTP_PROXY name a proxy that is not there."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = _env(minio_side, aws_side, slack_api.api_url, src, dst, HTTPS_PROXY=nowhere,
               HTTP_PROXY=nowhere, NO_PROXY="127.0.0.0/8")

    run = run_mirror(env)

    assert run.code == 0
    assert contents(aws_side, dst) == {"a.txt": b"a"}
    assert [c.path for c in slack_api.calls] == ["/api/chat.postMessage"]
    assert not run.named("slack.failed")
    assert [e.get("proxy") for e in run.named("slack.posted")] == [None]


def test_slack_goes_through_the_proxy_for_its_scheme_with_its_credentials(
        minio_side: LocalS3, aws_side: LocalS3, slack_api: SlackServer) -> None:
    """An http SLACK_API_URL takes HTTP_PROXY (not HTTPS_PROXY), with the URL's credentials;
    the logs name the proxy by host and port, never its password."""
    password = "pr0xy-s3cret"
    proxy = ForwardProxy(credentials=("mirror", password))
    try:
        src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
        put(minio_side, src, {"a.txt": b"a"})
        stores = ",".join(urlsplit(side.url).netloc for side in (minio_side, aws_side))
        env = _env(minio_side, aws_side, slack_api.api_url, src, dst,
                   HTTPS_PROXY=f"http://127.0.0.1:{free_port()}",
                   HTTP_PROXY=proxy.url("mirror", password), NO_PROXY=stores)

        run = run_mirror(env)

        assert run.code == 0
        token = base64.b64encode(f"mirror:{password}".encode()).decode()
        assert proxy.seen == [Seen("POST", slack_api.api_url + "chat.postMessage",
                                   f"Basic {token}")]
        assert len(slack_api.posts()) == 1
        assert [e["proxy"] for e in run.named("slack.posted")] == [f"127.0.0.1:{proxy.port}"]
        assert password not in run.stdout + run.stderr
    finally:
        proxy.close()


# -- Slack's limits ----------------------------------------------------------------------


def _huge_run() -> RunSummary:
    """40 pairs, each with 50 kept failures of 4,000-character keys and 1,000 more."""
    pairs = []
    for i in range(40):
        pair = PairSummary(pair=f"minio/src{i}:aws/dst{i}", source=f"minio/src{i}",
                           target=f"aws/dst{i}", dry_run=False, prefixes=["2025/01/21/"],
                           status=Status.PARTIAL, seconds=12.5, failed=Count(1050, 10**9),
                           failures=[Failure("k" * 4000 + f"-{n}", "reason " * 500)
                                     for n in range(50)],
                           failures_not_kept=1000, error="x" * 5000,
                           decisions={"differs-kept": Count(2000, 10**9)},
                           differs=[Difference("d" * 4000 + f"-{n}", "why " * 500)
                                    for n in range(50)],
                           differs_not_kept=1950)
        pairs.append(pair)
    return RunSummary(service="s" * 400, dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                      pairs=pairs, seconds=3600)


def _check_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= slack.MAX_BLOCKS
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= slack.MAX_HEADER
        if "text" in block and block["type"] == "section":
            assert len(block["text"]["text"]) <= slack.MAX_SECTION
        assert len(block.get("fields", [])) <= slack.MAX_FIELDS
        assert all(len(f["text"]) <= slack.MAX_FIELD for f in block.get("fields", []))
        assert len(block.get("elements", [])) <= slack.MAX_CONTEXT_ELEMENTS


def test_a_huge_run_fits_slacks_limits_by_truncating_with_counts(
        slack_api: SlackServer) -> None:
    """50 blocks, 150-character header, 3,000-character sections, about 13,000 characters
    in all: cut, and counted."""
    summary = _huge_run()

    with capture_logs() as events:
        assert slack.post(summary, TOKEN, CHANNEL, slack_api.api_url)

    blocks = slack_api.posts()[0]["blocks"]
    _check_limits(blocks)
    shown = _texts(blocks)
    header = blocks[0]["text"]["text"]
    assert header.endswith("s…: partial")  # a long SERVICE is cut, never the status
    titles = [b for b in blocks if b["type"] == "section" and "fields" in b]
    assert f"*and {40 - len(titles)} more pairs*" in shown
    assert len(titles) >= 1  # each pair holds ~9,000 characters: one fits
    assert len(json.dumps(blocks, ensure_ascii=False)) <= slack.MAX_BLOCKS_SIZE
    assert len(slack_api.calls) == 1  # accepted as blocks: no plain-text fallback
    assert "_and 1,045 more (one `object.failed` log event each)_" in shown
    assert "_and 1,995 more (one `object.differs_kept` log event each)_" in shown
    assert "more characters)" in shown
    assert [e["event"] for e in events] == ["slack.posted"]
    assert TOKEN not in str(events)


def test_failures_list_is_condensed_to_the_first_few() -> None:
    """A pair's failures show the first five, each on one short line, then a count."""
    pair = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=[], status=Status.PARTIAL, failed=Count(7, 70),
                       failures=[Failure(f"k{n}", "boom <&>") for n in range(7)])
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[pair], seconds=1)

    shown = _texts(slack.message(run).blocks)

    assert "*Failed objects* (7)\n• `k0` boom &lt;&amp;&gt;\n" in shown
    assert "• `k4` boom" in shown
    assert "`k5`" not in shown
    assert "_and 2 more (one `object.failed` log event each)_" in shown


def test_a_long_key_is_shortened_and_its_reason_still_shown() -> None:
    """A 130-character key full of characters Slack escapes: the key is cut (never inside
    an entity such as &amp;), its code span closed, and the reason kept whole."""
    key = "été/" + "<&>" * 42
    pair = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=[], status=Status.PARTIAL, failed=Count(1, 1),
                       failures=[Failure(key, "in GLACIER; restore it first")])
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[pair], seconds=1)

    line = next(line for line in _texts(slack.message(run).blocks).splitlines()
                if line.startswith("• "))

    assert line.endswith(" more characters)` in GLACIER; restore it first"), line
    assert line.startswith("• `été/&lt;&amp;&gt;")
    assert line.count("`") == 2
    assert re.search(r"&(amp|lt|gt);… \(\d+ more characters\)", line)  # no entity cut
    assert len(line) <= slack.FAILURE_LINE + 4


def test_a_key_slack_would_format_is_shown_only_in_its_code_span() -> None:
    """A key with Slack's formatting characters: the reason, which names the request, does
    not repeat it outside the code span, where `*star*` would turn bold."""
    key = "f/*star* and _under_ ~x~"
    pair = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=[], status=Status.PARTIAL, failed=Count(1, 1),
                       failures=[Failure(key, f"GET photos/{key}: request rejected "
                                              "(HTTP 400 InvalidRequest)")])
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[pair], seconds=1)

    shown = _texts(slack.message(run).blocks)

    assert ("• `f/*star* and _under_ ~x~` GET photos/…: request rejected "
            "(HTTP 400 InvalidRequest)") in shown


def test_kept_differences_are_listed_like_failures() -> None:
    """Overwrite off: the keys whose copies differ are named, the first five, then a count,
    so "differs, kept: 7" can be acted on without a debug run."""
    pair = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=[], decisions={"differs-kept": Count(7, 70)},
                       differs=[Difference(f"d{n}", "size differs (1 on source, 2 on target)")
                                for n in range(7)])
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[pair], seconds=1)

    shown = _texts(slack.message(run).blocks)

    assert ("*Differ from the source, kept (overwrite is off)* (7)\n"
            "• `d0` size differs (1 on source, 2 on target)\n") in shown
    assert "`d4`" in shown
    assert "`d5`" not in shown
    assert "_and 2 more (one `object.differs_kept` log event each)_" in shown


def test_an_interrupted_run_says_so_in_the_header() -> None:
    """SIGTERM mid-run: the header shows 'interrupted', the pair its own status."""
    pair = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=[], status=Status.INTERRUPTED, copied_new=Count(3, 30),
                       interrupted=Count(2, 20), listed_source=Count(5, 50),
                       listing_complete=False)
    run = RunSummary(service="nightly", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[pair], seconds=30, interrupted=True)

    built = slack.message(run)

    assert built.blocks[0]["text"]["text"] == "⏹️ nightly: interrupted"
    assert built.text == ("nightly mirror: interrupted, 3 (30 B) copied, "
                          "2 stopped before done (left to the next run)")
    assert "*interrupted*\n2\n" in _texts(built.blocks) + "\n"
    # 5 listed is not the bucket: the stop came before the listing's end
    assert "*listed* source 5 (50 B) · target 0 (stopped before the listing's end)" in _texts(
        built.blocks)


@pytest.mark.parametrize(("prefix", "later"), [
    ("2026/01/21/", "left to the next run"),
    ("{yesterday:%Y/%m/%d}/", "left to a run without the date prefix"),
])
def test_what_an_interrupted_nightly_run_leaves_is_not_promised_to_the_next_night(
        prefix: str, later: str) -> None:
    """A date-templated prefix names another folder tomorrow: what tonight's run left is
    listed again only by a run without it (the weekly full sync), not by the next run."""
    settings = load_settings({"MINIO_URL": "http://127.0.0.1:9", "MINIO_ACCESS_KEY": "ak",
                              "MINIO_SECRET_KEY": "sk", "AWS_URL": "http://127.0.0.1:9",
                              "AWS_ACCESS_KEY": "ak", "AWS_SECRET_KEY": "sk",
                              "BUCKET_PAIR": "minio/a:aws/b", "MIRROR_PREFIX": prefix})
    pair = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=list(settings.prefixes), status=Status.INTERRUPTED,
                       interrupted=Count(2, 20), source_changed=Count(1, 10))
    run = RunSummary(service="nightly", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[pair], seconds=30, interrupted=True,
                     dated_prefixes=settings.dated_prefixes)

    assert slack.message(run).text == (
        f"nightly mirror: interrupted, 0 copied, 2 stopped before done ({later}), "
        f"1 changed at the source during the run ({later})")


def test_a_pair_that_could_not_run_is_in_the_notification_text() -> None:
    """One pair copied, another failed as a whole (no object failed in it): the text a
    phone shows says a pair failed, not only 'partial, 5 copied'."""
    done = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=[], copied_new=Count(5, 10))
    broken = PairSummary(pair="minio/c:aws/d", source="minio/c", target="aws/d",
                         dry_run=False, prefixes=[], status=Status.FAILED,
                         error="cannot list the target aws/d: no such bucket")
    run = RunSummary(service="nightly", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[done, broken], seconds=3)

    assert slack.message(run).text == ("nightly mirror: partial, 5 (10 B) copied, "
                                       "1 of 2 pairs failed")


def test_a_proxy_slack_cannot_use_is_named_without_its_password(
        slack_api: SlackServer) -> None:
    """A proxy URL the mirror cannot go through (SOCKS): nothing is sent, one slack.failed
    line names the variable and why, never the password in the URL."""
    run = RunSummary(service="nightly", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[], seconds=1)

    with capture_logs() as events:
        posted = slack.post(run, TOKEN, CHANNEL, slack_api.api_url,
                            ("HTTPS_PROXY", "socks5://mirror:proxy-secret-9@proxy:1080"))

    assert posted is False
    assert slack_api.calls == []
    assert [(e["event"], e["error"]) for e in events] == [("slack.failed", "invalid proxy")]
    assert events[0]["fix"].startswith("HTTPS_PROXY must be an http:// proxy URL")
    assert "proxy-secret-9" not in repr(events)


def test_a_key_with_a_line_break_stays_in_its_code_span() -> None:
    """A code span ends at a line break: a key holding one would show its second half as
    formatted text, here as a fake failure line. Control characters are shown as escapes."""
    key = "a\n• `fake` all good\n*bold*"
    pair = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=[], status=Status.PARTIAL, failed=Count(1, 1),
                       failures=[Failure(key, "rclone rewrites control characters\r\nin a key")])
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[pair], seconds=1)

    shown = _texts(slack.message(run).blocks)

    bullets = [line for line in shown.splitlines() if line.startswith("• ")]
    assert bullets == ["• `a\\n• 'fake' all good\\n*bold*` rclone rewrites control "
                       "characters\\r\\nin a key"]


def test_sections_cut_to_fit_end_between_lines_never_inside_markup() -> None:
    """A pair stopped by a long error holding `&`, and 150 pairs past the 50 blocks with
    long names: cut by characters, a section would end inside an entity (`&am`) or leave
    a code span open, and Slack would show the markup or refuse the blocks."""
    pairs = [PairSummary(pair=f"minio/src-{i:03}-{'a&b' * 20}:aws/dst-{i:03}",
                         source=f"minio/src-{i:03}", target=f"aws/dst-{i:03}", dry_run=False,
                         prefixes=[], status=Status.FAILED, seconds=1,
                         error="cannot list: " + "R&D <bucket> " * 400)
             for i in range(150)]
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=pairs, seconds=1)

    blocks = slack.message(run).blocks

    _check_limits(blocks)
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    for section in sections:
        assert not re.search(r"&(?!amp;|lt;|gt;)", section), section[-80:]
        assert all(line.count("`") % 2 == 0 for line in section.splitlines()), section[-80:]
    stopped = [s for s in sections if s.startswith("*Stopped:*")]
    assert stopped
    assert all(s.endswith("more characters)") for s in stopped)
    (more,) = [s for s in sections if s.startswith("*and ")]
    listed = [line for line in more.splitlines() if line.startswith("❌ ")]
    assert len(listed) >= 20
    left = 150 - sum(1 for b in blocks if "fields" in b) - len(listed)
    assert more.endswith(f"_… {left:,} not listed here_")


def test_a_run_that_copied_only_empty_objects_shows_no_rate() -> None:
    pair = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=[], status=Status.SUCCESS, seconds=2,
                       decisions={"copy-new": Count(3, 0)}, copied_new=Count(3, 0))
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[pair], seconds=2)

    shown = _texts(slack.message(run).blocks)

    assert "3 (0 B) copied\n" in shown
    assert "B/s" not in shown


class _Stalling:
    """A Slack URL that never finishes an answer: `dropped` (connections time out, as
    behind an egress NetworkPolicy that drops packets: a listener whose queue is full),
    `silent` (it reads the request and says nothing), or `trickle` (a byte at a time)."""

    def __init__(self, kind: str) -> None:
        import socket
        import threading

        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api/"
        self.held: list[socket.socket] = []
        if kind == "dropped":  # fill the accept queue: further connections get no answer
            for _ in range(4):
                held = socket.socket()
                held.setblocking(False)
                held.connect_ex(self.listener.getsockname())
                self.held.append(held)
            return
        threading.Thread(target=self._serve, args=(kind,), daemon=True).start()

    def _serve(self, kind: str) -> None:
        import contextlib
        import time

        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                self.held.append(conn)
                conn.recv(65536)
                if kind == "trickle":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 1000000\r\n\r\n")
                    while True:
                        time.sleep(0.2)
                        conn.sendall(b" ")

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.listener.close()


@pytest.mark.parametrize(("kind", "interrupted"), [("dropped", True), ("silent", True),
                                                   ("trickle", False)])
def test_a_post_that_cannot_finish_ends_at_its_deadline(
        monkeypatch: pytest.MonkeyPatch, kind: str, interrupted: bool) -> None:
    """The whole post has a deadline, retries and a slow answer included: a dropped
    connection is otherwise tried three times (62 s, past a pod's 60 s grace after
    SIGTERM), and an answer that trickles in never ends. One slack.failed line, in time."""
    import threading
    import time

    monkeypatch.setattr(slack, "POST_DEADLINE", 2.0, raising=False)
    monkeypatch.setattr(slack, "POST_DEADLINE_INTERRUPTED", 2.0, raising=False)
    server = _Stalling(kind)
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[], seconds=1, interrupted=interrupted)
    posted: list[bool] = []
    try:
        with capture_logs() as events:
            started = time.monotonic()
            poster = threading.Thread(
                target=lambda: posted.append(slack.post(run, TOKEN, CHANNEL, server.url)),
                daemon=True)
            poster.start()
            poster.join(10)
            took = time.monotonic() - started
    finally:
        server.close()

    assert not poster.is_alive(), f"the post was still going after {took:.0f} s"
    assert took < 8
    assert posted == [False]
    assert [(e["event"], e["error"]) for e in events] == [("slack.failed", "unreachable")]
