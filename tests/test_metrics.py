"""Prometheus metrics pushed to a Pushgateway: names, labels, values, and the last success."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from conftest import base_env, contents, new_bucket, put, run_mirror
from proxy_server import ForwardProxy
from report_servers import Pushgateway, unanswered, value
from structlog.testing import capture_logs

from mirror.report import metrics
from mirror.sandbox import LocalS3, free_port
from mirror.summary import PairSummary, RunSummary

JOB = "minio-s3-mirror"
M = "minio_s3_mirror_"


@pytest.fixture
def gateway() -> Iterator[Pushgateway]:
    server = Pushgateway()
    yield server
    server.close()


def test_a_run_pushes_its_numbers_per_pair(minio_side: LocalS3, aws_side: LocalS3,
                                           gateway: Pushgateway) -> None:
    """One POST per pair, grouped by service and pair; counts equal what reached the bucket."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {f"k{i}": b"x" * (10 * i + 1) for i in range(6)})
    put(minio_side, src, {"skip.tmp": b"t"})
    put(aws_side, dst, {"k0": b"x", "k1": b"changed on the target"})
    env = {**base_env(minio=minio_side, aws=aws_side), "SERVICE": "photos",
           "MIRROR_PUSHGATEWAY_URL": gateway.url, "MIRROR_EXCLUDE": "*.tmp",
           "AWS_PRICING": "aws-s3-standard", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 0
    assert len(contents(aws_side, dst)) == 6
    pair = f"minio/{src}:aws/{dst}"
    assert [(p.method, p.job, p.grouping) for p in gateway.pushes] == [
        ("POST", JOB, {"service": "photos", "pair": pair})]
    metrics = gateway.pushes[0].samples()
    objects, size = metrics[M + "last_run_objects"], metrics[M + "last_run_bytes"]
    assert value(objects, outcome="copied_new") == 4
    assert value(size, outcome="copied_new") == sum(10 * i + 1 for i in range(2, 6))
    assert value(objects, outcome="unchanged") == 1
    assert value(objects, outcome="differs_kept") == 1
    assert value(objects, outcome="excluded") == 1
    assert value(objects, outcome="failed") == 0
    requests = metrics[M + "last_run_requests"]
    assert value(requests, side="target", operation="PUT") == 4
    assert value(requests, side="source", operation="GET") == 4
    assert value(requests, side="target", operation="LIST") == 1
    assert value(requests, side="target", operation="MPU_ABORT") == 0  # zeros are explicit
    assert value(metrics[M + "last_run_listed_objects"], side="source") == 7
    assert value(metrics[M + "last_run_listed_objects"], side="target") == 2
    assert value(metrics[M + "last_run_status"], status="success") == 1
    assert value(metrics[M + "last_run_status"], status="partial") == 0
    assert value(metrics[M + "last_run_estimated_cost_usd"], side="target") == pytest.approx(
        5 * 0.005 / 1000)
    assert value(metrics[M + "last_run_estimated_cost_usd"], side="source") == 0
    assert value(metrics[M + "last_run_duration_seconds"]) == pytest.approx(
        run.pair()["seconds"], abs=0.001)
    ended = value(metrics[M + "last_run_timestamp_seconds"])
    assert value(metrics[M + "last_success_timestamp_seconds"]) == ended
    assert run.named("metrics.pushed")


def test_the_last_success_survives_a_failed_run(minio_side: LocalS3, aws_side: LocalS3,
                                                gateway: Pushgateway) -> None:
    """A partial run replaces the run's metrics but not the time of the last success."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"1"})
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PUSHGATEWAY_URL": gateway.url,
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    first = run_mirror(env)
    minio_side.boto3().put_object(Bucket=src, Key="a-damaged/", Body=b"these bytes are lost")

    second = run_mirror(env)

    assert (first.code, second.code) == (0, 1)
    succeeded = value(gateway.pushes[0].samples()[M + "last_success_timestamp_seconds"])
    assert M + "last_success_timestamp_seconds" not in gateway.pushes[1].samples()
    group = gateway.group(JOB, pair=f"minio/{src}:aws/{dst}")
    assert value(group[M + "last_success_timestamp_seconds"]) == succeeded
    assert value(group[M + "last_run_status"], status="partial") == 1
    assert value(group[M + "last_run_objects"], outcome="failed") == 1
    assert value(group[M + "last_run_timestamp_seconds"]) > succeeded


def test_each_pair_has_its_own_group(minio_side: LocalS3, aws_side: LocalS3,
                                     gateway: Pushgateway) -> None:
    """Two pairs, two groups: a failed pair never overwrites the other's last success."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"1"})
    good, bad = f"minio/{src}:aws/{dst}", f"minio/{src}:aws/no-such-bucket-{free_port()}"
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PUSHGATEWAY_URL": gateway.url,
           "BUCKET_PAIRS": f"{good};{bad}"}

    run = run_mirror(env)

    assert run.code == 1
    assert M + "last_success_timestamp_seconds" in gateway.group(JOB, pair=good)
    failed = gateway.group(JOB, pair=bad)
    assert M + "last_success_timestamp_seconds" not in failed
    assert value(failed[M + "last_run_status"], status="failed") == 1


