"""Listing order on real servers, and mirrors between servers that disagree about it."""

from __future__ import annotations

import random
import re

import pytest
from conftest import base_env, contents, new_bucket, proxy_in_front, put, relisted, run_mirror

from bench.proxy import CountingProxy
from mirror.order import sort_key
from mirror.providers import PROVIDERS
from mirror.s3.accounting import RequestCounter
from mirror.s3.client import EndpointConfig, PoolRegistry, S3Client
from mirror.s3.sigv4 import Credentials, CredentialSource
from mirror.sandbox import LocalS3
from mirror.scan import Scope, flat, walk

FOLDERS = ["my", "my-data", "my.d", "my!", "my d", "x", "한", "2025"]
LEAVES = ["x", "x-1", "x.1", "x!", "x 1", "my", "z"]


def tricky_keys(rng: random.Random, n: int) -> list[str]:
    """Keys whose UTF-8 and folders-first orders disagree, that every server can store.

    Leaves end in '.f' and folders never do, so no key is both a file and a folder
    (rclone serves a file system, where that cannot exist).
    """
    keys = set()
    while len(keys) < n:
        depth = rng.randint(0, 3)
        keys.add("/".join(rng.choice(FOLDERS) for _ in range(depth)) + ("/" if depth else "")
                 + rng.choice(LEAVES) + ".f")
    return sorted(keys)


def client_for(server: LocalS3) -> S3Client:
    creds = CredentialSource(Credentials(server.access_key, server.secret_key))
    return S3Client(EndpointConfig(server.url, "us-east-1", creds), PoolRegistry(),
                    RequestCounter())


@pytest.fixture(params=["seaweedfs", "rclone"])
def any_server(request: pytest.FixtureRequest) -> LocalS3:
    return request.getfixturevalue("minio_side" if request.param == "seaweedfs"
                                   else "rclone_side")


def test_each_server_lists_in_the_order_its_provider_declares(any_server: LocalS3) -> None:
    """The provider table's listing order is what the real server does."""
    bucket = new_bucket(any_server, "order")
    keys = tricky_keys(random.Random(1), 150)
    put(any_server, bucket, dict.fromkeys(keys, b"x"))

    listed = [o.key for batch in flat(client_for(any_server), Scope(bucket, "", 0))
              for o in batch]

    order = PROVIDERS[any_server.provider].listing_order
    assert listed == sorted(keys, key=sort_key(order))


def test_walking_a_folders_first_server_yields_utf8_order(minio_side: LocalS3) -> None:
    """The folder walk turns SeaweedFS's order into byte order, under any prefix."""
    bucket = new_bucket(minio_side, "walk")
    keys = [*tricky_keys(random.Random(2), 150), "my/", "my-data/"]
    put(minio_side, bucket, dict.fromkeys(keys, b""))
    client = client_for(minio_side)

    walked = [o.key for batch in walk(client, Scope(bucket, "", 0)) for o in batch]
    assert walked == sorted(keys)
    scoped = [o.key for batch in walk(client, Scope(bucket, "my", 0)) for o in batch]
    assert scoped == sorted(k for k in keys if k.startswith("my"))


def test_a_walked_folder_is_handed_on_in_bounded_batches(minio_side: LocalS3) -> None:
    """A folder of many objects and no subfolders is not gathered whole before the merge
    sees it: memory stays at a batch, whatever the folder holds."""
    bucket = new_bucket(minio_side, "walk")
    keys = [f"flat/{i:04}.f" for i in range(120)] + ["flat-x.f", "flat/sub/y.f"]
    put(minio_side, bucket, dict.fromkeys(keys, b""))

    batches = list(walk(client_for(minio_side), Scope(bucket, "", 0), batch_size=50))

    assert [o.key for batch in batches for o in batch] == sorted(keys)
    assert max(len(batch) for batch in batches) == 50


