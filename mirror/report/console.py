"""The summary on the terminal: what a dry run would do, readable without Slack."""

from __future__ import annotations

from mirror.report import text
from mirror.summary import RunSummary

FAILURES_SHOWN = 10


def render(run: RunSummary) -> str:
    out = [text.headline(run)]
    if run.dry_run:
        out.append("DRY RUN: nothing was written; the counts say what a real run would copy.")
    total = run.total_cost()
    out.append(f"started {run.started_at} · took {text.duration(run.seconds)}"
               f" · est. request cost {text.dollars(total.usd)}{'' if total.complete else '+'}")
    if run.dry_run:
        real = run.total_cost(projected=True)
        out.append(f"a real run would cost at least {text.dollars(real.usd)}"
                   f"{'' if real.complete else '+'} in requests")
    for pair in run.pairs:
        out += ["", f"{pair.source} -> {pair.target}   {text.ICONS[pair.status]} "
                    f"{pair.status.value}"]
        if pair.prefixes:
            out.append(f"  {'prefixes':<19}{', '.join(pair.prefixes)}")
        if pair.error:
            out.append(f"  {'error':<19}{pair.error}")
        out += [f"  {line.label:<19}{line.value}" for line in text.pair_lines(run, pair)]
        for failure in pair.failures[:FAILURES_SHOWN]:
            out.append(f"  ! {failure.key}: {failure.error}")
        hidden = len(pair.failures[FAILURES_SHOWN:]) + pair.failures_not_kept
        if hidden:
            out.append(f"  ! and {hidden:,} more failures (the log has one object.failed each)")
        for difference in pair.differs[:FAILURES_SHOWN]:
            out.append(f"  ~ {difference.key}: {difference.reason}, kept")
        hidden = len(pair.differs[FAILURES_SHOWN:]) + pair.differs_not_kept
        if hidden:
            out.append(f"  ~ and {hidden:,} more kept differences (the log has one "
                       "object.differs_kept each)")
    return "\n".join(out) + "\n"
