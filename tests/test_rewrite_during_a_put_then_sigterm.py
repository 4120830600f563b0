"""An object compared by size and time (its source ETag is no MD5: uploaded in parts) is
rewritten in place, same size, while its one PUT is sent, and the run is stopped (SIGTERM)
right then. The PUT lands the earlier bytes, written after the rewrite: they look newer
than it, so no later run would ever copy the new version. The run must not end with that
copy left looking current: the next run has to converge on the new bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import (
    ROOT,
    base_env,
    contents,
    new_bucket,
    proxy_in_front,
    put_multipart,
    run_mirror,
)

from bench.proxy import classify
from mirror.sandbox import LocalS3

MIB = 1024 * 1024


def test_a_rewrite_during_the_put_then_sigterm_is_copied_by_the_next_run(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    old, new = os.urandom(2 * MIB), os.urandom(2 * MIB)
    # one part: ETag "<md5 of md5>-1", so the change rule compares it by size and time
    put_multipart(minio_side, src, "checkpoint.bin", old, 5 * MIB)
    mirror: list[subprocess.Popen[str]] = []

    def answer(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        op, _ = classify(method, target, headers)
        if op == "PUT" and not mirror[0].poll() and len(mirror) == 1:
            mirror.append(mirror[0])  # once
            # saved again in place while its earlier bytes are on their way to the target
            put_multipart(minio_side, src, "checkpoint.bin", new, 5 * MIB)
            mirror[0].send_signal(signal.SIGTERM)  # the CronJob's deadline, right then
            time.sleep(0.5)  # the run has taken the signal before the PUT is answered
        return None

    proxy = proxy_in_front(aws_side, answer=answer)
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
           "MIRROR_OVERWRITE": "true"}
    try:
        mirror.append(subprocess.Popen([sys.executable, "-m", "mirror"],
                                       env={**env, "AWS_URL": proxy.url}, cwd=ROOT,
                                       stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       text=True))
        _, stderr = mirror[0].communicate(timeout=60)
    finally:
        proxy.close()
    assert len(mirror) == 2, "the PUT never went out"
    assert mirror[0].returncode == 143, stderr[-2000:]
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert "run.done" in [e["event"] for e in events]

    rerun = run_mirror(env)

    assert rerun.code == 0, rerun.stderr[-2000:]
    assert contents(aws_side, dst) == {"checkpoint.bin": new}