def test_a_dry_run_pushes_nothing(minio_side: LocalS3, aws_side: LocalS3,
                                  gateway: Pushgateway) -> None:
    """A preview must not replace the metrics of the real runs."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"1"})
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PUSHGATEWAY_URL": gateway.url,
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env, "--dry-run")

    assert run.code == 0
    assert gateway.pushes == []
    assert run.named("metrics.skipped")


@pytest.mark.parametrize(("kind", "error"), [("nothing", "Connection refused"),
                                             ("not http", "not an HTTP answer")])
def test_a_pushgateway_url_where_no_http_server_answers_is_one_error_line(
        minio_side: LocalS3, aws_side: LocalS3, kind: str, error: str) -> None:
    """Nothing listens at the URL, or a port of another protocol does: one metrics.failed
    line with the fix, no traceback; exit 0, objects copied."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"1"})
    with unanswered(kind) as url:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                          "MIRROR_PUSHGATEWAY_URL": url, "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0
    assert contents(aws_side, dst) == {"a": b"1"}
    failed = run.named("metrics.failed")
    assert len(failed) == 1
    assert error in failed[0]["error"]
    assert "MIRROR_PUSHGATEWAY_URL" in failed[0]["fix"]
    assert not run.named("metrics.crashed")
    assert "Traceback" not in run.stderr


def test_a_pushgateway_behind_basic_auth_gets_the_credentials_of_the_url(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """user:password in the URL become basic auth; the password never reaches a log line."""
    gateway = Pushgateway(credentials=("mirror", "s3cr3t-pw:x"))
    try:
        src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
        put(minio_side, src, {"a": b"1"})
        authed = gateway.url.replace("http://", "http://mirror:s3cr3t-pw%3Ax@")
        env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PUSHGATEWAY_URL": authed,
               "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

        run = run_mirror(env)

        assert run.code == 0
        assert [p.job for p in gateway.pushes] == [JOB]
        pushed = run.named("metrics.pushed")
        assert len(pushed) == 1
        assert pushed[0]["pushgateway"] == gateway.url
        assert "s3cr3t-pw" not in run.stdout + run.stderr

        wrong = {**env, "MIRROR_PUSHGATEWAY_URL": authed.replace("s3cr3t-pw", "guess")}
        refused = run_mirror(wrong)

        assert refused.code == 0  # the mirror's exit code does not depend on the Pushgateway
        assert len(gateway.pushes) == 1
        failed = refused.named("metrics.failed")
        assert failed[0]["error"].startswith("HTTP 401")
        assert "user:password@" in failed[0]["fix"]
        assert "guess" not in refused.stdout + refused.stderr
    finally:
        gateway.close()


def test_the_pushgateway_follows_the_proxy_rules_of_the_s3_endpoints(
        minio_side: LocalS3, aws_side: LocalS3, gateway: Pushgateway) -> None:
    """NO_PROXY's CIDR range names the Pushgateway's host: it is reached directly, although
    HTTP_PROXY names a proxy that is not there. Not named, it is pushed to through the proxy,
    with the proxy URL's credentials, which no log line shows."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"1"})
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PUSHGATEWAY_URL": gateway.url,
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    nowhere = f"http://127.0.0.1:{free_port()}"

    direct = run_mirror({**env, "HTTP_PROXY": nowhere, "HTTPS_PROXY": nowhere,
                         "NO_PROXY": "127.0.0.0/8"})

    assert direct.code == 0
    assert [p.job for p in gateway.pushes] == [JOB]
    assert not direct.named("metrics.failed")

    password = "pr0xy-s3cret"
    proxy = ForwardProxy(credentials=("mirror", password))
    try:
        stores = ",".join(urlsplit(side.url).netloc for side in (minio_side, aws_side))
        proxied = run_mirror({**env, "HTTP_PROXY": proxy.url("mirror", password),
                              "NO_PROXY": stores})

        assert proxied.code == 0
        assert len(gateway.pushes) == 2
        token = base64.b64encode(f"mirror:{password}".encode()).decode()
        assert [(s.method, s.authorization) for s in proxy.seen] == [("POST", f"Basic {token}")]
        assert proxy.seen[0].target.startswith(f"{gateway.url}/metrics/job/{JOB}/")
        pushed = proxied.named("metrics.pushed")
        assert [e["proxy"] for e in pushed] == [f"127.0.0.1:{proxy.port}"]
        assert password not in proxied.stdout + proxied.stderr
    finally:
        proxy.close()


def test_a_proxy_the_push_cannot_use_is_named_without_its_password(
        gateway: Pushgateway) -> None:
    """A proxy URL the mirror cannot go through (SOCKS): nothing is pushed, one
    metrics.failed line names the variable and why, never the password in the URL."""
    run = RunSummary(service="nightly", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[PairSummary(pair="minio/a:aws/b", source="minio/a",
                                        target="aws/b", dry_run=False, prefixes=[])],
                     seconds=1)

    with capture_logs() as events:
        pushed = metrics.push(run, gateway.url,
                              ("HTTP_PROXY", "socks5://mirror:proxy-secret-9@proxy:1080"))

    assert pushed is False
    assert gateway.pushes == []
    assert [(e["event"], e["error"]) for e in events] == [("metrics.failed", "invalid proxy")]
    assert events[0]["fix"].startswith("HTTP_PROXY must be an http:// proxy URL")
    assert "proxy-secret-9" not in repr(events)
