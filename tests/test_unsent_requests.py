"""Requests that never reached a server are not counted, nor priced: connection refused,
a host that does not resolve. What a server did see (retries included) still is."""

from __future__ import annotations

import pytest
from conftest import base_env, new_bucket, put, run_mirror

from mirror.s3.accounting import RequestCounter
from mirror.s3.client import EndpointConfig, PoolRegistry, RetryPolicy, S3Client
from mirror.s3.http import TransportError
from mirror.s3.sigv4 import Credentials, CredentialSource
from mirror.sandbox import LocalS3, free_port


@pytest.mark.parametrize("url", [f"http://127.0.0.1:{free_port()}",
                                 "http://no-such-host.invalid:9000"])
def test_a_request_that_found_no_server_is_not_counted(url: str) -> None:
    counter = RequestCounter()
    endpoint = EndpointConfig(url, "us-east-1", CredentialSource(Credentials("AK", "SK")))
    client = S3Client(endpoint, PoolRegistry(), counter,
                      retry=RetryPolicy(attempts=3, base_delay=0.0))

    with pytest.raises(TransportError):
        client.list_page("photos", "")

    assert counter.snapshot() == {}


def test_an_unreachable_target_costs_nothing_in_the_summary(minio_side: LocalS3) -> None:
    """Five LISTs were tried at a port where nothing listens: none reached AWS, none is
    billed; the source's LIST, which its server answered, is still counted."""
    src = new_bucket(minio_side, "src")
    put(minio_side, src, {"a": b"a"})
    env = {**base_env(minio=minio_side), "AWS_URL": f"http://127.0.0.1:{free_port()}",
           "AWS_ACCESS_KEY": "ak", "AWS_SECRET_KEY": "sk", "AWS_PRICING": "aws-s3-standard",
           "BUCKET_PAIR": f"minio/{src}:aws/backup"}

    run = run_mirror(env)

    assert run.code == 1
    assert "connection refused" in run.pair()["error"]
    assert run.requests("target") == {}
    assert run.requests("source") == {"LIST": 1}
    assert run.pair()["cost"]["target"]["usd"] == 0
    assert run.summary["cost"]["usd"] == 0
