"""Secrets never reach a log line, whatever the level and whatever fails."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from conftest import base_env, contents, new_bucket, put, run_mirror
from report_servers import SlackServer

from mirror.logs import Redactor
from mirror.sandbox import LocalS3


def test_no_secret_appears_in_any_output(minio_side: LocalS3, aws_side: LocalS3) -> None:
    """Debug logs, copies, and a credentials failure: no key, secret or token printed."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    other = new_bucket(aws_side, "other")
    put(minio_side, src, {"a": b"1", "b": b"2"})
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_DEBUG": "true",
           "BAD_URL": aws_side.url, "BAD_ACCESS_KEY": "AKIA-BAD-ACCESS-KEY-1234",
           "BAD_SECRET_KEY": "bad-secret-value-5678", "BAD_SESSION_TOKEN": "session-token-9012",
           "BUCKET_PAIRS": f"minio/{src}:aws/{dst};minio/{src}:bad/{other}"}

    run = run_mirror(env)

    assert run.code == 1
    assert len(run.named("object.copied")) == 2
    assert contents(aws_side, dst) == {"a": b"1", "b": b"2"}
    output = run.stderr + run.stdout
    for secret in (minio_side.secret_key, aws_side.secret_key, "bad-secret-value-5678",
                   "session-token-9012", "AKIA-BAD-ACCESS-KEY-1234"):
        assert secret not in output


def test_a_secret_that_reaches_a_log_line_is_blanked(minio_side: LocalS3,
                                                     aws_side: LocalS3) -> None:
    """The last line of defence: whatever carries a secret into an event (here, a key that
    contains one, copied and logged), the rendered line has it blanked."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    leaky = f"notes/{aws_side.secret_key}.txt"
    put(minio_side, src, {leaky: b"pasted by mistake"})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0
    assert contents(aws_side, dst) == {leaky: b"pasted by mistake"}
    assert [e["key"] for e in run.named("object.copied")] == ["notes/[redacted].txt"]
    assert aws_side.secret_key not in run.stderr + run.stdout


def test_a_secret_in_a_key_is_blanked_in_every_summary_too(
        minio_side: LocalS3, aws_side: LocalS3, tmp_path: Path) -> None:
    """The summary lists the keys that differ or failed: on the terminal, in the report file
    and in Slack they are blanked as in the log."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    leaky = f"notes/{aws_side.secret_key}.txt"
    put(minio_side, src, {leaky: b"pasted by mistake"})
    put(aws_side, dst, {leaky: b"an older copy"})  # differs, kept: listed in the summary
    slack = SlackServer()
    report = tmp_path / "report.json"
    try:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}", "MIRROR_PRINT_SUMMARY": "true",
                          "MIRROR_REPORT_FILE": str(report), "SLACK_BOT_TOKEN": "xoxb-1",
                          "SLACK_CHANNEL_ID": "C1", "SLACK_API_URL": slack.api_url})
        posted = json.dumps(slack.posts())
    finally:
        slack.close()

    assert run.code == 0
    assert run.decisions() == {"differs-kept": 1}
    assert "notes/[redacted].txt" in run.stdout
    assert "notes/[redacted].txt" in report.read_text()
    assert "notes/[redacted].txt" in posted
    for output in (run.stdout, run.stderr, report.read_text(), posted):
        assert aws_side.secret_key not in output


def test_short_credentials_do_not_break_the_logs(minio_side: LocalS3, aws_side: LocalS3) -> None:
    """An access key that is a plain word ("minio") is an identifier, not a secret: the
    logs keep every "minio" in them. A secret made of digits is blanked in text, never in
    a number, so each line stays valid JSON with its counts intact."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    other = new_bucket(aws_side, "other")
    put(minio_side, src, {"a.bin": b"x" * 4096})
    env = {**base_env(minio=minio_side, aws=aws_side), "BAD_URL": aws_side.url,
           "BAD_ACCESS_KEY": "minio", "BAD_SECRET_KEY": "4096",
           "BUCKET_PAIRS": f"minio/{src}:aws/{dst};minio/{src}:bad/{other}"}

    run = run_mirror(env)  # parses every JSON line of the log

    assert run.code == 1
    assert contents(aws_side, dst) == {"a.bin": b"x" * 4096}
    assert run.summary["schema"].startswith("minio-s3-mirror/")
    assert run.pair(0)["pair"] == f"minio/{src}:aws/{dst}"
    assert run.pair(0)["copied"] == {"objects": 1, "bytes": 4096}
    assert [e["bytes"] for e in run.named("object.copied")] == [4096]
    assert [e["copied_bytes"] for e in run.named("pair.done")] == [4096]
    assert all(line.startswith("{") for line in run.stderr.splitlines() if line.strip())


def test_secrets_learned_by_several_threads_at_once_are_all_blanked() -> None:
    """Each alias's credential chain learns its keys in its own thread: none is lost when
    they arrive together."""
    redactor = Redactor()
    redactor.set([f"static-secret-{i:04d}" for i in range(200)])
    learned = [f"chain-secret-{i:04d}" for i in range(16)]
    barrier = threading.Barrier(len(learned))

    def learn(secret: str) -> None:
        barrier.wait()
        redactor.add(secret)

    threads = [threading.Thread(target=learn, args=(s,)) for s in learned]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [s for s in learned if redactor.clean(f"key {s}") != "key [redacted]"] == []
