"""An object the source keeps in an archive tier (S3 Intelligent-Tiering's Archive Access
tiers, which a listing shows only as INTELLIGENT_TIERING; a GLACIER object whose listing was
not trusted) is refused by GET with 403 InvalidObjectState, as AWS answers: that object is
failed, named as archived, and the pair goes on with its other objects. Taken for a refused
permission, it stopped the whole pair (every night, at the same object)."""

from __future__ import annotations

from conftest import base_env, contents, new_bucket, proxy_in_front, put, run_mirror
from test_transport import s3_error

from bench.proxy import classify
from mirror.s3.errors import S3Error, Severity
from mirror.sandbox import LocalS3

ARCHIVED = "a-archived.bin"
INVALID_OBJECT_STATE = s3_error("403 Forbidden", "InvalidObjectState",
                                "The operation is not valid for the object's storage class")


def test_invalid_object_state_is_one_archived_object_not_a_refused_permission() -> None:
    error = S3Error.from_response(403, {}, INVALID_OBJECT_STATE.split(b"\r\n\r\n", 1)[1],
                                  operation="GET", bucket="b", key=ARCHIVED)
    assert error.severity is Severity.OBJECT
    assert error.kind == "object is archived (restore it first)"


def test_an_archived_object_fails_alone_and_the_pair_goes_on(minio_side: LocalS3,
                                                             aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    later = {f"later/{i:03d}.txt": f"object {i}".encode() for i in range(60)}
    put(minio_side, src, {ARCHIVED: b"cold bytes", **later})

    def answer(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        op, key = classify(method, target, headers)
        if op in ("GET", "HEAD") and key is not None and key.endswith(ARCHIVED):
            return INVALID_OBJECT_STATE
        return None

    with proxy_in_front(minio_side, answer=answer) as proxy:
        run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                          "MINIO_URL": proxy.url, "MIRROR_MAX_WORKERS": "1",
                          "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 1, run.stderr[-2000:]
    pair = run.pair()
    assert pair["error"] is None
    assert pair["status"] == "partial"
    assert contents(aws_side, dst) == later
    failed = run.named("object.failed")
    assert [e["key"] for e in failed] == [ARCHIVED]
    assert "archived" in failed[0]["error"]
    assert "permission" not in failed[0]["error"]
