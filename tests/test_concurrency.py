"""Several pairs: at most three at the same time, all sharing one pool of workers."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from datetime import datetime

from conftest import ROOT, base_env, contents, new_bucket, put, run_mirror

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


def test_a_low_open_files_limit_is_raised_to_the_hard_one(minio_side: LocalS3,
                                                           aws_side: LocalS3) -> None:
    """A container that starts with a low soft limit on open files (1,024 is common) while
    its hard limit is higher: each worker holds a connection per side, and AWS gives each
    bucket its own host and pool, so a run of many workers and pairs would go past it
    (EMFILE on every new connection). The run raises it, as Go programs do, and says so."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"k{i:03}": os.urandom(512) for i in range(50)}
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_LOG_FORMAT": "json",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    expected = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)

    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))

    done = subprocess.run([sys.executable, "-m", "mirror"], env=env, cwd=ROOT,
                          preexec_fn=low_soft_limit, capture_output=True, text=True,
                          timeout=240, check=False)

    assert done.returncode == 0, done.stderr[-2000:]
    start = next(json.loads(line) for line in done.stderr.splitlines()
                 if '"run.start"' in line)
    assert start["open_files"] == expected
    assert expected > 64  # this machine's hard limit lets the test see the raise
    assert contents(aws_side, dst) == objects
