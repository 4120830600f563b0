"""One `aws` alias, buckets in several regions: each bucket's requests go to its region.

AWS answers a request sent to the wrong region with 301 PermanentRedirect (and the bucket's
region in x-amz-bucket-region) or, from the global endpoint, 400 AuthorizationHeaderMalformed
naming the region. Here a scripted server is the HTTP proxy every request goes through, so
the tests see the host each request was addressed to and the region it was signed for,
without DNS for amazonaws.com.
"""

from __future__ import annotations

import re

import pytest
from test_transport import Start, answer, ok, scripted  # noqa: F401 - the fixture

from mirror.s3.accounting import RequestCounter
from mirror.s3.client import EndpointConfig, PoolRegistry, S3Client, regional_host
from mirror.s3.errors import S3Error
from mirror.s3.proxy import Proxy
from mirror.s3.sigv4 import Credentials, CredentialSource
from mirror.settings import load_settings

EMPTY_LISTING = (b"<ListBucketResult><IsTruncated>false</IsTruncated>"
                 b"<EncodingType>url</EncodingType></ListBucketResult>")
MOVED = ("<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access "
         "must be addressed using the specified endpoint.</Message><Endpoint>"
         "photos.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>photos</Bucket></Error>")
MALFORMED = ("<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization "
             "header is malformed; the region 'us-east-1' is wrong; expecting 'ap-northeast-2'"
             "</Message><Region>ap-northeast-2</Region></Error>")


def _client(url: str, port: int, counter: RequestCounter) -> S3Client:
    endpoint = EndpointConfig(url, "us-east-1", CredentialSource(Credentials("AK", "SK")),
                              virtual_host=True, proxy=Proxy("127.0.0.1", port))
    return S3Client(endpoint, PoolRegistry(), counter)


def _seen(requests: list[bytes]) -> list[tuple[str, str]]:
    """(absolute URL without the query, signing region) of each request."""
    out = []
    for raw in requests:
        line = raw.split(b"\r\n", 1)[0].decode()
        region = re.search(rb"Credential=AK/\d{8}/([a-z0-9-]+)/s3/", raw)
        assert region is not None
        out.append((line.split(" ")[1].split("?")[0], region.group(1).decode()))
    return out


def test_a_bucket_in_another_region_is_followed_there_after_one_redirect(
        scripted: Start) -> None:  # noqa: F811
    server = scripted([answer("301 Moved Permanently", MOVED, "x-amz-bucket-region: eu-west-1\r\n"),
                       ok(EMPTY_LISTING), ok(b"", 'etag: "5d41402abc4b2a76b9719d911017c592"\r\n')])
    counter = RequestCounter()
    client = _client("http://s3.us-east-1.amazonaws.com", server.port, counter)

    assert client.list_page("photos", "").objects == []
    client.put_object("photos", "a.txt", b"hello", content_md5="XUFAKrxLKna5cZ2REBfFkg==",
                      headers={})

    assert _seen(server.requests) == [
        ("http://photos.s3.us-east-1.amazonaws.com:80/", "us-east-1"),  # refused
        ("http://photos.s3.eu-west-1.amazonaws.com:80/", "eu-west-1"),
        ("http://photos.s3.eu-west-1.amazonaws.com:80/a.txt", "eu-west-1")]
    assert counter.snapshot() == {"LIST": 2, "PUT": 1}


def test_the_global_endpoint_follows_the_region_a_malformed_signature_names(
        scripted: Start) -> None:  # noqa: F811
    server = scripted([answer("400 Bad Request", MALFORMED), ok(EMPTY_LISTING)])
    client = _client("http://s3.amazonaws.com", server.port, RequestCounter())

    client.list_page("backups", "2025/")

    assert _seen(server.requests) == [
        ("http://backups.s3.amazonaws.com:80/", "us-east-1"),
        ("http://backups.s3.ap-northeast-2.amazonaws.com:80/", "ap-northeast-2")]


