"""Objects above the part size: multipart, streamed, verified, no orphaned parts."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from conftest import (
    Run,
    base_env,
    contents,
    new_bucket,
    proxy_in_front,
    put,
    put_multipart,
    run_mirror,
)
from proxy_server import Relay
from test_transport import answer, s3_error

from mirror.report import jsonreport
from mirror.sandbox import LocalS3

MIB = 1024 * 1024


def _completes(method: str, target: str) -> bool:
    return method == "POST" and "uploadId=" in target


def _creates(method: str, target: str) -> bool:
    return method == "POST" and target.endswith(("?uploads", "?uploads="))


def _lose_first(matches: Callable[[str, str], bool],
                ) -> tuple[list[str], Callable[[str, str, dict[str, str]], bool]]:
    """A proxy's `lose` hook dropping the answer to the first request `matches` takes (the
    server acted on it), and the list of the requests it dropped."""
    lost: list[str] = []

    def lose(method: str, target: str, headers: dict[str, str]) -> bool:
        if matches(method, target) and not lost:
            lost.append(target)
            return True
        return False

    return lost, lose


def _seed_large(server: LocalS3, bucket: str) -> dict[str, bytes]:
    s3 = server.boto3()
    objects = {
        "single-put-12mib.bin": os.urandom(12 * MIB),  # one PUT at the source: an MD5 ETag
        "exactly-part-size.bin": os.urandom(5 * MIB),  # the largest object sent in one PUT
        "one-byte-over.bin": os.urandom(5 * MIB + 1),  # the smallest one sent in parts
    }
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-model",
                      Metadata={"epoch": "7"})
    # A multipart object at the source (ETag "...-3"), with metadata.
    body = os.urandom(11 * MIB)
    objects["multipart-at-source.bin"] = body
    put_multipart(server, bucket, "multipart-at-source.bin", body, 5 * MIB,
                  ContentType="application/x-model", Metadata={"epoch": "7"})
    return objects


@pytest.mark.parametrize("target_name", ["aws_side", "rclone_side"])
def test_large_objects_stream_through_multipart_and_arrive_intact(
        request: pytest.FixtureRequest, minio_side: LocalS3, target_name: str) -> None:
    """Objects above the multipart threshold go multipart; bytes and metadata arrive intact."""
    target: LocalS3 = request.getfixturevalue(target_name)
    src, dst = new_bucket(minio_side, "src"), new_bucket(target, "dst")
    objects = _seed_large(minio_side, src)

    run = run_mirror({**base_env(minio=minio_side, aws=target), "MIRROR_PART_SIZE": "5MiB",
                      "MIRROR_MULTIPART_THRESHOLD": "5MiB",
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(target, dst) == objects
    requests = run.requests("target")
    assert requests["MPU_CREATE"] == requests["MPU_COMPLETE"] == 3
    assert requests["MPU_PART"] == 3 + 2 + 3  # 12 MiB, 5 MiB + 1 byte, 11 MiB in 5 MiB parts
    assert requests["PUT"] == 1
    assert "MPU_ABORT" not in requests
    s3 = target.boto3()
    for key in objects:
        head = s3.head_object(Bucket=dst, Key=key)
        metadata = {k.lower(): v for k, v in head["Metadata"].items()}  # rclone capitalises
        assert (head["ContentType"], metadata) == ("application/x-model", {"epoch": "7"})


@pytest.mark.parametrize("threshold", ["5MiB", "256MiB"])
def test_a_dry_run_projects_the_requests_each_copy_takes(
        minio_side: LocalS3, aws_side: LocalS3, threshold: str, tmp_path: Path) -> None:
    """The preview counts what the real run then sends, object by object: parts for a
    multipart upload, one GET per source part for a part-for-part copy, one PUT below."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = _seed_large(minio_side, src)
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
           "MIRROR_MULTIPART_THRESHOLD": threshold, "AWS_PRICING": "aws-s3-standard",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    preview = run_mirror({**env, "MIRROR_REPORT_FILE": str(tmp_path / "preview.json")},
                         "--dry-run")
    assert preview.code == 0, preview.stderr[-2000:]
    assert contents(aws_side, dst) == {}
    real = run_mirror(env)

    assert real.code == 0, real.stderr[-2000:]
    assert contents(aws_side, dst) == objects
    projected, sent = preview.pair()["projected_requests"], real.pair()["requests"]
    assert projected == sent
    assert sent["source"]["GET"] == 6  # one per object, one per part of the 3-part one
    assert preview.pair()["projected_cost"] == real.pair()["cost"]
    assert preview.summary["projected_requests"] == real.summary["requests"]
    assert "projected_requests" not in real.pair()
    report = json.loads((tmp_path / "preview.json").read_text())
    jsonschema.Draft202012Validator(jsonreport.schema()).validate(report)


