"""The benchmark of minio-s3-mirror against rclone, s5cmd and the aws cli (not the tests)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from mirror.sandbox import SandboxError


def run_main(main: Callable[[], None]) -> None:
    """Run a benchmark entry point; a missing tool is one line that says how to get it."""
    hint = ("(`bash scripts/bench.sh` installs the [bench] extra into .venv; put .venv/bin "
            "first on PATH and run the module with .venv/bin/python)")
    try:
        main()
    except SandboxError as exc:
        sys.exit(f"bench: {exc}\n{hint}")
    except FileNotFoundError as exc:
        if not exc.filename or "/" in str(exc.filename):
            raise
        sys.exit(f"bench: `{exc.filename}` is not on PATH\n{hint}")