def test_a_page_ending_in_a_key_with_a_control_character_does_not_skip_keys(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """SeaweedFS's continuation token is the page's last key, and XML cannot carry a
    control character: written as U+FFFD, the token would resume after 'm\ufffd' and
    skip every key from 'm\x01' to there. The next page starts after the real key."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"a{i:04}": b"f" for i in range(999)}  # fills the first page but one key
    objects.update(dict.fromkeys(["m\x01", "m\t", "m a", "m!", "m-1", "m.txt", "mz", "m\u00e9",
                                  "n"], b"x"))
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.pair()["listed_source"]["objects"] == len(objects)
    assert contents(aws_side, dst) == objects
    assert run_mirror(env).decisions() == {"unchanged": len(objects)}


def test_a_full_last_page_ending_in_a_key_with_a_replacement_character(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """A bucket of exactly 1000 keys whose greatest holds U+FFFD, as names do that were
    decoded from bytes that were no UTF-8. Its one page is full, so the mirror asks for
    one more after that key, to be sure; that resumption is its own, not a server token
    that lost characters in XML, and the pair lists, copies and converges (it failed with
    "cannot be continued exactly" on SeaweedFS, every run)."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"a{i:04}": b"f" for i in range(999)}
    objects["report-\ufffd.pdf"] = b"the greatest key"
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.pair()["error"] is None
    assert run.pair()["listed_source"]["objects"] == len(objects)
    assert contents(aws_side, dst) == objects
    assert run_mirror(env).decisions() == {"unchanged": len(objects)}


@pytest.mark.parametrize("folder", ["", "p/"])
def test_a_full_page_ending_with_a_file_that_is_also_a_folder_is_not_the_last(
        minio_side: LocalS3, aws_side: LocalS3, folder: str) -> None:
    """SeaweedFS says a full page is the last when it ends with a file `k` that is also a
    folder and the last entry of its own: the keys under `k/` are still to come. They are
    listed and copied, and the rerun finds every key unchanged."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"{folder}a{i:04}": b"f" for i in range(999)}  # the page's last key is k
    objects.update({f"{folder}k": b"file", f"{folder}k/x": b"x", f"{folder}k/y": b"y"})
    put(minio_side, src, objects)
    first = minio_side.boto3().list_objects_v2(Bucket=src, Prefix=folder)
    assert (first["KeyCount"], first["IsTruncated"]) == (1000, False)  # the server's word
    env = {**base_env(minio=minio_side, aws=aws_side),
           "BUCKET_PAIR": f"minio/{src}/{folder}:aws/{dst}/{folder}".replace("/:", ":")}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.pair()["listed_source"]["objects"] == len(objects)
    assert contents(aws_side, dst) == objects
    assert run_mirror(env).decisions() == {"unchanged": len(objects)}


SERVER_PAIRS = [("minio_side", "aws_side"), ("minio_side", "rclone_side"),
                ("rclone_side", "aws_side"), ("rclone_side", "rclone_side")]


@pytest.mark.parametrize(("source_name", "target_name"), SERVER_PAIRS)
def test_mirror_between_servers_decides_every_key_right(
        request: pytest.FixtureRequest, source_name: str, target_name: str) -> None:
    """Whatever order each side lists in, each key gets exactly the right outcome."""
    source: LocalS3 = request.getfixturevalue(source_name)
    target: LocalS3 = request.getfixturevalue(target_name)
    src, dst = new_bucket(source, "src"), new_bucket(target, "dst")
    rng = random.Random(f"{source_name}-{target_name}")
    keys = tricky_keys(rng, 240)
    rng.shuffle(keys)
    same, differing, target_only = keys[:60], keys[60:90], keys[90:110]
    source_objects = {k: f"source {k}".encode() for k in keys[:90] + keys[110:]}
    put(source, src, source_objects)
    put(target, dst, {k: source_objects[k] for k in same})
    put(target, dst, {k: f"other {k}!".encode() for k in differing})
    put(target, dst, {k: b"only here" for k in target_only})
    env = {**base_env(src=source, dst=target), "BUCKET_PAIR": f"src/{src}:dst/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.decisions() == {"unchanged": 60, "differs-kept": 30, "target-only": 20,
                               "copy-new": len(keys) - 110}
    expected = {**source_objects, **{k: f"other {k}!".encode() for k in differing},
                **{k: b"only here" for k in target_only}}
    assert contents(target, dst) == expected
    rerun = run_mirror(env)
    assert rerun.decisions() == {"unchanged": len(keys) - 50, "differs-kept": 30,
                                 "target-only": 20}
    assert rerun.named("object.copied") == []


def test_a_server_declared_with_the_wrong_order_stops_the_pair_naming_the_setting(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """SeaweedFS declared as MinIO (byte order): its folders-first listing is caught by the
    merge's check, the pair stops with the variable to set, and no key is misjudged."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {"dir/x": b"in the folder", "dir-x": b"beside it"}
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side, aws=aws_side), "MINIO_PROVIDER": "minio",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 1
    assert run.pair()["status"] == "failed"
    assert ("the source listing is not in utf8 order: 'dir-x' comes after 'dir/x'; set "
            "MINIO_PROVIDER if this server is not recognised" in run.pair()["error"])
    assert "Traceback" not in run.stderr
    copied = contents(aws_side, dst)  # what was decided before the check fired is whole
    assert copied == {k: v for k, v in objects.items() if k in copied}

    fixed = run_mirror({**env, "MINIO_PROVIDER": "seaweedfs"})
    assert fixed.code == 0, fixed.stderr[-2000:]
    assert contents(aws_side, dst) == objects


