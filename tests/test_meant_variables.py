"""Names a user writes for a setting the mirror spells otherwise, too far from it to be a
typo (MIRROR_TZ for MIRROR_TIMEZONE, a Slack webhook for the bot token): refused with the
name to use, exit 2, before any request. Ignored, MIRROR_TZ=Asia/Seoul would leave the
nightly `{yesterday}` in UTC, a day behind at 02:00 in Seoul, and a webhook would leave the
run without its Slack summary, both silently."""

from __future__ import annotations

import pytest
from conftest import base_env, run_mirror

from mirror.sandbox import LocalS3


@pytest.mark.parametrize(("name", "value", "meant"), [
    ("MIRROR_TZ", "Asia/Seoul", "did you mean MIRROR_TIMEZONE?"),
    ("mirror_tz", "Asia/Seoul", "did you mean MIRROR_TIMEZONE?"),
    ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x",
     "set SLACK_BOT_TOKEN and SLACK_CHANNEL_ID"),
    ("SLACK_WEBHOOK", "https://hooks.slack.com/services/T0/B0/x",
     "set SLACK_BOT_TOKEN and SLACK_CHANNEL_ID"),
])
def test_a_setting_under_another_name_is_refused(minio_side: LocalS3, aws_side: LocalS3,
                                                 name: str, value: str, meant: str) -> None:
    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": "minio/a:aws/b", name: value})

    assert run.code == 2
    problems = [e["error"] for e in run.named("config.invalid")]
    assert len(problems) == 1
    assert problems[0].startswith(f"configuration error: {name} is not a setting of the mirror")
    assert meant in problems[0]
    assert "hooks.slack.com" not in run.stderr  # a webhook URL is a secret
    assert "Traceback" not in run.stderr
