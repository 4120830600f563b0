"""A GLACIER or DEEP_ARCHIVE object stays in its storage class once restored (S3 keeps the
archive and serves a temporary copy): its listing never changes. The run reports it as
archived ("restore it first"); once it is restored, the next run must copy it, which only
the source's HEAD can tell (x-amz-restore: ongoing-request="false"). Decided from the
listing alone, a restored object was reported as archived on every run, and never copied."""

from __future__ import annotations

from conftest import base_env, contents, new_bucket, proxy_in_front, put, relisted, run_mirror
from test_decision import obj, policy

from bench.proxy import classify
from mirror.decision import Action, decide
from mirror.sandbox import LocalS3

RESTORED = b'ongoing-request="false", expiry-date="Fri, 21 Dec 2040 00:00:00 GMT"'


def test_a_restored_archived_object_is_copied() -> None:
    cold = obj(storage_class="GLACIER")
    assert decide(cold, None, policy()).action is Action.ARCHIVED
    assert decide(cold, None, policy(), restored=lambda _: True).action is Action.COPY_NEW


def _archive(server: LocalS3, bucket: str, restored: set[str], archived: set[str]):  # type: ignore[no-untyped-def]
    """A proxy before `server` that lists `archived` keys in GLACIER, and answers the HEAD
    of the `restored` ones with the header S3 gives a restored copy."""
    def in_glacier(body: bytes) -> bytes:
        for key in archived:
            start = body.index(b"<Key>" + key.encode() + b"</Key>")
            end = body.index(b"</Contents>", start)
            body = body[:start] + body[start:end].replace(
                b"<StorageClass>STANDARD</StorageClass>",
                b"<StorageClass>GLACIER</StorageClass>") + body[end:]
        return body

    def answer(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        op, key = classify(method, target, headers)
        if op == "LIST":
            return relisted(server, target, headers, in_glacier)
        if op == "HEAD" and key is not None and key.split("/", 1)[-1] in restored:
            original = server.boto3().head_object(Bucket=bucket, Key=key.split("/", 1)[-1])
            return (b"HTTP/1.1 200 OK\r\nETag: " + original["ETag"].encode()
                    + b"\r\nContent-Length: " + str(original["ContentLength"]).encode()
                    + b"\r\nx-amz-storage-class: GLACIER\r\nx-amz-restore: " + RESTORED
                    + b"\r\n\r\n")
        return None

    return proxy_in_front(server, answer=answer)


def test_an_archived_object_is_copied_once_it_is_restored(minio_side: LocalS3,
                                                         aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"cold.bin": b"restored bytes", "frozen.bin": b"still archived",
                          "warm.bin": b"standard"})
    proxy = _archive(minio_side, src, restored={"cold.bin"},
                     archived={"cold.bin", "frozen.bin"})
    try:
        env = {**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": proxy.url,
               "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
        run = run_mirror(env)
        again = run_mirror(env)
    finally:
        proxy.close()

    assert run.code == 1, run.stderr[-2000:]
    assert run.decisions() == {"copy-new": 2, "archived": 1}
    assert contents(aws_side, dst) == {"cold.bin": b"restored bytes", "warm.bin": b"standard"}
    assert [e["key"] for e in run.named("object.failed")] == ["frozen.bin"]
    assert again.decisions() == {"unchanged": 2, "archived": 1}
    # one HEAD per archived object missing on the target, none for the others
    assert run.requests("source").get("HEAD") == 2
    assert again.requests("source").get("HEAD") == 1
