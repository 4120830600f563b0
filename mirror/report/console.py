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
            out.append(f"  {'error':<19}{text.printable(pair.error)}")
        out += [f"  {line.label:<19}{line.value}" for line in text.pair_lines(run, pair)]
        out += _keys("!", [f"{text.printable(f.key)}: {text.printable(f.error)}"
                           for f in pair.failures],
                     pair.failures_not_kept, "failures", "object.failed")
        out += _keys("~", [f"{text.printable(d.key)}: {text.printable(d.reason)}, kept"
                           for d in pair.differs],
                     pair.differs_not_kept, "kept differences", "object.differs_kept")
    return "\n".join(out) + "\n"


def _keys(mark: str, lines: list[str], not_kept: int, what: str, event: str) -> list[str]:
    """The first few keys with why, then how many more the log has."""
    out = [f"  {mark} {line}" for line in lines[:FAILURES_SHOWN]]
    hidden = len(lines[FAILURES_SHOWN:]) + not_kept
    if hidden:
        out.append(f"  {mark} and {hidden:,} more {what} (the log has one {event} each)")
    return out
