"""A streamed copy is verified: a target that refuses or misreports the bytes fails it.

The source is a real SeaweedFS; the target is a scripted HTTP server (tests/test_transport)
answering as a store that refuses the Content-MD5 or returns an ETag that does not match,
which real stores do only when something is broken.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import new_bucket, put_multipart
from test_transport import SLOW_DOWN, ScriptedServer, ok, s3_error

from mirror.executor import MemoryBudget
from mirror.s3.accounting import RequestCounter
from mirror.s3.client import EndpointConfig, PoolRegistry, RetryPolicy, S3Client
from mirror.s3.listing import ObjectInfo
from mirror.s3.sigv4 import Credentials, CredentialSource
from mirror.sandbox import LocalS3
from mirror.scan import Scope, flat
from mirror.transfer import Outcome, Side, TransferContext, TransferResult, transfer

MIB = 1024 * 1024
BAD_DIGEST = (b"HTTP/1.1 400 Bad Request\r\ncontent-length: 73\r\n\r\n"
              b"<Error><Code>BadDigest</Code><Message>Content-MD5 mismatch</Message></Error>")


def _client(url: str, key: str, secret: str) -> S3Client:
    return S3Client(EndpointConfig(url, "us-east-1", CredentialSource(Credentials(key, secret))),
                    PoolRegistry(), RequestCounter(), RetryPolicy(attempts=1))


def _transfer(source: LocalS3, bucket: str, target: ScriptedServer,
              multipart_threshold: int = 256 * MIB, part_gets: bool = True,
              source_multipart_etag: str = "composite", parts_in_flight: int = 4,
              **context: Any) -> TransferResult:
    src = _client(source.url, source.access_key, source.secret_key)
    obj = next(o for batch in flat(src, Scope(bucket, "", 0)) for o in batch)
    ctx = TransferContext(
        source=Side(src, bucket, ""),
        target=Side(_client(f"http://127.0.0.1:{target.port}", "ak", "sk"), "dst", ""),
        part_size=5 * MIB, budget=MemoryBudget(64 * MIB), parts=ThreadPoolExecutor(2),
        stop=threading.Event(), multipart_threshold=multipart_threshold,
        source_multipart_etag=source_multipart_etag, parts_in_flight=parts_in_flight,
        **context)
    if not part_gets:  # as if the source had answered a part GET with the whole object
        ctx.no_aligned.set()
    return transfer(obj, ctx)


def _copy_through(source: LocalS3, bucket: str, target: ScriptedServer,
                  part_gets: bool = True) -> tuple[str, str]:
    src = _client(source.url, source.access_key, source.secret_key)
    etag = next(o for batch in flat(src, Scope(bucket, "", 0)) for o in batch).etag
    result = _transfer(source, bucket, target, part_gets=part_gets)
    assert result.outcome is Outcome.FAILED
    return etag, result.error or ""


def test_a_stream_the_target_refuses_by_digest_is_a_failure(minio_side: LocalS3) -> None:
    """The source's MD5 goes as Content-MD5; a BadDigest answer fails the object."""
    bucket = new_bucket(minio_side, "src")
    minio_side.boto3().put_object(Bucket=bucket, Key="big.bin", Body=os.urandom(6 * MIB))
    target = ScriptedServer([BAD_DIGEST])
    etag, error = _copy_through(minio_side, bucket, target)

    assert "do not match the source's ETag" in error
    assert "the target refused them" in error
    sent = target.requests[0].decode("latin-1").lower()
    assert f"content-md5: {base64.b64encode(bytes.fromhex(etag)).decode().lower()}" in sent


def _created(upload_id: str = "up-1") -> bytes:
    return ok(f"<InitiateMultipartUploadResult><UploadId>{upload_id}</UploadId>"
              "</InitiateMultipartUploadResult>".encode())


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _one_part_object(server: LocalS3, bucket: str) -> bytes:
    body = os.urandom(6 * MIB)
    put_multipart(server, bucket, "big.bin", body, len(body))
    return body


