"""A multipart server-side copy (an object above CopyObject's 5 GiB, within one store) of an
object rewritten after its parts were copied, just before the upload is completed: as for
the other multipart copies, the upload must be aborted, not completed with the earlier
version. Completed, that copy is written after the rewrite and looks newer than it; the
rule for such objects compares size and time, so if the copy of the new version then fails,
no later run copies it."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from conftest import new_bucket, proxy_in_front, put_multipart
from test_transport import answer, s3_error

from bench.proxy import classify
from mirror import transfer as transfer_module
from mirror.decision import Action, Policy, decide
from mirror.exclude import Exclude
from mirror.executor import MemoryBudget
from mirror.providers import PROVIDERS
from mirror.s3.accounting import RequestCounter
from mirror.s3.client import EndpointConfig, PoolRegistry, RetryPolicy, S3Client
from mirror.s3.sigv4 import Credentials, CredentialSource
from mirror.sandbox import LocalS3
from mirror.scan import Scope, flat
from mirror.transfer import Outcome, Side, TransferContext, transfer

MIB = 1024 * 1024


def _client(url: str, server: LocalS3) -> S3Client:
    return S3Client(EndpointConfig(url, "us-east-1", CredentialSource(
        Credentials(server.access_key, server.secret_key))), PoolRegistry(), RequestCounter(),
        RetryPolicy(attempts=1))


def test_a_rewrite_before_a_server_side_multipart_copy_completes_aborts_it(
        minio_side: LocalS3, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer_module, "MAX_SINGLE_COPY", 1 * MIB)  # as if above 5 GiB
    src, dst = new_bucket(minio_side, "src"), new_bucket(minio_side, "dst")
    old, new = os.urandom(12 * MIB), os.urandom(12 * MIB)
    put_multipart(minio_side, src, "checkpoint.bin", old, 5 * MIB)
    s3 = minio_side.boto3()
    rewritten: list[bool] = []

    def hook(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        op, _ = classify(method, target, headers)
        if op == "MPU_PART_COPY" and not rewritten:
            # the part is copied, and the checkpoint saved again right after
            parts = urlsplit(target)
            query = parse_qs(parts.query)
            bucket, key = unquote(parts.path).lstrip("/").split("/", 1)
            copied = s3.upload_part_copy(
                Bucket=bucket, Key=key, UploadId=query["uploadId"][0],
                PartNumber=int(query["partNumber"][0]),
                CopySource=unquote(headers["x-amz-copy-source"]).lstrip("/"),
                CopySourceRange=headers["x-amz-copy-source-range"])
            put_multipart(minio_side, src, "checkpoint.bin", new, 5 * MIB)
            rewritten.append(True)
            etag = copied["CopyPartResult"]["ETag"].replace('"', "&quot;")
            return answer("200 OK", f"<CopyPartResult><ETag>{etag}</ETag></CopyPartResult>")
        if op in ("MPU_CREATE", "COPY") and rewritten:  # the new version cannot be copied
            return s3_error("500 Internal Server Error", "InternalError", "down")
        return None

    proxy = proxy_in_front(minio_side, answer=hook)
    source = _client(minio_side.url, minio_side)
    listed = next(o for batch in flat(source, Scope(src, "", 0)) for o in batch)
    ctx = TransferContext(
        source=Side(source, src, ""), target=Side(_client(proxy.url, minio_side), dst, ""),
        part_size=5 * MIB, budget=MemoryBudget(64 * MIB), parts=ThreadPoolExecutor(2),
        stop=threading.Event(), server_side=True)
    try:
        result = transfer(listed, ctx)
    finally:
        proxy.close()

    assert rewritten
    assert result.outcome is Outcome.FAILED, result
    held = s3.list_objects_v2(Bucket=dst).get("Contents", [])
    # the earlier version, completed after the rewrite, would look current to every run
    assert held == [], [(o["Key"], o["LastModified"]) for o in held]
    now = next(o for batch in flat(source, Scope(src, "", 0)) for o in batch)
    policy = Policy(overwrite=True, exclude=Exclude(), target_provider=PROVIDERS["seaweedfs"],
                    compare_etags=True)
    assert decide(now, None, policy).action is Action.COPY_NEW
