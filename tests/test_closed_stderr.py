"""The log's reader goes away mid-run (`minio-s3-mirror 2>&1 | head`, a log shipper that
died): the run goes on without its log lines, copies everything, writes its report file and
exits with its own code; a broken pipe on stderr is no reason to stop a backup half-way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, base_env, contents, new_bucket, put

from mirror.sandbox import LocalS3


def test_a_run_whose_stderr_is_closed_finishes_and_reports(
        minio_side: LocalS3, aws_side: LocalS3, tmp_path: Path) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"k/{i:03d}": os.urandom(64 + i) for i in range(150)}
    put(minio_side, src, objects)
    report = tmp_path / "report.json"
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
           "MIRROR_MAX_WORKERS": "2", "MIRROR_REPORT_FILE": str(report)}
    process = subprocess.Popen([sys.executable, "-m", "mirror"], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    try:
        first = json.loads(process.stderr.readline())
        process.stderr.close()  # as `| head -1` does once it has its line
        code = process.wait(timeout=120)
    finally:
        process.kill()

    assert first["event"] == "run.start"
    assert code == 0
    assert contents(aws_side, dst) == objects
    written = json.loads(report.read_text("utf-8"))
    assert written["status"] == "success"
    assert written["copied"]["objects"] == len(objects)