def test_a_region_error_from_a_non_aws_endpoint_stands(scripted: Start) -> None:  # noqa: F811
    """A VPC endpoint or another provider cannot be re-addressed: the error names the
    bucket's region, once, and nothing is sent elsewhere."""
    server = scripted([answer("400 Bad Request", MALFORMED)])
    client = _client("http://bucket.vpce-0a1b.s3.us-east-1.vpce.amazonaws.com", server.port,
                     RequestCounter())

    with pytest.raises(S3Error) as caught:
        client.list_page("backups", "")

    assert caught.value.kind == "wrong region or endpoint"
    assert str(caught.value).endswith("; the bucket is in region ap-northeast-2")
    assert len(server.requests) == 1


@pytest.mark.parametrize(("host", "region", "expected"), [
    ("s3.amazonaws.com", "eu-west-1", "s3.eu-west-1.amazonaws.com"),
    ("s3.ap-northeast-2.amazonaws.com", "us-east-1", "s3.us-east-1.amazonaws.com"),
    ("s3-eu-west-1.amazonaws.com", "eu-central-1", "s3.eu-central-1.amazonaws.com"),
    ("s3.dualstack.eu-west-1.amazonaws.com", "us-west-2", "s3.dualstack.us-west-2.amazonaws.com"),
    ("s3.cn-north-1.amazonaws.com.cn", "cn-northwest-1", "s3.cn-northwest-1.amazonaws.com.cn"),
    ("s3-fips.us-gov-west-1.amazonaws.com", "us-gov-east-1",
     "s3-fips.us-gov-east-1.amazonaws.com"),
    ("s3-fips.dualstack.us-east-1.amazonaws.com", "us-west-2",
     "s3-fips.dualstack.us-west-2.amazonaws.com"),
    ("abc.r2.cloudflarestorage.com", "eu-west-1", None),
    ("bucket.vpce-0a1b.s3.us-east-1.vpce.amazonaws.com", "eu-west-1", None),
    ("s3.amazonaws.com", "not a region", None),
])
def test_the_regional_endpoint_of_an_aws_host(host: str, region: str,
                                              expected: str | None) -> None:
    assert regional_host(host, region) == expected


@pytest.mark.parametrize(("host", "region"), [
    ("s3-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
    ("s3-fips.dualstack.us-east-2.amazonaws.com", "us-east-2"),
    ("s3.dualstack.eu-west-1.amazonaws.com", "eu-west-1"),
    ("s3-eu-west-1.amazonaws.com", "eu-west-1"),
])
def test_the_region_of_an_aws_endpoint_comes_from_its_host(host: str, region: str) -> None:
    """FIPS endpoints included: signing them for us-east-1 would be refused, and the
    redirect that follows would leave the FIPS endpoint for a plain one."""
    settings = load_settings({"BUCKET_PAIR": "minio/a:aws/b", "MINIO_URL": "http://minio:9000",
                              "MINIO_ACCESS_KEY": "k", "MINIO_SECRET_KEY": "s",
                              "AWS_URL": f"https://{host}", "AWS_ACCESS_KEY": "ak",
                              "AWS_SECRET_KEY": "as"})
    assert settings.aliases["aws"].region == region


def test_an_ipv6_endpoint_is_named_in_brackets_in_the_host_header(
        scripted: Start) -> None:  # noqa: F811
    """http://[fd00::1]:9000 (an IPv6-only cluster): the Host header, and so the signed
    host, is '[::1]:port' as HTTP writes it, not '::1:port', which a strict server or
    proxy reads as another host."""
    server = scripted([ok(EMPTY_LISTING)], host="::1")
    endpoint = EndpointConfig(f"http://[::1]:{server.port}", "us-east-1",
                              CredentialSource(Credentials("AK", "SK")))
    client = S3Client(endpoint, PoolRegistry(), RequestCounter())

    assert client.list_page("bucket", "").objects == []
    (request,) = server.requests
    assert f"\r\nhost: [::1]:{server.port}\r\n".encode() in request.lower()
    assert b"host;" in request.lower()  # signed
