"""`docker stop` waits 10 s before SIGKILL unless told otherwise: the very moment the worker
starts cutting requests still in flight after SIGTERM, before it logs its summary, pushes
its metrics and posts to Slack. The README's `docker run` commands give it the time a pod
gets."""

from __future__ import annotations

import re

from conftest import ROOT

from mirror import run
from mirror.report import metrics, slack


def _docker_runs() -> list[str]:
    """Each `docker run` command of the README's shell blocks, continuation lines joined."""
    readme = (ROOT / "README.md").read_text("utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    commands = [c for block in blocks for c in block.replace("\\\n", " ").splitlines()]
    return [c for c in commands if c.lstrip().startswith("docker run")]


def test_every_docker_run_gives_the_worker_time_to_end_after_sigterm() -> None:
    needed = run.CUT_OFF_AFTER + metrics.TIMEOUT + slack.POST_DEADLINE_INTERRUPTED
    commands = _docker_runs()

    assert commands
    for command in commands:
        found = re.search(r"--stop-timeout[ =](\d+)", command)
        assert found, f"no --stop-timeout: docker stop kills it after 10 s: {command}"
        assert int(found.group(1)) >= needed, command
