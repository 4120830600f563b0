"""A run that cannot start (a configuration error, exit 2) still tells the Slack channel, when
Slack's own settings are usable: a nightly CronJob whose Secret lost a key would otherwise
leave the channel silent, night after night, and a missing message reads as a quiet night."""

from __future__ import annotations

from conftest import base_env, run_mirror
from report_servers import CHANNEL, TOKEN, SlackServer


def _env(api_url: str, **extra: str) -> dict[str, str]:
    """A nightly job whose Secret lacks MINIO_SECRET_KEY (optional in the chart's pod)."""
    return {**base_env(), "SERVICE": "nightly", "BUCKET_PAIR": "minio/photos:aws/backup",
            "MINIO_URL": "http://127.0.0.1:9", "MINIO_ACCESS_KEY": "minio",
            "AWS_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY": "aws-key",
            "AWS_SECRET_KEY": "aws-secret-value", "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_CHANNEL_ID": CHANNEL, "SLACK_API_URL": api_url, **extra}


def test_a_configuration_error_is_posted_to_the_channel(slack_api: SlackServer) -> None:
    run = run_mirror(_env(slack_api.api_url))

    assert run.code == 2
    assert [e["event"] for e in run.events] == ["config.invalid", "slack.posted"]
    [post] = slack_api.posts()
    assert post["channel"] == CHANNEL
    assert post["text"].startswith("nightly mirror: configuration error, nothing was done: "
                                   "MINIO_SECRET_KEY")
    header = post["blocks"][0]["text"]["text"]
    assert header == "❌ nightly: configuration error"
    assert "MINIO_SECRET_KEY" in post["blocks"][1]["text"]["text"]
    assert TOKEN not in run.stderr + run.stdout
    assert "aws-secret-value" not in str(post)


def test_slack_settings_that_are_themselves_wrong_post_nothing(
        slack_api: SlackServer) -> None:
    """A malformed SLACK_API_URL: nothing is sent anywhere; the log names it, exit 2."""
    run = run_mirror(_env("ftp://" + slack_api.api_url.removeprefix("http://"),
                          MINIO_SECRET_KEY="minio-secret"))

    assert run.code == 2
    assert slack_api.calls == []
    assert [e["event"] for e in run.events] == ["config.invalid"]
    assert "SLACK_API_URL" in run.events[0]["error"]


def test_a_slack_error_keeps_exit_code_2(slack_api: SlackServer) -> None:
    slack_api.fail_with("not_in_channel")

    run = run_mirror(_env(slack_api.api_url))

    assert run.code == 2
    assert [e["event"] for e in run.events] == ["config.invalid", "slack.failed"]
    assert "/invite" in run.events[1]["fix"]
