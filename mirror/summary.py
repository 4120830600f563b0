"""What a run did, per pair and in total: the facts every report is rendered from."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from mirror import __version__
from mirror.decision import KEPT, Action, Decision
from mirror.report.pricing import TABLES, Pricing
from mirror.s3.listing import ObjectInfo
from mirror.transfer import Outcome, TransferResult

MAX_FAILURES_KEPT = 50  # and differences kept; the log has one event for each
SCHEMA = "minio-s3-mirror/report/v1"  # the version of `RunSummary.to_dict()`, the report file
SIDES = ("source", "target")


class Status(StrEnum):
    SUCCESS = "success"  # every object that needed copying was copied
    PARTIAL = "partial"  # some objects failed
    FAILED = "failed"  # the pair (or every pair) could not run
    INTERRUPTED = "interrupted"  # stopped by a signal before the end


@dataclass
class Count:
    objects: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.objects += 1
        self.bytes += size

    def remove(self, size: int) -> None:
        self.objects -= 1
        self.bytes -= size


@dataclass(frozen=True)
class Failure:
    key: str
    error: str


@dataclass(frozen=True)
class Difference:
    """A key on both sides whose copies differ, kept as it is (overwrite off)."""

    key: str
    reason: str


@dataclass
class PairSummary:
    pair: str
    source: str
    target: str
    dry_run: bool
    prefixes: list[str]
    status: Status = Status.SUCCESS
    error: str | None = None  # why the pair as a whole failed
    seconds: float = 0.0
    listed_source: Count = field(default_factory=Count)
    listed_target: Count = field(default_factory=Count)
    decisions: dict[str, Count] = field(default_factory=dict)  # by Action
    copied_new: Count = field(default_factory=Count)
    copied_changed: Count = field(default_factory=Count)
    failed: Count = field(default_factory=Count)
    source_changed: Count = field(default_factory=Count)
    interrupted: Count = field(default_factory=Count)
    failures: list[Failure] = field(default_factory=list)
    failures_not_kept: int = 0
    differs: list[Difference] = field(default_factory=list)  # the first differs-kept keys
    differs_not_kept: int = 0
    requests: dict[str, dict[str, int]] = field(default_factory=dict)  # side -> op -> n
    # dry runs: the requests the copies would add, per side and operation, by the way each
    # object would be copied (its size, its ETag's part count, same endpoint or not)
    planned: dict[str, dict[str, int]] = field(default_factory=dict)
    # false: a stop (a signal, a failure that halted the pair, a listing that failed) came
    # before every key in scope was listed and compared; the counts cover the keys before it
    listing_complete: bool = True

    def decided(self, action: Action) -> Count:
        return self.decisions.get(action.value, Count())

    @property
    def copied(self) -> Count:
        return Count(self.copied_new.objects + self.copied_changed.objects,
                     self.copied_new.bytes + self.copied_changed.bytes)

    @property
    def bytes_per_second(self) -> float:
        """Throughput of the copies: bytes copied over the pair's whole duration."""
        return self.copied.bytes / self.seconds if self.seconds > 0 else 0.0

    def alias(self, side: str) -> str:
        """The alias a side names: `minio` in `minio/photos/2025`."""
        return (self.source if side == "source" else self.target).split("/", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["seconds"] = round(self.seconds, 3)
        data["copied"] = asdict(self.copied)
        data["bytes_per_second"] = round(self.bytes_per_second)
        del data["planned"]
        if self.dry_run:
            data["projected_requests"] = self.projected_requests()
        return data

    def projected_requests(self) -> dict[str, dict[str, int]]:
        """A dry run's listing plus the requests its copies would take: a real run's."""
        return _merged(self.requests, self.planned)


@dataclass(frozen=True)
class SideCost:
    pricing: Pricing
    usd: Decimal | None  # None: this side's store is not priced

    def to_dict(self) -> dict[str, Any]:
        return {"pricing": self.pricing.name,
                "usd": None if self.usd is None else _dollars(self.usd)}


@dataclass(frozen=True)
class Cost:
    """Estimated request cost: the priced sides' sum; `complete` when every side is priced."""

    usd: Decimal
    complete: bool
    sides: Mapping[str, SideCost] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"usd": _dollars(self.usd), "complete": self.complete}
        data.update({side: c.to_dict() for side, c in self.sides.items()})
        return data


def _dollars(value: Decimal) -> float:
    return float(round(value, 8))


