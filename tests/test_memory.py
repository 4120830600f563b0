"""The process stays under the pod's memory limit, not only the buffers it counts."""

from __future__ import annotations

import os
import random
import subprocess
import sys

from conftest import ROOT, base_env, contents, new_bucket, put

from mirror.sandbox import LocalS3

MIB = 1024 * 1024
KIB = 1024

RUN = """
import os
from mirror.resources import Limits
from mirror.run import run
from mirror.settings import load_settings
summary = run(load_settings(os.environ), limits=Limits(0.5, {limit}, "test"))
assert all(p.status.value == "success" for p in summary.pairs), summary
with open("/proc/self/status") as f:
    print(next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) * 1024)
"""


def test_many_workers_copying_small_objects_stay_under_the_memory_limit(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """A 384 MiB pod (a 144 MiB budget), 512 workers, 3 pairs of objects of 200 KiB to
    1 MiB. Such buffers come from the allocator's arenas, which kept their freed pages
    (fragmented by the varied sizes), and each request waiting for its answer held a
    256 KiB receive block the budget did not count: the process grew to ~1.5x the limit
    (a 512 MiB pod: 575-610 MiB peak RSS), and would have been OOM-killed."""
    rng = random.Random(7)
    block = os.urandom(MIB)
    objects = {f"f/{i:04d}": i.to_bytes(4, "big") + block[4 : rng.randint(200 * KIB, MIB)]
               for i in range(400)}
    src = new_bucket(minio_side, "src")
    put(minio_side, src, objects)
    targets = [new_bucket(aws_side, "dst") for _ in range(3)]
    limit = 384 * MIB
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_MAX_WORKERS": "512",
           "BUCKET_PAIRS": ";".join(f"minio/{src}:aws/{dst}" for dst in targets)}

    done = subprocess.run([sys.executable, "-c", RUN.format(limit=limit)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)

    assert done.returncode == 0, done.stderr[-3000:]
    peak = int(done.stdout.split()[-1])
    assert peak < limit, f"peak RSS {peak // MIB} MiB under a {limit // MIB} MiB limit"
    assert contents(aws_side, targets[2]) == objects
