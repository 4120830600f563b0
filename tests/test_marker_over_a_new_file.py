"""A folder marker `k/` and a file `k` that one run copies to SeaweedFS, where they are one
entry: the marker, written after the pair's other copies, would replace the file."""

from __future__ import annotations

from conftest import base_env, contents, new_bucket, proxy_in_front, put, relisted, run_mirror

from mirror.sandbox import LocalS3

EMPTY = b"d41d8cd98f00b204e9800998ecf8427e"


def _source_with_a_marker(server: LocalS3, bucket: str):  # type: ignore[no-untyped-def]
    """A proxy before SeaweedFS that lists a marker `k/` beside `k` and `k/x` (as AWS or
    MinIO hold them, which SeaweedFS cannot), and serves it empty."""
    marker = (b"<Contents><Key>k/</Key><LastModified>2025-01-01T00:00:00.000Z</LastModified>"
              b"<ETag>&#34;" + EMPTY + b"&#34;</ETag><Size>0</Size>"
              b"<StorageClass>STANDARD</StorageClass></Contents>")

    def answer(method: str, target: str, headers: dict[str, str]) -> bytes | None:
        if method in ("GET", "HEAD") and target.split("?", maxsplit=1)[0] == f"/{bucket}/k/":
            return (b'HTTP/1.1 200 OK\r\nETag: "' + EMPTY + b'"\r\nContent-Length: 0\r\n'
                    b"Last-Modified: Wed, 01 Jan 2025 00:00:00 GMT\r\n\r\n")
        if method != "GET" or "list-type=2" not in target:
            return None
        return relisted(server, target, headers, lambda body: body.replace(
            b"<Contents><Key>k/x</Key>", marker + b"<Contents><Key>k/x</Key>"))

    return proxy_in_front(server, answer=answer)


def test_a_marker_is_not_written_over_a_file_the_same_run_copies(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """The run that copies `k` must not then write `k/` over it (the copy was reported,
    the target held none): the marker is refused as for a file the target already held."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"k/x": b"under k", "k": b"the file k"})
    proxy = _source_with_a_marker(minio_side, src)
    env = {**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": proxy.url,
           "MINIO_PROVIDER": "minio", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    try:
        run = run_mirror(env)
    finally:
        proxy.close()

    assert contents(aws_side, dst) == {"k": b"the file k", "k/x": b"under k"}
    assert run.code == 1, run.stderr[-2000:]
    (failed,) = run.named("object.failed")
    assert failed["key"] == "k/"
    assert "would replace the target's file 'k'" in failed["error"]
    assert sorted(e["key"] for e in run.named("object.copied")) == ["k", "k/x"]
