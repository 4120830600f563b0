"""rclone serve s3 pages, put in order before the merge sees them (mirror.s3.client._sorted).

While new keys land in a folder being listed, rclone can list a key being written first
in a page, far ahead of the page's other keys (seen with 16 writers and ListObjectsV2
pages of 97 keys: one page in a few hundred). Resuming after the page's greatest key then
skipped every existing key in between: the merge took them for absent, decided copy-new,
and overwrote differing target objects with MIRROR_OVERWRITE=false.
"""

from __future__ import annotations

from mirror.s3.client import _RESUME_AFTER, _sorted
from mirror.s3.listing import ListPage, ObjectInfo


def _page(*keys: str, more: bool = True) -> ListPage:
    return ListPage([ObjectInfo(k, 1, "e", "2026-12-01T00:00:00Z") for k in keys], [],
                    "token" if more else None)


def test_a_key_being_written_ahead_of_the_page_does_not_skip_the_keys_between() -> None:
    page = _sorted(_page("d/k02879-new", "d/k01678", "d/k01680", "d/k01682"), "pre/")
    assert [o.key for o in page.objects] == ["d/k01678", "d/k01680", "d/k01682"]
    assert page.next_token == _RESUME_AFTER + "pre/d/k01682"


def test_keys_being_written_in_order_do_not_outnumber_a_short_page() -> None:
    # Four keys being written, ascending and far ahead, before a page of three: the page's
    # own keys are the last run, not the longest one.
    page = _sorted(_page("d/w1", "d/w2", "d/w3", "d/w4", "d/a", "d/b", "d/c"), "")
    assert [o.key for o in page.objects] == ["d/a", "d/b", "d/c"]
    assert page.next_token == _RESUME_AFTER + "d/c"


def test_a_key_being_written_inside_the_page_keeps_its_place() -> None:
    page = _sorted(_page("d/b2", "d/a", "d/b", "d/c"), "")
    assert [o.key for o in page.objects] == ["d/a", "d/b", "d/b2", "d/c"]
    assert page.next_token == _RESUME_AFTER + "d/c"


def test_a_page_in_order_resumes_after_its_last_key_and_keeps_one_entry_per_key() -> None:
    page = _sorted(_page("a", "b", "b", "c"), "")
    assert [o.key for o in page.objects] == ["a", "b", "c"]
    assert page.next_token == _RESUME_AFTER + "c"


def test_the_last_page_keeps_every_key() -> None:
    page = _sorted(_page("z", "a", "b", more=False), "")
    assert [o.key for o in page.objects] == ["a", "b", "z"]
    assert page.next_token is None