def test_a_part_whose_etag_the_target_misreports_fails_before_anything_is_stored(
        minio_side: LocalS3) -> None:
    """A multipart source that does not serve parts has no MD5 for the whole object: it
    goes up in parts, each with its Content-MD5, and a part ETag that is not that MD5 fails
    the object and aborts the upload before it is completed: no object is written."""
    bucket = new_bucket(minio_side, "src")
    _one_part_object(minio_side, bucket)
    wrong = ok(b"", 'etag: "00000000000000000000000000000000"\r\n')
    target = ScriptedServer([_created(), wrong, ok(b"")])

    result = _transfer(minio_side, bucket, target, part_gets=False, parts_in_flight=1,
                       target_etag_variable="AWS_ETAG_IS_MD5")

    assert result.outcome is Outcome.FAILED
    assert "it did not store what was sent" in (result.error or "")
    assert "set AWS_ETAG_IS_MD5=false" in (result.error or "")
    lines = [r.split(b"\r\n", 1)[0].decode() for r in target.requests]
    assert lines == ["POST /dst/big.bin?uploads= HTTP/1.1",
                     "PUT /dst/big.bin?partNumber=1&uploadId=up-1 HTTP/1.1",
                     "DELETE /dst/big.bin?uploadId=up-1 HTTP/1.1"]
    assert b"content-md5: " in target.requests[1].lower()


def test_a_throttled_stream_is_sent_again_from_a_new_get(minio_side: LocalS3) -> None:
    """A streamed body cannot be replayed by the HTTP client, so a 503 SlowDown is retried
    by the copy itself, after a backoff, from a fresh GET: the object is copied, not failed."""
    bucket = new_bucket(minio_side, "src")
    body = os.urandom(6 * MIB)
    minio_side.boto3().put_object(Bucket=bucket, Key="big.bin", Body=body)
    etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
    target = ScriptedServer([SLOW_DOWN, ok(b"", f'etag: "{etag}"\r\n')])

    result = _transfer(minio_side, bucket, target)

    assert result.outcome is Outcome.COPIED, result.error
    assert len(target.requests) == 2
    for request in target.requests:  # the whole body, both times
        assert request.startswith(b"PUT /dst/big.bin")
        assert request.endswith(body)


def test_a_refused_complete_aborts_the_upload(minio_side: LocalS3) -> None:
    """CompleteMultipartUpload refused: the upload is aborted, so its parts are not left on
    the target, billed and invisible."""
    bucket = new_bucket(minio_side, "src")
    minio_side.boto3().put_object(Bucket=bucket, Key="big.bin", Body=os.urandom(6 * MIB))
    created = ok(b"<InitiateMultipartUploadResult><UploadId>up-1</UploadId>"
                 b"</InitiateMultipartUploadResult>")
    refused = (b"HTTP/1.1 400 Bad Request\r\ncontent-length: 69\r\n\r\n"
               b"<Error><Code>InvalidPart</Code><Message>no such part</Message></Error>")
    target = ScriptedServer([created, ok(b""), ok(b""), refused, ok(b"")])

    result = _transfer(minio_side, bucket, target, multipart_threshold=5 * MIB)

    assert result.outcome is Outcome.FAILED
    assert "InvalidPart" in (result.error or "")
    lines = [r.split(b"\r\n", 1)[0].decode() for r in target.requests]
    assert lines[0] == "POST /dst/big.bin?uploads= HTTP/1.1"
    assert lines[3] == "POST /dst/big.bin?uploadId=up-1 HTTP/1.1"
    assert lines[4] == "DELETE /dst/big.bin?uploadId=up-1 HTTP/1.1"


def _from_scripted_source(source: ScriptedServer, target: LocalS3, bucket: str,
                          obj: ObjectInfo, **context: Any) -> TransferResult:
    """Copy `obj` from a scripted source into a real target bucket."""
    ctx = TransferContext(
        source=Side(_client(f"http://127.0.0.1:{source.port}", "ak", "sk"), "src", ""),
        target=Side(_client(target.url, target.access_key, target.secret_key), bucket, ""),
        part_size=5 * MIB, budget=MemoryBudget(64 * MIB), parts=ThreadPoolExecutor(2),
        stop=threading.Event(), **context)
    return transfer(obj, ctx)


