"""Failures: one object, one pair, a whole endpoint; each named, none hiding the others."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import READER, base_env, contents, new_bucket, put, run_mirror
from structlog.testing import capture_logs

from mirror.executor import BoundedExecutor
from mirror.report.text import headline
from mirror.resources import Limits
from mirror.run import run
from mirror.s3.errors import S3Error
from mirror.sandbox import LocalS3, free_port
from mirror.settings import load_settings


def _seed_damaged(server: LocalS3, bucket: str) -> None:
    """A real source object whose bytes do not match its ETag.

    SeaweedFS keeps a key ending in '/' as an empty folder, but lists the MD5 of the body
    it was sent as the ETag: exactly what a damaged or inconsistent source looks like.
    """
    server.boto3().put_object(Bucket=bucket, Key="a-damaged/", Body=b"these bytes are lost")


def test_a_failed_object_is_reported_and_the_others_are_copied(minio_side: LocalS3,
                                                               aws_side: LocalS3) -> None:
    """With skip-errors (the default) the run goes on, names the failure, and exits 1."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    _seed_damaged(minio_side, src)
    good = {f"good/{i:02d}.txt": f"object {i}".encode() for i in range(20)}
    put(minio_side, src, good)

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 1
    assert contents(aws_side, dst) == good
    failed = run.named("object.failed")
    assert [e["key"] for e in failed] == ["a-damaged/"]
    assert "but its ETag is" in failed[0]["error"]
    assert "(SSE-KMS, SSE-C: set MINIO_ETAG_IS_MD5=false); nothing was written" in (
        failed[0]["error"])
    pair = run.pair()
    assert (pair["status"], pair["failed"]["objects"], pair["copied_new"]["objects"]) == (
        "partial", 1, 20)
    assert pair["failures"][0]["key"] == "a-damaged/"
    assert run.summary["status"] == "partial"


