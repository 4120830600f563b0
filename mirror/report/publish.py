"""Send a finished run's summary everywhere it was asked for; never raise, never exit.

Order: the terminal (instant), the report file, the Pushgateway, then Slack (the slowest:
it may wait out a rate limit). A failure of one is logged and does not stop the others, and
none of them changes the exit code, which says whether the mirror itself succeeded.

The Pushgateway and Slack go through a proxy by the rules of the S3 clients
(`mirror.s3.proxy.choose`: HTTPS_PROXY / HTTP_PROXY by the URL's scheme, unless NO_PROXY
names its host, with CIDR ranges and ports), chosen here from the environment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TextIO

from mirror import logs
from mirror.report import console, jsonreport
from mirror.s3.proxy import choose
from mirror.settings import Settings
from mirror.summary import Difference, Failure, RunSummary


def wants_console(settings: Settings, stdout: TextIO) -> bool:
    """MIRROR_PRINT_SUMMARY, or by default: in a dry run (a preview), or on a terminal."""
    if settings.print_summary is not None:
        return settings.print_summary
    return settings.dry_run or stdout.isatty()


def _write_report(run: RunSummary, path: str) -> None:
    try:
        jsonreport.write(run, path)
    except OSError as exc:
        logs.get().error("report.failed", path=path, error=f"{type(exc).__name__}: {exc}",
                         detail="the mirror's exit code does not depend on the report")
        return
    logs.get().info("report.written", path=path, schema=jsonreport.SCHEMA_FILE)


def _print(run: RunSummary, stdout: TextIO) -> None:
    stdout.write(console.render(run))
    stdout.flush()


def _guarded(name: str, step: Callable[..., object], *args: Any) -> None:
    try:
        step(*args)
    except Exception as exc:  # a bug in one output must not hide the others
        logs.get().exception(f"{name}.crashed", error=f"{type(exc).__name__}: {exc}")


def _push(run: RunSummary, url: str, environ: Mapping[str, str]) -> None:
    from mirror.report import metrics  # prometheus_client: imported only when used

    metrics.push(run, url, choose(url, environ))


def _post(run: RunSummary, token: str, channel: str, api_url: str | None,
          environ: Mapping[str, str], stop: threading.Event | None) -> None:
    from mirror.report import slack  # slack_sdk: imported only when used

    slack.post(run, token, channel, api_url, choose(api_url or slack.API_URL, environ), stop)


def redacted(run: RunSummary) -> RunSummary:
    """The summary with every known secret blanked where free text can carry one (keys,
    errors), as the log blanks it: the terminal, the report file and Slack show no more."""
    clean = logs.redactor.clean
    return replace(run, pairs=[replace(
        pair, error=clean(pair.error) if pair.error else pair.error,
        failures=[Failure(clean(f.key), clean(f.error)) for f in pair.failures],
        differs=[Difference(clean(d.key), clean(d.reason)) for d in pair.differs],
    ) for pair in run.pairs])


def publish(run: RunSummary, settings: Settings, stdout: TextIO,
            environ: Mapping[str, str] | None = None,
            stop: threading.Event | None = None) -> None:
    """`environ`: where HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read (os.environ); `stop`:
    set by SIGTERM, which shortens a Slack post under way to the time left after one."""
    env = os.environ if environ is None else environ
    run = redacted(run)
    if wants_console(settings, stdout):
        _guarded("console", _print, run, stdout)
    if settings.report_file:
        _guarded("report", _write_report, run, settings.report_file)
    if settings.pushgateway_url:
        _guarded("metrics", _push, run, settings.pushgateway_url, env)
    if settings.slack_token and settings.slack_channel:
        _guarded("slack", _post, run, settings.slack_token, settings.slack_channel,
                 settings.slack_api_url, env, stop)
