"""Several pairs: at most three at the same time, all sharing one pool of workers."""

from __future__ import annotations

from datetime import datetime

from conftest import base_env, contents, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3


def test_at_most_three_pairs_run_at_the_same_time(minio_side: LocalS3,
                                                  aws_side: LocalS3) -> None:
    """Five pairs start three at a time; each later one only after another has finished."""
    objects = {f"obj-{i:03d}": b"z" * 512 for i in range(60)}
    pairs = []
    for _ in range(5):
        src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
        put(minio_side, src, objects)
        pairs.append((src, dst))

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_MAX_WORKERS": "4",
                      "BUCKET_PAIRS": ";".join(f"minio/{s}:aws/{d}" for s, d in pairs)})

    assert run.code == 0
    timeline = sorted(
        (datetime.fromisoformat(e["timestamp"]), +1 if e["event"] == "pair.start" else -1)
        for e in run.events if e["event"] in ("pair.start", "pair.done"))
    running, most = 0, 0
    for _, change in timeline:
        running += change
        most = max(most, running)
    assert most == 3
    for _, dst in pairs:
        assert contents(aws_side, dst) == objects
