"""What a run looks at: MIRROR_PREFIX, pair folders, exclude patterns."""

from __future__ import annotations

from conftest import base_env, contents, listing, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3

DAYS = {f"2025/01/{day}/photo-{i}.jpg": f"{day}-{i}".encode()
        for day in ("20", "21", "22", "29") for i in range(3)}


def test_prefix_limits_both_listings_and_the_copies(minio_side: LocalS3,
                                                    aws_side: LocalS3) -> None:
    """MIRROR_PREFIX scans only that prefix on both sides: other keys are not even listed."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, DAYS)
    put(aws_side, dst, {"2025/01/21/elsewhere.txt": b"untouched"})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "MIRROR_PREFIX": "2025/01/22/", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0
    assert contents(aws_side, dst) == {
        "2025/01/21/elsewhere.txt": b"untouched",
        **{k: v for k, v in DAYS.items() if k.startswith("2025/01/22/")}}
    assert run.pair()["listed_source"]["objects"] == 3
    assert run.pair()["listed_target"]["objects"] == 0
    assert run.requests("source") == {"LIST": 1, "GET": 3}


def test_prefix_is_a_plain_key_prefix_and_several_can_be_given(minio_side: LocalS3,
                                                              aws_side: LocalS3) -> None:
    """'2025/01/2' covers days 20-29; a comma separates several prefixes."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {**DAYS, "2025/02/01/a.jpg": b"feb", "other/x": b"x"})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "MIRROR_PREFIX": "2025/01/2, other/",
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0
    assert contents(aws_side, dst) == {**DAYS, "other/x": b"x"}


def test_pair_folders_map_source_keys_into_the_target_folder(minio_side: LocalS3,
                                                             aws_side: LocalS3) -> None:
    """alias/bucket/folder on each side: keys keep their path below the folders."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"exports/2025/a.csv": b"a", "exports/2025/b.csv": b"b",
                          "exports-old/c.csv": b"c", "private/d.csv": b"d"})
    put(aws_side, dst, {"unrelated/e.csv": b"e"})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}/exports:aws/{dst}/minio/exports"})

    assert run.code == 0
    assert contents(aws_side, dst) == {"minio/exports/2025/a.csv": b"a",
                                       "minio/exports/2025/b.csv": b"b",
                                       "unrelated/e.csv": b"e"}
    rerun = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_PREFIX": "2025/",
                        "BUCKET_PAIR": f"minio/{src}/exports:aws/{dst}/minio/exports"})
    assert rerun.decisions() == {"unchanged": 2}


def test_the_source_folders_own_marker_is_not_written_to_the_target_bucket_root(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """`photos/`, the marker the AWS console or mc makes for a folder, is the pair prefix
    itself: its key below the prefix is empty, and a target pair with no folder has no key
    to write it to (a PUT to the bucket's own path would be a CreateBucket). It is skipped
    with a reason, the folder's objects are copied, and the next run has nothing to do."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"photos/": b"", "photos/a.jpg": b"a", "photos/2025/b.jpg": b"b"})
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_DEBUG": "true",
           "BUCKET_PAIR": f"minio/{src}/photos:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {"a.jpg": b"a", "2025/b.jpg": b"b"}
    assert run.decisions() == {"copy-new": 2, "excluded": 1}
    (marker,) = [e for e in run.named("object.decision") if e["action"] == "excluded"]
    assert (marker["key"], marker["reason"].split(":")[0]) == (
        "", "the folder marker of the source's pair prefix")
    assert run_mirror(env).decisions() == {"unchanged": 2, "excluded": 1}


def test_excluded_keys_are_neither_copied_nor_counted_as_failures(minio_side: LocalS3,
                                                                  aws_side: LocalS3) -> None:
    """The original's exclude list plus a folder and an anchored pattern, end to end."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    kept = {"a.jpg": b"a", "x/b.jpg": b"b", "x/logs/c.gz": b"c", "cache2/d": b"d"}
    excluded = {"part.tmp": b"1", "x/y/part.tmp": b"2", "app.log": b"3", ".DS_Store": b"4",
                "x/.DS_Store": b"5", "cache/tmp/e": b"6", "logs/f.gz": b"7"}
    put(minio_side, src, {**kept, **excluded})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "MIRROR_EXCLUDE": "*.tmp,*.log,.DS_Store,cache/,logs/*.gz",
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0
    assert contents(aws_side, dst) == kept
    assert run.decisions() == {"copy-new": len(kept), "excluded": len(excluded)}


def test_empty_folder_markers_are_not_failures_on_a_target_that_keeps_none(
        minio_side: LocalS3, rclone_side: LocalS3) -> None:
    """rclone's folders exist by the keys in them; it holds no `k/` objects. The source's
    empty markers, the pair folder's own included, are excluded (nothing to copy), not
    failed night after night; the files under them are copied."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(rclone_side, "dst")
    put(minio_side, src, {"exports/": b"", "exports/a/": b"", "exports/a/x.csv": b"x",
                          "exports/b.csv": b"b"})
    assert len(listing(minio_side, src)) == 4  # the source holds both markers
    env = {**base_env(minio=minio_side, rclone=rclone_side),
           "BUCKET_PAIR": f"minio/{src}/exports:rclone/{dst}/other"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.decisions() == {"copy-new": 2, "excluded": 2}
    assert contents(rclone_side, dst) == {"other/a/x.csv": b"x", "other/b.csv": b"b"}
    rerun = run_mirror(env)
    assert rerun.code == 0
    assert rerun.decisions() == {"unchanged": 2, "excluded": 2}
