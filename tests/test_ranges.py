"""Large listings are cut into key ranges listed and merged side by side, exactly."""

from __future__ import annotations

import random
import threading

import pytest
from conftest import Run, base_env, contents, listing, new_bucket, put, run_mirror

from mirror.order import ListingOrderError, checked
from mirror.providers import ListingOrder
from mirror.s3.listing import ListPage, ObjectInfo
from mirror.sandbox import LocalS3
from mirror.scan import Scope, ranged

FOLDERS = [f"2025/{m:02d}/{d:02d}/" for m in (1, 2, 3) for d in range(1, 11)]


def _objects(markers: bool) -> dict[str, bytes]:
    objects = {f"{folder}{name}-{i}.jpg": f"{folder}{i}".encode()
               for folder in FOLDERS for i in range(60) for name in ("img", "img!x")}
    objects.update({f"{folder[:-1]}-summary.txt": b"s" for folder in FOLDERS})
    if markers:  # a folder marker at every possible range boundary
        objects.update(dict.fromkeys(FOLDERS, b""))
    return objects


def _mirror_twice(source: LocalS3, target: LocalS3, objects: dict[str, bytes],
                  every: int) -> tuple[Run, Run]:
    """Seed `objects` (every `every`-th one already on the target), mirror, mirror again.

    Checks what both runs must show: the first copies exactly what was missing and the
    target then holds every key byte for byte; the rerun finds everything unchanged."""
    src, dst = new_bucket(source, "src"), new_bucket(target, "dst")
    put(source, src, objects)
    existing = dict(list(sorted(objects.items()))[::every])
    put(target, dst, existing)
    env = {**base_env(src=source, dst=target), "MIRROR_MAX_WORKERS": "16",
           "BUCKET_PAIR": f"src/{src}:dst/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.decisions() == {"copy-new": len(objects) - len(existing),
                               "unchanged": len(existing)}
    assert contents(target, dst) == objects
    rerun = run_mirror(env)
    assert rerun.decisions() == {"unchanged": len(objects)}
    assert len(listing(target, dst)) == len(objects)
    return run, rerun


