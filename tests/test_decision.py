"""The decision function: every outcome, and the change rule the README states."""

from __future__ import annotations

import pytest

from mirror.decision import Action, Policy, decide, whole_second
from mirror.exclude import parse_exclude
from mirror.providers import PROVIDERS
from mirror.s3.listing import ObjectInfo

MD5_A, MD5_B = "a" * 32, "b" * 32
EARLY, LATE = "2025-01-22T10:00:00.000Z", "2025-01-22T10:00:05.000Z"


def obj(key: str = "k", size: int = 10, etag: str = MD5_A, modified: str = EARLY,
        storage_class: str = "STANDARD") -> ObjectInfo:
    return ObjectInfo(key, size, etag, modified, storage_class)


def policy(overwrite: bool = False, exclude: str = "", target: str = "generic",
           compare_etags: bool = True) -> Policy:
    return Policy(overwrite=overwrite, exclude=parse_exclude(exclude),
                  target_provider=PROVIDERS[target], compare_etags=compare_etags)


def test_source_only_is_copied() -> None:
    """A key missing on the target is copied."""
    assert decide(obj(), None, policy()).action is Action.COPY_NEW


def test_target_only_is_never_touched() -> None:
    """A key only on the target is left alone, excluded or not."""
    assert decide(None, obj(), policy()).action is Action.TARGET_ONLY
    assert decide(None, obj("a.tmp"), policy(exclude="*.tmp")).action is Action.TARGET_ONLY


def test_equal_md5s_mean_unchanged_even_if_the_source_is_newer() -> None:
    """Identical bytes re-uploaded on the source are not copied again."""
    decision = decide(obj(modified=LATE), obj(modified=EARLY), policy())
    assert decision.action is Action.UNCHANGED


def test_different_md5s_mean_changed_even_with_the_same_size_and_older_source() -> None:
    """A same-size rewrite is caught by its MD5 whatever the clocks say."""
    decision = decide(obj(etag=MD5_B, modified=EARLY), obj(modified=LATE), policy())
    assert (decision.action, decision.reason) == (
        Action.DIFFERS_KEPT, "content differs (MD5); kept (overwrite is off)")


@pytest.mark.parametrize(("source", "target", "reason"), [
    (obj(size=11, etag="c" * 32 + "-2"), obj(), "size differs (11 on source, 10 on target)"),
    (obj(etag="c" * 32 + "-2", modified=LATE), obj(modified=EARLY),
     "source modified after the target copy was written"),
])
def test_without_comparable_etags_size_and_time_decide(source: ObjectInfo, target: ObjectInfo,
                                                       reason: str) -> None:
    """A multipart ETag on either side falls back to size, then modification time."""
    decision = decide(source, target, policy(overwrite=True))
    assert (decision.action, decision.reason) == (Action.COPY_CHANGED, reason)


def test_times_compare_to_the_second() -> None:
    """A store keeping whole seconds must not make a fresh copy look older than its source."""
    source = obj(etag="c" * 32 + "-2", modified="2025-01-22T10:00:00.900Z")
    target = obj(etag="d" * 32, modified="2025-01-22T10:00:00Z")
    assert decide(source, target, policy()).action is Action.UNCHANGED
    assert whole_second("2025-01-22T19:00:00+09:00") == "2025-01-22T10:00:00"


def test_untrusted_etags_are_not_compared() -> None:
    """With _ETAG_IS_MD5=false on either side, differing ETags alone change nothing."""
    decision = decide(obj(etag=MD5_B), obj(), policy(compare_etags=False))
    assert decision.action is Action.UNCHANGED


def test_overwrite_copies_what_differs() -> None:
    """With overwrite on, a different object is copied, with the reason."""
    decision = decide(obj(etag=MD5_B), obj(), policy(overwrite=True))
    assert (decision.action, decision.reason) == (Action.COPY_CHANGED, "content differs (MD5)")


def test_excluded_source_keys_are_skipped() -> None:
    """An excluded key is neither copied nor compared."""
    assert decide(obj("x/a.tmp"), None, policy(exclude="*.tmp")).action is Action.EXCLUDED
    assert decide(obj("x/a.tmp", etag=MD5_B), obj("x/a.tmp"),
                  policy(exclude="*.tmp")).action is Action.EXCLUDED


def test_keys_the_target_cannot_hold_are_not_copied_under_another_name() -> None:
    """SeaweedFS would store 'a//b' as 'a/b'; the mirror reports it instead of copying."""
    decision = decide(obj("a//b"), None, policy(target="seaweedfs"))
    assert (decision.action, decision.reason) == (Action.UNSUPPORTED,
                                                  "seaweedfs stores '//' in a key as '/'")
    assert decide(obj("dir/", size=0), None, policy(target="seaweedfs")).action is Action.COPY_NEW
    # rclone holds no folder markers: an empty one is nothing to copy, one with bytes fails
    assert decide(obj("dir/", size=0), None, policy(target="rclone")).action is Action.EXCLUDED
    assert decide(obj("dir/", size=3), None, policy(target="rclone")).action is Action.UNSUPPORTED


@pytest.mark.parametrize("target", ["minio", "seaweedfs", "rclone"])
def test_dot_segments_are_keys_the_stores_refuse(target: str) -> None:
    """AWS holds 'a/../b'; MinIO, SeaweedFS and rclone refuse it (tried on the latter two):
    said so by name, not sent to fail with the store's 'Invalid Request'."""
    for key in ("a/../b", "./c", "d/.", "e/..", "f/./g", ".", ".."):
        decision = decide(obj(key), None, policy(target=target))
        assert (decision.action, decision.reason) == (
            Action.UNSUPPORTED, f"{target} rejects '.' and '..' as a path segment of a key"), key
    for key in ("h..i", ".hidden", "j/.k", "l../m", "n/...", "o/.../p"):
        assert decide(obj(key), None, policy(target=target)).action is Action.COPY_NEW, key
    assert decide(obj("a/../b"), None, policy(target="aws")).action is Action.COPY_NEW


def test_archived_source_objects_are_reported() -> None:
    """A GLACIER object cannot be read without a restore; it is not attempted."""
    decision = decide(obj(storage_class="GLACIER"), None, policy())
    assert decision.action is Action.ARCHIVED