def _answer(body: bytes, etag: str, span: tuple[int, int, int] | None = None,
            parts: int | None = None) -> bytes:
    head = f'HTTP/1.1 {"206 Partial Content" if span else "200 OK"}\r\netag: "{etag}"\r\n'
    if span:
        head += f"content-range: bytes {span[0]}-{span[1]}/{span[2]}\r\n"
    if parts:
        head += f"x-amz-mp-parts-count: {parts}\r\n"
    return f"{head}content-length: {len(body)}\r\n\r\n".encode() + body


def _head(size: int, etag: str) -> bytes:
    """A HEAD's answer: the object's headers, no body."""
    return f'HTTP/1.1 200 OK\r\netag: "{etag}"\r\ncontent-length: {size}\r\n\r\n'.encode()


def _composite(*parts: bytes) -> str:
    digests = b"".join(hashlib.md5(p, usedforsecurity=False).digest() for p in parts)
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(parts)}"


@pytest.mark.parametrize("part_answer", ["the whole object", "501 NotImplemented"])
def test_a_source_that_serves_no_parts_is_copied_the_other_way(
        aws_side: LocalS3, part_answer: str) -> None:
    """A store that ignores ?partNumber= (answers with the whole object) or refuses it (501
    NotImplemented): the copy falls back to a multipart upload fed by one streamed GET,
    each part checked by the target against its Content-MD5."""
    body = os.urandom(6 * MIB)
    etag = _composite(body[: 5 * MIB], body[5 * MIB :])
    first_answer = _answer(body, etag) if part_answer == "the whole object" else (
        s3_error("501 Not Implemented", "NotImplemented", "partNumber"))
    source = ScriptedServer([first_answer, _answer(body, etag), _head(len(body), etag),
                             _head(len(body), etag)])
    bucket = new_bucket(aws_side, "dst")

    result = _from_scripted_source(source, aws_side, bucket,
                                   ObjectInfo("model.bin", len(body), etag, "2025-01-01"))

    assert result.outcome is Outcome.COPIED, result.error
    # no part sizes to check the ETag by; the source's ETag is read again before the
    # upload is completed and once it is written
    assert [r.split(b"\r\n", 1)[0] for r in source.requests] == [
        b"GET /src/model.bin?partNumber=1 HTTP/1.1", b"GET /src/model.bin HTTP/1.1",
        b"HEAD /src/model.bin HTTP/1.1", b"HEAD /src/model.bin HTTP/1.1"]
    assert aws_side.boto3().get_object(Bucket=bucket, Key="model.bin")["Body"].read() == body


