"""Large listings are cut into key ranges listed and merged side by side, exactly."""

from __future__ import annotations

import random

import pytest
from conftest import base_env, contents, listing, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3

FOLDERS = [f"2025/{m:02d}/{d:02d}/" for m in (1, 2, 3) for d in range(1, 11)]


def _objects(markers: bool) -> dict[str, bytes]:
    objects = {f"{folder}{name}-{i}.jpg": f"{folder}{i}".encode()
               for folder in FOLDERS for i in range(60) for name in ("img", "img!x")}
    objects.update({f"{folder[:-1]}-summary.txt": b"s" for folder in FOLDERS})
    if markers:  # a folder marker at every possible range boundary
        objects.update(dict.fromkeys(FOLDERS, b""))
    return objects


@pytest.mark.parametrize("server_name", ["minio_side", "rclone_side"])
def test_a_large_listing_is_split_into_ranges_and_stays_exact(
        request: pytest.FixtureRequest, server_name: str, aws_side: LocalS3) -> None:
    """3,630 keys over 30 folders: several ranges, every key decided once, bytes equal."""
    server: LocalS3 = request.getfixturevalue(server_name)
    target = aws_side if server_name == "minio_side" else server
    markers = server_name == "minio_side"  # rclone cannot hold folder markers
    src, dst = new_bucket(server, "src"), new_bucket(target, "dst")
    objects = _objects(markers)
    put(server, src, objects)
    existing = dict(list(sorted(objects.items()))[::7])
    put(target, dst, existing)
    env = {**base_env(src=server, dst=target), "MIRROR_MAX_WORKERS": "16",
           "BUCKET_PAIR": f"src/{src}:dst/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.named("pair.ranges")[0]["ranges"] > 2
    assert run.decisions() == {"copy-new": len(objects) - len(existing),
                               "unchanged": len(existing)}
    assert contents(target, dst) == objects
    rerun = run_mirror(env)
    assert rerun.decisions() == {"unchanged": len(objects)}
    ranges = rerun.named("pair.ranges")[0]["ranges"]
    pages = -(-len(objects) // 1000)
    assert rerun.requests("target")["LIST"] <= pages + ranges
    assert set(rerun.requests("target")) == {"LIST"}
    assert len(listing(target, dst)) == len(objects)


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
    src, dst = new_bucket(rclone_side, "src"), new_bucket(rclone_side, "dst")
    put(rclone_side, src, objects)
    existing = dict(list(sorted(objects.items()))[::5])
    put(rclone_side, dst, existing)
    env = {**base_env(src=rclone_side, dst=rclone_side), "MIRROR_MAX_WORKERS": "16",
           "BUCKET_PAIR": f"src/{src}:dst/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.named("pair.ranges")[0]["ranges"] > 4
    assert run.decisions() == {"copy-new": len(objects) - len(existing),
                               "unchanged": len(existing)}
    assert contents(rclone_side, dst) == objects
    rerun = run_mirror(env)
    assert rerun.decisions() == {"unchanged": len(objects)}
    assert set(rerun.requests("source")) == set(rerun.requests("target")) == {"LIST"}
    pages = -(-len(objects) // 1000)
    assert rerun.requests("source")["LIST"] <= pages + 8 + 32 + 8  # pages, folder look,
    # probes, a partial page per range
