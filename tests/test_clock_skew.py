"""A machine whose clock is off: SigV4 signatures older or newer than 15 minutes are refused.

A Docker VM after the laptop slept, a node without NTP: every request fails. The client
adopts the server's time from the refusal (its Date header, or AWS's <ServerTime>) and
signs again; where it cannot, the error says the clock is off, not "permission denied".
"""

from __future__ import annotations

import base64
import hashlib
import re
import time

import pytest
from conftest import new_bucket
from structlog.testing import capture_logs
from test_transport import Start, answer, ok, scripted  # noqa: F401 - the fixture

from mirror.run import endpoint_for
from mirror.s3.accounting import RequestCounter
from mirror.s3.client import EndpointConfig, PoolRegistry, RetryPolicy, S3Client
from mirror.s3.errors import S3Error
from mirror.s3.sigv4 import Credentials, CredentialSource, ServerClock
from mirror.sandbox import LocalS3
from mirror.settings import load_settings

HOUR = 3600.0


def _skewed_client(url: str, access: str, secret: str, offset: float,
                   reported: list[float] | None = None,
                   ) -> tuple[S3Client, EndpointConfig, RequestCounter]:
    clock = ServerClock(now=lambda: time.time() + offset,
                        report=reported.append if reported is not None else None)
    endpoint = EndpointConfig(url, "us-east-1", CredentialSource(Credentials(access, secret)),
                              clock=clock)
    counter = RequestCounter()
    return S3Client(endpoint, PoolRegistry(), counter), endpoint, counter


@pytest.fixture(params=["seaweedfs", "rclone"])
def server(request: pytest.FixtureRequest) -> LocalS3:
    return request.getfixturevalue("minio_side" if request.param == "seaweedfs"
                                   else "rclone_side")


@pytest.mark.parametrize("offset", [-HOUR, 2 * HOUR])
def test_a_clock_hours_off_signs_with_the_servers_time_after_one_refusal(
        server: LocalS3, offset: float) -> None:
    """The first request is refused and sent again with the server's time; the bytes land,
    and every later request of every client of the endpoint is accepted at once."""
    bucket = new_bucket(server, "skew")
    reported: list[float] = []
    client, endpoint, counter = _skewed_client(server.url, server.access_key,
                                               server.secret_key, offset, reported)

    page = client.list_page(bucket, "")
    assert page.objects == []
    assert counter.snapshot() == {"LIST": 2}  # refused once, then accepted
    assert len(reported) == 1
    assert abs(reported[0] + offset) < 5  # the offset that undoes the skew

    other = S3Client(endpoint, PoolRegistry(), counter)
    body = b"written by a machine whose clock is off"
    other.put_object(bucket, "a.txt", body, content_md5=_md5_b64(body), headers={})
    got = other.get_object(bucket, "a.txt").read()

    assert got == body
    assert server.boto3().get_object(Bucket=bucket, Key="a.txt")["Body"].read() == body
    assert counter.snapshot() == {"LIST": 2, "PUT": 1, "GET": 1}
    assert len(reported) == 1


def test_a_head_refused_for_the_clock_is_signed_again_with_the_servers_time(
        server: LocalS3) -> None:
    """A HEAD's 403 has no body to name the skew (a clock that jumps mid-run, when a
    thread's next request is the HEAD after a copy): its Date header shows the server's
    time hours away, so it is signed again with that time, not taken for 'permission
    denied', which would stop the pair."""
    bucket = new_bucket(server, "skew")
    server.boto3().put_object(Bucket=bucket, Key="a.txt", Body=b"abc")
    client, _, counter = _skewed_client(server.url, server.access_key, server.secret_key,
                                        HOUR)

    headers = client.head_object(bucket, "a.txt")

    assert headers["content-length"] == "3"
    assert counter.snapshot() == {"HEAD": 2}


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


AWS_SKEWED = (
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>RequestTimeTooSkewed</Code>"
    "<Message>The difference between the request time and the current time is too large."
    "</Message><RequestTime>{request}</RequestTime><ServerTime>{server}</ServerTime>"
    "<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>"
    "<RequestId>R1</RequestId><HostId>H1</HostId></Error>")


def _refusal(body: str, date: str = "") -> bytes:
    return answer("403 Forbidden", body, f"date: {date}\r\n" if date else "")


def _amz_dates(requests: list[bytes]) -> list[str]:
    return [re.search(rb"x-amz-date: (\w+)", r, re.I).group(1).decode()  # type: ignore[union-attr]
            for r in requests]


def test_aws_server_time_in_the_error_body_is_adopted(scripted: Start) -> None:  # noqa: F811
    """AWS states its time in <ServerTime>: the request is signed again with it."""
    server_now = time.time() + 3 * HOUR
    server_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(server_now))
    server = scripted([_refusal(AWS_SKEWED.format(request="x", server=server_iso)),
                       ok(b"<ListBucketResult></ListBucketResult>")])
    client, _, counter = _skewed_client(f"http://127.0.0.1:{server.port}", "AK", "SK", 0.0)

    client.list_page("bkt", "")

    first, second = _amz_dates(server.requests)
    expected = time.strftime("%Y%m%dT%H", time.gmtime(server_now))
    assert not first.startswith(expected)
    assert second.startswith(expected)
    assert counter.snapshot() == {"LIST": 2}


def test_a_refusal_without_the_servers_time_says_the_clock_is_off(
        scripted: Start) -> None:  # noqa: F811
    """No Date header, no <ServerTime>: nothing to adopt, and the message names the cause
    (not "permission denied ... s3:ListBucket", which is what a 403 would otherwise say)."""
    body = AWS_SKEWED.replace("<ServerTime>{server}</ServerTime>", "").format(request="x")
    server = scripted([_refusal(body)])
    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}", "us-east-1",
                              CredentialSource(Credentials("AK", "SK")))
    client = S3Client(endpoint, PoolRegistry(), RequestCounter(),
                      retry=RetryPolicy(attempts=2, base_delay=0.0))

    with pytest.raises(S3Error) as caught:
        client.list_page("bkt", "")

    assert str(caught.value) == (
        "LIST bkt: clock differs from the server's (HTTP 403 RequestTimeTooSkewed: The "
        "difference between the request time and the current time is too large.); this "
        "machine's clock is off: set it right (NTP)")
    assert len(server.requests) == 2


def test_the_message_says_by_how_much_the_clock_is_off() -> None:
    """With the server's time known, the message gives the size and sign of the skew."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 2 * HOUR + 600))
    error = S3Error.from_response(400, {"date": date}, (
        b"<Error><Code>AccessDenied</Code><Message>The difference between the request time "
        b"and the server's time exceeds the maximum allowed.</Message></Error>"),
        operation="PUT", bucket="b", key="k")

    assert error.skewed
    assert str(error).endswith("; this machine's clock is 2 h 10 min behind the server's: "
                               "set it right (NTP)")


def test_the_run_log_says_the_clock_is_off_once(minio_side: LocalS3) -> None:
    """The endpoints a run builds log one warning when their clock is corrected."""
    settings = load_settings({**minio_side.env("minio"), "BUCKET_PAIR": "minio/a:minio/b"})
    endpoint = endpoint_for(settings.aliases["minio"])

    with capture_logs() as logs:
        endpoint.clock.adopt(time.time() + HOUR)
        endpoint.clock.adopt(time.time() + HOUR)  # another thread, the same news

    assert [(e["event"], e["log_level"], e["alias"], e["seconds"]) for e in logs] == [
        ("clock.skewed", "warning", "minio", 3600)]
    assert logs[0]["message"].startswith("this machine's clock is 3600 s behind the server's")
