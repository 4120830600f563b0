"""The embedded default: the real `minio-s3-mirror` run against two local S3 servers.

`python -m mirror.demo` (or `bash scripts/demo.sh` from a fresh clone) starts a "minio"
side and an "aws" side (SeaweedFS, on 127.0.0.1), seeds a sample bucket laid out by date,
and runs the mirror command the way a CronJob would: a dry-run, a first full mirror, a
no-op rerun, and a nightly prefix-scoped run after new uploads. Then it checks the target
byte for byte through a different client (boto3).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mirror.sandbox import LocalS3, start_seaweedfs, stop_all

SOURCE, TARGET = "photos", "photos-backup"


def _seed(server: LocalS3, rng: random.Random) -> dict[str, bytes]:
    s3 = server.boto3()
    s3.create_bucket(Bucket=SOURCE)
    objects: dict[str, bytes] = {}
    for day in ("2025/01/20", "2025/01/21", "2025/01/22"):
        for i in range(60):
            objects[f"{day}/IMG_{i:04d}.jpg"] = rng.randbytes(rng.randint(1024, 48 * 1024))
        objects[f"{day}/upload.tmp"] = b"partial upload, excluded"
    objects["models/resnet50.pth"] = rng.randbytes(40 * 1024 * 1024)  # above the part size
    objects["albums/seoul trip/한강 야경.jpg"] = rng.randbytes(20_000)
    for key, body in objects.items():
        content_type = "image/jpeg" if key.endswith(".jpg") else "application/octet-stream"
        s3.put_object(Bucket=SOURCE, Key=key, Body=body, ContentType=content_type,
                      Metadata={"uploaded-by": "demo"})
    return objects


def _mirror(env: dict[str, str], title: str, **extra: str) -> dict[str, Any]:
    print(f"\n$ {' '.join(f'{k}={v}' for k, v in extra.items())} minio-s3-mirror   # {title}")
    completed = subprocess.run([sys.executable, "-m", "mirror"], env={**env, **extra},
                               capture_output=True, text=True, check=False)
    events: list[dict[str, Any]] = [json.loads(line) for line in completed.stderr.splitlines()
                                    if line.startswith("{")]
    done = next((e for e in events if e.get("event") == "run.done"), None)
    if done is None:
        print(completed.stderr)
        raise SystemExit(f"the mirror exited with {completed.returncode} and no summary")
    # the summary the product prints on a terminal (the JSON log went to stderr)
    print("\n".join(f"  {line}".rstrip() for line in completed.stdout.splitlines()))
    print(f"  exit code {completed.returncode}")
    return done


def _verify(target: LocalS3, expected: dict[str, bytes]) -> None:
    s3 = target.boto3()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=TARGET)
    keys = {o["Key"] for page in pages for o in page.get("Contents", [])}
    missing, extra = set(expected) - keys, keys - set(expected)
    differing = [k for k in expected if k in keys
                 and s3.get_object(Bucket=TARGET, Key=k)["Body"].read() != expected[k]]
    if missing or extra or differing:
        raise SystemExit(f"target differs: missing {sorted(missing)[:5]}, extra "
                         f"{sorted(extra)[:5]}, different bytes {differing[:5]}")
    print(f"\nverified with boto3: the target holds the {len(keys)} expected objects, "
          "byte for byte (the *.tmp files were excluded)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mirror.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path,
                        help="where the servers keep their data, kept afterwards (by default "
                             "a temporary folder, removed at the end)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mirror-demo-"))
    print(f"starting two local S3 servers under {workdir} ...")
    try:
        return _demo(workdir)
    except KeyboardInterrupt:  # Ctrl-C: the servers are stopped on the way out
        print("\ninterrupted: stopping the demo's servers", file=sys.stderr)
        return 130
    finally:
        stop_all()
        if args.workdir is None:  # ~90 MB of server data per run otherwise
            shutil.rmtree(workdir, ignore_errors=True)


def _demo(workdir: Path) -> int:
    minio = start_seaweedfs(workdir / "minio")
    aws = start_seaweedfs(workdir / "aws")
    try:
        print(f"  minio side: {minio.url}   aws side: {aws.url}")
        aws.boto3().create_bucket(Bucket=TARGET)
        rng = random.Random(2025)
        objects = _seed(minio, rng)
        print(f"seeded {minio.url}/{SOURCE} with {len(objects)} objects")
        env = {**os.environ, **minio.env("minio"), **aws.env("aws"), "SERVICE": "demo",
               "BUCKET_PAIR": f"minio/{SOURCE}:aws/{TARGET}", "MIRROR_EXCLUDE": "*.tmp",
               "MIRROR_LOG_FORMAT": "json", "MIRROR_PRINT_SUMMARY": "true",
               "AWS_PRICING": "aws-s3-standard"}  # cost the target as S3 Standard would
        _mirror(env, "preview: lists and compares, writes nothing", MIRROR_DRY_RUN="true")
        _mirror(env, "first run: full mirror")
        _mirror(env, "rerun: nothing changed, only LIST requests")
        s3 = minio.boto3()
        for i in range(5):
            key = f"2025/01/23/IMG_{i:04d}.jpg"
            objects[key] = rng.randbytes(30_000)
            s3.put_object(Bucket=SOURCE, Key=key, Body=objects[key], ContentType="image/jpeg")
        _mirror(env, "nightly: only yesterday's prefix", MIRROR_PREFIX="2025/01/23")
        _verify(aws, {k: v for k, v in objects.items() if not k.endswith(".tmp")})
    finally:
        minio.stop()
        aws.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