@pytest.mark.parametrize("threshold", ["5MiB", "256MiB"])
def test_objects_are_written_in_the_target_alias_storage_class(
        minio_side: LocalS3, aws_side: LocalS3, threshold: str) -> None:
    """<ALIAS>_STORAGE_CLASS of the target reaches every way of writing an object: one PUT,
    a streamed PUT, a multipart upload, a part-for-part copy. Bytes intact."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = _seed_large(minio_side, src)
    put(minio_side, src, {"small.txt": b"tiny"})
    objects["small.txt"] = b"tiny"

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
                      "MIRROR_MULTIPART_THRESHOLD": threshold,
                      "AWS_STORAGE_CLASS": "standard_ia",  # spelled as S3 does, or not
                      "MINIO_STORAGE_CLASS": "GLACIER",  # the source's: never used to write
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == objects
    listed = aws_side.boto3().list_objects_v2(Bucket=dst)["Contents"]
    assert {o["Key"]: o["StorageClass"] for o in listed} == dict.fromkeys(objects,
                                                                          "STANDARD_IA")
    source = minio_side.boto3().list_objects_v2(Bucket=src)["Contents"]
    assert {o["StorageClass"] for o in source} == {"STANDARD"}


def test_a_server_side_copy_is_written_in_the_storage_class(minio_side: LocalS3) -> None:
    """Within one store, the COPY carries the class; the source objects keep theirs."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(minio_side, "dst")
    objects = {"a.bin": os.urandom(3 * MIB), "b/c.txt": b"hello"}
    put(minio_side, src, objects)

    run = run_mirror({**base_env(minio=minio_side), "MINIO_STORAGE_CLASS": "ONEZONE_IA",
                      "BUCKET_PAIR": f"minio/{src}:minio/{dst}"})

    assert run.code == 0, run.stderr[-2000:]
    assert run.requests("target") == {"LIST": 1, "COPY": 2}
    assert contents(minio_side, dst) == objects
    s3 = minio_side.boto3()
    assert {o["StorageClass"] for o in s3.list_objects_v2(Bucket=dst)["Contents"]} == {
        "ONEZONE_IA"}
    assert {o["StorageClass"] for o in s3.list_objects_v2(Bucket=src)["Contents"]} == {
        "STANDARD"}


