"""A flag given with an empty value (`--prefix "$DAY"` where DAY came out empty) is a
configuration error, as `--pair ''` is: taken as "not set", it would silently override the
environment's setting with the default: the whole bucket instead of the day's prefix,
nothing excluded, no bandwidth cap."""

from __future__ import annotations

import pytest
from conftest import base_env, contents, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3


@pytest.mark.parametrize(("variable", "value", "flag"), [
    ("MIRROR_PREFIX", "2025/01/21/", "--prefix"),
    ("MIRROR_EXCLUDE", "*.tmp", "--exclude"),
    ("MIRROR_BANDWIDTH_LIMIT", "1MiB/s", "--bandwidth-limit"),
    ("MIRROR_MAX_WORKERS", "2", "--max-workers"),
    ("SERVICE", "nightly", "--service"),
])
def test_an_empty_flag_value_is_refused(minio_side: LocalS3, aws_side: LocalS3,
                                        variable: str, value: str, flag: str) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"2025/01/20/a.tmp": b"old", "2025/01/21/b.txt": b"new"})
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
           variable: value}

    for given in ("", "  "):
        run = run_mirror(env, flag, given)

        assert run.code == 2, run.stderr[-2000:]
        problems = [e["error"] for e in run.named("config.invalid")]
        assert problems == [f"configuration error: {flag} is empty: give it a value, or leave "
                            f"it out to use {variable} (minio-s3-mirror --help lists the flags)"]
        assert not run.named("run.start")
        assert contents(aws_side, dst) == {}


def test_repeated_flags_refuse_an_empty_occurrence(minio_side: LocalS3,
                                                   aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"2025/01/20/a.tmp": b"old"})
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env, "--exclude", "*.tmp", "--exclude", "")

    assert run.code == 2
    assert "--exclude is empty" in run.named("config.invalid")[0]["error"]
    assert contents(aws_side, dst) == {}
