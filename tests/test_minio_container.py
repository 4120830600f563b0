"""MinIO itself as source and target, where a Docker engine exists.

Selected with MIRROR_TEST_MINIO=1 (and `pip install -e '.[container]'`). Selected without
a running engine, these tests fail: they never pass by skipping their server.
"""

from __future__ import annotations

import os

import pytest
from conftest import base_env, contents, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3

MIB = 1024 * 1024
KEYS = {"plain.txt": b"p", "with space/x.txt": b"s", "uni/한글/😀.txt": b"u",
        "chars/p+q=r%20s?t#u.txt": b"c", "dir/x": b"1", "dir-x": b"2", "dir.x": b"3",
        "empty": b"", "big.bin": os.urandom(12 * MIB)}


@pytest.mark.parametrize("direction", ["minio-to-seaweedfs", "seaweedfs-to-minio"])
def test_mirror_with_minio_converges_byte_for_byte(minio_container: LocalS3,
                                                   aws_side: LocalS3, direction: str) -> None:
    """MinIO lists in UTF-8 order; SeaweedFS does not: the pair still decides every key right."""
    source, target = ((minio_container, aws_side) if direction == "minio-to-seaweedfs"
                      else (aws_side, minio_container))
    src, dst = new_bucket(source, "src"), new_bucket(target, "dst")
    put(source, src, KEYS)
    env = {**base_env(src=source, dst=target), "MIRROR_PART_SIZE": "5MiB",
           "BUCKET_PAIR": f"src/{src}:dst/{dst}"}

    first = run_mirror(env)
    second = run_mirror(env)

    assert first.code == 0, first.stderr[-2000:]
    assert contents(target, dst) == KEYS
    assert second.decisions() == {"unchanged": len(KEYS)}
    assert set(second.requests("target")) == {"LIST"}