@pytest.mark.parametrize("server_name", ["minio_side", "rclone_side"])
def test_a_large_listing_is_split_into_ranges_and_stays_exact(
        request: pytest.FixtureRequest, server_name: str, aws_side: LocalS3) -> None:
    """3,630 keys over 30 folders: several ranges, every key decided once, bytes equal."""
    server: LocalS3 = request.getfixturevalue(server_name)
    target = aws_side if server_name == "minio_side" else server
    objects = _objects(markers=server_name == "minio_side")  # rclone cannot hold markers

    run, rerun = _mirror_twice(server, target, objects, every=7)

    assert run.named("pair.ranges")[0]["ranges"] > 2
    ranges = rerun.named("pair.ranges")[0]["ranges"]
    pages = -(-len(objects) // 1000)
    assert rerun.requests("target")["LIST"] <= pages + ranges
    assert set(rerun.requests("target")) == {"LIST"}


FLAT_KEYS = {
    "hex": lambda i, rng: f"{rng.getrandbits(48):012x}.blob",  # content-addressed
    "cjk": lambda i, rng: f"{chr(0x4E00 + rng.randrange(2000))}{i} ?+=.txt",  # beyond ASCII
}


@pytest.mark.parametrize("shape", FLAT_KEYS)
def test_a_flat_listing_without_folders_is_cut_by_key_and_stays_exact(
        rclone_side: LocalS3, shape: str) -> None:
    """3,600 keys and no '/': probes find the greatest key, the rest is cut into ranges by
    key; every key decided once, bytes equal, and the rerun lists only."""
    rng = random.Random(7)
    objects = {FLAT_KEYS[shape](i, rng): bytes([i % 251]) * (i % 7) for i in range(3600)}

    run, rerun = _mirror_twice(rclone_side, rclone_side, objects, every=5)

    assert run.named("pair.ranges")[0]["ranges"] > 4
    assert set(rerun.requests("source")) == set(rerun.requests("target")) == {"LIST"}
    pages = -(-len(objects) // 1000)
    assert rerun.requests("source")["LIST"] <= pages + 8 + 32 + 8  # pages, folder look,
    # probes, a partial page per range


def _page(*keys: str) -> ListPage:
    return ListPage([ObjectInfo(k, 1, "", "2025-01-01T00:00:00.000Z") for k in keys], [], None)


# A server declared to list in UTF-8 order that lists folders first (SeaweedFS behind a
# host name the provider table does not know), cut into ranges at the folder 'c-/'.
FOLDERS_FIRST_PAGE = ("c/a", "c/z", "c!", "c-/x", "d")


@pytest.mark.parametrize(("after", "until"), [(None, "c-/"), ("c-/", None)],
                         ids=["range ending at the boundary", "range starting after it"])
def test_a_range_does_not_hide_keys_listed_out_of_order(after: str | None,
                                                        until: str | None) -> None:
    """The page that crosses a range's end is checked whole before the keys past the end
    are left to the next range, and a range's first key must come after its start: the
    misplaced 'c!' and 'c/...' stop the pair instead of falling between two ranges."""
    first = _page(*(FOLDERS_FIRST_PAGE if until else FOLDERS_FIRST_PAGE[2:]))
    scope = Scope("bucket", "", 0)
    pages = ranged(None, scope, after, until, ListingOrder.UTF8, (first,))  # type: ignore[arg-type]

    with pytest.raises(ListingOrderError, match="'c!' comes after"):
        list(checked((o for page in pages for o in page), ListingOrder.UTF8, "source",
                     "SRC_PROVIDER", after, until))


@pytest.mark.parametrize("server_name", ["minio_side", "rclone_side"])
def test_folders_after_pages_of_files_are_still_split(
        request: pytest.FixtureRequest, server_name: str, aws_side: LocalS3) -> None:
    """3,200 files at the top, listed before 30 folders: the folders are looked for after
    the pages already listed, not in a first page of files that hides them."""
    server: LocalS3 = request.getfixturevalue(server_name)
    target = aws_side if server_name == "minio_side" else server
    objects = {f"a-{i:04d}.txt": bytes([i % 251]) for i in range(3200)}
    objects.update({f"b/{f:02d}/{i}.jpg": f"{f}/{i}".encode()
                    for f in range(30) for i in range(40)})

    run, _ = _mirror_twice(server, target, objects, every=9)

    assert run.named("pair.ranges")[0]["ranges"] > 2


def test_keys_under_a_target_file_listed_in_an_earlier_range_are_refused(
        rclone_side: LocalS3) -> None:
    """The target's file 'k' is in the range cut at 'k/', the source's 'k/x' in the next:
    refused up front as in one range, not sent to fail with a 500 five times."""
    src, dst = new_bucket(rclone_side, "src"), new_bucket(rclone_side, "dst")
    put(rclone_side, src, {**{f"a-{i:04d}": b"a" for i in range(3200)}, "b/x": b"", "k/x": b""})
    put(rclone_side, dst, {"k": b"the target's own k"})

    run = run_mirror({**base_env(src=rclone_side, dst=rclone_side),
                      "BUCKET_PAIR": f"src/{src}:dst/{dst}"})

    assert run.named("pair.ranges")[0]["ranges"] == 2
    assert run.decisions() == {"copy-new": 3201, "target-only": 1, "unsupported-key": 1}
    assert run.requests("target")["COPY"] == 3201
    assert contents(rclone_side, dst, "k") == {"k": b"the target's own k"}


def test_a_key_rclone_lists_twice_while_it_is_rewritten_is_one_object(
        rclone_side: LocalS3) -> None:
    """rclone serve s3 lists an object being replaced twice in one page (the new file and
    the one it replaces), which stopped the pair as a listing 'not in order'. Others
    rewriting the target, or the mirror's own overwrites in one range landing in the next
    range's first keys (which the page ending a range lists too), caused it. Each key is
    decided once, from its latest entry."""
    src, dst = new_bucket(rclone_side, "src"), new_bucket(rclone_side, "dst")
    objects = {f"{i:05d}.blob": b"same bytes" for i in range(4000)}
    put(rclone_side, src, objects)
    put(rclone_side, dst, objects)
    env = {**base_env(src=rclone_side, dst=rclone_side), "MIRROR_DRY_RUN": "true",
           "BUCKET_PAIR": f"src/{src}:dst/{dst}"}
    s3 = rclone_side.boto3()
    stop = threading.Event()

    def rewrite(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            s3.put_object(Bucket=dst, Key=f"{rng.randrange(4000):05d}.blob", Body=b"same bytes")

    writers = [threading.Thread(target=rewrite, args=(i,)) for i in range(4)]
    for writer in writers:
        writer.start()
    try:
        runs = [run_mirror(env) for _ in range(3)]
    finally:
        stop.set()
        for writer in writers:
            writer.join()

    for run in runs:
        assert run.pair()["error"] is None
        assert run.decisions() == {"unchanged": 4000}
