"""The `minio-s3-mirror` command: settings from the environment, flags override them.

Exit codes: 0 everything mirrored; 1 an object or a pair failed; 2 bad configuration
(nothing was requested from any server); 130 interrupted (SIGINT); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from mirror import __version__

if TYPE_CHECKING:
    from mirror.settings import ConfigError, Settings
    from mirror.summary import RunSummary

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}

# flag -> (environment variable it overrides, value when the flag is a switch)
_SWITCHES = {"dry_run": ("MIRROR_DRY_RUN", "true"), "overwrite": ("MIRROR_OVERWRITE", "true"),
             "stop_on_error": ("MIRROR_SKIP_ERRORS", "false"), "debug": ("MIRROR_DEBUG", "true")}
_VALUES = {"prefix": "MIRROR_PREFIX", "exclude": "MIRROR_EXCLUDE",
           "max_workers": "MIRROR_MAX_WORKERS", "part_size": "MIRROR_PART_SIZE",
           "large_transfers": "MIRROR_LARGE_TRANSFERS",
           "bandwidth_limit": "MIRROR_BANDWIDTH_LIMIT",
           "service": "SERVICE"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """A mistake on the command line (an unknown flag, a flag without its value) is a
        configuration error like a bad variable: one `config.invalid` line, JSON where the
        logs are, exit 2; not a usage text a log pipeline cannot read."""
        from mirror.settings import ConfigError

        raise ConfigError([f"{message} (minio-s3-mirror --help lists the flags)"])


def _parser() -> argparse.ArgumentParser:
    from mirror.settings import VARIABLES

    width = max(len(v.name) for v in VARIABLES)
    lines = []
    for v in VARIABLES:
        text = v.meaning + (f" [default: {v.default}]" if v.default else "")
        wrapped = textwrap.wrap(text, 100 - width - 4) or [""]
        lines.append(f"  {v.name:<{width}}  {wrapped[0]}")
        lines += [f"  {'':<{width}}  {w}" for w in wrapped[1:]]
    epilog = ("environment variables (flags override them):\n" + "\n".join(lines) +
              "\n\nexit codes: 0 all mirrored, 1 an object or pair failed, 2 bad configuration,"
              " 130/143 interrupted (SIGINT/SIGTERM)")
    p = _Parser(
        prog="minio-s3-mirror", epilog=epilog, formatter_class=argparse.RawTextHelpFormatter,
        description="Mirror S3-compatible buckets incrementally: copy what is missing or "
                    "changed, never delete, report what it cost.")
    p.add_argument("--pair", action="append", metavar="SRC:DST",
                   help="a bucket pair alias/bucket[/prefix]:alias/bucket[/prefix]; repeat for "
                        "several (replaces BUCKET_PAIR and BUCKET_PAIRS)")
    p.add_argument("--prefix", action="append",
                   help="only keys under this prefix (MIRROR_PREFIX); repeat, or separate by "
                        "',', for several")
    p.add_argument("--exclude", action="append",
                   help="comma-separated globs of keys to skip (MIRROR_EXCLUDE); repeat for "
                        "more, as with rclone and mc")
    # each switch has its --no- form, to override the environment both ways (a one-off
    # real run of a job whose MIRROR_DRY_RUN is true: --no-dry-run)
    p.add_argument("--dry-run", action=argparse.BooleanOptionalAction,
                   help="list and compare, write nothing (MIRROR_DRY_RUN)")
    p.add_argument("--overwrite", action=argparse.BooleanOptionalAction,
                   help="replace target objects that differ from the source (MIRROR_OVERWRITE)")
    p.add_argument("--stop-on-error", action=argparse.BooleanOptionalAction,
                   help="stop a pair at its first failed object (MIRROR_SKIP_ERRORS=false)")
    p.add_argument("--max-workers", help="transfers in flight for the run, or 'auto'")
    p.add_argument("--large-transfers",
                   help="objects above the part size streamed at the same time")
    p.add_argument("--part-size", help="multipart part size, e.g. 16MiB")
    p.add_argument("--bandwidth-limit",
                   help="bytes per second sent to the targets, e.g. 20MiB/s (0: no cap)")
    p.add_argument("--debug", action=argparse.BooleanOptionalAction,
                   help="log every object's decision (MIRROR_DEBUG)")
    p.add_argument("--service", help="service name shown in logs and the summary")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def settings_from(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    from mirror.settings import load_settings

    return load_settings(*_environment(argv, environ))


def _environment(argv: Sequence[str], environ: Mapping[str, str],
                 ) -> tuple[dict[str, str], dict[str, str]]:
    """The environment with the flags applied, and the flag that set each variable."""
    args = _parser().parse_args(argv)
    env = dict(environ)
    labels: dict[str, str] = {}
    for attr, (name, value) in _SWITCHES.items():
        given = getattr(args, attr)
        if given is not None:
            env[name] = value if given else {"true": "false", "false": "true"}[value]
            labels[name] = "--" + ("" if given else "no-") + attr.replace("_", "-")
    empty = [f"--{attr.replace('_', '-')} is empty: give it a value, or leave it out to use "
             f"{name} (minio-s3-mirror --help lists the flags)"
             for attr, name in _VALUES.items() if getattr(args, attr) is not None
             and any(not v.strip() for v in _given(getattr(args, attr)))]
    if empty:
        # "not set" would override the environment's setting with the default: the whole
        # bucket for `--prefix "$DAY"` with DAY empty, no cap for `--bandwidth-limit ""`
        from mirror.settings import ConfigError

        raise ConfigError(empty)
    for attr, name in _VALUES.items():
        value = getattr(args, attr)
        if value is not None:
            # --prefix and --exclude repeat: every occurrence counts, none silently replaces
            # another (`--exclude '*.tmp' --exclude '*.log'` excludes both)
            env[name] = ",".join(value) if isinstance(value, list) else value
            labels[name] = "--" + attr.replace("_", "-")
    if args.pair:
        env.pop("BUCKET_PAIR", None)
        env["BUCKET_PAIRS"] = ";".join(args.pair)
        labels["BUCKET_PAIRS"] = "--pair"
    return env, labels


def _given(value: str | list[str]) -> list[str]:
    """A flag's values: one, or each occurrence of a repeated one."""
    return value if isinstance(value, list) else [value]