def test_stop_on_error_stops_the_pair_at_its_first_failure(minio_side: LocalS3,
                                                           aws_side: LocalS3) -> None:
    """MIRROR_SKIP_ERRORS=false ends the pair at the first failed object."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    _seed_damaged(minio_side, src)
    put(minio_side, src, {f"later/{i:03d}.txt": b"x" for i in range(100)})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_SKIP_ERRORS": "false",
                      "MIRROR_MAX_WORKERS": "1", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 1
    pair = run.pair()
    assert pair["status"] == "failed"
    assert pair["error"] == "stopped at the first failed object (MIRROR_SKIP_ERRORS=false)"
    assert len(contents(aws_side, dst)) < 10
    assert pair["listing_complete"] is False  # the keys after the stop were never compared


def test_each_broken_pair_is_named_and_the_healthy_pair_still_runs(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """Missing buckets, bad credentials, no permission, no endpoint: one clear line each."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    readonly_dst, spare = new_bucket(aws_side, "ro"), new_bucket(aws_side, "spare")
    put(minio_side, src, {"k1": b"1", "k2": b"2"})
    env = base_env(minio=minio_side, aws=aws_side)
    env.update({
        # the same SeaweedFS, but a user that may only read and list
        "READER_URL": aws_side.url, "READER_ACCESS_KEY": READER[0],
        "READER_SECRET_KEY": READER[1], "READER_PROVIDER": "seaweedfs",
        # the same SeaweedFS, with a wrong secret key
        "WRONGKEY_URL": minio_side.url, "WRONGKEY_ACCESS_KEY": minio_side.access_key,
        "WRONGKEY_SECRET_KEY": "not-the-secret", "WRONGKEY_PROVIDER": "seaweedfs",
        # nothing listens there
        "NOWHERE_URL": f"http://127.0.0.1:{free_port()}", "NOWHERE_ACCESS_KEY": "a",
        "NOWHERE_SECRET_KEY": "b",
        # https:// written for a plain-http server
        "PLAIN_URL": minio_side.url.replace("http://", "https://"),
        "PLAIN_ACCESS_KEY": minio_side.access_key, "PLAIN_SECRET_KEY": minio_side.secret_key,
        "BUCKET_PAIRS": ";".join([
            f"minio/{src}:aws/{dst}",
            f"minio/no-such-bucket:aws/{spare}/x",
            f"minio/{src}:aws/no-such-target",
            f"wrongkey/{src}:aws/{spare}/y",
            f"minio/{src}:reader/{readonly_dst}",
            f"nowhere/{src}:aws/{spare}/z",
            f"plain/{src}:aws/{spare}/w",
        ]),
    })

    run = run_mirror(env, timeout=300)

    assert run.code == 1
    assert contents(aws_side, dst) == {"k1": b"1", "k2": b"2"}
    assert contents(aws_side, spare) == {}
    assert contents(aws_side, readonly_dst) == {}
    statuses = [p["status"] for p in run.summary["pairs"]]
    assert statuses == ["success", "failed", "failed", "failed", "failed", "failed", "failed"]
    errors = {p["pair"].split(":")[0] + ":" + p["pair"].split(":")[1].split("/")[1]: p["error"]
              for p in run.summary["pairs"][1:]}
    assert errors == {
        # the cause once, then the server's answer (it was said twice: "bucket does not
        # exist (LIST b: bucket does not exist (HTTP 404 ...))")
        f"minio/no-such-bucket:{spare}": "cannot list the source minio/no-such-bucket: bucket "
        "does not exist (LIST no-such-bucket: HTTP 404 NoSuchBucket: The specified bucket "
        "does not exist); check the bucket's name in the pair, and that MINIO_URL is the "
        "store that holds it",
        f"minio/{src}:no-such-target": "cannot list the target aws/no-such-target: bucket does "
        "not exist (LIST no-such-target: HTTP 404 NoSuchBucket: The specified bucket does not "
        "exist); the mirror never creates buckets: create it, then run again",
        f"wrongkey/{src}:{spare}": errors[f"wrongkey/{src}:{spare}"],
        f"minio/{src}:{readonly_dst}": errors[f"minio/{src}:{readonly_dst}"],
        f"nowhere/{src}:{spare}": errors[f"nowhere/{src}:{spare}"],
        f"plain/{src}:{spare}": errors[f"plain/{src}:{spare}"],
    }
    assert errors[f"wrongkey/{src}:{spare}"].startswith(
        f"cannot list the source wrongkey/{src}: credentials rejected")
    # each names the setting that fixes it
    assert errors[f"wrongkey/{src}:{spare}"].endswith(
        "; check WRONGKEY_ACCESS_KEY and WRONGKEY_SECRET_KEY")
    assert "permission denied" in errors[f"minio/{src}:{readonly_dst}"]
    assert "the credentials need s3:PutObject" in errors[f"minio/{src}:{readonly_dst}"]
    assert errors[f"nowhere/{src}:{spare}"].startswith(
        f"cannot list the source nowhere/{src}: connection refused by 127.0.0.1:")
    assert errors[f"nowhere/{src}:{spare}"].endswith(
        "; check NOWHERE_URL (scheme, host, port), DNS and firewalls")
    assert errors[f"plain/{src}:{spare}"].startswith(f"cannot list the source plain/{src}: ")
    assert errors[f"plain/{src}:{spare}"].endswith(
        "; the server does not speak TLS there: use http:// in PLAIN_URL")
    assert "Traceback" not in run.stderr
    assert "not-the-secret" not in run.stderr



def test_a_url_where_no_s3_server_answers_is_named_as_such(
        minio_side: LocalS3, aws_side: LocalS3, tmp_path: Path) -> None:
    """MINIO_URL at a plain web server (a console's port, a portal): its 404 page is no S3
    error, and the pair says so, rather than that a bucket or object does not exist."""
    web = ThreadingHTTPServer(("127.0.0.1", 0),
                              partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    dst = new_bucket(aws_side, "dst")
    try:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                          "MINIO_URL": f"http://127.0.0.1:{web.server_address[1]}",
                          "BUCKET_PAIR": f"minio/photos:aws/{dst}"})
    finally:
        web.shutdown()
        web.server_close()

    assert run.code == 1
    (failed,) = run.named("pair.failed")
    assert failed["error"].startswith("cannot list the source minio/photos: not an S3 answer")
    assert "HTTP 404" in failed["error"]
    assert "Traceback" not in run.stderr

class ActBeforeCopy(BoundedExecutor):
    """Runs `act(key)` on the caller's side just before a copy is handed to a worker:
    between the listing and the GET, where a real writer could change the source."""

    def __init__(self, act: Callable[[str], None]) -> None:
        super().__init__(2)
        self._act = act

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        self._act(args[0].key)
        return super().submit(fn, *args)


NEXT_VERSION = {"deleted": None, "rewritten": b"second version, longer",
                "rewritten, same size": b"FIRST VERSION"}


