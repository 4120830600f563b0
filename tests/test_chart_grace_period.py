"""The grace period the chart recommends covers what the worker does after SIGTERM: cut
requests still in flight, log its summary, push its metrics, post to Slack. Below it, the
pod is killed before the channel hears that the run was interrupted."""

from __future__ import annotations

import re

from chart_support import CHART

from mirror import run
from mirror.report import metrics, slack


def test_the_recommended_grace_period_covers_the_summary_after_sigterm() -> None:
    after_sigterm = run.CUT_OFF_AFTER + metrics.TIMEOUT + slack.POST_DEADLINE_INTERRUPTED
    values = (CHART / "values.yaml").read_text("utf-8")
    readme = (CHART / "README.md").read_text("utf-8")

    [kept] = re.findall(r"keep it at (\d+) or more", values)
    [row] = [line for line in readme.splitlines() if line.startswith("| `terminationGrace")]
    [leaves] = re.findall(r"(\d+) or more leaves it time", row)

    assert int(kept) >= after_sigterm
    assert int(leaves) >= after_sigterm