def test_a_storage_class_the_target_refuses_stops_the_pair_with_its_name(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """A class the target does not know fails every write alike: the pair stops at the
    first, naming the setting, and the target holds nothing."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {f"k{i}": b"v" * (i + 1) for i in range(40)})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "AWS_STORAGE_CLASS": "COLDEST_POSSIBLE", "MIRROR_MAX_WORKERS": "2",
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 1
    assert run.pair()["status"] == "failed"
    assert ("the target refused storage class COLDEST_POSSIBLE: check AWS_STORAGE_CLASS"
            in run.pair()["error"])
    assert "Traceback" not in run.stderr
    assert run.pair()["requests"]["target"].get("PUT", 0) < 40
    assert contents(aws_side, dst) == {}


def test_no_incomplete_multipart_upload_is_left_behind(minio_side: LocalS3,
                                                       aws_side: LocalS3) -> None:
    """After a run, the target has no multipart upload in progress."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    _seed_large(minio_side, src)

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
                      "MIRROR_MULTIPART_THRESHOLD": "5MiB",
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []


def _mirror_within(server: LocalS3, src: str, dst: str, objects: dict[str, bytes]) -> Run:
    """A dry run, then the run, of a pair within one store: the run copies `objects` byte for
    byte and sends exactly the requests the dry run projected."""
    env = {**base_env(minio=server), "BUCKET_PAIR": f"minio/{src}:minio/{dst}"}
    preview = run_mirror(env, "--dry-run")
    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert contents(server, dst) == objects
    assert preview.pair()["projected_requests"] == run.pair()["requests"]
    return run


def test_same_endpoint_and_credentials_copy_server_side(minio_side: LocalS3) -> None:
    """Between two buckets of one store, objects are copied by the server, not streamed."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(minio_side, "dst")
    objects = {"a.bin": os.urandom(3 * MIB), "b/c.txt": b"hello", "empty": b""}
    for key, body in objects.items():
        minio_side.boto3().put_object(Bucket=src, Key=key, Body=body, ContentType="text/x-kept",
                                      Metadata={"k": "v"})

    run = _mirror_within(minio_side, src, dst, objects)

    assert run.requests("target") == {"LIST": 1, "COPY": 3}
    assert run.requests("source") == {"LIST": 1}
    head = minio_side.boto3().head_object(Bucket=dst, Key="b/c.txt")
    assert (head["ContentType"], head["Metadata"]) == ("text/x-kept", {"k": "v"})


def test_a_folder_marker_within_one_store_is_copied_not_server_side(
        minio_side: LocalS3) -> None:
    """SeaweedFS keeps `folder/` as a directory and answers its CopyObject with NoSuchKey:
    a server-side copy would fail the marker, and the run, every night. It has no bytes,
    so it is read and written instead; the dry run says so."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(minio_side, "dst")
    objects = {"folder/": b"", "folder/a.txt": b"a", "empty": b""}
    put(minio_side, src, objects)

    run = _mirror_within(minio_side, src, dst, objects)

    assert run.requests("source") == {"LIST": 1, "GET": 1}
    assert run.requests("target") == {"LIST": 1, "COPY": 2, "PUT": 1}
    assert run_mirror(run.env).pair()["decisions"] == {"unchanged": {"objects": 3, "bytes": 1}}


@pytest.mark.parametrize("target_name", ["aws_side", "rclone_side"])
def test_below_the_threshold_one_put_each_and_multipart_objects_part_for_part(
        request: pytest.FixtureRequest, minio_side: LocalS3, target_name: str) -> None:
    """Between the part size and the threshold, an object with an MD5 ETag is one streamed
    PUT; a multipart object is copied part for part as it was uploaded (one GET ?partNumber=
    per part), so the target's parts give the source's own ETag, checked before the upload
    is completed. Bytes and metadata intact either way."""
    target: LocalS3 = request.getfixturevalue(target_name)
    src, dst = new_bucket(minio_side, "src"), new_bucket(target, "dst")
    objects = _seed_large(minio_side, src)

    run = run_mirror({**base_env(minio=minio_side, aws=target), "MIRROR_PART_SIZE": "5MiB",
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(target, dst) == objects
    assert run.requests("target") == {"LIST": 1, "PUT": 3, "MPU_CREATE": 1, "MPU_PART": 3,
                                      "MPU_COMPLETE": 1}
    # the multipart object's copy is compared by size and time in later runs: its source
    # ETag is read again before the upload is completed and once it is written, to be sure
    # it was not rewritten meanwhile
    assert run.requests("source") == {"LIST": 1, "GET": 3 + 3, "HEAD": 2}
    s3 = target.boto3()
    for key in objects:
        head = s3.head_object(Bucket=dst, Key=key)
        metadata = {k.lower(): v for k, v in head["Metadata"].items()}
        assert (head["ContentType"], metadata) == ("application/x-model", {"epoch": "7"})
    source_etag = minio_side.boto3().head_object(Bucket=src, Key="multipart-at-source.bin")["ETag"]
    assert source_etag.endswith('-3"')
    if target_name == "aws_side":  # a store with composite multipart ETags: the same ETag
        assert s3.head_object(Bucket=dst, Key="multipart-at-source.bin")["ETag"] == source_etag


def test_without_a_source_md5_an_object_goes_up_in_checked_parts(minio_side: LocalS3,
                                                                  aws_side: LocalS3) -> None:
    """A source whose ETags are not MD5s (SSE-KMS) gives no Content-MD5 for a whole-object
    PUT: objects above the part size go multipart, each part carrying its own, so the
    target checks every byte before the object exists. The preview projects exactly that."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {"a.bin": os.urandom(12 * MIB), "b.bin": os.urandom(3 * MIB)}
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
           "MINIO_ETAG_IS_MD5": "false", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    preview = run_mirror(env, "--dry-run")
    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == objects
    assert run.requests("target") == {"LIST": 1, "PUT": 1, "MPU_CREATE": 1, "MPU_PART": 3,
                                      "MPU_COMPLETE": 1}
    assert preview.pair()["projected_requests"] == run.pair()["requests"]


@pytest.mark.parametrize("limit", [1, 3])
def test_large_objects_stream_a_few_at_a_time_while_workers_are_many(
        minio_side: LocalS3, aws_side: LocalS3, limit: int) -> None:
    """MIRROR_LARGE_TRANSFERS bounds the large PUTs the target sees at once, whatever the
    workers; every object still arrives intact. Counted at the target, through a proxy."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"model-{i}.bin": os.urandom(6 * MIB) for i in range(6)}
    put(minio_side, src, objects)
    with proxy_in_front(aws_side) as proxy:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "AWS_URL": proxy.url,
                          "MIRROR_PART_SIZE": "5MiB", "MIRROR_MAX_WORKERS": "8",
                          "MIRROR_LARGE_TRANSFERS": str(limit),
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})
        peak = proxy.peak["PUT"]

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == objects
    assert peak == limit


@pytest.mark.parametrize(("size", "extra"), [
    (1 * MIB, {}),  # one GET into one buffer: resumed by a ranged GET
    (12 * MIB, {}),  # one GET streamed into one PUT: the PUT is abandoned, both start again
    (12 * MIB, {"MIRROR_MULTIPART_THRESHOLD": "5MiB"}),  # multipart: resumed by a ranged GET
], ids=["small", "streamed", "multipart"])
def test_a_source_link_cut_mid_body_recovers_with_exact_bytes(
        minio_side: LocalS3, aws_side: LocalS3, size: int, extra: dict[str, str]) -> None:
    """The source connection drops in the middle of an object's body: the copy recovers
    (one more GET, If-Match keeping it the same object) and the target gets exact bytes."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {"object.bin": os.urandom(size)}
    put(minio_side, src, objects)
    link = Relay(int(minio_side.url.rsplit(":", 1)[1]), cut_after=512 * 1024)
    try:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": link.url,
                          "MIRROR_PART_SIZE": "5MiB", **extra,
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})
    finally:
        link.close()

    assert run.code == 0, run.stderr[-2000:]
    assert link.cuts == 1
    assert run.requests("source")["GET"] == 2
    assert contents(aws_side, dst) == objects



def test_a_read_resumed_from_rclone_which_answers_a_range_with_200_recovers(
        rclone_side: LocalS3, aws_side: LocalS3) -> None:
    """rclone serve s3 answers a range with 200 and its Content-Range, not 206: a multipart
    copy whose link drops in its second part resumes from those bytes, not failed."""
    src, dst = new_bucket(rclone_side, "src"), new_bucket(aws_side, "dst")
    objects = {"object.bin": os.urandom(12 * MIB)}
    put(rclone_side, src, objects)
    link = Relay(int(rclone_side.url.rsplit(":", 1)[1]), cut_after=6 * MIB)
    try:
        run = run_mirror({**base_env(minio=rclone_side, aws=aws_side), "MINIO_URL": link.url,
                          "MIRROR_PART_SIZE": "5MiB", "MIRROR_MULTIPART_THRESHOLD": "5MiB",
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})
    finally:
        link.close()
    assert run.code == 0, run.stderr[-2000:]
    assert (link.cuts, run.requests("source")["GET"]) == (1, 2)
    assert contents(aws_side, dst) == objects
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []


def test_a_complete_whose_answer_is_lost_but_landed_is_a_success(minio_side: LocalS3,
                                                                 aws_side: LocalS3) -> None:
    """The target completes the upload, and its answer is lost on the way: the retry finds
    no such upload (as AWS answers). The object the target holds is exactly the parts sent
    (its ETag says so), so the copy succeeded, and the run says so instead of failing it.
    Both Completes reached the target: both are counted, as both are billed."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(12 * MIB)
    put_multipart(minio_side, src, "model.bin", body, 5 * MIB)
    lost, lose_first_complete = _lose_first(_completes)

    def no_such_upload_after(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        if _completes(method, target) and lost:
            return s3_error("404 Not Found", "NoSuchUpload", "completed already")
        return None

    with proxy_in_front(aws_side, lose=lose_first_complete,
                        answer=no_such_upload_after) as proxy:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "AWS_URL": proxy.url,
                          "MIRROR_PART_SIZE": "5MiB", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})
        counted = proxy.snapshot()[0]

    assert run.code == 0, run.stderr[-2000:]
    assert len(lost) == 1
    assert [e["key"] for e in run.named("object.copied")] == ["model.bin"]
    assert contents(aws_side, dst) == {"model.bin": body}
    assert counted["MPU_COMPLETE"] == 2
    assert counted["HEAD"] == 1  # the target's object, looked at once
    assert run.requests("target")["MPU_COMPLETE"] == 2
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []



def test_a_lost_complete_that_landed_on_rclone_is_a_success(minio_side: LocalS3,
                                                            rclone_side: LocalS3) -> None:
    """rclone's ETag for an object uploaded in parts is the MD5 of its bytes, not of its
    parts' MD5s. When the answer to its Complete is lost, the retry is answered NoSuchUpload
    by rclone itself; the bytes were checked against the source's MD5 as they were read, so
    the target holding that MD5 is the copy landed, not a failure to report."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(rclone_side, "dst")
    body = os.urandom(12 * MIB)
    put(minio_side, src, {"model.bin": body})  # one PUT at the source: its ETag is its MD5
    lost, lose_first_complete = _lose_first(_completes)
    with proxy_in_front(rclone_side, lose=lose_first_complete) as proxy:
        run = run_mirror({**base_env(minio=minio_side, aws=rclone_side), "AWS_URL": proxy.url,
                          "MIRROR_PART_SIZE": "5MiB", "MIRROR_MULTIPART_THRESHOLD": "5MiB",
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})
        counted = proxy.snapshot()[0]

    assert run.code == 0, run.stderr[-2000:]
    assert len(lost) == 1
    assert [e["key"] for e in run.named("object.copied")] == ["model.bin"]
    assert contents(rclone_side, dst) == {"model.bin": body}
    assert (counted["MPU_PART"], counted["MPU_COMPLETE"], counted["HEAD"]) == (3, 2, 1)


@pytest.mark.parametrize("settings", [{}, {"AWS_ETAG_IS_MD5": "false"}],
                         ids=["part for part", "in its own parts"])
def test_a_create_whose_answer_was_lost_leaves_no_upload_behind(
        minio_side: LocalS3, aws_side: LocalS3, settings: dict[str, str]) -> None:
    """The target made the upload, but its answer, which alone held the upload's ID, was
    lost; the retry makes a second one. The first is found (one ListMultipartUploads) and
    aborted: no parts left billed on the target, the object copied once. Another writer's
    upload of the same key, begun before the run, is not the mirror's to abort."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(11 * MIB)
    put_multipart(minio_side, src, "model.bin", body, 5 * MIB)
    s3 = aws_side.boto3()
    other = s3.create_multipart_upload(Bucket=dst, Key="model.bin")["UploadId"]
    time.sleep(2)  # Initiated is in whole seconds
    lost, lose_first_create = _lose_first(_creates)

    with proxy_in_front(aws_side, lose=lose_first_create) as proxy:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "AWS_URL": proxy.url,
                          "MIRROR_PART_SIZE": "5MiB", "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
                          **settings})
        counted = proxy.snapshot()[0]

    assert run.code == 0, run.stderr[-2000:]
    assert len(lost) == 1
    assert counted["MPU_CREATE"] == 2
    assert contents(aws_side, dst) == {"model.bin": body}
    uploads = s3.list_multipart_uploads(Bucket=dst).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [other]