@pytest.mark.parametrize("overwrite", ["false", "true"])
def test_a_key_the_target_would_rename_onto_another_is_failed_not_written(
        rclone_side: LocalS3, aws_side: LocalS3, overwrite: str) -> None:
    """SeaweedFS stores `back\\slash` as `back/slash`: copied, it would land on a different
    object. It is reported as failed instead, run after run, and the object it would have
    replaced keeps its bytes, with overwrite on or off."""
    src, dst = new_bucket(rclone_side, "src"), new_bucket(aws_side, "dst")
    put(rclone_side, src, {"back/slash": b"the real back/slash", "back\\slash": b"another"})
    env = {**base_env(src=rclone_side, dst=aws_side), "BUCKET_PAIR": f"src/{src}:dst/{dst}",
           "MIRROR_OVERWRITE": overwrite}

    for run in (run_mirror(env), run_mirror(env)):
        assert run.code == 1, run.stderr[-2000:]
        assert [(e["key"], e["error"]) for e in run.named("object.failed")] == [
            ("back\\slash", "seaweedfs stores '\\' in a key as '/'")]
        assert contents(aws_side, dst) == {"back/slash": b"the real back/slash"}
    assert run.decisions() == {"unchanged": 1, "unsupported-key": 1}


@pytest.mark.parametrize("overwrite", ["false", "true"])
def test_a_folder_marker_is_not_written_over_a_file_of_its_name(
        minio_side: LocalS3, aws_side: LocalS3, overwrite: str) -> None:
    """On SeaweedFS a file `y` and a folder marker `y/` are one entry: writing the marker
    replaces the file (with keys under `y/`, the store lets it). The target's file `y`, here
    kept from elsewhere, keeps its bytes; the marker is reported as failed, run after run."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"y/z": b"y/z", "y/": b""})
    put(aws_side, dst, {"y": b"the target's own y", "y/z": b"y/z"})
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
           "MIRROR_OVERWRITE": overwrite}

    for run in (run_mirror(env), run_mirror(env)):
        assert run.code == 1, run.stderr[-2000:]
        (failed,) = run.named("object.failed")
        assert failed["key"] == "y/"
        assert "would replace the target's file 'y'" in failed["error"]
        assert contents(aws_side, dst) == {"y": b"the target's own y", "y/z": b"y/z"}
    assert run.decisions() == {"unchanged": 1, "unsupported-key": 1, "target-only": 1}


@pytest.mark.parametrize("scope", ["MIRROR_PREFIX", "pair folder"])
def test_a_folder_marker_is_not_written_over_a_file_outside_the_listing(
        minio_side: LocalS3, aws_side: LocalS3, scope: str) -> None:
    """The marker of the listed folder itself (`MIRROR_PREFIX=y/`, or the pair's target
    folder `y/`) would replace a file `y` that no listing shows: it is asked for (one
    HEAD), and kept."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(aws_side, dst, {"y": b"the target's own y", "y/z": b"y/z"})
    env = {**base_env(minio=minio_side, aws=aws_side)}
    if scope == "MIRROR_PREFIX":
        put(minio_side, src, {"y/z": b"y/z", "y/": b""})
        env.update(BUCKET_PAIR=f"minio/{src}:aws/{dst}", MIRROR_PREFIX="y/")
    else:
        put(minio_side, src, {"p/z": b"y/z", "p/": b""})
        env.update(BUCKET_PAIR=f"minio/{src}/p:aws/{dst}/y")

    run = run_mirror(env)

    assert run.code == 1, run.stderr[-2000:]
    (failed,) = run.named("object.failed")
    assert "would replace the target's file 'y'" in failed["error"]
    assert contents(aws_side, dst) == {"y": b"the target's own y", "y/z": b"y/z"}