class PairTally:
    """Thread-safe accumulation of one pair's decisions and transfer results."""

    def __init__(self, summary: PairSummary) -> None:
        self.summary = summary
        self._lock = threading.Lock()

    def listed(self, source: ObjectInfo | None, target: ObjectInfo | None) -> None:
        with self._lock:
            if source is not None:
                self.summary.listed_source.add(source.size)
            if target is not None:
                self.summary.listed_target.add(target.size)

    def decided(self, decision: Decision, size: int, key: str) -> None:
        with self._lock:
            if decision.action is Action.DIFFERS_KEPT:
                self._differs(key, decision.reason, size)
            else:
                self.summary.decisions.setdefault(decision.action.value, Count()).add(size)

    def _differs(self, key: str, reason: str, size: int) -> None:
        self.summary.decisions.setdefault(Action.DIFFERS_KEPT.value, Count()).add(size)
        if len(self.summary.differs) < MAX_FAILURES_KEPT:
            self.summary.differs.append(Difference(key, reason.removesuffix(KEPT)))
        else:
            self.summary.differs_not_kept += 1

    def planned(self, requests: Mapping[str, Mapping[str, int]]) -> None:
        """A dry run's copy: the requests it would take (`transfer.planned_requests`)."""
        with self._lock:
            self.summary.planned = _merged(self.summary.planned, requests)

    def transferred(self, action: Action, result: TransferResult) -> None:
        s = self.summary
        with self._lock:
            if result.outcome is Outcome.COPIED:
                (s.copied_new if action is Action.COPY_NEW else s.copied_changed).add(result.size)
            elif result.outcome is Outcome.SOURCE_CHANGED:
                s.source_changed.add(result.size)
            elif result.outcome is Outcome.INTERRUPTED:
                s.interrupted.add(result.size)
            elif result.outcome is Outcome.KEPT:  # it differs, as found when written
                s.decisions[action.value].remove(result.size)
                self._differs(result.key, result.error or "", result.size)
            else:
                s.failed.add(result.size)
                self._keep_failure(result.key, result.error or "failed")

    def not_mirrored(self, key: str, size: int, reason: str) -> None:
        """An object failed without a transfer (a key the target cannot hold, archived)."""
        with self._lock:
            self.summary.failed.add(size)
            self._keep_failure(key, reason)

    def _keep_failure(self, key: str, error: str) -> None:
        if len(self.summary.failures) < MAX_FAILURES_KEPT:
            self.summary.failures.append(Failure(key, error))
        else:
            self.summary.failures_not_kept += 1


@dataclass
class RunSummary:
    service: str
    dry_run: bool
    started_at: str
    pairs: list[PairSummary]
    seconds: float = 0.0
    interrupted: bool = False
    # the run's prefixes came from date templates: the next run lists other folders, and
    # what this one left is listed again only by a run without them (the weekly full sync)
    dated_prefixes: bool = False
    prices: Mapping[str, Pricing] = field(default_factory=dict)  # by alias

    @property
    def finished_at(self) -> str:
        started = datetime.fromisoformat(self.started_at)
        return (started + timedelta(seconds=round(self.seconds))).isoformat(timespec="seconds")

    @property
    def bytes_per_second(self) -> float:
        copied = self.total("copied").bytes
        return copied / self.seconds if self.seconds > 0 else 0.0

    def pricing(self, alias: str) -> Pricing:
        return self.prices.get(alias, TABLES["unknown"])

    def cost(self, pair: PairSummary,
             requests: Mapping[str, Mapping[str, int]] | None = None) -> Cost:
        """The pair's requests (or `requests`), each side priced by its alias's table."""
        sent = pair.requests if requests is None else requests
        sides = {side: SideCost(self.pricing(pair.alias(side)),
                                self.pricing(pair.alias(side)).cost(sent.get(side, {})))
                 for side in SIDES}
        return Cost(sum((c.usd for c in sides.values() if c.usd is not None), Decimal(0)),
                    all(c.usd is not None for c in sides.values()), sides)

    def projected_cost(self, pair: PairSummary) -> Cost:
        """A dry run's estimate of a real run: its listing plus the requests each copy would
        take (retries, and fallbacks from a part-for-part copy, would add to it)."""
        return self.cost(pair, pair.projected_requests())

    def total_cost(self, projected: bool = False) -> Cost:
        costs = [self.projected_cost(p) if projected else self.cost(p) for p in self.pairs]
        return Cost(sum((c.usd for c in costs), Decimal(0)), all(c.complete for c in costs))

    @property
    def status(self) -> Status:
        if self.interrupted:
            return Status.INTERRUPTED
        statuses = {p.status for p in self.pairs}
        if statuses == {Status.SUCCESS} or not statuses:
            return Status.SUCCESS
        if statuses == {Status.FAILED}:
            return Status.FAILED
        return Status.PARTIAL

    def total(self, attribute: str) -> Count:
        counts = [getattr(p, attribute) for p in self.pairs]
        return Count(sum(c.objects for c in counts), sum(c.bytes for c in counts))

    def requests(self) -> dict[str, dict[str, int]]:
        """Requests per side and operation over all pairs."""
        return _merged(*(pair.requests for pair in self.pairs))

    def _pair_dict(self, pair: PairSummary) -> dict[str, Any]:
        data = {**pair.to_dict(), "cost": self.cost(pair).to_dict()}
        if self.dry_run:
            data["projected_cost"] = self.projected_cost(pair).to_dict()
        return data

    def to_dict(self) -> dict[str, Any]:
        """The whole summary as JSON data: the `run.done` event and the report file (SCHEMA)."""
        data = {
            "schema": SCHEMA, "version": __version__,
            "service": self.service, "status": self.status.value, "dry_run": self.dry_run,
            "started_at": self.started_at, "finished_at": self.finished_at,
            "seconds": round(self.seconds, 3), "bytes_per_second": round(self.bytes_per_second),
            "copied": asdict(self.total("copied")), "failed": asdict(self.total("failed")),
            "requests": self.requests(), "cost": self.total_cost().to_dict(),
            "pairs": [self._pair_dict(p) for p in self.pairs],
        }
        if self.dry_run:
            data["projected_requests"] = _merged(*(p.projected_requests() for p in self.pairs))
            data["projected_cost"] = self.total_cost(projected=True).to_dict()
        return data


def _merged(*counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """Requests per side and operation, summed."""
    out: dict[str, dict[str, int]] = {}
    for count in counts:
        for side, ops in count.items():
            tally = out.setdefault(side, {})
            for op, n in ops.items():
                name = str(op)  # an Op of the planned copies: a plain name, as in the log
                tally[name] = tally.get(name, 0) + n
    return {side: dict(sorted(ops.items())) for side, ops in out.items()}