def test_parts_that_do_not_give_the_source_etag_abort_the_upload(aws_side: LocalS3) -> None:
    """A damaged source (its parts no longer give the ETag it lists) is caught before the
    upload is completed: it is aborted, nothing is written, no parts are left behind."""
    part_1, part_2 = os.urandom(5 * MIB), os.urandom(MIB)
    size = len(part_1) + len(part_2)
    etag = _composite(part_1, os.urandom(MIB))  # what the source stored, once
    source = ScriptedServer([_answer(part_1, etag, (0, 5 * MIB - 1, size), 2),
                             _answer(part_2, etag, (5 * MIB, size - 1, size), 2)])
    bucket = new_bucket(aws_side, "dst")

    result = _from_scripted_source(source, aws_side, bucket,
                                   ObjectInfo("model.bin", size, etag, "2025-01-01"))

    assert result.outcome is Outcome.FAILED
    assert f"the source's ETag is {etag}: the source object is damaged" in (result.error or "")
    assert "the upload was aborted, nothing was written" in (result.error or "")
    s3 = aws_side.boto3()
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_parts_below_5mib_are_not_copied_as_they_are(aws_side: LocalS3) -> None:
    """A source that accepted parts below S3's 5 MiB minimum: a target enforcing it would
    refuse the layout at the end, so the part-for-part copy steps aside at the first small
    part (nothing uploaded) and the object goes up in parts of our size, each checked."""
    body = os.urandom(6 * MIB)
    parts = [body[i : i + MIB] for i in range(0, len(body), MIB)]
    etag = _composite(*parts)
    source = ScriptedServer([_answer(parts[0], etag, (0, MIB - 1, len(body)), len(parts)),
                             _answer(body, etag), _head(len(body), etag),
                             _head(len(body), etag)])
    bucket = new_bucket(aws_side, "dst")

    result = _from_scripted_source(source, aws_side, bucket,
                                   ObjectInfo("model.bin", len(body), etag, "2025-01-01"))

    assert result.outcome is Outcome.COPIED, result.error
    # checked by its 1 MiB parts; read again before the upload is completed, and after
    assert [r.split(b"\r\n", 1)[0] for r in source.requests] == [
        b"GET /src/model.bin?partNumber=1 HTTP/1.1", b"GET /src/model.bin HTTP/1.1",
        b"HEAD /src/model.bin HTTP/1.1", b"HEAD /src/model.bin HTTP/1.1"]
    assert aws_side.boto3().get_object(Bucket=bucket, Key="model.bin")["Body"].read() == body
    assert aws_side.boto3().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def _two_part_object(server: LocalS3, bucket: str) -> bytes:
    body = os.urandom(6 * MIB)
    put_multipart(server, bucket, "big.bin", body, 5 * MIB)
    return body


def test_a_source_whose_multipart_etags_are_opaque_is_not_copied_part_for_part(
        minio_side: LocalS3) -> None:
    """R2's multipart ETags are not md5-of-part-md5s: nothing to check source parts
    against, so such a source's objects go up in parts of our size, each with its
    Content-MD5, and the target's part ETags must be those MD5s."""
    bucket = new_bucket(minio_side, "src")
    body = _two_part_object(minio_side, bucket)
    part_1, part_2 = body[: 5 * MIB], body[5 * MIB :]
    done = ok(f"<CompleteMultipartUploadResult><ETag>&quot;{_composite(part_1, part_2)}"
              "&quot;</ETag></CompleteMultipartUploadResult>".encode())
    target = ScriptedServer([_created(), ok(b"", f'etag: "{_md5(part_1)}"\r\n'),
                             ok(b"", f'etag: "{_md5(part_2)}"\r\n'), done])

    result = _transfer(minio_side, bucket, target, source_multipart_etag="opaque",
                       parts_in_flight=1)

    assert result.outcome is Outcome.COPIED, result.error
    lines = [r.split(b"\r\n", 1)[0].decode() for r in target.requests]
    assert lines == ["POST /dst/big.bin?uploads= HTTP/1.1",
                     "PUT /dst/big.bin?partNumber=1&uploadId=up-1 HTTP/1.1",
                     "PUT /dst/big.bin?partNumber=2&uploadId=up-1 HTTP/1.1",
                     "POST /dst/big.bin?uploadId=up-1 HTTP/1.1"]
    for request, part in zip(target.requests[1:3], (part_1, part_2), strict=True):
        md5_b64 = base64.b64encode(hashlib.md5(part, usedforsecurity=False).digest())
        assert b"content-md5: " + md5_b64.lower() in request.lower()


