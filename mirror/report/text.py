"""Numbers as people read them, shared by the Slack message and the terminal summary."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from mirror.decision import Action
from mirror.summary import SIDES, Cost, Count, PairSummary, RunSummary, Status

ICONS = {Status.SUCCESS: "✅", Status.PARTIAL: "⚠️", Status.FAILED: "❌",
         Status.INTERRUPTED: "⏹️"}
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


# What a terminal or Slack acts on instead of showing: line breaks, escape sequences (ESC,
# CSI), and the marks that reorder text (bidi overrides). An S3 key may hold any of them,
# and the keys that do are the ones a target refuses (rclone), i.e. those listed as failed.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2028\u2029"
                          "\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(found: re.Match[str]) -> str:
    char = found.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(value: str) -> str:
    """`value` (a key, a reason) on one line, each control character written as its escape
    (`a\\nb`, `\\x1b`): a key with a line break must not read as two lines, one of which
    looks like another failure, nor send escape sequences to the reader's terminal."""
    return _UNPRINTABLE.sub(_escaped, value)


def size(n: float) -> str:
    """1536 -> '1.5 KiB'; whole bytes below 1 KiB."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def number(n: int) -> str:
    return f"{n:,}"


def objects(count: Count) -> str:
    """'12 (3.4 MiB)', or '0'."""
    return f"{count.objects:,} ({size(count.bytes)})" if count.objects else "0"


def duration(seconds: float) -> str:
    """'0.4 s', '12 s', '3 min 05 s', '2 h 04 min'."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def rate(bytes_per_second: float) -> str:
    return f"{size(bytes_per_second)}/s"


def dollars(usd: Decimal) -> str:
    """Enough digits to see a request cost: '$0.0123', '$1.25', '$0'."""
    if usd == 0:
        return "$0"
    if usd < Decimal("0.000001"):
        return "<$0.000001"
    if usd >= 1:
        return f"${usd:,.2f}"
    text = f"{usd:.8f}".rstrip("0")
    digits = text.split(".")[1]
    places = min(len(digits) - len(digits.lstrip("0")) + 2, 8)  # two significant digits
    shown = f"{usd:.{places}f}"
    return "$" + (shown.rstrip("0") if places > 2 else shown)


def requests(ops: Mapping[str, int]) -> str:
    """'LIST 2 · GET 15 · PUT 15', or 'none'."""
    return " · ".join(f"{op} {n:,}" for op, n in ops.items() if n) or "none"


def cost(value: Cost) -> str:
    """'$0.0123 (target aws-s3-standard; source: no request charges)'."""
    parts = []
    for side in SIDES:
        side_cost = value.sides.get(side)
        if side_cost is None:
            continue
        if side_cost.usd is None:
            parts.append(f"{side} not priced")
        elif side_cost.pricing.name == "none":
            parts.append(f"{side} free")
        else:
            parts.append(f"{side} {dollars(side_cost.usd)} {side_cost.pricing.name}")
    total = dollars(value.usd) + ("" if value.complete else "+")
    return f"{total} ({'; '.join(parts)})" if parts else total


@dataclass(frozen=True)
class Line:
    label: str
    value: str
    alarm: bool = False  # worth someone's attention (a failure, a difference kept)


def pair_lines(run: RunSummary, pair: PairSummary) -> list[Line]:
    """The facts of one pair, in the order people ask for them."""
    copied = "would copy" if pair.dry_run else "copied"
    new, changed = pair.copied_new, pair.copied_changed
    if pair.dry_run:
        new, changed = pair.decided(Action.COPY_NEW), pair.decided(Action.COPY_CHANGED)
    lines = [
        Line(copied, f"{objects(new)} new"
                     + (f" · {objects(changed)} changed" if changed.objects else "")),
        Line("unchanged", number(pair.decided(Action.UNCHANGED).objects)),
        Line("differs, kept", objects(pair.decided(Action.DIFFERS_KEPT)),
             alarm=bool(pair.decided(Action.DIFFERS_KEPT).objects)),
        Line("excluded", number(pair.decided(Action.EXCLUDED).objects)),
        Line("failed", objects(pair.failed), alarm=bool(pair.failed.objects)),
        Line("listed", f"source {objects(pair.listed_source)} · "
                       f"target {objects(pair.listed_target)}"
                       + ("" if pair.listing_complete else " (stopped before the listing's end)")),
    ]
    if pair.decided(Action.TARGET_ONLY).objects:
        lines.append(Line("only on target", number(pair.decided(Action.TARGET_ONLY).objects)))
    if pair.source_changed.objects:
        lines.append(Line("changed during run", number(pair.source_changed.objects)))
    if pair.interrupted.objects:
        lines.append(Line("interrupted", number(pair.interrupted.objects)))
    lines += [
        Line("time", f"{duration(pair.seconds)}"
                     + (f" · {rate(pair.bytes_per_second)}" if pair.copied.bytes else "")),
        Line("requests", " / ".join(f"{side} {requests(pair.requests.get(side, {}))}"
                                    for side in SIDES)),
        Line("est. cost", cost(run.cost(pair))),
    ]
    if pair.dry_run:
        projected = pair.projected_requests()
        lines += [Line("real run requests", " / ".join(
                      f"{side} {requests(projected.get(side, {}))}" for side in SIDES)),
                  Line("real run cost", "at least " + cost(run.projected_cost(pair)))]
    return lines


def headline(run: RunSummary) -> str:
    """'myservice mirror: partial, 12 (3.4 MiB) copied, 1 failed, 2 differ (kept)' (a
    notification's text). An object the source changed while it was copied is no failure,
    but the copy is not there yet: said, so a 'success' does not read as complete."""
    name = f"{run.service} mirror" if run.service else "minio-s3-mirror"
    dry = " (dry run)" if run.dry_run else ""
    if run.dry_run:
        would = Count()
        for pair in run.pairs:
            for action in (Action.COPY_NEW, Action.COPY_CHANGED):
                would.objects += pair.decided(action).objects
                would.bytes += pair.decided(action).bytes
        done = f"would copy {objects(would)}"
    else:
        done = f"{objects(run.total('copied'))} copied"
    failed = run.total("failed").objects
    pairs_failed = sum(pair.status is Status.FAILED for pair in run.pairs)
    differ = sum(pair.decided(Action.DIFFERS_KEPT).objects for pair in run.pairs)
    changed = run.total("source_changed").objects
    cut = run.total("interrupted").objects
    later = ("left to a run without the date prefix" if run.dated_prefixes
             else "left to the next run")
    return (f"{name}: {run.status.value}{dry}, {done}"
            + (f", {failed:,} failed" if failed else "")
            + (f", {cut:,} stopped before done ({later})" if cut else "")
            + (f", {pairs_failed:,} of {len(run.pairs):,} pairs failed" if pairs_failed
               else "")
            + (f", {differ:,} {'differs' if differ == 1 else 'differ'} (kept)" if differ
               else "")
            + (f", {changed:,} changed at the source during the run ({later})"
               if changed else ""))