def _check_overridden(environ: Mapping[str, str], given: Mapping[str, str],
                      labels: Mapping[str, str]) -> None:
    """The variables a flag overrode are checked too: a `--dry-run` preview from the
    CronJob's own settings must stop where the scheduled run, without the flag, would
    (`MIRROR_MAX_WORKERS=0`), not report all good. (A pair given with --pair replaces
    the environment's pairs on purpose, so those are not checked.)"""
    names = [name for name in labels if not name.startswith("BUCKET_PAIR")
             and environ.get(name, "").strip() and environ[name] != given[name]]
    if not names:
        return
    from mirror.settings import ConfigError, load_settings

    try:
        load_settings({**given, **{name: environ[name] for name in names}})
    except ConfigError as exc:
        problems = [f"{problem} (in the environment; {labels[name]} overrides it here, "
                    "but a run without the flag would stop)"
                    for problem in exc.problems for name in names
                    if problem.startswith(name + " ")]
        if problems:
            raise ConfigError(problems) from None


def exit_code(summary: RunSummary, signum: int | None) -> int:
    from mirror.summary import Status

    if summary.status is Status.INTERRUPTED:
        return EXIT_SIGNAL.get(signal.Signals(signum), 143) if signum else 143
    return EXIT_OK if summary.status is Status.SUCCESS else EXIT_FAILED


class _Signals:
    """SIGTERM/SIGINT handling, installed before anything slow happens.

    In a container the worker is PID 1, for which the kernel drops a signal that has no
    handler: installing the handlers first keeps a SIGTERM sent during start-up.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.received: list[int] = []

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
            threading.Thread(target=self._announce, name="signals", daemon=True).start()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """Only flags: the handler runs on the main thread between two of its steps, maybe
        while it holds the log's write lock, so logging here could wait on itself."""
        if self.received:  # a second signal: stop waiting for work in flight
            os._exit(EXIT_SIGNAL.get(signal.Signals(signum), 143))
        self.received.append(signum)
        self.stop.set()

    def _announce(self) -> None:
        self.stop.wait()
        if self.received:
            from mirror import logs

            logs.get().warning("run.stopping", signal=signal.Signals(self.received[0]).name,
                               detail="finishing or aborting transfers in flight")


def _log_json(environ: Mapping[str, str]) -> bool | None:
    """MIRROR_LOG_FORMAT: json, console, or None for auto (JSON when not on a terminal)."""
    log_format = environ.get("MIRROR_LOG_FORMAT", "auto").strip().lower()
    return {"json": True, "console": False}.get(log_format)


def _report_config_error(exc: ConfigError, environ: Mapping[str, str]) -> None:
    """One line per problem on stderr: readable on a terminal, and where the logs are JSON
    (MIRROR_LOG_FORMAT=json, or not a terminal), a JSON event like the run's others, so a
    log pipeline that alerts on level=error sees an exit-2 run too."""
    from mirror import logs

    if not logs.as_json(_log_json(environ)):
        for problem in exc.problems:
            print(f"minio-s3-mirror: configuration error: {problem}", file=sys.stderr)
        return
    logs.configure(json=True, service=environ.get("SERVICE", "").strip())
    for problem in exc.problems:
        logs.get().error("config.invalid", error=f"configuration error: {problem}",
                         detail="nothing was done; exit code 2")


def _post_config_error(exc: ConfigError, environ: Mapping[str, str]) -> None:
    """The channel hears of a run that could not start, when Slack's own settings are
    usable: a nightly run that only logged it would leave the channel silent."""
    from mirror.settings import slack_alone

    slack_settings = slack_alone(environ)
    if slack_settings is None:
        return
    from mirror import logs
    from mirror.report import slack
    from mirror.s3.proxy import choose

    token, channel, api_url = slack_settings
    service = environ.get("SERVICE", "").strip()
    logs.redactor.set([token])
    logs.configure(json=_log_json(environ), service=service)
    try:
        slack.post_config_error(service, exc.problems, token, channel, api_url,
                                choose(api_url or slack.API_URL, environ))
    except Exception as error:  # the exit code stays 2, whatever Slack does
        logs.get().error("slack.crashed", error=f"{type(error).__name__}: {error}")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    signals = _Signals()
    signals.install()
    # only now the modules that take a while to import (a SIGTERM during start-up is kept)
    from mirror.settings import ConfigError, load_settings

    environ = os.environ if environ is None else environ
    given: Mapping[str, str] = environ  # with the flags applied, once they are read
    try:
        given, labels = _environment(sys.argv[1:] if argv is None else argv, environ)
        settings = load_settings(given, labels)
        _check_overridden(environ, given, labels)
    except ConfigError as exc:
        _report_config_error(exc, given)  # --service names the lines too
        _post_config_error(exc, given)
        return EXIT_CONFIG
    from mirror import logs
    from mirror.report.publish import publish
    from mirror.run import run

    logs.redactor.set(settings.secrets())
    logs.configure(debug=settings.debug, json=_log_json(environ), service=settings.service)
    summary = run(settings, stop=signals.stop)
    publish(summary, settings, sys.stdout, environ, signals.stop)
    return exit_code(summary, signals.received[0] if signals.received else None)


def entrypoint() -> None:
    sys.exit(main())