def test_a_target_whose_part_etags_are_no_md5s_gets_the_object_another_way(
        minio_side: LocalS3) -> None:
    """Part ETags that are no MD5s leave nothing to check the source's ETag by: the
    part-for-part upload is aborted and the object uploaded again in parts that carry
    their Content-MD5, which the target checks."""
    bucket = new_bucket(minio_side, "src")
    body = _two_part_object(minio_side, bucket)
    opaque = ok(b"", 'etag: "part-etag-of-another-kind"\r\n')
    done = ok(b"<CompleteMultipartUploadResult><ETag>&quot;opaque&quot;</ETag>"
              b"</CompleteMultipartUploadResult>")
    target = ScriptedServer([_created(), opaque, ok(b""), _created("up-2"), opaque, opaque,
                             done])

    result = _transfer(minio_side, bucket, target, parts_in_flight=1)

    assert result.outcome is Outcome.COPIED, result.error
    lines = [r.split(b"\r\n", 1)[0].decode() for r in target.requests]
    assert lines == ["POST /dst/big.bin?uploads= HTTP/1.1",  # part for part: the first
                     "PUT /dst/big.bin?partNumber=1&uploadId=up-1 HTTP/1.1",  # ETag says no
                     "DELETE /dst/big.bin?uploadId=up-1 HTTP/1.1",
                     "POST /dst/big.bin?uploads= HTTP/1.1",
                     "PUT /dst/big.bin?partNumber=1&uploadId=up-2 HTTP/1.1",
                     "PUT /dst/big.bin?partNumber=2&uploadId=up-2 HTTP/1.1",
                     "POST /dst/big.bin?uploadId=up-2 HTTP/1.1"]
    assert all(b"content-md5: " in r.lower() for r in target.requests[4:6])
    assert target.requests[4].endswith(body[: 5 * MIB])
    assert target.requests[5].endswith(body[5 * MIB :])


OBJECT_LOCK = (b"HTTP/1.1 400 Bad Request\r\ncontent-length: 165\r\n\r\n"
               b"<Error><Code>InvalidRequest</Code><Message>Content-MD5 OR x-amz-checksum- "
               b"HTTP header is required for Put Part requests with Object Lock parameters"
               b"</Message></Error>")


def test_a_target_with_object_lock_gets_parts_that_carry_their_md5(minio_side: LocalS3) -> None:
    """AWS refuses an UploadPart without Content-MD5 into a bucket with Object Lock (WORM,
    the usual off-site backup target): the part-for-part upload is aborted and the object
    sent again in parts that each carry their Content-MD5, and it is copied, not failed."""
    bucket = new_bucket(minio_side, "src")
    body = _two_part_object(minio_side, bucket)
    part_1, part_2 = body[: 5 * MIB], body[5 * MIB :]
    done = ok(f"<CompleteMultipartUploadResult><ETag>&quot;{_composite(part_1, part_2)}"
              "&quot;</ETag></CompleteMultipartUploadResult>".encode())
    target = ScriptedServer([_created(), OBJECT_LOCK, ok(b""), _created("up-2"),
                             ok(b"", f'etag: "{_md5(part_1)}"\r\n'),
                             ok(b"", f'etag: "{_md5(part_2)}"\r\n'), done])

    result = _transfer(minio_side, bucket, target, parts_in_flight=1)

    assert result.outcome is Outcome.COPIED, result.error
    lines = [r.split(b"\r\n", 1)[0].decode() for r in target.requests]
    assert lines == ["POST /dst/big.bin?uploads= HTTP/1.1",
                     "PUT /dst/big.bin?partNumber=1&uploadId=up-1 HTTP/1.1",  # refused
                     "DELETE /dst/big.bin?uploadId=up-1 HTTP/1.1",
                     "POST /dst/big.bin?uploads= HTTP/1.1",
                     "PUT /dst/big.bin?partNumber=1&uploadId=up-2 HTTP/1.1",
                     "PUT /dst/big.bin?partNumber=2&uploadId=up-2 HTTP/1.1",
                     "POST /dst/big.bin?uploadId=up-2 HTTP/1.1"]
    assert b"content-md5: " not in target.requests[1].lower()
    for request, part in zip(target.requests[4:6], (part_1, part_2), strict=True):
        md5_b64 = base64.b64encode(hashlib.md5(part, usedforsecurity=False).digest())
        assert b"content-md5: " + md5_b64.lower() in request.lower()
        assert request.endswith(part)


