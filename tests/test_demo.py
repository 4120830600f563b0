"""The quickstart's first command: the embedded default runs and proves its own result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_the_demo_mirrors_previews_and_verifies_byte_for_byte(tmp_path: Path) -> None:
    """`python -m mirror.demo` (what scripts/demo.sh runs) starts its own two servers, shows
    the product's summaries, and exits 0 only when boto3 finds every byte in the target;
    the temporary folder of its servers' data is removed at the end."""
    done = subprocess.run([sys.executable, "-m", "mirror.demo"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, check=False,
                          env={**os.environ, "TMPDIR": str(tmp_path)})

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = done.stdout.split("\n$ ")[1:]
    assert len(runs) == 4
    preview, first, rerun, nightly = runs
    assert "demo mirror: success (dry run), would copy 182 (44.4 MiB)" in preview
    assert "requests           source LIST 1 / target LIST 1\n" in preview
    assert "real run requests  source GET 182 · LIST 1 / target LIST 1 · PUT 182" in preview
    assert "demo mirror: success, 182 (44.4 MiB) copied" in first
    assert "demo mirror: success, 0 copied" in rerun
    assert "unchanged          182" in rerun
    assert "requests           source LIST 1 / target LIST 1\n" in rerun
    assert "prefixes           2025/01/23" in nightly
    assert "copied             5 (146.5 KiB) new" in nightly
    assert all("exit code 0" in run for run in runs)
    assert ("verified with boto3: the target holds the 187 expected objects, byte for byte"
            in done.stdout)
    assert f"under {tmp_path}/mirror-demo-" in done.stdout  # where it was made
    assert list(tmp_path.iterdir()) == []
