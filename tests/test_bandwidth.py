"""MIRROR_BANDWIDTH_LIMIT: a run-wide cap on the bytes sent to the targets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from conftest import ROOT, base_env, contents, new_bucket, proxy_in_front, put, run_mirror
from test_transport import s3_error

from mirror.executor import Throttle
from mirror.sandbox import LocalS3

MIB = 1024 * 1024


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_what_is_sent_never_runs_ahead_of_the_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(1 * MIB, clock=clock, sleep=clock.sleep)
    sent, chunk = 0, 256 * 1024

    for _ in range(40):  # 10 MiB
        assert throttle.take(chunk, lambda: False)
        sent += chunk
        assert sent <= (clock.now - 100.0) * MIB

    assert clock.now - 100.0 == 10


def test_senders_in_many_threads_share_one_rate() -> None:
    """Eight threads of 1 MiB each at 4 MiB/s: 2 s in all, with the real clock."""
    throttle = Throttle(4 * MIB)
    started = time.monotonic()
    threads = [threading.Thread(target=throttle.take, args=(MIB, lambda: False))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert time.monotonic() - started >= 2.0  # a lower bound: a slow machine only adds


def test_an_idle_spell_earns_no_burst() -> None:
    clock = FakeClock()
    throttle = Throttle(1 * MIB, clock=clock, sleep=clock.sleep)
    throttle.take(MIB, lambda: False)
    clock.now += 60  # nothing sent for a minute

    throttle.take(MIB, lambda: False)
    throttle.take(MIB, lambda: False)

    assert clock.now == 100.0 + 1 + 60 + 2  # each MiB waited its second, before and after


def test_a_stop_ends_the_wait() -> None:
    clock = FakeClock()
    throttle = Throttle(64 * 1024, clock=clock, sleep=clock.sleep)
    throttle.take(MIB, lambda: False)  # reserves 16 s
    stopped = threading.Event()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        stopped.set()  # SIGTERM arrives during the first slice

    throttle._sleep = sleep
    assert throttle.take(MIB, stopped.is_set) is False
    assert clock.now - 100.0 <= 16 + 0.1  # the first MiB's 16 s, then one slice


def test_a_capped_run_copies_every_byte_within_the_rate(minio_side: LocalS3,
                                                         aws_side: LocalS3) -> None:
    """Small objects, a streamed PUT and a multipart upload all count against one cap."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"small-{i}.bin": os.urandom(512 * 1024) for i in range(3)}
    objects["streamed.bin"] = os.urandom(6 * MIB)
    objects["multipart.bin"] = os.urandom(11 * MIB)
    put(minio_side, src, objects)
    limit = 4 * MIB

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
                      "MIRROR_MULTIPART_THRESHOLD": "10MiB",
                      "MIRROR_BANDWIDTH_LIMIT": "4 MiB/s",
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == objects
    assert run.requests("target")["MPU_PART"] == 3
    total = sum(map(len, objects.values()))
    # whatever the machine, the copies cannot be faster than the cap allows; a slower
    # machine only makes them slower
    assert run.pair()["seconds"] >= total / limit
    assert run.named("run.start")[0]["bandwidth_limit_mib_s"] == 4


def test_sigterm_during_a_throttled_copy_stops_at_once(minio_side: LocalS3,
                                                       aws_side: LocalS3) -> None:
    """A copy waiting for its turn under the cap is abandoned on SIGTERM, not finished:
    exit 143 within seconds, nothing half-written, and the next run converges."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {"first.bin": os.urandom(64 * 1024), "slow.bin": os.urandom(8 * MIB)}
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_MAX_WORKERS": "1",
           "MIRROR_BANDWIDTH_LIMIT": "64KiB/s", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    process = subprocess.Popen([sys.executable, "-m", "mirror"], env=env, cwd=ROOT,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    events: list[dict[str, Any]] = []
    for line in process.stderr:
        events.append(json.loads(line))
        if events[-1]["event"] == "object.copied":  # first.bin; slow.bin needs 128 s
            break
    time.sleep(1)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    events += [json.loads(line) for line in process.stderr]
    code = process.wait(timeout=60)

    assert code == 143
    assert time.monotonic() - signalled < 30  # not the 2 minutes the cap would take
    done = next(e for e in events if e["event"] == "run.done")
    assert done["status"] == "interrupted"
    assert contents(aws_side, dst) == {"first.bin": objects["first.bin"]}

    rerun = run_mirror({k: v for k, v in env.items() if k != "MIRROR_BANDWIDTH_LIMIT"})

    assert rerun.code == 0, rerun.stderr[-2000:]
    assert contents(aws_side, dst) == objects


def test_a_part_sent_again_counts_against_the_cap(minio_side: LocalS3,
                                                  aws_side: LocalS3) -> None:
    """Two part uploads answered 503 SlowDown are sent again: the cap holds the bytes of
    those retries too, so the run cannot be faster than all the bytes that were sent."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(15 * MIB)
    put(minio_side, src, {"model.bin": body})
    refused: list[str] = []

    def slow_down_twice(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        if method == "PUT" and "partNumber=" in target and len(refused) < 2:
            refused.append(target)
            return s3_error("503 Slow Down", "SlowDown", "reduce your request rate")
        return None

    proxy = proxy_in_front(aws_side, answer=slow_down_twice)
    limit = 4 * MIB
    try:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "AWS_URL": proxy.url,
                          "MIRROR_PART_SIZE": "5MiB", "MIRROR_MULTIPART_THRESHOLD": "10MiB",
                          "MIRROR_BANDWIDTH_LIMIT": "4MiB/s",
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})
    finally:
        proxy.close()

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {"model.bin": body}
    assert len(refused) == 2
    assert run.requests("target")["MPU_PART"] == 3 + 2
    sent = len(body) + 2 * 5 * MIB
    assert run.pair()["seconds"] >= sent / limit  # a lower bound: a slow machine only adds
