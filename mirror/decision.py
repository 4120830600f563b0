"""Does this key need copying? One pure function, a closed set of outcomes, each with a reason.

The change rule (the README states it too): an object on both sides is *unchanged* when
- both ETags are plain MD5s of the content (trusted for both stores) and they are equal, or
- the ETags cannot be compared, the sizes are equal, and the source was not modified
  after the target copy was written (compared to the second: some stores keep only
  whole seconds).
It is *different* when the MD5s differ, or (ETags not comparable) the sizes differ or the
source is newer. Different objects are copied only with overwrite on; otherwise they are
kept and reported. Nothing that exists only on the target is ever touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from mirror.exclude import Exclude
from mirror.providers import Provider
from mirror.s3.listing import ObjectInfo

_MD5 = re.compile(r"^[0-9a-f]{32}$")
ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
KEPT = "; kept (overwrite is off)"  # ends the reason of a difference not copied


class Action(StrEnum):
    COPY_NEW = "copy-new"  # only on the source
    COPY_CHANGED = "copy-changed"  # on both, different, overwrite on
    UNCHANGED = "unchanged"  # on both and the same: no request at all
    DIFFERS_KEPT = "differs-kept"  # on both, different, overwrite off: reported
    TARGET_ONLY = "target-only"  # only on the target: left alone
    EXCLUDED = "excluded"  # matches MIRROR_EXCLUDE
    UNSUPPORTED = "unsupported-key"  # the target store would rename or reject this key
    ARCHIVED = "archived"  # the source object must be restored before it can be read


COPY_ACTIONS = frozenset({Action.COPY_NEW, Action.COPY_CHANGED})


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str


@dataclass(frozen=True)
class Policy:
    overwrite: bool
    exclude: Exclude
    target_provider: Provider
    compare_etags: bool  # both stores' single-part ETags are MD5s of the content
    target_prefix: str = ""  # the target pair's folder: a relative key's name there follows it


NO_MARKERS = ("an empty folder marker, which {} does not hold (its folders exist by the keys "
              "in them): nothing to copy")
PREFIX_MARKER = ("the folder marker of the source's pair prefix: the target pair names no "
                 "folder, and its bucket needs no marker")


def is_plain_md5(etag: str) -> bool:
    return bool(_MD5.match(etag))


def whole_second(timestamp: str) -> str:
    """'2025-01-22T10:00:00.123Z' -> '2025-01-22T10:00:00' (UTC), comparable as text."""
    if len(timestamp) >= 20 and timestamp[10] == "T" and timestamp.endswith("Z"):
        return timestamp[:19]
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _difference(source: ObjectInfo, target: ObjectInfo, compare_etags: bool) -> str | None:
    if compare_etags and is_plain_md5(source.etag) and is_plain_md5(target.etag):
        return None if source.etag == target.etag else "content differs (MD5)"
    if source.size != target.size:
        return f"size differs ({source.size} on source, {target.size} on target)"
    source_time = whole_second(source.last_modified)
    target_time = whole_second(target.last_modified)
    if source_time and target_time and source_time > target_time:
        return "source modified after the target copy was written"
    return None


def _archived(source: ObjectInfo, restored: Callable[[ObjectInfo], bool]) -> Decision | None:
    """An object in an archive class that cannot be read now. A restored one keeps its
    class (S3 serves a temporary copy beside the archive), so only `restored`, which asks
    the source, can tell it from one that was not: it is asked last, for objects to copy."""
    if source.storage_class not in ARCHIVED_CLASSES or restored(source):
        return None
    return Decision(Action.ARCHIVED, f"in {source.storage_class}; restore it first")


def decide(source: ObjectInfo | None, target: ObjectInfo | None, policy: Policy,
           restored: Callable[[ObjectInfo], bool] = lambda _: False) -> Decision:
    if source is None:
        return Decision(Action.TARGET_ONLY, "only on the target; never touched")
    if policy.exclude.matches(source.key):
        return Decision(Action.EXCLUDED, "matches MIRROR_EXCLUDE")
    if target is None:
        if not source.key and not policy.target_prefix:
            return Decision(Action.EXCLUDED, PREFIX_MARKER)  # its target key would be ''
        if (source.size == 0 and source.key[-1:] in ("", "/")
                and not policy.target_provider.folder_markers):
            return Decision(Action.EXCLUDED, NO_MARKERS.format(policy.target_provider.name))
        problem = policy.target_provider.key_problem(policy.target_prefix + source.key,
                                                     source.size)
        if problem:
            return Decision(Action.UNSUPPORTED, problem)
        return _archived(source, restored) or Decision(Action.COPY_NEW, "missing on the target")
    difference = _difference(source, target, policy.compare_etags)
    if difference is None:
        return Decision(Action.UNCHANGED, "same on both sides")
    if not policy.overwrite:
        return Decision(Action.DIFFERS_KEPT, difference + KEPT)
    return _archived(source, restored) or Decision(Action.COPY_CHANGED, difference)
