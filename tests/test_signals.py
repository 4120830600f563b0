"""SIGTERM mid-run (a CronJob deadline, a node drain): stop cleanly, converge on the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from conftest import ROOT, base_env, contents, new_bucket, proxy_in_front, put, run_mirror
from proxy_server import Relay

from mirror.resources import BASELINE_MEMORY, Limits
from mirror.run import run
from mirror.sandbox import LocalS3
from mirror.settings import load_settings

MIB = 1024 * 1024


def _started(env: dict[str, str], until: str,
             ) -> tuple[subprocess.Popen[str], list[dict[str, Any]]]:
    """The real command started with `env`, its JSON events read up to the first `until`
    (within 60 s); `_stopped` reads the rest."""
    process = subprocess.Popen([sys.executable, "-m", "mirror"], env=env, cwd=ROOT,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    for line in process.stderr:
        events.append(json.loads(line))
        if events[-1]["event"] == until:
            break
        assert time.monotonic() < deadline, f"no {until} in time"
    return process, events


def _stopped(process: subprocess.Popen[str], events: list[dict[str, Any]],
             send: Callable[[], None] | None = None, timeout: float = 60) -> tuple[int, float]:
    """SIGTERM sent (or `send()` called), the exit awaited within `timeout` while the rest
    of the events are read into `events` (a full pipe never blocks the run's end):
    (exit code, seconds from the signal to the exit)."""
    assert process.stderr is not None
    stderr = process.stderr
    rest: list[str] = []
    reader = threading.Thread(target=lambda: rest.extend(stderr), daemon=True)
    reader.start()
    (send or (lambda: process.send_signal(signal.SIGTERM)))()
    signalled = time.monotonic()
    code = process.wait(timeout=timeout)
    took = time.monotonic() - signalled
    reader.join(10)
    events += [json.loads(line) for line in rest]
    return code, took


def test_sigterm_stops_cleanly_and_the_next_run_converges(minio_side: LocalS3,
                                                          aws_side: LocalS3) -> None:
    """Exit 143 with a summary, nothing half-written on the target (multipart uploads in
    flight aborted), then a rerun completes."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"a-big-{i}.bin": os.urandom(24 * MIB) for i in range(4)}
    objects.update({f"small/{i:04d}.txt": os.urandom(2048) for i in range(300)})
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_MAX_WORKERS": "2",
           "MIRROR_PART_SIZE": "5MiB", "MIRROR_MULTIPART_THRESHOLD": "5MiB",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    process, events = _started(env, "object.copied")
    code, _ = _stopped(process, events)

    assert code == 143
    names = [e["event"] for e in events]
    assert "run.stopping" in names
    done = next(e for e in events if e["event"] == "run.done")
    assert done["status"] == "interrupted"
    assert done["pairs"][0]["status"] == "interrupted"
    target_requests = done["pairs"][0]["requests"]["target"]
    assert target_requests.get("MPU_CREATE", 0) >= 1  # the big objects went multipart
    copied = contents(aws_side, dst)
    assert 0 < len(copied) < len(objects)
    assert all(objects[key] == body for key, body in copied.items())
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []

    rerun = run_mirror({k: v for k, v in env.items() if k != "MIRROR_MAX_WORKERS"})

    assert rerun.code == 0
    assert contents(aws_side, dst) == objects
    assert rerun.decisions() == {"unchanged": len(copied), "copy-new": len(objects) - len(copied)}


def test_sigterm_abandons_a_streamed_upload_without_waiting_for_it(minio_side: LocalS3,
                                                                   aws_side: LocalS3) -> None:
    """An object between the part size and the multipart threshold is one GET streamed into
    one PUT. Over a slow link that stream would outlast a pod's grace period: SIGTERM
    abandons it mid-body, so the target stores nothing of it, and the next run copies it."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {"streamed.bin": os.urandom(24 * MIB)}
    put(minio_side, src, objects)
    slow = Relay(int(minio_side.url.rsplit(":", 1)[1]), rate=2 * MIB)  # a 12 s stream
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PART_SIZE": "5MiB",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    try:
        process, events = _started({**env, "MINIO_URL": slow.url}, "pair.start")
        time.sleep(2)  # the LIST is a few hundred bytes; the GET is then well under way
        code, _ = _stopped(process, events)
    finally:
        slow.close()

    assert code == 143
    interrupted = [e for e in events if e["event"] == "object.interrupted"]
    assert [e["key"] for e in interrupted] == ["streamed.bin"]
    assert "during the upload" in interrupted[0]["reason"]
    assert not [e for e in events if e["event"] == "object.copied"]
    assert contents(aws_side, dst) == {}

    rerun = run_mirror(env)

    assert rerun.code == 0
    assert contents(aws_side, dst) == objects


def test_sigterm_with_a_server_that_stopped_answering_ends_within_the_grace_period(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """The source stops answering mid-run, then SIGTERM: requests in flight get 10 s to
    finish (run.CUT_OFF_AFTER), then their connections are cut and nothing is tried
    again, so the run logs its summary and exits 143 well within a pod's 60 s, instead of
    waiting out 5 attempts of a 60 s read timeout. What it holds is counted interrupted,
    not failed; the next run converges."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"k{i:03d}": os.urandom(64 * 1024) for i in range(200)}
    put(minio_side, src, objects)
    link = Relay(int(minio_side.url.rsplit(":", 1)[1]))
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_MAX_WORKERS": "4",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    process, events = _started({**env, "MINIO_URL": link.url}, "object.copied")
    try:
        link.stalled.set()
        time.sleep(1)
        code, took = _stopped(process, events, timeout=45)  # 5 x 60 s without the cut-off
    finally:
        process.kill()
        link.close()

    assert code == 143
    assert took < 30
    names = [e["event"] for e in events]
    assert "run.cut_off" in names
    done = next(e for e in events if e["event"] == "run.done")
    pair = done["pairs"][0]
    assert pair["status"] == "interrupted"
    assert pair["failed"]["objects"] == 0
    assert pair["interrupted"]["objects"] > 0
    copied = contents(aws_side, dst)
    assert copied
    assert all(objects[key] == body for key, body in copied.items())

    rerun = run_mirror(env)

    assert rerun.code == 0
    assert contents(aws_side, dst) == objects


def test_copies_waiting_for_memory_are_not_started_after_sigterm(minio_side: LocalS3,
                                                                  aws_side: LocalS3) -> None:
    """A pod whose memory budget holds one 4 MiB object: one copy runs, three wait for its
    memory. The target stops answering, then SIGTERM: the running copy is cut after the
    grace, and the copies that get its memory afterwards are not started (no GET) instead
    of each reading the source and hanging on the target again."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {f"k{i}": os.urandom(4 * MIB) for i in range(6)})
    target = Relay(int(aws_side.url.rsplit(":", 1)[1]))

    def stall_at_the_first_read(method: str, path: str,
                                headers: dict[str, str]) -> bytes | None:
        if method == "GET" and "list-type" not in path:
            target.stalled.set()  # the target has been listed: its copies will hang

    source = proxy_in_front(minio_side, answer=stall_at_the_first_read)
    env = {**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": source.url,
           "AWS_URL": target.url, "MIRROR_MAX_WORKERS": "4",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    stop = threading.Event()
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(run(
        load_settings(env), stop=stop,
        limits=Limits(1, BASELINE_MEMORY + 10 * MIB, "test"))))  # a 5 MiB budget
    try:
        worker.start()
        assert target.stalled.wait(30)
        time.sleep(1)
        stop.set()
        worker.join(45)  # each copy started after the stop would hang on its own
        reads = source.snapshot()[0].get("GET", 0)
    finally:
        target.close()
        source.close()

    assert done, "the run did not end"
    pair = done[0].pairs[0]
    assert (pair.status.value, pair.failed.objects, pair.interrupted.objects) == (
        "interrupted", 0, 6)
    assert reads == 1


def _signal_a_worker_thread(pid: int, signum: int) -> None:
    """The signal as the kernel may deliver a process-directed one: to a thread other
    than the main thread (seen with `kill`, the way Kubernetes stops a pod)."""
    import ctypes

    tid = max(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.tgkill(pid, tid, signum) == 0, os.strerror(ctypes.get_errno())


def test_sigterm_taken_by_a_worker_thread_still_stops_the_run(minio_side: LocalS3,
                                                               aws_side: LocalS3) -> None:
    """Python runs signal handlers on the main thread only, which waits for the pairs: a
    SIGTERM that lands on another thread must still stop the run at once, not when every
    pair has finished (past a pod's grace period: SIGKILL, no summary)."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"k{i:03d}": os.urandom(64 * 1024) for i in range(200)}
    put(minio_side, src, objects)
    slow = Relay(int(minio_side.url.rsplit(":", 1)[1]), rate=1 * MIB)  # ~13 s of copies
    env = {**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": slow.url,
           "MIRROR_MAX_WORKERS": "1", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    try:
        process, events = _started(env, "object.copied")
        code, took = _stopped(
            process, events, lambda: _signal_a_worker_thread(process.pid, signal.SIGTERM))
    finally:
        process.kill()
        slow.close()

    assert code == 143
    assert took < 5
    done = next(e for e in events if e["event"] == "run.done")
    assert done["status"] == "interrupted"
    copied = contents(aws_side, dst)
    assert 0 < len(copied) < len(objects)
    assert done["pairs"][0]["copied"]["objects"] == len(copied)
