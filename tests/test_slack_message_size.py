"""Slack refuses blocks whose text adds up past ~13,000 characters (`msg_blocks_too_long`),
a limit it does not document beside the 50 blocks and 3,000 characters a section: a run of
ten pairs with a few failures each reaches it. The summary must still reach the channel."""

from __future__ import annotations

import json

import pytest
from report_servers import CHANNEL, TOKEN, SlackServer
from structlog.testing import capture_logs

from mirror.report import slack
from mirror.report.pricing import TABLES
from mirror.summary import Count, Difference, Failure, PairSummary, RunSummary, Status

REASON = ("the bytes read from the source have MD5 91d75cb0c461ec89655a05ba4a77ef55 but its "
          "ETag is 0b1cc2735b5a3f7cfd8e9fa3cdb73b89: the source object is damaged, or its "
          "store's ETags are not MD5s (SSE-KMS, SSE-C: set MINIO_ETAG_IS_MD5=false); nothing "
          "was written")


def _night(pairs: int) -> RunSummary:
    """The README's example pair (3 failed, 2 kept differences), `pairs` times."""
    return RunSummary(
        service="ml-platform", dry_run=False, started_at="2026-01-22T02:00:03+00:00",
        seconds=186, prices={"minio": TABLES["none"], "aws": TABLES["aws-s3-standard"]},
        pairs=[PairSummary(
            pair=f"minio/datasets-{i}:aws/datasets-backup-{i}", source=f"minio/datasets-{i}",
            target=f"aws/datasets-backup-{i}", dry_run=False, prefixes=["2026/01/21/"],
            status=Status.PARTIAL, seconds=96, copied_new=Count(114, 504 * 2**20),
            failed=Count(3, 8 * 2**20), listed_source=Count(3120, 9 * 2**30),
            listed_target=Count(3001, 8 * 2**30),
            decisions={"unchanged": Count(2999, 1), "differs-kept": Count(2, 4096),
                       "excluded": Count(2, 3)},
            failures=[Failure(f"2026/01/21/shard-00{n}.parquet", REASON) for n in range(3)],
            differs=[Difference(f"2026/01/21/labels/train{n}.json",
                                "source modified after the target copy was written")
                     for n in range(2)],
            requests={"source": {"GET": 117, "LIST": 4}, "target": {"LIST": 4, "PUT": 114}})
            for i in range(pairs)])


def _text_length(blocks: list[dict[str, object]]) -> int:
    total = 0
    for block in blocks:
        for item in [block.get("text"), *block.get("fields", []),  # type: ignore[misc]
                     *block.get("elements", [])]:  # type: ignore[misc]
            if item:
                total += len(item["text"])  # type: ignore[index]
    return total


@pytest.mark.parametrize("pairs", [10, 15, 50])
def test_a_night_of_many_partial_pairs_is_posted_as_blocks(slack_api: SlackServer,
                                                           pairs: int) -> None:
    """The blocks stay under the size Slack takes; the pairs left out are counted."""
    run = _night(pairs)

    with capture_logs() as events:
        assert slack.post(run, TOKEN, CHANNEL, slack_api.api_url)

    assert len(slack_api.calls) == 1, [e.get("error") for e in events]
    blocks = slack_api.posts()[0]["blocks"]
    assert len(json.dumps(blocks, ensure_ascii=False)) <= slack.MAX_BLOCKS_SIZE
    assert _text_length(blocks) < 13_000
    shown = [b for b in blocks if b["type"] == "section" and "fields" in b]
    more = [b["text"]["text"] for b in blocks
            if b["type"] == "section" and b["text"]["text"].startswith("*and ")]
    assert shown
    assert more == [] if len(shown) == pairs else \
        more[0].startswith(f"*and {pairs - len(shown):,} more pairs*")
    assert [e["event"] for e in events] == ["slack.posted"]


def test_blocks_slack_finds_too_long_are_sent_again_as_plain_text(
        slack_api: SlackServer) -> None:
    """Should Slack still answer msg_blocks_too_long, the headline reaches the channel."""
    slack_api.fail_with("msg_blocks_too_long")

    with capture_logs() as events:
        assert slack.post(_night(2), TOKEN, CHANNEL, slack_api.api_url)

    first, second = slack_api.posts()
    assert "blocks" in first
    assert "blocks" not in second
    assert second["text"].startswith("ml-platform mirror: partial, 228 (1008.0 MiB) copied")
    assert [e["event"] for e in events] == ["slack.blocks_refused", "slack.posted"]