def _keys_being_written_first(server: LocalS3, ahead: list[bytes]) -> CountingProxy:
    """A proxy before `server` that starts each flat page that has a next one with the
    `ahead` entries: what rclone serve s3 lists while keys land in the folder (measured
    with 16 to 64 writers: up to a few keys being written, in no order and far ahead of
    the page's own keys, always before them)."""
    def written_first(body: bytes) -> bytes:
        entries = re.findall(rb"<Contents>.*?</Contents>", body, re.S)
        if not entries or b"<IsTruncated>true</IsTruncated>" not in body:
            return body
        start = body.index(entries[0])
        return body[:start] + b"".join(ahead) + body[start:]

    def answer(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        if method != "GET" or "list-type=2" not in target or "delimiter=" in target:
            return None
        return relisted(server, target, headers, written_first)

    return proxy_in_front(server, answer=answer)


def test_a_page_rclone_lists_with_keys_being_written_first_is_continued_after_its_own_end(
        rclone_side: LocalS3, minio_side: LocalS3) -> None:
    """rclone's pages are sorted here, and the next is asked for after the page's own
    last key: 1,500 keys over two pages, the first led by five keys far ahead and in
    order (more than the second page's own, were it short), are all copied once, none
    missed or listed twice."""
    src, dst = new_bucket(rclone_side, "src"), new_bucket(minio_side, "dst")
    objects = {f"k{i:04}": b"%d" % i for i in range(1500)}
    put(rclone_side, src, objects)
    listed = rclone_side.boto3().list_objects_v2(Bucket=src, StartAfter="k1489")["Contents"]
    ahead = [b"<Contents><Key>%s</Key><LastModified>2026-12-01T00:00:00.000Z</LastModified>"
             b"<ETag>&quot;%s&quot;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass>"
             b"</Contents>" % (o["Key"].encode(), o["ETag"].strip('"').encode(), o["Size"])
             for o in listed[:5]]
    proxy = _keys_being_written_first(rclone_side, ahead)
    try:
        run = run_mirror({**base_env(rclone=rclone_side, minio=minio_side),
                          "RCLONE_URL": proxy.url, "BUCKET_PAIR": f"rclone/{src}:minio/{dst}"})
    finally:
        proxy.close()

    assert run.code == 0, run.stderr[-2000:]
    assert run.decisions() == {"copy-new": 1500}
    assert run.requests("source") == {"LIST": 2, "GET": 1500}
    assert contents(minio_side, dst) == objects
