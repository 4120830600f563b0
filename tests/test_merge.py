"""The merge-join and the order checks it relies on, over arbitrary key sets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirror.merge import merge_join
from mirror.order import ListingOrderError, checked, sort_key
from mirror.providers import ListingOrder
from mirror.s3.listing import ObjectInfo

# Keys built from the characters that make the two orders disagree.
keys = st.text(alphabet="ab/-.! 한😀", min_size=1, max_size=8)
key_sets = st.sets(keys, max_size=40)
orders = st.sampled_from(list(ListingOrder))


def listing(names: set[str], order: ListingOrder, tag: str) -> list[ObjectInfo]:
    return [ObjectInfo(k, len(k), tag, "") for k in sorted(names, key=sort_key(order))]


@settings(max_examples=300, deadline=None)
@given(key_sets, key_sets, orders)
def test_merge_pairs_every_key_exactly_once(source: set[str], target: set[str],
                                            order: ListingOrder) -> None:
    """Every key appears once, on the side(s) it exists on, in the merge order."""
    merged = list(merge_join(checked(listing(source, order, "s"), order, "source"),
                             checked(listing(target, order, "t"), order, "target")))
    seen = [(s or t).key for s, t in merged]  # type: ignore[union-attr]
    assert seen == sorted(source | target, key=sort_key(order))
    for s, t in merged:
        key = (s or t).key  # type: ignore[union-attr]
        assert (s is not None) == (key in source)
        assert (t is not None) == (key in target)


@settings(max_examples=200, deadline=None)
@given(st.lists(keys, min_size=2, max_size=30, unique=True), orders)
def test_a_listing_out_of_order_is_detected(names: list[str], order: ListingOrder) -> None:
    """Any listing that is not strictly increasing in the merge order is refused."""
    objects = [ObjectInfo(k, 0, "", "") for k in names]
    in_order = names == sorted(names, key=sort_key(order))
    if in_order:
        assert len(list(checked(objects, order, "source"))) == len(names)
    else:
        with pytest.raises(ListingOrderError, match="source listing is not in"):
            list(checked(objects, order, "source"))


def test_a_repeated_key_is_detected() -> None:
    """A duplicate in a listing is as untrustworthy as a key out of order."""
    objects = [ObjectInfo(k, 0, "", "") for k in ("a", "b", "b")]
    with pytest.raises(ListingOrderError, match="'b' repeats 'b'"):
        list(checked(objects, ListingOrder.UTF8, "target"))


def test_the_two_orders_disagree_exactly_around_slash() -> None:
    """UTF-8 order puts 'dir-x' before 'dir/x'; folders-first order puts it after."""
    names = ["dir/x", "dir-x", "dir.x", "dir!x", "dir0"]
    assert sorted(names, key=sort_key(ListingOrder.UTF8)) == [
        "dir!x", "dir-x", "dir.x", "dir/x", "dir0"]
    assert sorted(names, key=sort_key(ListingOrder.FOLDERS_FIRST)) == [
        "dir/x", "dir!x", "dir-x", "dir.x", "dir0"]
