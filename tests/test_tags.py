"""Object tags travel with the copy (as `mc mirror` does since 2025), at no cost for the
objects that have none: the source's GET answer counts an object's tags
(x-amz-tagging-count), and only a tagged object costs a GetObjectTagging."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import base_env, contents, new_bucket, proxy_in_front, put, put_multipart, run_mirror
from test_streamed_integrity import _from_scripted_source, _transfer
from test_transport import ScriptedServer, answer, ok, s3_error

from mirror.s3.listing import ObjectInfo
from mirror.sandbox import LocalS3
from mirror.transfer import Outcome

MIB = 1024 * 1024
TAGS = {"team": "ml platform", "class": "gold/été", "formula": "a+b=c&d"}


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _tagging(tags: dict[str, str]) -> str:
    return urlencode(tags)


def _tags_of(server: LocalS3, bucket: str) -> dict[str, dict[str, str]]:
    s3 = server.boto3()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: {t["Key"]: t["Value"]
                for t in s3.get_object_tagging(Bucket=bucket, Key=k)["TagSet"]} for k in keys}


def _seed(server: LocalS3, bucket: str) -> dict[str, bytes]:
    """Tagged objects written every way the mirror writes (one PUT, a streamed PUT, a
    part-for-part multipart copy), and untagged ones beside them."""
    objects = {"small-tagged.txt": b"tagged", "large-tagged.bin": os.urandom(6 * MIB)}
    put(server, bucket, objects, Tagging=_tagging(TAGS))
    plain = {"small-plain.txt": b"plain", "other/plain.txt": b"also plain"}
    put(server, bucket, plain)
    body = os.urandom(11 * MIB)
    put_multipart(server, bucket, "multipart-tagged.bin", body, 5 * MIB, Tagging=_tagging(TAGS))
    return {**objects, **plain, "multipart-tagged.bin": body}


TAGGED = {"small-tagged.txt", "large-tagged.bin", "multipart-tagged.bin"}


def _env(source: LocalS3, target: LocalS3, src: str, dst: str, **extra: str) -> dict[str, Any]:
    return {**base_env(minio=source, aws=target), "MIRROR_PART_SIZE": "5MiB",
            "BUCKET_PAIR": f"minio/{src}:aws/{dst}", **extra}


def test_tags_are_copied_with_one_request_per_tagged_object(minio_side: LocalS3,
                                                            aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = _seed(minio_side, src)

    run = run_mirror(_env(minio_side, aws_side, src, dst))

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == objects
    assert _tags_of(aws_side, dst) == {k: (TAGS if k in TAGGED else {}) for k in objects}
    assert run.requests("source").get("GET_TAGGING") == len(TAGGED)
    rerun = run_mirror(_env(minio_side, aws_side, src, dst))
    assert rerun.requests("source") == {"LIST": 1}  # unchanged objects: no tag request


def test_copy_tags_false_copies_none_and_reads_none(minio_side: LocalS3,
                                                    aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = _seed(minio_side, src)

    run = run_mirror(_env(minio_side, aws_side, src, dst, MIRROR_COPY_TAGS="false"))

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == objects
    assert _tags_of(aws_side, dst) == {k: {} for k in objects}
    assert "GET_TAGGING" not in run.requests("source")


@pytest.mark.parametrize(("copy_tags", "expected"), [("true", TAGS), ("false", {})])
def test_a_server_side_copy_keeps_the_tags_unless_told_not_to(
        minio_side: LocalS3, copy_tags: str, expected: dict[str, str]) -> None:
    """Within one store the COPY carries the tags itself; false replaces them by none."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(minio_side, "dst")
    put(minio_side, src, {"a.txt": b"a"}, Tagging=_tagging(TAGS))

    run = run_mirror({**base_env(minio=minio_side), "MIRROR_COPY_TAGS": copy_tags,
                      "BUCKET_PAIR": f"minio/{src}:minio/{dst}"})

    assert run.code == 0, run.stderr[-2000:]
    assert run.requests("target") == {"LIST": 1, "COPY": 1}
    assert contents(minio_side, dst) == {"a.txt": b"a"}
    assert _tags_of(minio_side, dst) == {"a.txt": expected}


