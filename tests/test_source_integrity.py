"""What is read from the source is checked against its ETag on every path, multipart
ETags included (the MD5 of the parts' MD5s, in the part sizes the source was uploaded
with), and a copy that later runs can compare only by size and time is of the source's
current version, even when the object was rewritten while it was being copied."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import base_env, contents, new_bucket, proxy_in_front, put, put_multipart, run_mirror
from proxy_server import Relay
from test_transport import answer, s3_error

from mirror.sandbox import LocalS3

MIB = 1024 * 1024

STREAMED = {"MIRROR_PART_SIZE": "5MiB", "AWS_ETAG_IS_MD5": "false"}
# (the sizes in MiB of the parts the source was uploaded in, the mirror's settings)
PATHS = {
    # within one part size: read whole into memory, its ETag checked over the buffer
    "within the part size": ([5, 5], {}),
    "within the part size, uneven parts": ([6, 5, 1], {}),
    # streamed into parts of our own size (the target's ETags are not trusted to be MD5s,
    # so no part-for-part copy): the source's part MD5s are hashed on the way
    "streamed in other parts": ([8, 4], STREAMED),
    # hashed in parts of the first one's size, which the others are not: the sizes the
    # source states say so, and the object is read again, hashed by them
    "streamed, uneven parts": ([6, 5, 7], STREAMED),
    # more parts than the first one's size gives: the sizes are asked before reading
    "streamed, the last part the largest": ([5, 5, 7], STREAMED),
}


def _whole_gets(method: str, target: str, headers: dict[str, str]) -> int | None:
    """Flip a byte of every GET of the object itself (not of a part, not a listing)."""
    parts = urlsplit(target)
    is_object = parts.path.strip("/").count("/") >= 1
    return 3 * MIB + 7 if method == "GET" and is_object and "partNumber" not in parts.query \
        else None


@pytest.mark.parametrize("path", PATHS)
def test_a_multipart_object_corrupted_on_the_way_is_failed_not_written(
        minio_side: LocalS3, aws_side: LocalS3, path: str) -> None:
    """One byte flipped between source and mirror: the object's parts no longer give the
    source's multipart ETag, so the object fails and nothing is written (no upload left
    behind); the next run, on a clean link, copies it exactly."""
    sizes, settings = PATHS[path]
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    parts = [os.urandom(n * MIB) for n in sizes]
    body = b"".join(parts)
    _put_in_parts(minio_side, src, "model.bin", parts)
    corrupting = proxy_in_front(minio_side, tamper=_whole_gets)
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
           **settings}
    try:
        run = run_mirror({**env, "MINIO_URL": corrupting.url})
    finally:
        corrupting.close()

    assert run.code == 1, run.stderr[-2000:]
    (failed,) = run.named("object.failed")
    assert failed["key"] == "model.bin"
    assert "give ETag" in failed["error"]
    assert "the source object is damaged" in failed["error"]
    assert contents(aws_side, dst) == {}
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []

    again = run_mirror(env)

    assert again.code == 0, again.stderr[-2000:]
    assert contents(aws_side, dst) == {"model.bin": body}


REWRITES = {
    "read whole": (10 * MIB, {}),
    "copied part for part": (12 * MIB, {"MIRROR_PART_SIZE": "5MiB"}),
}


@pytest.mark.parametrize("path", REWRITES)
def test_an_object_rewritten_while_it_is_copied_ends_up_current(
        minio_side: LocalS3, aws_side: LocalS3, path: str) -> None:
    """A checkpoint saved again, same size, while its previous version is streaming to the
    target: the copy of the previous version would look newer than the rewrite for good,
    since such objects are compared by size and time. The source's ETag, read again once
    the copy is written, shows the rewrite, and the object is copied again."""
    size, settings = REWRITES[path]
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    old, new = os.urandom(size), os.urandom(size)
    put_multipart(minio_side, src, "checkpoint.bin", old, 5 * MIB)
    slow = Relay(int(minio_side.url.rsplit(":", 1)[1]), rate=3 * MIB)  # a copy of ~3 s
    rewrite = threading.Timer(1.2, put_multipart,
                              (minio_side, src, "checkpoint.bin", new, 5 * MIB))
    env: dict[str, Any] = {**base_env(minio=minio_side, aws=aws_side),
                           "BUCKET_PAIR": f"minio/{src}:aws/{dst}", **settings}
    rewrite.start()
    try:
        run = run_mirror({**env, "MINIO_URL": slow.url})
    finally:
        rewrite.join()
        slow.close()

    assert run.code == 0, run.stderr[-2000:]
    # copied again after the rewrite; or, had a read begun after it, not at all this time
    assert contents(aws_side, dst) in ({"checkpoint.bin": new}, {})
    again = run_mirror(env)
    assert again.code == 0, again.stderr[-2000:]
    assert contents(aws_side, dst) == {"checkpoint.bin": new}
    assert run_mirror(env).decisions() == {"unchanged": 1}


NOT_IMPLEMENTED = s3_error("501 Not Implemented", "NotImplemented", "partNumber")


def test_a_source_that_states_no_part_sizes_is_named_in_a_warning(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """A store that refuses ?partNumber=: its multipart objects are still copied (each part
    checked by the target against its Content-MD5), and a warning says their bytes could
    not be checked against the source's ETag."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(12 * MIB)
    put_multipart(minio_side, src, "model.bin", body, 5 * MIB)

    def no_parts(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        return NOT_IMPLEMENTED if "partNumber=" in target else None

    with proxy_in_front(minio_side, answer=no_parts) as partless:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                          "MINIO_URL": partless.url, "MIRROR_PART_SIZE": "5MiB",
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {"model.bin": body}
    (warning,) = run.named("pair.multipart_unchecked")
    assert warning["source"] == f"minio/{src}"



def test_a_part_size_of_nothing_is_no_part_size(minio_side: LocalS3, aws_side: LocalS3) -> None:
    """A store answering HEAD ?partNumber=1 with 206 and no bytes states no size to cut
    by: the object is copied as from a store that states none, and the warning says so."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(12 * MIB)
    put_multipart(minio_side, src, "model.bin", body, 5 * MIB)
    etag = minio_side.boto3().head_object(Bucket=src, Key="model.bin")["ETag"]

    def empty_parts(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        if method == "HEAD" and "partNumber=" in target:
            return answer("206 Partial Content", b"",
                          f"content-range: bytes 0-{5 * MIB - 1}/{12 * MIB}\r\n"
                          f"x-amz-mp-parts-count: 3\r\netag: {etag}\r\n")
        return None

    with proxy_in_front(minio_side, answer=empty_parts) as odd:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": odd.url,
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}", **STREAMED})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {"model.bin": body}
    assert run.named("pair.multipart_unchecked")

def _put_in_parts(server: LocalS3, bucket: str, key: str, parts: list[bytes]) -> None:
    """Upload `parts` as they are: S3 lets every part but the last be any size ≥ 5 MiB."""
    s3 = server.boto3()
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload,
                                                     PartNumber=n, Body=part)["ETag"]}
            for n, part in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                 MultipartUpload={"Parts": done})


UNEVEN = {
    "within the part size": ([6, 5, 1], {}),
    "streamed in other parts": ([6, 5, 7], STREAMED),
    "streamed, the last part the largest": ([5, 5, 7], STREAMED),
}


@pytest.mark.parametrize("path", UNEVEN)
def test_parts_of_different_sizes_are_copied_and_checked(minio_side: LocalS3,
                                                         aws_side: LocalS3, path: str) -> None:
    """A multipart object whose parts differ in size (valid S3): copied intact, its ETag
    checked by the sizes the source states, never taken for damage."""
    sizes, settings = UNEVEN[path]
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    parts = [os.urandom(n * MIB) for n in sizes]
    _put_in_parts(minio_side, src, "uneven.bin", parts)

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}", **settings})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {"uneven.bin": b"".join(parts)}


def _listing(server: LocalS3, bucket: str, etag: Callable[[str], str | None]) -> bytes:
    """The bucket's one-page ListObjectsV2 answer, each <ETag> as `etag` gives it from the
    real one (None: left out, as by a store that does not list ETags)."""
    entries = []
    for o in server.boto3().list_objects_v2(Bucket=bucket).get("Contents", []):
        listed = etag(o["ETag"])
        entries.append(
            b"<Contents><Key>%s</Key><LastModified>%s</LastModified>%s<Size>%d</Size>"
            b"</Contents>" % (
                o["Key"].encode(), o["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z").encode(),
                b"" if listed is None else b"<ETag>%s</ETag>" % listed.encode(), o["Size"]))
    body = (b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
            b"<Name>%s</Name><IsTruncated>false</IsTruncated>%s</ListBucketResult>"
            % (bucket.encode(), b"".join(entries)))
    return answer("200 OK", body, "content-type: application/xml\r\n")


def _is_listing(method: str, target: str) -> bool:
    return method == "GET" and "list-type=2" in target


def test_a_source_that_lists_no_etags_is_copied_once(minio_side: LocalS3,
                                                     aws_side: LocalS3) -> None:
    """Listings without ETags leave size and time to compare by, and nothing to tell a
    rewrite during the copy by: each object is copied once, with no HEAD read after it
    (an ETag read back would differ from the listing's empty one, and every copy would be
    taken for a rewrite and made again), and the next run finds it unchanged."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {"a.txt": b"alpha", "b/c.bin": os.urandom(70_000)}
    put(minio_side, src, objects)
    canned = _listing(minio_side, src, lambda etag: None)

    def list_without_etags(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        return canned if _is_listing(method, target) else None

    source = proxy_in_front(minio_side, answer=list_without_etags)
    target = proxy_in_front(aws_side)
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
           "MINIO_URL": source.url, "AWS_URL": target.url}
    try:
        run = run_mirror(env)
        source_ops, _ = source.snapshot()
        _, written = target.snapshot()
        again = run_mirror(env)
    finally:
        source.close()
        target.close()

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == objects
    assert sorted(written) == sorted(objects)
    assert "HEAD" not in source_ops
    assert again.code == 0, again.stderr[-2000:]
    assert again.decisions() == {"unchanged": 2}


def test_upper_case_etags_are_sent_back_as_the_store_wrote_them(minio_side: LocalS3,
                                                               aws_side: LocalS3) -> None:
    """A store that writes ETags in upper case (Alibaba OSS) and compares If-Match exactly:
    the read is conditional on the ETag as listed, so it is answered, not refused as if
    the object had been rewritten (which would leave it uncopied, run after run). Its
    bytes are still checked against that ETag, and the next run finds it unchanged."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(50_000)
    put(minio_side, src, {"photo.jpg": body})
    upper = minio_side.boto3().head_object(Bucket=src, Key="photo.jpg")["ETag"].upper()
    canned = _listing(minio_side, src, lambda etag: etag.upper())

    def oss(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        if _is_listing(method, target):
            return canned
        if method == "GET" and "photo.jpg" in target:
            if headers.get("if-match", upper) != upper:
                return s3_error("412 Precondition Failed", "PreconditionFailed", "")
            return answer("200 OK", body,
                          f"etag: {upper}\r\ncontent-type: application/octet-stream\r\n")
        return None

    source = proxy_in_front(minio_side, answer=oss)
    env = {**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": source.url,
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    try:
        run = run_mirror(env)
        again = run_mirror(env)
    finally:
        source.close()

    assert run.code == 0, run.stderr[-2000:]
    assert run.named("object.source_changed") == []
    assert contents(aws_side, dst) == {"photo.jpg": body}
    assert again.decisions() == {"unchanged": 1}


@pytest.mark.parametrize("settings", [{}, {"AWS_ETAG_IS_MD5": "false"}],
                         ids=["part for part", "in its own parts"])
def test_parts_numbered_with_gaps_are_copied_and_checked(
        minio_side: LocalS3, aws_side: LocalS3, settings: dict[str, str]) -> None:
    """S3 lets an upload skip part numbers (parts 1, 3 and 7 make an object "-3"); the
    store then has no part 2 to serve for GET ?partNumber=2 (SeaweedFS answers 416, AWS
    400 InvalidPart). Such an object is copied the other way, still checked against its
    ETag by its parts' sizes, on the first run, and nothing is left behind."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    parts = {1: os.urandom(5 * MIB), 3: os.urandom(5 * MIB), 7: os.urandom(2 * MIB)}
    s3 = minio_side.boto3()
    upload = s3.create_multipart_upload(Bucket=src, Key="sparse.bin")["UploadId"]
    done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=src, Key="sparse.bin",
                                                     UploadId=upload, PartNumber=n,
                                                     Body=part)["ETag"]}
            for n, part in parts.items()]
    s3.complete_multipart_upload(Bucket=src, Key="sparse.bin", UploadId=upload,
                                 MultipartUpload={"Parts": done})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}", **settings})

    assert run.code == 0, run.stderr[-2000:]
    assert run.named("object.failed") == []
    assert run.named("pair.multipart_unchecked") == []
    assert contents(aws_side, dst) == {"sparse.bin": b"".join(parts.values())}
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []


