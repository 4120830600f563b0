"""Ctrl-C in the quickstart (`bash scripts/demo.sh`): the demo stops its servers and says
so, exit 130, without a Python traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT


def _servers_under(folder: Path) -> list[str]:
    found = subprocess.run(["pgrep", "-af", str(folder)], capture_output=True, text=True,
                           check=False).stdout.splitlines()
    return [line for line in found if "weed" in line]


def test_ctrl_c_while_the_demo_starts_its_servers(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "mirror.demo", "--workdir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    assert process.stdout.readline().startswith("starting two local S3 servers")
    time.sleep(1)  # SeaweedFS is starting: the demo waits for it to answer
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 130
    assert "Traceback" not in stdout + stderr
    assert "KeyboardInterrupt" not in stdout + stderr
    assert "interrupted" in stderr
    assert _servers_under(tmp_path) == []
