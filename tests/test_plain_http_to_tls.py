"""`http://` written for an endpoint that speaks TLS (a MinIO, SeaweedFS or rclone behind
https, the usual production setup): the server's answer says so ("Client sent an HTTP
request to an HTTPS server"), and the pair's error names the fix, as it does for the
opposite mistake (https:// for a plain-http port)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import base_env, contents, new_bucket, put, run_mirror
from test_proxy import _private_ca

from mirror import sandbox
from mirror.sandbox import LocalS3


@pytest.fixture(scope="module")
def https_rclone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    folder = tmp_path_factory.mktemp("https-rclone")
    ca, cert, key = _private_ca(folder)
    server = sandbox.start_rclone(folder / "server", tls=(cert, key), ca_file=ca)
    yield server
    server.stop()


def test_http_to_an_https_port_names_the_scheme_to_use(https_rclone: LocalS3,
                                                       aws_side: LocalS3) -> None:
    src, dst = new_bucket(https_rclone, "src"), new_bucket(aws_side, "dst")
    put(https_rclone, src, {"a.txt": b"a"})
    env = {**base_env(minio=https_rclone, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
           "MINIO_URL": https_rclone.url.replace("https://", "http://")}

    run = run_mirror(env)

    assert run.code == 1
    error = run.pair()["error"]
    assert error.startswith(f"cannot list the source minio/{src}: ")
    assert "use https:// in MINIO_URL" in error
    assert "not an S3 answer" not in error
    assert contents(aws_side, dst) == {}

    fixed = run_mirror({**env, "MINIO_URL": https_rclone.url})

    assert fixed.code == 0
    assert contents(aws_side, dst) == {"a.txt": b"a"}
