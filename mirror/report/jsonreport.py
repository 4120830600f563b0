"""The JSON report file (`MIRROR_REPORT_FILE`), for people who feed runs into dashboards.

The document is `RunSummary.to_dict()`, the same data as the `run.done` log event, and its
shape is `report-v1.schema.json` beside this module (`"schema": "minio-s3-mirror/report/v1"`).
It is written atomically: a temporary file in the same directory, then a rename, so a reader
never sees half a report and a failed write leaves the previous report in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from mirror.summary import RunSummary

SCHEMA_FILE = "report-v1.schema.json"


def schema() -> dict[str, Any]:
    """The JSON Schema of the report (draft 2020-12)."""
    text = resources.files("mirror.report").joinpath(SCHEMA_FILE).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def write(run: RunSummary, path: str) -> None:
    """Write the report to `path`, replacing it in one step; OSError if it cannot be."""
    target = Path(path)
    data = json.dumps(run.to_dict(), indent=2, ensure_ascii=False) + "\n"
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                     dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