def test_a_create_whose_answer_was_lost_then_refused_leaves_no_upload_behind(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """The target made the upload, its answer was lost, and every retry was refused: the
    object fails, and the upload the lost answer named is found and aborted all the same,
    not left billed until a lifecycle rule."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(11 * MIB)
    put_multipart(minio_side, src, "model.bin", body, 5 * MIB)
    lost, lose_first_create = _lose_first(_creates)

    def refuse_the_others(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        if _creates(method, target) and lost:
            return s3_error("503 Service Unavailable", "ServiceUnavailable", "try later")
        return None

    with proxy_in_front(aws_side, lose=lose_first_create, answer=refuse_the_others) as proxy:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "AWS_URL": proxy.url,
                          "MIRROR_PART_SIZE": "5MiB", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 1
    assert len(lost) == 1
    assert [e["key"] for e in run.named("object.failed")] == ["model.bin"]
    assert contents(aws_side, dst) == {}
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []


_LATE_ERROR = (b'<?xml version="1.0" encoding="UTF-8"?>\n' + b" " * 4096
               + b"<Error><Code>InternalError</Code><Message>We encountered an internal "
               b"error. Please try again.</Message></Error>")
LATE_ERROR = answer("200 OK", _LATE_ERROR, "content-type: application/xml\r\n")


def test_a_complete_answered_200_then_an_error_after_whitespace_is_a_failure(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """AWS answers a long CompleteMultipartUpload with 200 at once, whitespace while it
    works, then the result or an <Error>. An error kilobytes into the body is still an
    error: the object fails, its upload is aborted, nothing is written, and the next run
    (the target well again) copies it."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(12 * MIB)
    put_multipart(minio_side, src, "model.bin", body, 5 * MIB)

    def failing_complete(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        return LATE_ERROR if method == "POST" and "uploadId=" in target else None

    proxy = proxy_in_front(aws_side, answer=failing_complete)
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    try:
        run = run_mirror({**env, "AWS_URL": proxy.url})
    finally:
        proxy.close()

    assert run.code == 1, run.stderr[-2000:]
    (failed,) = run.named("object.failed")
    assert failed["key"] == "model.bin"
    assert "InternalError" in failed["error"]
    assert run.named("object.copied") == []
    assert contents(aws_side, dst) == {}
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []

    again = run_mirror(env)
    assert again.code == 0, again.stderr[-2000:]
    assert contents(aws_side, dst) == {"model.bin": body}


def test_a_resumed_read_answered_with_the_whole_object_is_failed_not_spliced(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """The source link drops mid-body, and the read resumed by range is answered by a store
    or proxy that ignores Range: 200 and the object from byte 0 (a multipart copy: a
    smaller object is asked for whole again). Those bytes are not the
    ones asked for; the object fails with that reason (it was not changed on the source),
    nothing is written, and the next run copies it."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(12 * MIB)
    put(minio_side, src, {"object.bin": body})
    etag = minio_side.boto3().head_object(Bucket=src, Key="object.bin")["ETag"]
    whole = answer("200 OK", body, f"content-type: binary/octet-stream\r\netag: {etag}\r\n")

    def range_ignored(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        return whole if method == "GET" and "range" in headers else None

    proxy = proxy_in_front(minio_side, answer=range_ignored)
    link = Relay(proxy.port, cut_after=6 * MIB)  # in the second part: resumed at its start
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
           "MIRROR_MULTIPART_THRESHOLD": "5MiB", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    try:
        run = run_mirror({**env, "MINIO_URL": link.url})
    finally:
        link.close()
        proxy.close()

    assert link.cuts == 1
    assert run.code == 1, run.stderr[-2000:]
    (failed,) = run.named("object.failed")
    assert failed["key"] == "object.bin"
    assert "resumed at byte" in failed["error"]
    assert contents(aws_side, dst) == {}
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []
    again = run_mirror(env)
    assert again.code == 0, again.stderr[-2000:]
    assert contents(aws_side, dst) == {"object.bin": body}