def test_a_source_that_counts_no_tags_is_copied_without_asking(rclone_side: LocalS3,
                                                               aws_side: LocalS3) -> None:
    """rclone serve s3 announces no tag count (and fails GetObjectTagging): its objects are
    copied whole, and no tag request is sent."""
    src, dst = new_bucket(rclone_side, "src"), new_bucket(aws_side, "dst")
    objects = {"a.txt": b"a", "b/c.txt": b"c"}
    put(rclone_side, src, objects)
    env = {**base_env(src=rclone_side, dst=aws_side), "BUCKET_PAIR": f"src/{src}:dst/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == objects
    assert "GET_TAGGING" not in run.requests("source")


def test_a_target_provider_without_tags_gets_none_and_costs_no_tag_request(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """R2 stores no object tags: with the target declared as R2, none are read or sent."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"}, Tagging=_tagging(TAGS))

    run = run_mirror(_env(minio_side, aws_side, src, dst, AWS_PROVIDER="r2"))

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {"a.txt": b"a"}
    assert _tags_of(aws_side, dst) == {"a.txt": {}}
    assert "GET_TAGGING" not in run.requests("source")


NOT_IMPLEMENTED = s3_error("501 Not Implemented", "NotImplemented",
                           "Header 'x-amz-tagging' not implemented")


def test_a_target_that_refuses_tags_as_not_implemented_gets_the_objects_without(
        minio_side: LocalS3) -> None:
    """A store that answers 501 to x-amz-tagging: the object is written again without its
    tags, and the pair's later objects are neither tagged nor have their tags read."""
    first, second = new_bucket(minio_side, "one"), new_bucket(minio_side, "two")
    put(minio_side, first, {"a.txt": b"first"}, Tagging=_tagging(TAGS))
    put(minio_side, second, {"b.txt": b"second"}, Tagging=_tagging(TAGS))
    target = ScriptedServer([NOT_IMPLEMENTED, ok(b"", f'etag: "{_md5(b"first")}"\r\n'),
                             ok(b"", f'etag: "{_md5(b"second")}"\r\n')])
    refused = threading.Event()

    results = [_transfer(minio_side, bucket, target, no_tags=refused)
               for bucket in (first, second)]

    assert [r.outcome for r in results] == [Outcome.COPIED, Outcome.COPIED], results
    sent = [r.lower() for r in target.requests]
    assert [b"x-amz-tagging: " in r for r in sent] == [True, False, False]
    assert [r.endswith(body) for r, body in zip(sent, (b"first", b"first", b"second"),
                                                 strict=True)] == [True, True, True]
    assert refused.is_set()


def test_a_run_against_a_target_that_refuses_tags_copies_untagged_and_says_so(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """End to end, through a proxy that answers 501 to every write carrying tags (as R2
    or an older store declared generic does): every object arrives, untagged, the run
    succeeds, and one warning tells the user why the tags are missing. Once refused, the
    pair stops reading tags it cannot write."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    tagged = {f"t{i}.txt": f"tagged {i}".encode() for i in range(4)}
    put(minio_side, src, tagged, Tagging=_tagging(TAGS))
    put(minio_side, src, {"plain.txt": b"plain"})
    refused: list[str] = []

    def refuse_tags(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        if method == "PUT" and "x-amz-tagging" in headers:
            refused.append(target)
            return NOT_IMPLEMENTED
        return None

    with proxy_in_front(aws_side, answer=refuse_tags) as proxy:
        run = run_mirror(_env(minio_side, aws_side, src, dst, AWS_URL=proxy.url,
                              MIRROR_MAX_WORKERS="1"))

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {**tagged, "plain.txt": b"plain"}
    assert all(tags == {} for tags in _tags_of(aws_side, dst).values())
    assert len(refused) == 1, refused
    assert run.requests("source").get("GET_TAGGING") == 1
    warnings = run.named("pair.tags_refused")
    assert len(warnings) == 1, warnings
    assert warnings[0]["level"] == "warning"
    assert warnings[0]["target"] == f"aws/{dst}"
    assert "copied without them" in warnings[0]["detail"]


def test_an_object_deleted_before_its_tags_are_read_is_reported_as_changed(
        aws_side: LocalS3) -> None:
    """Deleted between its GET and its GetObjectTagging: the next run settles it, as for
    any object that changed during the run; nothing is written."""
    body = b"short-lived"
    source = ScriptedServer([
        answer("200 OK", body, f'etag: "{_md5(body)}"\r\nx-amz-tagging-count: 1\r\n'),
        s3_error("404 Not Found", "NoSuchKey", "gone")])
    bucket = new_bucket(aws_side, "dst")

    result = _from_scripted_source(source, aws_side, bucket,
                                   ObjectInfo("a.txt", len(body), _md5(body), "2025-01-01"))

    assert result.outcome is Outcome.SOURCE_CHANGED, result
    assert source.requests[1].split(b"\r\n", 1)[0] == b"GET /src/a.txt?tagging= HTTP/1.1"
    assert contents(aws_side, bucket) == {}
