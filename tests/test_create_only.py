"""Overwrite off means the target's objects are never replaced, also those another client
writes there after the listing showed the key missing: every write of such a run creates
its key or is refused (If-None-Match: *), at no extra request. A refused write is reported
like any object that differs, and kept; the mirror's own write, retried after its answer
was lost, is still its success. A store that does not implement the header is written to
plainly."""

from __future__ import annotations

import os
from typing import Any

from conftest import Run, base_env, contents, new_bucket, proxy_in_front, put, run_mirror
from test_large_objects import _lose_first
from test_transport import answer, s3_error

from bench.proxy import classify
from mirror.sandbox import LocalS3

MIB = 1024 * 1024
SOURCE = {"a.txt": b"from the source, a", "b.txt": b"from the source, b"}
THEIRS = b"written on the target by someone else"


def _write_before_the(op_name: str, key: str, server: LocalS3, bucket: str,
                      body: bytes = THEIRS) -> tuple[list[str], Any]:
    """A proxy hook: another client writes `key` on the target just before the mirror's
    first `op_name` request for it reaches the server."""
    done: list[str] = []

    def hook(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        op, found = classify(method, target, headers)
        if op == op_name and found is not None and found.endswith(key) and not done:
            server.boto3().put_object(Bucket=bucket, Key=key, Body=body)
            done.append(headers.get("if-none-match", ""))
        return None

    return done, hook


def _mirror_through_a_proxy(minio_side: LocalS3, aws_side: LocalS3, src: str, dst: str,
                            env: dict[str, str] | None = None,
                            **hooks: Any) -> tuple[Run, dict[str, int]]:
    """Mirror `src` into `dst` with a proxy (`hooks`) before the target: the run, and the
    requests the target was sent."""
    with proxy_in_front(aws_side, **hooks) as proxy:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "AWS_URL": proxy.url,
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}", **(env or {})})
        return run, proxy.snapshot()[0]


def _kept_as_theirs(run: Run, key: str,
                    reason: str = "written on the target by another client") -> None:
    assert run.code == 0, run.stderr[-2000:]
    kept = run.named("object.differs_kept")
    assert [e["key"] for e in kept] == [key]
    assert reason in kept[0]["reason"]
    assert run.decisions().get("differs-kept") == 1
    assert [d["key"] for d in run.pair()["differs"]] == [key]


def test_an_object_written_on_the_target_during_the_run_is_kept(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, SOURCE)
    raced, hook = _write_before_the("PUT", "b.txt", aws_side, dst)
    run, _ = _mirror_through_a_proxy(minio_side, aws_side, src, dst, answer=hook)

    assert raced == ["*"]  # the PUT that found the key taken was create-only
    _kept_as_theirs(run, "b.txt")
    assert [e["key"] for e in run.named("object.copied")] == ["a.txt"]
    assert run.pair()["copied"]["objects"] == 1
    assert contents(aws_side, dst) == {"a.txt": SOURCE["a.txt"], "b.txt": THEIRS}

    again = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                        "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})
    _kept_as_theirs(again, "b.txt", "content differs (MD5)")  # as the first run reported
    assert contents(aws_side, dst) == {"a.txt": SOURCE["a.txt"], "b.txt": THEIRS}


