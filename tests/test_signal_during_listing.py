"""SIGTERM while a listing waits on a server that stopped answering (a CronJob deadline
during the LIST of a hung store): the run's cut-off ends the LIST, and the pair is
interrupted, not failed, and its message does not blame the server for the mirror's own
cut."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from conftest import ROOT, base_env, new_bucket, put
from proxy_server import Relay

from mirror.sandbox import LocalS3


def test_sigterm_during_a_stalled_listing_interrupts_the_pair(minio_side: LocalS3,
                                                             aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a"})
    link = Relay(int(aws_side.url.rsplit(":", 1)[1]))
    link.stalled.set()  # the target answers nothing: its LIST waits
    env = {**base_env(minio=minio_side, aws=aws_side), "AWS_URL": link.url,
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}", "MIRROR_PRINT_SUMMARY": "true"}
    process = subprocess.Popen([sys.executable, "-m", "mirror"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr, out = process.stderr, process.stdout
    assert stderr is not None
    assert out is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any('"pair.start"' in line for line in lines):
            assert time.monotonic() < deadline, "no pair.start in time"
            time.sleep(0.05)
        time.sleep(1)  # the target's LIST is in flight, unanswered
        process.send_signal(signal.SIGTERM)
        stdout = out.read()
        code = process.wait(timeout=45)  # 5 x 60 s read timeouts without the cut-off
    finally:
        process.kill()
        link.close()
    reader.join(10)
    events: list[dict[str, Any]] = [json.loads(line) for line in lines]

    assert code == 143
    assert "run.cut_off" in [e["event"] for e in events]
    done = next(e for e in events if e["event"] == "run.done")
    assert done["status"] == "interrupted"
    pair = done["pairs"][0]
    assert pair["status"] == "interrupted"
    assert pair["error"] is None
    assert pair["listing_complete"] is False
    assert not [e for e in events if e["event"] == "pair.failed"]
    assert "closed by server" not in "".join(lines) + stdout
    assert "interrupted" in stdout.splitlines()[0]