@pytest.mark.parametrize(("size", "settings"), [
    (3 * MIB, {}),  # read whole into one buffer
    (12 * MIB, {}),  # one GET streamed into one PUT
    (12 * MIB, {"MIRROR_MULTIPART_THRESHOLD": "5MiB"}),  # one GET into a multipart upload
], ids=["small", "streamed", "multipart"])
def test_an_answer_shorter_than_the_object_it_still_is_is_a_failure(
        minio_side: LocalS3, aws_side: LocalS3, size: int, settings: dict[str, str]) -> None:
    """A proxy or store serves the object one byte short, its Content-Length saying so,
    while the object is what it was listed as (its HEAD says so). That is not a rewrite to
    leave to the next run with a warning and exit code 0, run after run: the copy fails,
    nothing is written, and a clean link copies it."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(size)
    put(minio_side, src, {"object.bin": body})
    etag = minio_side.boto3().head_object(Bucket=src, Key="object.bin")["ETag"]
    short = answer("200 OK", body[:-1], f"content-type: binary/octet-stream\r\netag: {etag}\r\n")

    def cut_short(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        return short if method == "GET" and urlsplit(target).path.endswith("/object.bin") \
            else None

    proxy = proxy_in_front(minio_side, answer=cut_short)
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}", **settings}
    try:
        run = run_mirror({**env, "MINIO_URL": proxy.url})
    finally:
        proxy.close()

    assert run.code == 1, run.stderr[-2000:]
    (failed,) = run.named("object.failed")
    assert failed["key"] == "object.bin"
    assert f"{size - 1} bytes" in failed["error"]
    assert run.named("object.source_changed") == []
    assert contents(aws_side, dst) == {}
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []
    again = run_mirror(env)
    assert again.code == 0, again.stderr[-2000:]
    assert contents(aws_side, dst) == {"object.bin": body}
