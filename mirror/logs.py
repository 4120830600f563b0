"""Structured logs: JSON lines when not on a terminal, readable lines when on one.

Events are named `<unit>.<what>` (object.copied, pair.done, run.done): one event per object
copied or failed, one per pair, one per run. Every rendered line passes through a redaction
step that replaces configured secrets, so no secret reaches a log at any level.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

REDACTED = "[redacted]"


class Redactor:
    """Blanks out known secret values in each rendered log line.

    Working on the final text catches a secret wherever it hides (a nested value, an
    exception's message, a traceback); each secret is also searched in the escaped forms
    the JSON and console renderers may have given it.
    """

    def __init__(self) -> None:
        self._forms: tuple[str, ...] = ()

    def set(self, secrets: Iterable[str]) -> None:
        forms = set()
        for secret in (s for s in secrets if len(s) >= 4):
            forms.update({secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]})
        self._forms = tuple(sorted(forms, key=len, reverse=True))

    def clean(self, line: str) -> str:
        for form in self._forms:
            if form in line:
                line = line.replace(form, REDACTED)
        return line

    def rendering(self, renderer: Callable[[Any, str, EventDict], str]) -> Processor:
        """`renderer`, then the redaction of its output: the last processor of the chain."""

        def render(logger: Any, name: str, event: EventDict) -> str:
            return self.clean(renderer(logger, name, event))

        return render


redactor = Redactor()


def configure(*, debug: bool = False, stream: TextIO | None = None,
              json: bool | None = None) -> None:
    """Set up structlog for a run; `json` defaults to "not a terminal"."""
    out = stream or sys.stderr
    use_json = (not out.isatty()) if json is None else json
    renderer: Any = (structlog.processors.JSONRenderer(sort_keys=False) if use_json
                     else structlog.dev.ConsoleRenderer(colors=out.isatty()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor.rendering(renderer),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG if debug
                                                            else logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def get() -> Any:
    return structlog.get_logger("mirror")
