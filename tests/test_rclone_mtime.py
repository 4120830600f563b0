"""An rclone target lists an object's time from its x-amz-meta-mtime, which the change rule
must not be fooled by."""

from __future__ import annotations

import os
import time

from conftest import base_env, contents, new_bucket, run_mirror

from mirror.sandbox import LocalS3

MIB = 1024 * 1024


def _put_multipart(server: LocalS3, bucket: str, key: str, body: bytes, mtime: str) -> None:
    s3 = server.boto3()
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata={"mtime": mtime})
    parts = []
    for number, start in enumerate(range(0, len(body), 5 * MIB), start=1):
        part = s3.upload_part(Bucket=bucket, Key=key, PartNumber=number,
                              UploadId=upload["UploadId"], Body=body[start : start + 5 * MIB])
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": parts})


def test_a_copy_on_rclone_lists_as_written_whatever_mtime_the_source_carries(
        minio_side: LocalS3, rclone_side: LocalS3) -> None:
    """Multipart objects (compared by size and time) with rclone's mtime metadata, older
    and later than their upload, are copied once, then unchanged; a same-size rewrite of
    the one with a later mtime is copied, not hidden behind the mtime."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(rclone_side, "dst")
    old, later = os.urandom(11 * MIB), os.urandom(11 * MIB)
    _put_multipart(minio_side, src, "old-mtime", old, "1600000000")  # 2020
    _put_multipart(minio_side, src, "later-mtime", later, "4102444800")  # 2100
    env = {**base_env(minio=minio_side, aws=rclone_side), "MIRROR_PART_SIZE": "5MiB",
           "MIRROR_OVERWRITE": "true", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    first = run_mirror(env)
    assert first.code == 0, first.stderr[-2000:]
    assert contents(rclone_side, dst) == {"old-mtime": old, "later-mtime": later}

    again = run_mirror({**env, "MIRROR_OVERWRITE": "false"})
    assert again.code == 0, again.stderr[-2000:]
    assert again.decisions() == {"unchanged": 2}
    assert again.named("object.differs_kept") == []

    time.sleep(1.1)  # the rule compares to the second: a rewrite in the copy's second is not seen
    rewritten = os.urandom(11 * MIB)
    _put_multipart(minio_side, src, "later-mtime", rewritten, "4102444800")
    third = run_mirror(env)
    assert third.code == 0, third.stderr[-2000:]
    assert third.decisions() == {"unchanged": 1, "copy-changed": 1}
    assert contents(rclone_side, dst) == {"old-mtime": old, "later-mtime": rewritten}
