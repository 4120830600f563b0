"""Which S3 client for the data path: CPU per small-object copy, measured.

`python -m bench.clients [--objects 3000]` starts two SeaweedFS servers, seeds 1-16 KiB
objects, and copies them (GET from one server, PUT to the other, 16 threads) with boto3,
the `minio` SDK and the mirror's own client. It prints the CPU time this process spent per
object and the objects per second. On a 2-core machine both servers share the CPU with the
client, so a client that spends less CPU per object leaves more for the servers.
"""

from __future__ import annotations

import argparse
import io
import random
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import data, run_main
from bench.contenders import Endpoint
from mirror.s3.checksum import b64_of_hex, md5
from mirror.sandbox import LocalS3, start_seaweedfs


def _boto3(src: LocalS3, dst: LocalS3) -> Callable[[str, str, str], None]:
    a, b = src.boto3(), dst.boto3()

    def copy(src_bucket: str, dst_bucket: str, key: str) -> None:
        body = a.get_object(Bucket=src_bucket, Key=key)["Body"].read()
        b.put_object(Bucket=dst_bucket, Key=key, Body=body)

    return copy


def _minio(src: LocalS3, dst: LocalS3) -> Callable[[str, str, str], None]:
    import urllib3
    from minio import Minio

    pool = urllib3.PoolManager(maxsize=32, retries=False)

    def client(server: LocalS3) -> Any:
        return Minio(server.url.split("://", 1)[1], server.access_key, server.secret_key,
                     secure=False, region="us-east-1", http_client=pool)

    a, b = client(src), client(dst)

    def copy(src_bucket: str, dst_bucket: str, key: str) -> None:
        response = a.get_object(src_bucket, key)
        body = response.read()
        response.release_conn()
        b.put_object(dst_bucket, key, io.BytesIO(body), len(body))

    return copy


def _mirror(src: LocalS3, dst: LocalS3) -> Callable[[str, str, str], None]:
    a = data.client(Endpoint(src.url, src.access_key, src.secret_key))
    b = data.client(Endpoint(dst.url, dst.access_key, dst.secret_key))

    def copy(src_bucket: str, dst_bucket: str, key: str) -> None:
        body = a.get_object(src_bucket, key).read()
        b.put_object(dst_bucket, key, body, content_md5=b64_of_hex(md5(body).hexdigest()),
                     headers={})

    return copy


CLIENTS = {"boto3": _boto3, "minio SDK": _minio, "minio-s3-mirror's client": _mirror}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.clients", description=__doc__)
    parser.add_argument("--objects", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-clients-"))
    src, dst = start_seaweedfs(workdir / "a"), start_seaweedfs(workdir / "b")
    try:
        rng = random.Random(7)
        objects = data.bodies(data.small_keys(args.objects, rng), rng)
        src.boto3().create_bucket(Bucket="source")
        data.upload(Endpoint(src.url, src.access_key, src.secret_key), "source", objects)
        for name, make in CLIENTS.items():
            bucket = f"target-{len(name)}-{rng.randint(0, 10**6)}"
            dst.boto3().create_bucket(Bucket=bucket)
            copy = make(src, dst)
            before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(lambda key, c=copy, b=bucket: c("source", b, key), objects))
            after, seconds = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(f"{name:26s} {cpu * 1000 / len(objects):5.2f} ms CPU per object, "
                  f"{len(objects) / seconds:5.0f} objects/s")
    finally:
        src.stop()
        dst.stop()


if __name__ == "__main__":
    run_main(main)
