"""Keys a target refuses for their length: S3 stores hold keys of up to 1,024 bytes (UTF-8),
and a pair's target folder makes a source key longer there; SeaweedFS and rclone serve s3
keep keys as paths of a file system, whose names are at most 255 bytes (SeaweedFS answers
KeyTooLongError, rclone a 500 that is retried). Such a key is reported as one the target
cannot hold, without a read; tried, it was read and refused on every run."""

from __future__ import annotations

import pytest
from conftest import base_env, contents, new_bucket, put, run_mirror
from test_decision import obj, policy

from mirror.decision import Action, decide
from mirror.sandbox import LocalS3


@pytest.mark.parametrize("target", ["generic", "aws", "minio", "r2", "seaweedfs", "rclone"])
def test_a_key_longer_than_1024_bytes_is_one_the_target_cannot_hold(target: str) -> None:
    fits = "/".join(["é" * 100] * 5) + "x" * 19  # 1,023 bytes in UTF-8
    assert len(fits.encode()) == 1023
    assert decide(obj(fits), None, policy(target=target)).action is Action.COPY_NEW
    decision = decide(obj(fits + "yz"), None, policy(target=target))
    assert decision.action is Action.UNSUPPORTED
    assert "1,024 bytes" in decision.reason


@pytest.mark.parametrize("target", ["seaweedfs", "rclone"])
def test_a_path_segment_longer_than_255_bytes_is_refused_by_file_system_stores(
        target: str) -> None:
    assert decide(obj("d/" + "é" * 127 + "x"), None,
                  policy(target=target)).action is Action.COPY_NEW  # 255 bytes
    decision = decide(obj("d/" + "é" * 128 + "/x"), None, policy(target=target))
    assert decision.action is Action.UNSUPPORTED
    assert "255 bytes" in decision.reason
    assert decide(obj("d/" + "é" * 128 + "/x"), None,
                  policy(target="aws")).action is Action.COPY_NEW


def test_a_key_the_target_folder_makes_too_long_is_not_read(minio_side: LocalS3,
                                                            aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    long = "/".join(["k" * 200] * 5)  # 1,004 bytes: held by the source
    put(minio_side, src, {long: b"deep", "short": b"s"})
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_DEBUG": "true",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}/backups/from-the-cluster"}

    run = run_mirror(env)

    assert run.code == 1, run.stderr[-2000:]
    assert run.decisions() == {"copy-new": 1, "unsupported-key": 1}
    assert run.requests("source") == {"LIST": 1, "GET": 1}  # the short key's GET alone
    failed = run.named("object.failed")
    assert [e["key"] for e in failed] == [long]
    assert "1,024 bytes" in failed[0]["error"]
    assert contents(aws_side, dst) == {"backups/from-the-cluster/short": b"s"}
