"""Structured logs: JSON lines when not on a terminal, readable lines when on one.

Events are named `<unit>.<what>` (object.copied, pair.done, run.done): one event per object
copied or failed, one per pair, one per run. Every rendered line passes through a redaction
step that replaces configured secrets, so no secret reaches a log at any level.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

REDACTED = "[redacted]"


class Redactor:
    """Blanks out known secret values in every log line.

    JSON lines are cleaned value by value before they are rendered (every string, key
    and nested value, an exception's traceback included), so a blanked secret never
    breaks a line's JSON, nor a number that happens to contain its digits. Console
    lines are cleaned after rendering. Each secret is also searched in the escaped forms
    a repr or a JSON string may have given it.
    """

    def __init__(self) -> None:
        self._pattern: re.Pattern[str] | None = None
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.RLock()

    def set(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets = frozenset(s for s in secrets if len(s) >= 4)
            forms = set()
            for secret in self._secrets:
                escaped = {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]}
                forms.update(escaped | {json.dumps(form)[1:-1] for form in escaped})
            ordered = sorted(forms, key=len, reverse=True)  # the longest form wins
            self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def add(self, *secrets: str | None) -> None:
        """Blank these too from now on: secrets learned during the run (the standard AWS
        credential chain's keys and tokens)."""
        with self._lock:  # two aliases' chains may learn theirs at once
            new = {s for s in secrets if s and len(s) >= 4} - self._secrets
            if new:
                self.set(self._secrets | new)

    def clean(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern else text

    def scrub(self, value: Any) -> Any:
        """`value` with every secret blanked, its structure and numbers kept."""
        if isinstance(value, str):
            return self.clean(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.scrub(v) for v in value]
        return self.clean(str(value))

    def rendering(self, renderer: Callable[[Any, str, EventDict], str], *,
                  structured: bool) -> Processor:
        """The last processor of the chain: `renderer`, with the redaction before it
        (`structured`, for JSON) or after it."""

        def render_structured(logger: Any, name: str, event: EventDict) -> str:
            line = renderer(logger, name, event)
            if self._pattern is None or not self._pattern.search(line):
                return line  # the usual case: one search of the line, nothing to blank
            return renderer(logger, name, self.scrub(event))

        def render_text(logger: Any, name: str, event: EventDict) -> str:
            return self.clean(renderer(logger, name, event))

        return render_structured if structured else render_text


redactor = Redactor()


def as_json(json: bool | None, stream: TextIO | None = None) -> bool:
    """Whether lines go out as JSON: `json`, else when the stream is not a terminal."""
    return (not (stream or sys.stderr).isatty()) if json is None else json


def _stamp(fields: dict[str, Any]) -> Processor:
    """Put `fields` first in every event, whichever thread logs it."""
    def stamp(logger: Any, name: str, event: EventDict) -> EventDict:
        return {**fields, **event}
    return stamp


def _brief(logger: Any, name: str, event: EventDict) -> EventDict:
    """On a console, `run.done` without its pairs: each had its `pair.done` line, and the
    readable summary follows; a JSON log keeps the whole summary in one event."""
    if event.get("event") == "run.done" and isinstance(event.get("pairs"), list):
        event["pairs"] = len(event["pairs"])
    return event


class _Sink:
    """The stream the log lines go to. When its reader goes away (`2>&1 | head`, a log
    shipper that died) or it cannot be written, the logging stops, not the run: an
    exception from a log call would end the run mid-copy, without its summary or report."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._out.write(text)
            except (OSError, ValueError):  # EPIPE, ENOSPC; ValueError: the file was closed
                self._gone = True
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._out.flush()
            except (OSError, ValueError):
                self._gone = True

    def isatty(self) -> bool:
        return self._out.isatty()


def configure(*, debug: bool = False, stream: TextIO | None = None,
              json: bool | None = None, service: str = "") -> None:
    """Set up structlog for a run; `json` defaults to "not a terminal". A `service` name
    (SERVICE) is on every line, so the runs of several CronJobs can be told apart."""
    out = stream or sys.stderr
    use_json = as_json(json, out)
    renderer: Any = (structlog.processors.JSONRenderer(sort_keys=False) if use_json
                     else structlog.dev.ConsoleRenderer(colors=out.isatty()))
    structlog.configure(
        processors=[
            *([_stamp({"service": service})] if service else []),
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *([] if use_json else [_brief]),
            redactor.rendering(renderer, structured=use_json),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG if debug
                                                            else logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(_Sink(out)),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get() -> Any:
    return structlog.get_logger("mirror")
