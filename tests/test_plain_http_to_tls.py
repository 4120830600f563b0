"""`http://` written for an endpoint that speaks TLS (a MinIO, SeaweedFS or rclone behind
https, the usual production setup): the server's answer says so ("Client sent an HTTP
request to an HTTPS server"), and the pair's error names the fix, as it does for the
opposite mistake (https:// for a plain-http port)."""

from __future__ import annotations

from conftest import base_env, contents, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3


def test_http_to_an_https_port_names_the_scheme_to_use(tls_rclone: LocalS3,
                                                       aws_side: LocalS3) -> None:
    src, dst = new_bucket(tls_rclone, "src"), new_bucket(aws_side, "dst")
    put(tls_rclone, src, {"a.txt": b"a"})
    env = {**base_env(minio=tls_rclone, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
           "MINIO_URL": tls_rclone.url.replace("https://", "http://")}

    run = run_mirror(env)

    assert run.code == 1
    error = run.pair()["error"]
    assert error.startswith(f"cannot list the source minio/{src}: ")
    assert "use https:// in MINIO_URL" in error
    assert "not an S3 answer" not in error
    assert contents(aws_side, dst) == {}

    fixed = run_mirror({**env, "MINIO_URL": tls_rclone.url})

    assert fixed.code == 0
    assert contents(aws_side, dst) == {"a.txt": b"a"}
