"""Files that are folders too (`k` and `k/x`), copied in one run to SeaweedFS."""

from __future__ import annotations

from conftest import base_env, contents, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3


def test_a_new_file_and_the_keys_under_it_are_all_kept_and_listed(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """SeaweedFS loses a new file `k` written while a key under it creates the folder `k`
    (or then no longer lists `k/x`, which every later run copies again, overwrite or not):
    the run said it copied them. 1,600 such pairs, merged in ranges side by side: after one
    run the target holds and lists every key, and a rerun copies nothing."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    files = {f"d{i:04}": b"file %d" % i for i in range(1600)}
    under = {f"{k}/x": b"under %s" % k.encode() for k in files}
    put(minio_side, src, under)  # the folders first: the source's own copy is whole
    put(minio_side, src, files)
    objects = {**files, **under}
    assert contents(minio_side, src) == objects
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
           "MIRROR_MAX_WORKERS": "16"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.named("pair.ranges")  # keys under a file may lie in the next range
    assert contents(aws_side, dst) == objects
    rerun = run_mirror(env)
    assert rerun.decisions() == {"unchanged": len(objects)}
