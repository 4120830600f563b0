"""A SIGTERM that comes while the summary is being posted (a CronJob's deadline, a node
drain, during a rate-limit wait Slack asked for): the post ends within the time an
interrupted run's post has (POST_DEADLINE_INTERRUPTED), never the minute a finished run's
may wait, which would outlast the pod's grace period and lose the message and the exit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from conftest import ROOT, base_env, new_bucket, put
from report_servers import CHANNEL, TOKEN, SlackServer
from structlog.testing import capture_logs

from mirror.report import slack
from mirror.sandbox import LocalS3
from mirror.summary import RunSummary


def _when_called(slack_api: SlackServer, stop: threading.Event) -> threading.Thread:
    """Set `stop` (as the SIGTERM handler does) once Slack has answered a first call."""
    def watch() -> None:
        while not slack_api.calls:
            time.sleep(0.05)
        time.sleep(0.3)  # the 429 is read and its wait has begun
        stop.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _finished_run() -> RunSummary:
    return RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                      pairs=[], seconds=1)


def test_a_wait_longer_than_the_time_left_after_sigterm_is_given_up(
        slack_api: SlackServer) -> None:
    slack_api.rate_limit(retry_after=slack.MAX_RETRY_AFTER - 5)  # a finished run waits
    stop = threading.Event()
    watcher = _when_called(slack_api, stop)

    with capture_logs() as events:
        assert not slack.post(_finished_run(), TOKEN, CHANNEL, slack_api.api_url, stop=stop)
    watcher.join(5)

    assert stop.is_set()
    assert len(slack_api.calls) == 1
    assert [(e["event"], e["error"]) for e in events] == [("slack.failed", "ratelimited")]


def test_a_short_wait_still_fits_after_sigterm_and_the_summary_is_posted(
        slack_api: SlackServer) -> None:
    slack_api.rate_limit(retry_after=2)
    stop = threading.Event()
    watcher = _when_called(slack_api, stop)

    with capture_logs() as events:
        assert slack.post(_finished_run(), TOKEN, CHANNEL, slack_api.api_url, stop=stop)
    watcher.join(5)

    calls = slack_api.calls
    assert len(calls) == 2
    assert calls[1].at - calls[0].at >= 2.0  # the wait was kept, not cut short by SIGTERM
    assert [e["event"] for e in events] == ["slack.posted"]


def test_the_command_ends_a_post_under_way_when_it_gets_sigterm(
        minio_side: LocalS3, aws_side: LocalS3, slack_api: SlackServer) -> None:
    """The run has finished and is waiting out Slack's 429: SIGTERM ends the wait, the
    command exits with the run's own code (it finished: 0) and the failed post logged,
    Slack asked once."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    slack_api.rate_limit(retry_after=slack.MAX_RETRY_AFTER - 5)
    env = {**base_env(minio=minio_side, aws=aws_side), "SLACK_BOT_TOKEN": TOKEN,
           "SLACK_CHANNEL_ID": CHANNEL, "SLACK_API_URL": slack_api.api_url,
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    process = subprocess.Popen([sys.executable, "-m", "mirror"], env=env, cwd=ROOT,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not slack_api.calls:
            assert process.poll() is None, "the command ended before posting"
            assert time.monotonic() < deadline, "no post in time"
            time.sleep(0.05)
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=slack.MAX_RETRY_AFTER + 30)
    finally:
        process.kill()
    events: list[dict[str, Any]] = [json.loads(line) for line in stderr.splitlines()]

    assert process.returncode == 0
    assert len(slack_api.calls) == 1
    assert [e["error"] for e in events if e["event"] == "slack.failed"] == ["ratelimited"]
    assert [e["status"] for e in events if e["event"] == "run.done"] == ["success"]
    assert TOKEN not in stderr
