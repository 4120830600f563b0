"""Folder markers (`k/`, empty) copied in the same run as the keys under them."""

from __future__ import annotations

from conftest import base_env, contents, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3


def test_every_marker_is_kept_by_a_target_whose_folders_are_entries(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """SeaweedFS drops a marker `d/` written while a key under it creates the folder `d`:
    the run said it copied the marker, the target did not hold it. Each of the 100
    folders here is new with its marker, a subfolder and files, side by side in the listing; after
    one run the target holds every one of them, and a rerun copies nothing."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {}
    for i in range(100):
        objects.update({f"d{i:03}/": b"", f"d{i:03}/a/": b"", f"d{i:03}/a/x": b"x %d" % i,
                        f"d{i:03}/b": b"b %d" % i})
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side, aws=aws_side),
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}", "MIRROR_MAX_WORKERS": "16"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.decisions() == {"copy-new": 400}
    assert contents(aws_side, dst) == objects
    rerun = run_mirror(env)
    assert rerun.decisions() == {"unchanged": 400}
