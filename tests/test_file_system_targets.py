"""A target that stores keys as paths of a file system (rclone serve s3)."""

from __future__ import annotations

from conftest import base_env, listing, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3


def test_a_key_under_a_file_is_refused_up_front_not_retried(
        minio_side: LocalS3, rclone_side: LocalS3) -> None:
    """SeaweedFS holds a file 'k' and keys under 'k/'; rclone cannot (its 'k' is a file).
    The key under the file is reported as one the target cannot hold, without a PUT
    retried against rclone's 500 on every run; everything else is copied."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(rclone_side, "dst")
    put(minio_side, src, {"k": b"file"})
    put(minio_side, src, {"k/x": b"child", "k x": b"s", "k-1": b"s", "a": b"a"})
    env = {**base_env(minio=minio_side, rclone=rclone_side),
           "BUCKET_PAIR": f"minio/{src}:rclone/{dst}"}

    first = run_mirror(env)

    assert first.decisions() == {"copy-new": 4, "unsupported-key": 1}, first.stderr[-2000:]
    assert first.requests("target").get("PUT") == 4
    assert [f["key"] for f in first.pair()["failures"]] == ["k/x"]
    assert "file system" in first.pair()["failures"][0]["error"]
    s3 = rclone_side.boto3()
    assert s3.get_object(Bucket=dst, Key="k")["Body"].read() == b"file"

    second = run_mirror(env)

    assert second.decisions() == {"unchanged": 4, "unsupported-key": 1}
    assert "PUT" not in second.requests("target")


def test_keys_under_a_folder_the_target_holds_are_copied_beside_a_new_file_of_its_name(
        minio_side: LocalS3, rclone_side: LocalS3) -> None:
    """The target holds the folder 'k/' (mirrored before the source had a file 'k'): the
    file cannot be written there, but new keys under 'k/' can, and are copied; they are not
    refused as lying under a file the target never holds."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(rclone_side, "dst")
    put(minio_side, src, {"k/x": b"child"})
    env = {**base_env(minio=minio_side, rclone=rclone_side),
           "BUCKET_PAIR": f"minio/{src}:rclone/{dst}"}
    assert run_mirror(env).code == 0
    put(minio_side, src, {"k": b"file"})
    put(minio_side, src, {"k/a": b"new", "k/z": b"new too"})

    second = run_mirror(env)

    assert second.decisions() == {"copy-new": 2, "unchanged": 1, "unsupported-key": 1}, \
        second.stderr[-2000:]
    assert [f["key"] for f in second.pair()["failures"]] == ["k"]  # refused, not sent
    assert "holds keys under 'k/'" in second.pair()["failures"][0]["error"]
    assert second.requests("target").get("PUT") == 2
    folder = rclone_side.workdir / "data" / dst / "k"
    assert (folder / "a").read_bytes() == b"new"
    assert (folder / "z").read_bytes() == b"new too"


def test_a_new_file_where_the_target_holds_a_folder_of_its_name_is_refused_without_a_put(
        minio_side: LocalS3, rclone_side: LocalS3) -> None:
    """A PUT of 'k' over rclone's folder 'k/' fails with a 500, after which rclone lists a
    file 'k' that is not there and hides the keys under 'k/': the keys under it decided
    after that failure were refused as lying under a file (unlike the dry run's plan), and
    the next run found the phantom 'k' unchanged, reporting nothing. The file is refused
    up front instead, and nothing else changes."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(rclone_side, "dst")
    put(rclone_side, dst, {"k/z": b"the target's own"})
    put(minio_side, src, {"k": b"file", "k-1": b"s", "k/x": b"child"})
    env = {**base_env(minio=minio_side, rclone=rclone_side),
           "BUCKET_PAIR": f"minio/{src}:rclone/{dst}",
           "MIRROR_MAX_WORKERS": "1"}  # the PUT of 'k' fails before 'k/x' is decided

    dry = run_mirror({**env, "MIRROR_DRY_RUN": "true"})
    first = run_mirror(env)

    expected = {"copy-new": 2, "unsupported-key": 1, "target-only": 1}
    assert dry.decisions() == expected, dry.stderr[-2000:]
    assert first.decisions() == expected, first.stderr[-2000:]
    assert [f["key"] for f in first.pair()["failures"]] == ["k"]
    assert first.requests("target").get("PUT") == 2
    assert sorted(listing(rclone_side, dst)) == ["k-1", "k/x", "k/z"]

    second = run_mirror(env)

    assert second.decisions() == {"unchanged": 2, "unsupported-key": 1, "target-only": 1}
    assert "PUT" not in second.requests("target")
