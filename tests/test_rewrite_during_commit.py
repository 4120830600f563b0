"""A multipart object rewritten on the source while its copy is completed: the copy of the
earlier version must never be left looking newer than the rewrite (the change rule compares
such objects by size and time), even when the copy of the new version then fails."""

from __future__ import annotations

import os
import time
from typing import Any

from conftest import base_env, contents, new_bucket, proxy_in_front, put_multipart, run_mirror
from test_transport import s3_error

from bench.proxy import classify
from mirror.sandbox import LocalS3

MIB = 1024 * 1024


def test_a_rewrite_during_the_complete_is_copied_by_a_later_run(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """The source is rewritten (same size) while the last part of its earlier version is
    uploaded, a second before the upload is completed, and every later upload of the key is
    refused: the run fails the object, and the next run, on a healthy target, copies the
    new version (the earlier one, completed, would have looked newer than it for good)."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    old, new = os.urandom(12 * MIB), os.urandom(12 * MIB)
    put_multipart(minio_side, src, "checkpoint.bin", old, 5 * MIB)
    rewritten: list[bool] = []

    def answer(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        op, _ = classify(method, target, headers)
        if op == "MPU_PART" and "partNumber=3" in target and not rewritten:
            # the checkpoint is saved again while its last part is copied, a second before
            # the target's copy is completed
            put_multipart(minio_side, src, "checkpoint.bin", new, 5 * MIB)
            rewritten.append(True)
            time.sleep(1.1)
        elif op == "MPU_CREATE" and rewritten:
            return s3_error("500 Internal Server Error", "InternalError", "down")
        return None

    failing = proxy_in_front(aws_side, answer=answer)
    env: dict[str, Any] = {**base_env(minio=minio_side, aws=aws_side),
                           "BUCKET_PAIR": f"minio/{src}:aws/{dst}", "MIRROR_PART_SIZE": "5MiB",
                           "MIRROR_OVERWRITE": "true"}
    try:
        run = run_mirror({**env, "AWS_URL": failing.url})
    finally:
        failing.close()
    assert run.code == 1, run.stderr[-2000:]
    assert [e["key"] for e in run.named("object.failed")] == ["checkpoint.bin"]

    again = run_mirror(env)

    assert again.code == 0, again.stderr[-2000:]
    assert contents(aws_side, dst) == {"checkpoint.bin": new}