def test_a_refusal_as_older_minio_answers_it_is_kept_too(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """MinIO before 2024 refused a PUT with If-None-Match: * on an existing key with 304
    Not Modified, not 412: the same object kept, not a failed one."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, SOURCE)
    raced, write_first = _write_before_the("PUT", "b.txt", aws_side, dst)

    def as_older_minio(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        write_first(method, target, headers)
        if raced and method == "PUT" and target.endswith("/b.txt"):
            return answer("304 Not Modified", "")
        return None

    run, _ = _mirror_through_a_proxy(minio_side, aws_side, src, dst, answer=as_older_minio)

    _kept_as_theirs(run, "b.txt")
    assert contents(aws_side, dst) == {"a.txt": SOURCE["a.txt"], "b.txt": THEIRS}


def test_a_multipart_copy_is_not_completed_over_an_object_written_meanwhile(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = os.urandom(12 * MIB)
    put(minio_side, src, {"model.bin": body})
    raced, hook = _write_before_the("MPU_COMPLETE", "model.bin", aws_side, dst)
    run, _ = _mirror_through_a_proxy(
        minio_side, aws_side, src, dst,
        {"MIRROR_PART_SIZE": "5MiB", "MIRROR_MULTIPART_THRESHOLD": "5MiB"}, answer=hook)

    assert raced == ["*"]
    _kept_as_theirs(run, "model.bin")
    assert contents(aws_side, dst) == {"model.bin": THEIRS}
    assert aws_side.boto3().list_multipart_uploads(Bucket=dst).get("Uploads", []) == []


def test_a_server_side_copy_does_not_replace_an_object_written_meanwhile(
        minio_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(minio_side, "dst")
    put(minio_side, src, SOURCE)
    raced, hook = _write_before_the("COPY", "b.txt", minio_side, dst)
    with proxy_in_front(minio_side, answer=hook) as proxy:
        run = run_mirror({**base_env(minio=minio_side), "MINIO_URL": proxy.url,
                          "BUCKET_PAIR": f"minio/{src}:minio/{dst}"})
        counted = proxy.snapshot()[0]

    assert counted.get("COPY") == 2  # copied within the store
    assert "GET" not in counted
    assert raced == ["*"]
    _kept_as_theirs(run, "b.txt")
    assert contents(minio_side, dst) == {"a.txt": SOURCE["a.txt"], "b.txt": THEIRS}


def test_its_own_put_retried_after_a_lost_answer_is_a_copy(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """The PUT landed but its answer was lost: the retry finds the key taken (412), by the
    bytes it sent, and that is the copy done, not another client's object."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, SOURCE)
    lost, lose = _lose_first(lambda method, target: method == "PUT" and "b.txt" in target)
    run, counted = _mirror_through_a_proxy(minio_side, aws_side, src, dst, lose=lose)

    assert run.code == 0, run.stderr[-2000:]
    assert len(lost) == 1
    assert sorted(e["key"] for e in run.named("object.copied")) == ["a.txt", "b.txt"]
    assert run.named("object.differs_kept") == []
    assert counted["PUT"] == 3  # a.txt, b.txt and its retry
    assert counted["HEAD"] == 1  # one look at what the retry found
    assert contents(aws_side, dst) == SOURCE


def test_overwrite_on_replaces_what_was_written_meanwhile(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """With overwrite on, the source wins, as it would on the next run anyway."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, SOURCE)
    raced, hook = _write_before_the("PUT", "b.txt", aws_side, dst)
    run, _ = _mirror_through_a_proxy(minio_side, aws_side, src, dst,
                                     {"MIRROR_OVERWRITE": "true"}, answer=hook)

    assert run.code == 0, run.stderr[-2000:]
    assert raced == [""]
    assert contents(aws_side, dst) == SOURCE


def test_a_store_that_does_not_implement_create_only_writes_is_written_plainly(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """A store answering the header with 501 NotImplemented: the object is written again
    without it, and so are the pair's later ones (one refusal in all)."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"k{i:02}": os.urandom(1000 + i) for i in range(12)}
    put(minio_side, src, objects)
    refused: list[str] = []

    def no_conditions(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        if method == "PUT" and "if-none-match" in headers:
            refused.append(target)
            return s3_error("501 Not Implemented", "NotImplemented",
                            "A header you provided implies functionality that is not "
                            "implemented")
        return None

    run, _ = _mirror_through_a_proxy(minio_side, aws_side, src, dst,
                                     {"MIRROR_MAX_WORKERS": "1"}, answer=no_conditions)

    assert run.code == 0, run.stderr[-2000:]
    assert len(refused) == 1
    assert len(run.named("object.copied")) == 12
    assert contents(aws_side, dst) == objects
