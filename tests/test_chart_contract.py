"""The chart's configuration produces a working mirror: the environment a rendered CronJob's
container would get (Secrets resolved) runs the real worker against real S3 servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from chart_support import (
    container_env,
    cronjob,
    example,
    manifests,
    merged,
    server_values,
    validate,
)
from conftest import Run, contents, new_bucket, put, run_mirror
from report_servers import Pushgateway, SlackServer

from mirror.sandbox import LocalS3

pytestmark = pytest.mark.servers


def run_job(values: dict[str, Any], job: str, *,
            existing: dict[str, dict[str, str]] | None = None,
            injected: dict[str, str] | None = None) -> Run:
    """Render the release, take the job's container environment, run the worker with it.

    `injected` stands for what the cluster adds on its own (the IRSA webhook's variables).
    """
    objects = manifests(values)
    validate(objects)
    env = container_env(cronjob(objects, job), objects, existing)
    return run_mirror({**env, **(injected or {})})


def days(zone: str) -> tuple[str, str, str]:
    """Today, yesterday and the day before, as the nightly template spells them."""
    now = datetime.now(UTC).astimezone(ZoneInfo(zone))
    today, yesterday, before = (f"{now - timedelta(days=n):%Y/%m/%d}" for n in range(3))
    return today, yesterday, before


def test_the_weekly_and_nightly_example_mirrors_yesterday_then_everything(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """Nightly copies only yesterday's folder (in Asia/Seoul), the weekly full run the rest."""
    src, dst = new_bucket(minio_side, "photos"), new_bucket(aws_side, "backup")
    today, yesterday, before = days("Asia/Seoul")
    objects = {f"{yesterday}/a.jpg": b"yesterday a", f"{yesterday}/b/c.jpg": b"yesterday c",
               f"{before}/old.jpg": b"the day before", f"{today}/new.jpg": b"today",
               "index.json": b"{}", f"{yesterday}/upload.tmp": b"excluded"}
    put(minio_side, src, objects)
    values = merged(example("weekly-and-nightly.yaml"),
                    {**server_values(minio=minio_side, aws=aws_side),
                     "jobDefaults": {"pairs": [f"minio/{src}:aws/{dst}"]}})

    nightly = run_job(values, "nightly")

    assert nightly.code == 0, nightly.stderr[-3000:]
    [resolved] = nightly.named("run.start")[0]["prefixes"]
    assert resolved in {f"{d}/" for d in days("Asia/Seoul")[:2]}  # a run across midnight
    assert contents(aws_side, dst) == {k: v for k, v in objects.items()
                                       if k.startswith(resolved) and not k.endswith(".tmp")}

    full = run_job(values, "full")

    assert full.code == 0, full.stderr[-3000:]
    assert contents(aws_side, dst) == {k: v for k, v in objects.items() if not k.endswith(".tmp")}
    assert full.named("run.start")[0]["prefixes"] == []


def test_existing_secret_dry_run_then_apply(minio_side: LocalS3, aws_side: LocalS3) -> None:
    """Keys from a Secret made outside the chart; a dry-run job writes nothing, its twin copies,
    in the storage class the target's endpoint names."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.bin": b"a" * 1000, "logs/x.log": b"log", "b/c.bin": b"c"})
    endpoints = server_values(minio=minio_side, aws=aws_side)["endpoints"]
    for endpoint in endpoints.values():
        del endpoint["accessKey"], endpoint["secretKey"]
    endpoints["aws"]["storageClass"] = "GLACIER_IR"  # an off-site copy, rarely read
    existing = {"mirror-credentials": {
        "MINIO_ACCESS_KEY": minio_side.access_key, "MINIO_SECRET_KEY": minio_side.secret_key,
        "AWS_ACCESS_KEY": aws_side.access_key, "AWS_SECRET_KEY": aws_side.secret_key}}
    values = {"existingSecret": "mirror-credentials", "endpoints": endpoints,
              "jobDefaults": {"pairs": [f"minio/{src}:aws/{dst}"], "exclude": ["logs/"]},
              "jobs": [{"name": "preview", "dryRun": True, "suspend": True},
                       {"name": "apply", "maxWorkers": 2}]}

    preview = run_job(values, "preview", existing=existing)

    assert preview.code == 0, preview.stderr[-3000:]
    assert contents(aws_side, dst) == {}
    assert preview.decisions() == {"copy-new": 2, "excluded": 1}
    assert "PUT" not in preview.requests("target")

    apply = run_job(values, "apply", existing=existing)

    assert apply.code == 0, apply.stderr[-3000:]
    assert contents(aws_side, dst) == {"a.bin": b"a" * 1000, "b/c.bin": b"c"}
    listed = aws_side.boto3().list_objects_v2(Bucket=dst)["Contents"]
    assert {o["StorageClass"] for o in listed} == {"GLACIER_IR"}


def test_irsa_leaves_the_aws_alias_to_the_standard_credential_chain(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """credentialChain: no AWS keys from the chart; what the cluster injects is what signs."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"model.bin": b"weights"})
    values = merged(server_values(minio=minio_side, aws=aws_side), {
        "endpoints": {"aws": {"accessKey": "", "secretKey": "", "credentialChain": True}},
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/m"}},
        "jobs": [{"name": "models", "pairs": [f"minio/{src}:aws/{dst}"]}]})
    # The webhook injects a web identity token; botocore's environment provider, later in the
    # same chain, stands in for it here.
    webhook = {"AWS_ACCESS_KEY_ID": aws_side.access_key,
               "AWS_SECRET_ACCESS_KEY": aws_side.secret_key, "AWS_EC2_METADATA_DISABLED": "true"}

    run = run_job(values, "models", injected=webhook)

    assert run.code == 0, run.stderr[-3000:]
    assert not {"AWS_ACCESS_KEY", "AWS_SECRET_KEY"} & set(run.env)
    assert contents(aws_side, dst) == {"model.bin": b"weights"}


def test_a_value_only_the_worker_can_check_fails_the_job_without_retries(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """An unknown time zone passes the schema; the worker exits 2, which podFailurePolicy fails."""
    values = {**server_values(minio=minio_side, aws=aws_side),
              "jobs": [{"name": "nightly", "pairs": ["minio/a:aws/b"],
                        "timeZone": "Mars/Olympus_Mons", "prefix": "{yesterday}/"}]}
    objects = manifests(values)
    rules = cronjob(objects, "nightly")["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]

    run = run_job(values, "nightly")

    assert run.code == 2
    assert "MIRROR_TIMEZONE must be an IANA time zone" in run.stderr
    assert any(r["action"] == "FailJob" and r["onExitCodes"]["containerName"] == "mirror"
               and run.code in r["onExitCodes"]["values"] for r in rules)


def test_slack_and_the_pushgateway_get_the_run_summary(minio_side: LocalS3,
                                                       aws_side: LocalS3) -> None:
    """The Slack token from the chart's Secret signs the post to the channel; the metrics are
    pushed under the job's service name."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"a", "b": b"b"})
    slack, gateway = SlackServer(), Pushgateway()
    values = {**server_values(minio=minio_side, aws=aws_side),
              "slack": {"channelId": "C0MIRROR", "botToken": "xoxb-chart-secret",
                        "apiUrl": slack.api_url},
              "metrics": {"pushgatewayUrl": gateway.url},
              "jobs": [{"name": "nightly", "pairs": [f"minio/{src}:aws/{dst}"]}]}
    try:
        run = run_job(values, "nightly")
    finally:
        slack.close()
        gateway.close()

    assert run.code == 0, run.stderr[-3000:]
    assert contents(aws_side, dst) == {"a": b"a", "b": b"b"}
    [post] = slack.posts()
    assert post["channel"] == "C0MIRROR"
    assert slack.calls[0].authorization == "Bearer xoxb-chart-secret"
    assert {p.job for p in gateway.pushes} == {"minio-s3-mirror"}
    assert {p.grouping["service"] for p in gateway.pushes} == {"backup-minio-s3-mirror-nightly"}


def test_a_key_missing_from_an_existing_secret_is_named_by_the_worker(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """The Secret lacks the minio alias's secret key and Slack's token: the pod still starts
    (optional references), and the worker names both and exits 2, which fails the Job at
    once, instead of a pod stuck in CreateContainerConfigError holding the schedule."""
    endpoints = server_values(minio=minio_side, aws=aws_side)["endpoints"]
    for endpoint in endpoints.values():
        del endpoint["accessKey"], endpoint["secretKey"]
    existing = {"mirror-credentials": {
        "MINIO_ACCESS_KEY": minio_side.access_key,
        "AWS_ACCESS_KEY": aws_side.access_key, "AWS_SECRET_KEY": aws_side.secret_key}}
    values = {"existingSecret": "mirror-credentials", "endpoints": endpoints,
              "slack": {"channelId": "C0123"},
              "jobs": [{"name": "nightly", "pairs": ["minio/a:aws/b"]}]}

    run = run_job(values, "nightly", existing=existing)

    assert run.code == 2
    assert "MINIO_SECRET_KEY is not set" in run.stderr
    assert "SLACK_BOT_TOKEN is not set" in run.stderr