@pytest.mark.parametrize("server_name", ["minio_side", "rclone_side"])
@pytest.mark.parametrize("change", NEXT_VERSION)
def test_a_source_object_changed_during_the_run_is_skipped_not_failed(
        request: pytest.FixtureRequest, server_name: str, aws_side: LocalS3,
        change: str) -> None:
    """An object deleted or rewritten after the listing is reported; the next run copies it.
    rclone ignores If-Match and serves the rewrite: the ETag of its answer tells it from
    damage."""
    source: LocalS3 = request.getfixturevalue(server_name)
    src, dst = new_bucket(source, "src"), new_bucket(aws_side, "dst")
    put(source, src, {"stable": b"stable", "volatile": b"first version"})
    s3 = source.boto3()

    def act(key: str) -> None:
        if key != "volatile":
            return
        body = NEXT_VERSION[change]
        if body is None:
            s3.delete_object(Bucket=src, Key=key)
        else:
            s3.put_object(Bucket=src, Key=key, Body=body)

    env = {**base_env(minio=source, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    with capture_logs() as events:
        summary = run(load_settings(env), executor=ActBeforeCopy(act),
                      limits=Limits(2, 1 << 30, "test"), stop=threading.Event())

    pair = summary.pairs[0]
    assert (pair.status.value, pair.source_changed.objects, pair.failed.objects) == (
        "success", 1, 0)
    assert contents(aws_side, dst) == {"stable": b"stable"}
    assert headline(summary).endswith(
        ", 1 changed at the source during the run (left to the next run)")
    warnings = [e for e in events if e["event"] == "object.source_changed"]
    assert [w["key"] for w in warnings] == ["volatile"]
    if NEXT_VERSION[change] is not None:
        rerun = run(load_settings(env), limits=Limits(2, 1 << 30, "test"))
        assert rerun.pairs[0].copied_new.objects == 1
        assert contents(aws_side, dst)["volatile"] == NEXT_VERSION[change]


@pytest.mark.parametrize("change", NEXT_VERSION)
def test_a_server_side_copy_of_an_object_changed_during_the_run_is_skipped_not_failed(
        minio_side: LocalS3, change: str) -> None:
    """Within one store the copy is a COPY: a source deleted after the listing answers it
    with NoSuchKey, which names no side; the source, asked, says it is gone: reported as
    changed, like a GET's 404, not as a failure that the next run will not repeat."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(minio_side, "dst")
    put(minio_side, src, {"stable": b"stable", "volatile": b"first version"})
    s3 = minio_side.boto3()

    def act(key: str) -> None:
        if key == "volatile":
            body = NEXT_VERSION[change]
            if body is None:
                s3.delete_object(Bucket=src, Key=key)
            else:
                s3.put_object(Bucket=src, Key=key, Body=body)

    env = {**base_env(minio=minio_side), "BUCKET_PAIR": f"minio/{src}:minio/{dst}"}
    summary = run(load_settings(env), executor=ActBeforeCopy(act),
                  limits=Limits(2, 1 << 30, "test"), stop=threading.Event())

    pair = summary.pairs[0]
    assert pair.requests["target"].get("COPY")
    assert (pair.status.value, pair.source_changed.objects, pair.failed.objects) == (
        "success", 1, 0)
    assert contents(minio_side, dst) == {"stable": b"stable"}


def test_a_defect_in_one_copy_is_a_failed_object_not_a_silent_success(
        minio_side: LocalS3, aws_side: LocalS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception no S3 answer explains (a bug, a library surprise) fails that object,
    visibly: it must never vanish from the summary and leave the run 'success'."""
    import mirror.engine

    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    good = {f"good/{i:02d}.txt": f"object {i}".encode() for i in range(10)}
    put(minio_side, src, {**good, "cursed.txt": b"this copy hits a defect"})
    real_transfer = mirror.engine.transfer

    def transfer(obj: Any, ctx: Any) -> Any:
        if obj.key == "cursed.txt":
            raise RuntimeError("a defect nobody anticipated")
        return real_transfer(obj, ctx)

    monkeypatch.setattr(mirror.engine, "transfer", transfer)
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    with capture_logs() as events:
        summary = run(load_settings(env), limits=Limits(2, 1 << 30, "test"))

    pair = summary.pairs[0]
    assert (pair.status.value, pair.failed.objects, pair.copied_new.objects) == ("partial", 1, 10)
    assert summary.status.value == "partial"
    assert contents(aws_side, dst) == good
    failed = [e for e in events if e["event"] == "object.failed"]
    assert [e["key"] for e in failed] == ["cursed.txt"]
    assert "unexpected error: RuntimeError: a defect nobody anticipated" in failed[0]["error"]


def test_a_failing_aws_credential_chain_fails_the_pair_with_a_clear_line(
        minio_side: LocalS3, aws_side: LocalS3, tmp_path: Any) -> None:
    """The chain itself failing (STS refusing or unreachable for a pod's IAM role) is named
    for the pair, like a chain that finds nothing, not an 'unexpected error' traceback."""
    src = new_bucket(minio_side, "src")
    put(minio_side, src, {"a": b"a"})
    token = tmp_path / "token"
    token.write_text("a-service-account-token")
    env = base_env(minio=minio_side)
    env.update({"AWS_URL": aws_side.url, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/mirror",
                "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
                "AWS_ENDPOINT_URL_STS": f"http://127.0.0.1:{free_port()}",  # nothing listens
                "BUCKET_PAIR": f"minio/{src}:aws/whatever"})

    run = run_mirror(env)

    assert run.code == 1
    assert ("the standard AWS credential chain for the alias 'aws' failed: "
            "EndpointConnectionError") in run.pair()["error"]
    assert "Traceback" not in run.stderr
    assert "a-service-account-token" not in run.stderr + run.stdout


@pytest.mark.parametrize(("operation", "kind"), [
    ("LIST", "not an S3 answer (is the URL the S3 endpoint? a proxy in the way?)"),
    ("GET", "object does not exist"),  # a store may answer a deleted key without a body
    ("HEAD", "object does not exist"),  # a HEAD's answer never has a body
])
def test_a_bare_404_to_a_listing_is_no_missing_object(operation: str, kind: str) -> None:
    """An egress gateway or a reverse proxy without a route answers 404 with no body; an S3
    store answers a missing bucket or key with NoSuchBucket / NoSuchKey. A LIST told
    "object does not exist" would send the user looking for a key."""
    error = S3Error.from_response(404, {}, b"", operation=operation, bucket="b",
                                  key=None if operation == "LIST" else "k")
    assert error.kind == kind


def test_copies_refused_beside_the_failure_that_stops_the_pair_count_as_failed(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """A target that refuses every PUT: the first refusal stops the pair, and the PUTs in
    flight beside it, refused as well, are failed objects (each its `object.failed`), not
    copies the stop interrupted; only the copies never sent are interrupted."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "ro")
    put(minio_side, src, {f"k{i:03d}": b"x" * 100 for i in range(60)})
    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_MAX_WORKERS": "8",
                      "READER_URL": aws_side.url, "READER_ACCESS_KEY": READER[0],
                      "READER_SECRET_KEY": READER[1], "READER_PROVIDER": "seaweedfs",
                      "BUCKET_PAIR": f"minio/{src}:reader/{dst}"})

    assert run.code == 1
    assert contents(aws_side, dst) == {}
    pair = run.pair()
    refused = run.requests("target")["PUT"]
    assert refused > 1  # several PUTs were in flight when the first was refused
    assert pair["status"] == "failed"
    assert pair["failed"]["objects"] == refused == len(run.named("object.failed"))
    interrupted = run.named("object.interrupted")
    assert all(e["reason"] == "stopped before it started" for e in interrupted)
    assert pair["interrupted"]["objects"] == len(interrupted)
    assert pair["decisions"]["copy-new"]["objects"] == refused + len(interrupted)


def test_an_endpoint_made_from_the_region_names_the_region_to_check(
        minio_side: LocalS3) -> None:
    """Without AWS_URL the `aws` alias's endpoint comes from AWS_REGION: a mistyped region
    gives a host that does not exist, and the fix is the region, not an AWS_URL never set."""
    src = new_bucket(minio_side, "src")
    put(minio_side, src, {"a": b"a"})
    env = {**base_env(minio=minio_side), "AWS_REGION": "xx-nowhere-1",
           "AWS_ACCESS_KEY": "AKIDEXAMPLE", "AWS_SECRET_KEY": "secret-value",
           "BUCKET_PAIR": f"minio/{src}:aws/backup"}

    run = run_mirror(env)

    assert run.code == 1
    (pair,) = run.summary["pairs"]
    assert pair["error"].startswith("cannot list the target aws/backup: ")
    assert pair["error"].endswith(
        "; check AWS_REGION, which gives the endpoint https://s3.xx-nowhere-1.amazonaws.com "
        "(or set AWS_URL), DNS and firewalls")
