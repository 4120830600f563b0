"""The benchmark's data: what W1-W4 upload, rewrite and check, generated from a seed."""

from __future__ import annotations

import random
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

from bench.contenders import Endpoint
from mirror.s3.accounting import RequestCounter
from mirror.s3.checksum import b64_of_hex, md5
from mirror.s3.client import EndpointConfig, Part, PoolRegistry, S3Client
from mirror.s3.sigv4 import Credentials, CredentialSource

MIB = 1024 * 1024


def client(end: Endpoint) -> S3Client:
    creds = CredentialSource(Credentials(end.access_key, end.secret_key))
    return S3Client(EndpointConfig(end.url, "us-east-1", creds), PoolRegistry(), RequestCounter())


def small_keys(count: int, rng: random.Random, prefixes: int = 100) -> dict[str, int]:
    """`count` keys of 1-16 KiB over `prefixes` date folders, some with awkward characters."""
    start = date(2025, 1, 1)
    days = [(start + timedelta(days=i)).strftime("%Y/%m/%d") for i in range(prefixes)]
    keys: dict[str, int] = {}
    for i in range(count):
        day = days[i % prefixes]
        flavour = i % 20
        name = {0: f"photo {i}.jpg", 1: f"사진_{i}.jpg", 2: f"a+b=c_{i}.bin"}.get(
            flavour, f"IMG_{i:06d}.jpg")
        keys[f"{day}/{name}"] = rng.randint(1024, 16 * 1024)
    return keys


def upload(end: Endpoint, bucket: str, objects: dict[str, bytes], workers: int = 16) -> None:
    s3 = client(end)

    def put(item: tuple[str, bytes]) -> None:
        key, body = item
        s3.put_object(bucket, key, body, content_md5=b64_of_hex(md5(body).hexdigest()),
                      headers={"content-type": "application/octet-stream"})

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(put, objects.items()))


def upload_multipart(end: Endpoint, bucket: str, key: str, body: bytes,
                     part_size: int = 8 * MIB) -> None:
    s3 = client(end)
    upload_id = s3.create_multipart_upload(bucket, key, {"content-type": "application/x-model"})
    parts = []
    for number, start in enumerate(range(0, len(body), part_size), start=1):
        chunk = body[start : start + part_size]
        written = s3.upload_part(bucket, key, upload_id, number, chunk,
                                 content_md5=b64_of_hex(md5(chunk).hexdigest()))
        parts.append(Part(number, written.etag))
    s3.complete_multipart_upload(bucket, key, upload_id, parts)


def bodies(sizes: dict[str, int], rng: random.Random) -> dict[str, bytes]:
    return {key: rng.randbytes(size) for key, size in sizes.items()}


@dataclass
class Change:
    """W3: 1% of keys rewritten (half keeping their size), 1% added."""

    rewritten: dict[str, bytes]
    added: dict[str, bytes]
    originals: dict[str, bytes]

    @property
    def expected_writes(self) -> set[str]:
        return set(self.rewritten) | set(self.added)


def incremental_change(objects: dict[str, bytes], rng: random.Random) -> Change:
    keys = sorted(objects)
    picked = rng.sample(keys, max(2, len(keys) // 100))
    rewritten = {}
    for i, key in enumerate(picked):
        size = len(objects[key]) if i % 2 == 0 else len(objects[key]) + rng.randint(1, 999)
        rewritten[key] = rng.randbytes(size)
    added = {f"2025/12/31/new_{i:05d}.jpg": rng.randbytes(rng.randint(1024, 16 * 1024))
             for i in range(max(1, len(keys) // 100))}
    return Change(rewritten, added, {k: objects[k] for k in picked})


def apply_change(end: Endpoint, bucket: str, change: Change) -> None:
    upload(end, bucket, {**change.rewritten, **change.added})


def revert_change(end: Endpoint, bucket: str, change: Change) -> None:
    """Put the source back as it was: originals rewritten, added keys deleted.

    The mirror's own client cannot delete, by design; boto3 does it here.
    """
    import boto3

    upload(end, bucket, change.originals)
    s3 = boto3.client("s3", endpoint_url=end.url, aws_access_key_id=end.access_key,
                      aws_secret_access_key=end.secret_key, region_name="us-east-1")
    keys = [{"Key": k} for k in change.added]
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000]})


def list_keys(end: Endpoint, bucket: str) -> Iterable[str]:
    from mirror.scan import Scope, flat

    for batch in flat(client(end), Scope(bucket, "", 0)):
        yield from (o.key for o in batch)