@pytest.mark.parametrize(("headers", "by"), [
    ("x-amz-server-side-encryption: aws:kms\r\n", "SSE-KMS"),
    ("x-amz-server-side-encryption: aws:kms:dsse\r\n", "DSSE-KMS"),
    ("x-amz-server-side-encryption-customer-algorithm: AES256\r\n", "SSE-C"),
])
def test_a_target_encrypting_with_kms_stops_the_pair_naming_the_setting(
        minio_side: LocalS3, headers: str, by: str) -> None:
    """A bucket encrypted with SSE-KMS (a common default on AWS) returns ETags that are no
    MD5s: without AWS_ETAG_IS_MD5=false every write would fail its ETag check, so the
    first one stops the pair with the setting to change, not a "did not store" per object."""
    bucket = new_bucket(minio_side, "src")
    minio_side.boto3().put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
    target = ScriptedServer([ok(b"", f'etag: "{_md5(b"another thing")}"\r\n{headers}')])

    result = _transfer(minio_side, bucket, target, target_etag_variable="AWS_ETAG_IS_MD5")

    assert result.outcome is Outcome.FAILED
    assert result.fatal
    assert result.error == (
        f"the target encrypts with {by}, so the ETags it returns are not MD5s and cannot "
        "confirm what was written: set AWS_ETAG_IS_MD5=false (the target then checks each "
        "write against its Content-MD5, and runs compare by size and time)")


def test_with_etag_is_md5_false_a_kms_target_is_trusted_to_check_the_content_md5(
        minio_side: LocalS3) -> None:
    """Once the alias says its ETags are no MD5s, the Content-MD5 sent is the check."""
    bucket = new_bucket(minio_side, "src")
    minio_side.boto3().put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
    target = ScriptedServer([ok(b"", f'etag: "{_md5(b"another thing")}"\r\n'
                                     "x-amz-server-side-encryption: aws:kms\r\n")])

    result = _transfer(minio_side, bucket, target, target_etags_md5=False)

    assert result.outcome is Outcome.COPIED, result.error
    md5_b64 = base64.b64encode(hashlib.md5(b"hello", usedforsecurity=False).digest())
    assert b"content-md5: " + md5_b64.lower() in target.requests[0].lower()
    assert target.requests[0].endswith(b"hello")


@pytest.mark.parametrize("size", [5, 6 * MIB])  # one PUT; streamed (source ETag as MD5)
def test_a_source_encrypting_with_kms_stops_the_pair_before_writing(
        aws_side: LocalS3, size: int) -> None:
    """A source bucket with SSE-KMS lists ETags that look like MD5s but are not: every
    object would fail its check as "damaged", so the first GET's answer stops the pair with
    the setting to change, and nothing is written."""
    body = os.urandom(size)
    etag = _md5(b"not the body")
    answer = _answer(body, etag).replace(
        b"\r\n\r\n", b"\r\nx-amz-server-side-encryption: aws:kms\r\n\r\n", 1)
    source = ScriptedServer([answer])
    bucket = new_bucket(aws_side, "dst")

    result = _from_scripted_source(source, aws_side, bucket,
                                   ObjectInfo("a.bin", size, etag, "2025-01-01"),
                                   source_etag_variable="MINIO_ETAG_IS_MD5")

    assert result.outcome is Outcome.FAILED
    assert result.fatal
    assert result.error == (
        "the source encrypts with SSE-KMS, so its ETags are not MD5s and cannot check what "
        "is read: set MINIO_ETAG_IS_MD5=false (copies are then checked by the target "
        "against the MD5 of the bytes read); nothing was written")
    assert aws_side.boto3().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_kms_target_whose_etags_are_md5s_anyway_is_checked_by_them(
        minio_side: LocalS3) -> None:
    """The encryption header alone stops nothing: a store that declares SSE-KMS but returns
    the MD5 of what it stored passes the usual check, and the object is copied."""
    bucket = new_bucket(minio_side, "src")
    minio_side.boto3().put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
    target = ScriptedServer([ok(b"", f'etag: "{_md5(b"hello")}"\r\n'
                                     "x-amz-server-side-encryption: aws:kms\r\n")])

    result = _transfer(minio_side, bucket, target)

    assert result.outcome is Outcome.COPIED, result.error
